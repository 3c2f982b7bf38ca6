#!/usr/bin/env bash
# fewshot_test.sh CASE FLP_OMNIGLOT FLP_MINIIMAGENET MAKE_MINIIMAGENET SHARED_DIR
# Smoke tests of the few-shot programs on a tiny configuration:
#   omniglot      flp-omniglot on the real images_background_small1 (unpacked
#                 from SHARED_DIR/data/omniglot; skipped, exit 77, without it)
#   miniimagenet  flp-miniimagenet on JPEGs generated in the real layout, named
#                 as in SHARED_DIR/data/mini-imagenet/*.csv, and a CSV naming a
#                 missing image
#   resume        a run resumed from --save/--load continues exactly as if it
#                 had never stopped (same meta-losses, same evaluation)
set -euo pipefail
case_=$1 omniglot=$2 mini=$3 make_mini=$4 shared=$5
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flp-fewshot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tiny=(--size 12 --conv-layers 2 --channels 4 --width 16 --eval-episodes 2 --progress-every 1)

# The last stdout line must be `eval_error_pct MEAN SE`.
check_eval() {
    if ! tail -n 1 "$1" | grep -Eq '^eval_error_pct [0-9.e+-]+ [0-9.e+-]+$'; then
        echo "FAIL: last line of stdout is not 'eval_error_pct MEAN SE':"
        cat "$1" "$2"
        exit 1
    fi
}

make_mini_data() {
    "$make_mini" "$tmp/mini" 5 6 16 "$shared/data/mini-imagenet" >/dev/null
}

case $case_ in
omniglot)
    zip=$shared/data/omniglot/images_background_small1.zip
    if [ ! -f "$zip" ] || ! command -v unzip >/dev/null; then
        echo "SKIP: real Omniglot smoke test: $zip not found (the shared folder beside the"
        echo "checkout, or FLP_SHARED_DIR) or no 'unzip' program"
        exit 77
    fi
    unzip -q "$zip" -d "$tmp"
    "$omniglot" --train-dir "$tmp/images_background_small1" --train-alphabets 3 "${tiny[@]}" \
        --size 14 --episodes 3 --log "$tmp/log.csv" >"$tmp/out" 2>"$tmp/err"
    check_eval "$tmp/out" "$tmp/err"
    grep -q 'ETA' "$tmp/err" || { echo "FAIL: no progress line with ETA"; cat "$tmp/err"; exit 1; }
    [ "$(wc -l <"$tmp/log.csv")" -eq 4 ] || { echo "FAIL: log should have a header and 3 rows"; cat "$tmp/log.csv"; exit 1; }
    echo "OK: $(tail -n 1 "$tmp/out")"
    ;;
miniimagenet)
    make_mini_data
    "$mini" --data "$tmp/mini" "${tiny[@]}" --shots 2 --query 2 --episodes 3 >"$tmp/out" 2>"$tmp/err"
    check_eval "$tmp/out" "$tmp/err"
    # a CSV naming an image that is not there: exit 1, the file named
    missing=$(sed -n 2p "$tmp/mini/test.csv" | cut -d, -f1)
    rm "$tmp/mini/images/$missing"
    if "$mini" --data "$tmp/mini" "${tiny[@]}" --episodes 1 >/dev/null 2>"$tmp/err2"; then
        echo "FAIL: a missing image was not reported"; exit 1
    fi
    grep -q "$missing" "$tmp/err2" || { echo "FAIL: the message does not name $missing:"; cat "$tmp/err2"; exit 1; }
    echo "OK: $(tail -n 1 "$tmp/out"); missing image reported: $(cat "$tmp/err2")"
    ;;
resume)
    make_mini_data
    common=(--data "$tmp/mini" "${tiny[@]}" --shots 2 --query 2 --seed 7)
    "$mini" "${common[@]}" --episodes 4 --log "$tmp/straight.csv" >"$tmp/straight.out" 2>"$tmp/err"
    "$mini" "${common[@]}" --episodes 2 --save "$tmp/ck" >/dev/null 2>>"$tmp/err"
    "$mini" "${common[@]}" --episodes 4 --load "$tmp/ck" --log "$tmp/resumed.csv" >"$tmp/resumed.out" 2>>"$tmp/err"
    if ! diff <(tail -n 2 "$tmp/straight.csv" | cut -d, -f1-3) <(tail -n 2 "$tmp/resumed.csv" | cut -d, -f1-3) ||
       ! diff <(tail -n 1 "$tmp/straight.out") <(tail -n 1 "$tmp/resumed.out"); then
        echo "FAIL: the resumed run differs"; cat "$tmp/err"; exit 1
    fi
    echo "OK: resumed run matches: $(tail -n 1 "$tmp/resumed.out")"
    ;;
*)
    echo "unknown case $case_"; exit 2
    ;;
esac
