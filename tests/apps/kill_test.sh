#!/usr/bin/env bash
# kill_test.sh FLP_SINE [KILLS] - crash safety of checkpoints: meta-training
# with a checkpoint after every episode is killed (SIGKILL) at random moments,
# KILLS times (default 25), each run resuming from the checkpoint the last
# one left, until a run completes. Then:
#   - every resume loaded the last complete checkpoint (a run that fails to
#     load exits non-zero before it can be killed, and fails the test);
#   - the final checkpoint equals, byte for byte, the one of an
#     uninterrupted run, and so does the final evaluation line.
# Kills that land inside a checkpoint write leave its temporary file
# (NAME.tmp.PID) behind; they are counted, and removed. The last line gives
# the figures: kills survived, of them during a write.
set -euo pipefail
exe=$1
kills=${2:-25}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flp-kill.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
common=(--width 32 --eval-runs 2 --steps-per-task 2 --seed 5 --episodes 40
        --save "$tmp/ck" --save-every 1 --progress-every 0)

# The uninterrupted run, and how long it takes: each kill comes after a
# delay drawn from [0, 2 * its time / KILLS), so that about KILLS kills fit
# before a run gets to the end.
start=$(date +%s%N)
"$exe" "${common[@]}" >"$tmp/straight.out" 2>"$tmp/err"
span_ms=$(( ($(date +%s%N) - start) / 1000000 ))
mv "$tmp/ck" "$tmp/straight.ck"
window_ms=$((2 * span_ms / kills + 1))

RANDOM=${FLP_KILL_SEED:-1}
survived=0 in_write=0 runs=0
while :; do
    args=("${common[@]}")
    [ -f "$tmp/ck" ] && args+=(--load "$tmp/ck")
    runs=$((runs + 1))
    "$exe" "${args[@]}" >"$tmp/run.out" 2>>"$tmp/err" &
    pid=$!
    if [ "$survived" -lt "$kills" ]; then
        delay_ms=$(( (RANDOM * 32768 + RANDOM) % window_ms ))
        sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rc=0
    wait "$pid" 2>/dev/null || rc=$? # quiet: no "Killed" notice
    pid=
    if [ "$rc" -eq 137 ]; then # 128 + SIGKILL: it did not finish first
        survived=$((survived + 1))
        for t in "$tmp"/ck.tmp.*; do
            [ -e "$t" ] || continue
            in_write=$((in_write + 1))
            rm -f "$t"
        done
        continue
    fi
    if [ "$rc" -ne 0 ]; then
        echo "FAIL: run $runs (after $survived kills) exited with status $rc:"
        tail -n 5 "$tmp/err"
        exit 1
    fi
    break
done

status=0
if ! cmp -s "$tmp/straight.ck" "$tmp/ck"; then
    echo "FAIL: the final checkpoint differs from the uninterrupted run's"
    status=1
fi
if ! diff <(tail -n 1 "$tmp/straight.out") <(tail -n 1 "$tmp/run.out"); then
    echo "FAIL: the final evaluation differs from the uninterrupted run's"
    status=1
fi
[ $status -eq 0 ] && echo "OK: $survived kills survived ($in_write during a checkpoint write)," \
    "$runs runs, final state bit-identical to an uninterrupted run of ${span_ms} ms:" \
    "$(tail -n 1 "$tmp/run.out")"
exit $status
