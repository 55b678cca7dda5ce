#!/usr/bin/env bash
# scripts/test.sh [BUILD_DIR [CMAKE_ARGS...]]: configures (Release unless CMAKE_ARGS say otherwise),
# builds and runs every test with ctest: the cmocka module tests, the include-layering check, the
# public-header C99 compile test and the install test (cmake --install into a temporary prefix, then
# an out-of-tree program built with pkg-config and with find_package). This is the command CI runs.
#   BUILD_DIR defaults to build/ in the repository; e.g. scripts/test.sh build-asan -DLIC_SANITIZE=ON
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build}
shift $(($# > 0 ? 1 : 0))
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIC_BUILD_TESTS=ON "$@"
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs"
