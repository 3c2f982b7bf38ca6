#!/usr/bin/env bash
# mpi_test.sh MPIRUN FLP_SINE - flp-sine built over MPI: a meta-batch split
# across 2 (and 3, unevenly) ranks on loopback gives the single-process
# meta-losses and final evaluation to float tolerance (the ranks sum their
# gradients in another order), and a checkpoint written under 2 ranks
# resumes under 1. Oversubscribes on purpose: CI machines have 2 cores.
set -euo pipefail
mpirun=$1
exe=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flp-mpi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
common=(--width 8 --eval-runs 2 --steps-per-task 2 --seed 5 --meta-batch 4 --threads 1)

run() {
    local np=$1
    shift
    "$mpirun" -np "$np" --oversubscribe --bind-to none "$exe" "${common[@]}" "$@" 2>>"$tmp/err"
}

# close A B WHAT: the numbers in files A and B agree to a relative 1e-4
close() {
    if ! paste -d' ' "$1" "$2" | awk '{ d = $1 - $2; if (d < 0) d = -d;
            m = ($1 < 0 ? -$1 : $1); n = ($2 < 0 ? -$2 : $2); if (n > m) m = n;
            if (d > 1e-4 * m + 1e-7) { print "  line " NR ": " $1 " vs " $2; bad = 1 } }
            END { exit bad }'; then
        echo "FAIL: $3"
        return 1
    fi
}

losses() { tail -n +2 "$1" | cut -d, -f2; }
final() { tail -n 1 "$1" | cut -d' ' -f2; }

run 1 --episodes 4 --log "$tmp/one.csv" >"$tmp/one.out"
run 2 --episodes 4 --log "$tmp/two.csv" >"$tmp/two.out"
run 3 --episodes 4 --log "$tmp/three.csv" >"$tmp/three.out"
run 2 --episodes 2 --save "$tmp/ck" >/dev/null
run 1 --episodes 4 --load "$tmp/ck" --log "$tmp/resumed.csv" >"$tmp/resumed.out"

status=0
[ "$(losses "$tmp/one.csv" | wc -l)" -eq 4 ] || { echo "FAIL: the 1-rank log has no 4 meta-steps"; status=1; }
for n in two three; do
    close <(losses "$tmp/one.csv") <(losses "$tmp/$n.csv") "meta-losses, 1 rank vs $n" || status=1
    close <(final "$tmp/one.out") <(final "$tmp/$n.out") "final eval_mse, 1 rank vs $n" || status=1
done
close <(losses "$tmp/one.csv" | tail -n 2) <(losses "$tmp/resumed.csv") \
    "meta-losses of steps 3-4 after resuming a 2-rank checkpoint on 1 rank" || status=1
close <(final "$tmp/one.out") <(final "$tmp/resumed.out") "final eval_mse after resuming" || status=1
if [ $status -eq 0 ]; then
    echo "OK: 1, 2, 3 ranks and a 2->1 resume agree: $(tail -n 1 "$tmp/two.out")"
else
    paste -d' ' "$tmp/one.csv" "$tmp/two.csv" "$tmp/three.csv"
    cat "$tmp/err"
fi
exit $status
