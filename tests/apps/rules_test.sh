#!/usr/bin/env bash
# rules_test.sh FLP_RULES - flp-rules end to end on a tiny IDX folder it
# writes itself (the train pair raw, the t10k pair gzip): meta-training
# prints one line per episode and the CSV gets them; a run resumed from a
# checkpoint continues exactly as a straight one; a bad option exits 2.
set -euo pipefail
exe=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flp-rules.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# 40 images of 28x28 with labels 0..4 in turn
n=40
{ printf '\000\000\010\003\000\000\000\050\000\000\000\034\000\000\000\034'
  head -c $((n * 784)) < <(yes 'flp-rules smoke test'); } >"$tmp/train-images-idx3-ubyte"
{ printf '\000\000\010\001\000\000\000\050'
  for _ in $(seq 8); do printf '\000\001\002\003\004'; done; } >"$tmp/train-labels-idx1-ubyte"
gzip -c "$tmp/train-images-idx3-ubyte" >"$tmp/t10k-images-idx3-ubyte.gz"
gzip -c "$tmp/train-labels-idx1-ubyte" >"$tmp/t10k-labels-idx1-ubyte.gz"

common=(--data "$tmp" --hidden 8,6 --shots 3 --query 2 --eval-episodes 2 --seed 3 --png "$tmp/p.png")
"$exe" "${common[@]}" --episodes 4 --csv "$tmp/straight.csv" >"$tmp/straight.out" 2>"$tmp/err"
"$exe" "${common[@]}" --episodes 2 --csv "$tmp/resumed.csv" --save "$tmp/ck" >/dev/null 2>>"$tmp/err"
"$exe" "${common[@]}" --episodes 4 --csv "$tmp/resumed.csv" --load "$tmp/ck" >"$tmp/resumed.out" 2>>"$tmp/err"

status=0
if [ "$(grep -c '^episode ' "$tmp/straight.out")" != 4 ] || [ "$(wc -l <"$tmp/straight.csv")" != 5 ]; then
    echo "FAIL: expected 4 episode lines on stdout and in the CSV"
    status=1
fi
if ! tail -n 1 "$tmp/straight.out" | grep -Eq '^eval_accuracy_pct [0-9.]+ [0-9.]+$'; then
    echo "FAIL: the last line is not eval_accuracy_pct MEAN SE"
    status=1
fi
if ! diff <(cut -d, -f1-6 "$tmp/straight.csv") <(cut -d, -f1-6 "$tmp/resumed.csv"); then
    echo "FAIL: the resumed run differs from the straight one"
    status=1
fi
if ! diff <(tail -n 1 "$tmp/straight.out") <(tail -n 1 "$tmp/resumed.out"); then
    echo "FAIL: final evaluation differs after resuming"
    status=1
fi
set +e
"$exe" --data "$tmp" --feedback sideways >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: a bad option should exit 2"; status=1; }
set -e
[ $status -eq 0 ] && echo "OK: $(tail -n 1 "$tmp/straight.out")"
[ $status -eq 0 ] || cat "$tmp/err"
exit $status
