#!/usr/bin/env bash
# api-names.sh INCLUDEDIR [CC...] - print the names declared with FLP_API in
# INCLUDEDIR/flp/*.h, sorted, one per line. Shared by symbols.sh (exports ==
# declarations) and julia_wrapper.sh (every declaration is wrapped).
#
# The compiler strips the comments (-fpreprocessed: no macro expansion, no
# includes); preprocessor lines, with their continuations, go; the rest is
# cut into statements at ; { } and every statement holding the word FLP_API
# yields the identifier before its first '(' (or its last identifier, for a
# variable), once FLP_DEPRECATED("...") and __attribute__((...)) are taken
# out and "(*" is read as "*" (so a function returning a function pointer,
# void (*flp_f(int))(void), still yields flp_f).
set -euo pipefail
incdir=$1
shift
cc=("$@")
[ ${#cc[@]} -gt 0 ] || cc=(cc)

for h in "$incdir"/flp/*.h; do
    "${cc[@]}" -w -fpreprocessed -dD -E -P -x c "$h"
    echo
done | sed -e ':a' -e '/\\$/{N; s/\\\n/ /; ba' -e '}' \
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
    done | sort -u
