#!/usr/bin/env bash
# scripts/test.sh [BUILD_DIR [CMAKE_ARGS...]]: configures (Release unless CMAKE_ARGS say otherwise),
# builds and runs every test with ctest: the cmocka module tests, the include-layering check, the
# public-header C99 compile test and the install test (cmake --install into a temporary prefix, then
# an out-of-tree program built with pkg-config and with find_package that encodes and decodes with
# the embedded model), the conformance vectors under each CPU kernel path (reference, AVX2, AVX-512),
# the rate-distortion check of the shipped model, and the Python tests of the PyTorch mirror
# (configuring fails without python3-torch, -numpy and -pil unless -DLIC_PYTHON_TESTS=OFF). Tests that
# cannot run here (no GPU, a SIMD kernel this CPU lacks) are reported as skipped, by name
# (scripts/ctest_run.sh). This is the command CI runs.
#   BUILD_DIR defaults to build/ in the repository; e.g. scripts/test.sh build-asan -DLIC_SANITIZE=ON
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build}
shift $(($# > 0 ? 1 : 0))
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIC_BUILD_TESTS=ON "$@"
cmake --build "$build" -j "$jobs"
"$repo/scripts/ctest_run.sh" test.sh "$build" -j "$jobs"
