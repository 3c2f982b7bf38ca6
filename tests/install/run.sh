#!/usr/bin/env bash
# run.sh BUILDDIR SRCDIR SANITIZE CC... - install BUILDDIR into a scratch
# DESTDIR and use it the way an outside project would: compile consumer.c with
# nothing but `pkg-config --cflags --libs libflp`, run it against the installed
# library, and check the installed library's SONAME; experimental.c compiles
# and runs with -DFLP_EXPERIMENTAL and does not compile without it.
#
# SANITIZE is the build's b_sanitize value. A library built with sanitizers
# needs their runtimes loaded first, so the consumer is then linked with the
# same -fsanitize flags (and runs under the caller's ASAN/UBSAN_OPTIONS).
set -euo pipefail
builddir=$1 srcdir=$2 sanitize=$3
shift 3
cc=("$@")
[ ${#cc[@]} -gt 0 ] || cc=(cc)

fail() { echo "install test: $*" >&2; exit 1; }

dest=$(mktemp -d "${TMPDIR:-/tmp}/flp-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT

# --no-rebuild: meson test has already built everything, and another ninja
# must not run beside the test harness.
meson install -C "$builddir" --destdir "$dest" --no-rebuild --quiet \
    || fail "meson install failed"

pc=$(find "$dest" -name libflp.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "libflp.pc was not installed"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR=$dest

version=$(pkg-config --modversion libflp)
read -r -a flags <<<"$(pkg-config --cflags --libs libflp)"
echo "pkg-config: libflp $version: ${flags[*]}"
case " ${flags[*]} " in
    *" -I$dest/"*) ;;
    *) fail "pkg-config --cflags does not point into the install ($dest)" ;;
esac

san=()
[ "$sanitize" = none ] || san=(-fsanitize="$sanitize")

exe=$dest/consumer
"${cc[@]}" -std=c11 -Wall -Wextra -Werror "${san[@]}" "$srcdir/consumer.c" -o "$exe" "${flags[@]}" \
    || fail "consumer.c did not compile against the installed headers and library"

# The experimental API: declared with FLP_EXPERIMENTAL (and exported by the
# library), hidden without it.
"${cc[@]}" -std=c11 -Wall -Wextra -Werror "${san[@]}" -DFLP_EXPERIMENTAL "$srcdir/experimental.c" \
    -o "$dest/experimental" "${flags[@]}" \
    || fail "experimental.c did not compile with -DFLP_EXPERIMENTAL against the installed headers"
read -r -a cflags <<<"$(pkg-config --cflags libflp)"
if "${cc[@]}" -std=c11 -fsyntax-only "$srcdir/experimental.c" "${cflags[@]}" 2>/dev/null; then
    fail "experimental.c compiled without FLP_EXPERIMENTAL: the headers do not gate the experimental API"
fi

libdir=
for f in "${flags[@]}"; do
    case $f in -L*) libdir=${f#-L} ;; esac
done
[ -n "$libdir" ] || fail "pkg-config --libs gave no -L"

# The consumer must load the installed copy, not the build tree's.
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$exe" "$version" \
    || fail "consumer failed"
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$dest/experimental" \
    || fail "the experimental program failed"
loaded=$(LD_LIBRARY_PATH=$libdir LD_TRACE_LOADED_OBJECTS=1 "$exe" | awk '/libflp/ {print $3}')
case $loaded in
    "$libdir"/*) ;;
    *) fail "consumer loaded libflp from '$loaded', not from $libdir" ;;
esac

# The soname carries the major version only (doc/CONVENTIONS.md): libflp.so.0 for 0.x.
want=libflp.so.${version%%.*}
soname=$(readelf -d "$libdir/libflp.so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "$want" ] || fail "installed libflp.so has SONAME '$soname', expected $want"
echo "SONAME $soname"
