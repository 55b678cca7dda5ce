#!/usr/bin/env bash
# tests/install/run.sh BUILD_DIR: installs the lic build in BUILD_DIR into a temporary prefix, then
# builds tests/install/install_consumer.c against that prefix twice — with pkg-config and with a CMake
# project using find_package(lic CONFIG) and lic::codec — and runs both. Registered with ctest by
# tests/build.cmake; needs only cmake, cc and pkg-config. Leaves nothing behind.
set -euo pipefail

if (($# != 1)) || [[ ! -f "$1/CMakeCache.txt" ]]; then
    echo "usage: $0 BUILD_DIR   (a configured and built lic build tree)" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lic-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() { echo "install test: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }

# What must be there, wherever GNUInstallDirs put the library (lib or lib/<multiarch>).
pc=$(find "$prefix" -name lic.pc -path '*/pkgconfig/*' | head -n 1)
[[ -n "$pc" ]] || fail "no lib*/pkgconfig/lic.pc installed"
libdir=$(cd "$(dirname "$pc")/.." && pwd)
[[ -e "$libdir/libcodec.so" ]] || fail "no libcodec.so next to lic.pc in $libdir"
for h in common.h version.h codec.h; do
    [[ -f "$prefix/include/lic/$h" ]] || fail "missing installed header include/lic/$h"
done
[[ -f "$libdir/cmake/lic/licConfig.cmake" && -f "$libdir/cmake/lic/licConfigVersion.cmake" ]] \
    || fail "missing $libdir/cmake/lic/licConfig.cmake or licConfigVersion.cmake"
# Only the public API is installed: no internal module header leaks into include/.
extra=$(cd "$prefix/include" && find . -type f ! -path './lic/*')
[[ -z "$extra" ]] || fail "unexpected files under include/: $extra"

cflags_strict=(-std=c99 -Wall -Wextra -Werror -pedantic)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
version=$(pkg-config --modversion lic) || fail "pkg-config cannot read lic.pc"

step "pkg-config build (lic $version)"
# shellcheck disable=SC2046  # pkg-config output is meant to be word-split
"${CC:-cc}" "${cflags_strict[@]}" "$here/install_consumer.c" -o "$tmp/consumer-pkgconfig" \
    $(pkg-config --cflags --libs lic) || fail "pkg-config build failed"

step "CMake find_package(lic $version CONFIG) build"
cmake -S "$here" -B "$tmp/consumer-cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DLIC_EXPECTED_VERSION="$version" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 \
    || { cat "$tmp/cmake.log" >&2; fail "configuring the CMake consumer failed"; }
cmake --build "$tmp/consumer-cmake" >>"$tmp/cmake.log" 2>&1 \
    || { cat "$tmp/cmake.log" >&2; fail "building the CMake consumer failed"; }

for exe in "$tmp/consumer-pkgconfig" "$tmp/consumer-cmake/install_consumer"; do
    step "run $(basename "$(dirname "$exe")")/$(basename "$exe")"
    # The installed copy must be the one loaded, not the build tree's.
    loaded=$(LD_LIBRARY_PATH="$libdir" ldd "$exe" | awk '$1 ~ /^libcodec\.so/ { print $3 }')
    [[ "$loaded" == "$libdir"/* ]] || fail "$exe loads libcodec from '$loaded', not from $libdir"
    LD_LIBRARY_PATH="$libdir" "$exe" || fail "$exe failed"
done
echo "install test: ok"
