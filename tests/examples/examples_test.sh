#!/usr/bin/env bash
# examples_test.sh NAME EXE SHARED_DIR - run example NAME (examples/NAME.c)
# on short settings in a scratch folder and check that it prints what
# examples/README.md says it prints. omniglot_episode reads Omniglot from
# SHARED_DIR/data/omniglot (unzipped here; skipped, exit 77, without it).
set -euo pipefail
name=$1 exe=$(realpath "$2") shared=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flp-example.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# expect PATTERN: the last line of stdout matches the extended regex
expect() {
    if ! tail -n 1 out | grep -Eq "$1"; then
        echo "FAIL: $name printed, last, not /$1/:"
        cat out err
        exit 1
    fi
}
num='[0-9.]+(e[+-]?[0-9]+)?'

case $name in
tutorial)
    "$exe" 2 >out 2>err
    expect "^meta-loss $num after 2 meta-steps$"
    [ -s sine.ckpt ] || { echo "FAIL: no sine.ckpt written"; exit 1; }
    ;;
custom_episode)
    "$exe" 200 >out 2>err
    expect "^held-out query MSE $num before, $num after 200 meta-steps$"
    read -r before after < <(tail -n 1 out | awk '{ print $4, $6 }' | tr -d ,)
    awk -v b="$before" -v a="${after}" 'BEGIN { exit !(a < b) }' ||
        { echo "FAIL: meta-training did not lower the held-out MSE"; cat out; exit 1; }
    ;;
omniglot_episode)
    # without its folder it says so and counts as skipped
    set +e
    "$exe" "$tmp/none" >out 2>err
    rc=$?
    set -e
    [ $rc -eq 77 ] && grep -q 'no Omniglot folder' err ||
        { echo "FAIL: without data, exit 77 and a message expected (got $rc)"; cat err; exit 1; }
    zip=$shared/data/omniglot/images_background_small1.zip
    if [ ! -f "$zip" ] || ! command -v unzip >/dev/null; then
        echo "SKIP: $zip not found (the shared folder beside the checkout) or no 'unzip' program"
        exit 77
    fi
    unzip -q "$zip" -d "$tmp"
    "$exe" "$tmp/images_background_small1" >out 2>err
    expect "^5-way 5-shot episode: [0-9]+ of 25 queries right, accuracy [0-9]+% \(chance 20%\), query loss $num$"
    ;;
meta_batch)
    "$exe" 3 4 >out 2>err
    grep -Eq '^meta-gradient of 4 episodes, [0-9]+ values: bit-identical on 1 thread and on 4$' out ||
        { echo "FAIL: the meta-batch's gradient depends on the threads:"; cat out err; exit 1; }
    expect "^meta-step 3: mean meta-loss $num over 4 episodes$"
    ;;
checkpoint)
    "$exe" run.ckpt >out 2>err
    expect '^resumed run bit-identical to the straight one$'
    [ -s run.ckpt ] || { echo "FAIL: no run.ckpt written"; exit 1; }
    ;;
*)
    echo "unknown example $name"; exit 2 ;;
esac
echo "OK: $name:"
cat out
