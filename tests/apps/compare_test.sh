#!/usr/bin/env bash
# compare_test.sh FLP_COMPARE - the comparison runs end to end on a tiny
# budget, writes its table and the analyses' CSVs, and a second call with the
# same options only evaluates the stored runs, giving the same table.
set -euo pipefail
exe=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flp-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
common=(--width 8 --episodes 2 --eval-runs 3 --steps-per-task 2 --analysis-runs 2 --out "$tmp/out")

"$exe" "${common[@]}" >"$tmp/first.out" 2>"$tmp/err"
"$exe" "${common[@]}" >"$tmp/second.out" 2>>"$tmp/err"
status=0
for f in table.csv probe.csv interference.csv updates.csv; do
    [ -s "$tmp/out/$f" ] || { echo "FAIL: $f missing or empty"; status=1; }
done
# 4 methods x 2 modes; 4 continual runs x 9 earlier-task counts; steps x plastic layers summed over runs
[ "$(tail -n +2 "$tmp/out/table.csv" | wc -l)" -eq 8 ] || { echo "FAIL: table.csv rows"; status=1; }
[ "$(tail -n +2 "$tmp/out/interference.csv" | wc -l)" -eq 36 ] || { echo "FAIL: interference.csv rows"; status=1; }
[ "$(tail -n +2 "$tmp/out/updates.csv" | wc -l)" -eq $((20 * (2 + 3 + 3 + 1) * 2)) ] ||
    { echo "FAIL: updates.csv rows"; status=1; }
grep -q "resumed from .* after 2 meta-steps" "$tmp/err" || { echo "FAIL: second call did not reuse the runs"; status=1; }
if ! diff "$tmp/first.out" "$tmp/second.out"; then
    echo "FAIL: the same seeds gave different numbers"
    status=1
fi
[ $status -eq 0 ] && echo "OK: comparison and analyses written, reproducible" && cat "$tmp/first.out"
[ $status -eq 0 ] || cat "$tmp/err"
exit $status
