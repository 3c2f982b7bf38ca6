#!/usr/bin/env bash
# symbols.sh LIBRARY INCLUDEDIR [CC...] - the shared library exports exactly the public API.
#
# Every dynamic symbol LIBRARY defines must start with flp_ (never the internal
# flp__), and the set must equal the set of names declared with FLP_API in
# INCLUDEDIR/flp/*.h: declared-but-not-exported and exported-but-not-declared
# both fail, with the names listed.
set -euo pipefail
lib=$1 incdir=$2
shift 2
cc=("$@")
[ ${#cc[@]} -gt 0 ] || cc=(cc)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flp-symbols.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0

# Exported: defined dynamic symbols, version suffix (@@LIBFLP_0) dropped. The
# version node itself shows up as an absolute (A) symbol named like the node.
nm -D --defined-only "$lib" >"$tmp/nm"
awk '!($2 == "A" && $3 ~ /^LIBFLP_[0-9]+$/) { sub(/@.*/, "", $3); print $3 }' "$tmp/nm" \
    | sort -u >"$tmp/exported"

# Declared: the FLP_API names of the headers (api-names.sh says how they are read).
"$(dirname "${BASH_SOURCE[0]}")/api-names.sh" "$incdir" "${cc[@]}" >"$tmp/declared"

nexp=$(wc -l <"$tmp/exported") ndecl=$(wc -l <"$tmp/declared")
echo "$nexp symbols exported by $lib, $ndecl functions declared with FLP_API in $incdir/flp"
if [ "$nexp" -eq 0 ] || [ "$ndecl" -eq 0 ]; then
    echo "FAIL: nothing to compare (nm or header parsing found nothing)"
    exit 1
fi

bad_prefix=$(grep -v '^flp_' "$tmp/exported" || true)
internal=$(grep '^flp__' "$tmp/exported" || true)
undeclared=$(comm -23 "$tmp/exported" "$tmp/declared")
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
report() {
    [ -n "$2" ] || return 0
    echo "FAIL: $1:"
    sed 's/^/  /' <<<"$2"
    status=1
}
report "exported without the flp_ prefix" "$bad_prefix"
report "internal flp__ names exported" "$internal"
report "exported but not declared with FLP_API in include/flp" "$undeclared"
report "declared with FLP_API but not exported (not defined, or hidden)" "$missing"
[ $status -eq 0 ] && echo "OK: exports equal the FLP_API declarations"
exit $status
