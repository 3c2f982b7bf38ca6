#!/usr/bin/env bash
# tutorial_in_header.sh FLP_H TUTORIAL_C - the program in the comment atop
# include/flp/flp.h is examples/tutorial.c, letter for letter: the code
# lines of that comment (" *     " and four spaces more than the prose),
# with the " *" lines between them as blank lines, equal the file.
set -euo pipefail
header=$1 tutorial=$2
extract() {
    # the first comment only; code lines start " *     ", blank ones are " *"
    awk '/^ \*\//{ exit }
         /^ \*     /{ if (blank) { for (i = 0; i < blank; i++) print ""; } blank = 0; code = 1;
                     print substr($0, 8); next }
         /^ \*$/{ if (code) blank++; next }
         { if (code) exit }' "$1"
}
if ! diff <(extract "$header") "$tutorial"; then
    echo "FAIL: the tutorial atop $header differs from $tutorial (lines above: < header, > file);"
    echo "      change both alike"
    exit 1
fi
echo "OK: the tutorial atop flp.h is $(basename "$tutorial") ($(wc -l <"$tutorial") lines)"
