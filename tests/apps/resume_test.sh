#!/usr/bin/env bash
# resume_test.sh FLP_SINE - meta-training resumed from a checkpoint continues
# exactly as if it had never stopped: same meta-losses (to 9 digits) and the
# same final evaluation. Exercises the checkpoint of the optimizer and of
# the sampler's episode stream through the program.
set -euo pipefail
exe=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flp-resume.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
common=(--width 8 --eval-runs 2 --steps-per-task 2 --seed 7)

"$exe" "${common[@]}" --episodes 4 --log "$tmp/straight.csv" >"$tmp/straight.out" 2>"$tmp/err"
"$exe" "${common[@]}" --episodes 2 --save "$tmp/ck" >/dev/null 2>>"$tmp/err"
"$exe" "${common[@]}" --episodes 4 --load "$tmp/ck" --log "$tmp/resumed.csv" \
    >"$tmp/resumed.out" 2>>"$tmp/err"

status=0
if ! diff <(tail -n 2 "$tmp/straight.csv" | cut -d, -f1,2) <(tail -n 2 "$tmp/resumed.csv" | cut -d, -f1,2); then
    echo "FAIL: meta-losses of episodes 3-4 differ after resuming"
    status=1
fi
if ! diff <(tail -n 1 "$tmp/straight.out") <(tail -n 1 "$tmp/resumed.out"); then
    echo "FAIL: final eval_mse differs after resuming"
    status=1
fi
[ $status -eq 0 ] && echo "OK: resumed run matches: $(tail -n 1 "$tmp/resumed.out")"
[ $status -eq 0 ] || cat "$tmp/err"
exit $status
