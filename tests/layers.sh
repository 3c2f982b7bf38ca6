#!/usr/bin/env bash
# layers.sh SRCROOT - no file of lib/ includes a header from a layer above
# its own. The layers, lowest first (lib/meson.build says what each holds);
# folders on one line are side by side and may not include each other:
#   core
#   net data
#   plasticity tasks
#   lifetime
#   meta
#   checkpoint
set -euo pipefail
lib=$1/lib
layer_of() {
    case $1 in
        core) echo 0 ;; net | data) echo 1 ;; plasticity | tasks) echo 2 ;;
        lifetime) echo 3 ;; meta) echo 4 ;; checkpoint) echo 5 ;; *) echo "" ;;
    esac
}
status=0 checked=0
for f in "$lib"/*/*.[ch]; do
    dir=$(basename "$(dirname "$f")")
    mine=$(layer_of "$dir")
    if [ -z "$mine" ]; then
        echo "FAIL: lib/$dir is in no layer (add it to tests/layers.sh and lib/meson.build)"
        status=1
        continue
    fi
    while read -r inc; do
        [ -n "$inc" ] || continue
        theirs=$(layer_of "$inc")
        checked=$((checked + 1))
        if [ -z "$theirs" ]; then
            echo "FAIL: ${f#"$1"/} includes from '$inc/', which is no layer"
            status=1
        elif [ "$inc" != "$dir" ] && [ "$theirs" -ge "$mine" ]; then
            echo "FAIL: ${f#"$1"/} (layer $mine, $dir) includes $inc/ (layer $theirs): includes point down only"
            status=1
        fi
    done < <(sed -nE 's/^#include "([a-z_]+)\/[a-z_]+\.h".*/\1/p' "$f" | grep -vx flp)
done
echo "$checked includes of lib/ checked against the layers"
exit $status
