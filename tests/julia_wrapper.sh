#!/usr/bin/env bash
# julia_wrapper.sh SRCROOT PYTHON [CC...] - the generated Julia module wraps
# every public function and is up to date.
#
# 1. Every name declared with FLP_API in SRCROOT/include/flp/*.h (listed by
#    api-names.sh, the parsing the exported-symbol test uses, independent of
#    the generator's own parser) has an `@ccall libflp.NAME(` in
#    SRCROOT/bindings/julia/src/Flp.jl, and nothing else is called.
# 2. Regenerating Flp.jl from the headers (PYTHON generate.py) gives the
#    committed file, byte for byte.
set -euo pipefail
src=$1 python=$2
shift 2
jl=$src/bindings/julia/src/Flp.jl
tmp=$(mktemp -d "${TMPDIR:-/tmp}/flp-julia.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0

"$(dirname "${BASH_SOURCE[0]}")/api-names.sh" "$src/include" "$@" >"$tmp/declared"
grep -oE '@ccall libflp\.[A-Za-z_][A-Za-z0-9_]*\(' "$jl" \
    | sed -E 's/^@ccall libflp\.//; s/\($//' | sort -u >"$tmp/wrapped"
ndecl=$(wc -l <"$tmp/declared") nwrap=$(wc -l <"$tmp/wrapped")
echo "$ndecl functions declared with FLP_API, $nwrap wrapped with @ccall in $jl"
[ "$ndecl" -gt 0 ] || { echo "FAIL: no FLP_API declarations found"; exit 1; }

missing=$(comm -23 "$tmp/declared" "$tmp/wrapped")
extra=$(comm -13 "$tmp/declared" "$tmp/wrapped")
if [ -n "$missing" ]; then
    echo "FAIL: declared with FLP_API but not wrapped in Flp.jl:"
    sed 's/^/  /' <<<"$missing"
    status=1
fi
if [ -n "$extra" ]; then
    echo "FAIL: wrapped in Flp.jl but not declared with FLP_API:"
    sed 's/^/  /' <<<"$extra"
    status=1
fi

"$python" "$src/bindings/julia/generate.py" --include "$src/include" --output "$tmp/Flp.jl" 2>/dev/null
if ! diff -u "$jl" "$tmp/Flp.jl" >"$tmp/diff"; then
    echo "FAIL: $jl is out of date; regenerate it and commit the result:"
    echo "  /usr/bin/python3 bindings/julia/generate.py"
    head -n 40 "$tmp/diff"
    status=1
fi
[ $status -eq 0 ] && echo "OK: Flp.jl wraps every FLP_API function and is up to date"
exit $status
