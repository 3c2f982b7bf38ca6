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

# Declared: the compiler strips the comments (-fpreprocessed: no macro
# expansion, no includes); preprocessor lines, with their continuations, go;
# the rest is cut into statements at ; { } and every statement holding the
# word FLP_API yields the identifier before its first '(' (or its last
# identifier, for a variable), once FLP_DEPRECATED("...") and __attribute__((...))
# are taken out and "(*" is read as "*" (so a function returning a function
# pointer, void (*flp_f(int))(void), still yields flp_f).
for h in "$incdir"/flp/*.h; do
    "${cc[@]}" -w -fpreprocessed -dD -E -P -x c "$h"
    echo
done >"$tmp/stripped"
sed -e ':a' -e '/\\$/{N; s/\\\n/ /; ba' -e '}' "$tmp/stripped" \
    | grep -v '^[[:space:]]*#' \
    | tr '\n;{}' ' \n\n\n' | tr -s ' ' \
    | grep -E '(^|[^A-Za-z0-9_])FLP_API([^A-Za-z0-9_]|$)' \
    | sed -E -e 's/FLP_DEPRECATED[[:space:]]*\([[:space:]]*"([^"\\]|\\.)*"[[:space:]]*\)//g' \
             -e 's/__attribute__[[:space:]]*\(\(([^()]|\([^()]*\))*\)\)//g' \
             -e 's/\([[:space:]]*\*/ */g' \
    | while IFS= read -r stmt; do
        if [[ $stmt == *"("* ]]; then stmt=${stmt%%(*}; fi
        stmt=${stmt%%\[*}
        tr -c 'A-Za-z0-9_' ' ' <<<"$stmt" | awk '{ print $NF }'
    done | sort -u >"$tmp/declared"

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
