#!/usr/bin/env bash
# The scalar build: no SIMD kernels (LIC_SIMD=OFF), no CUDA. Its decoder must reproduce the golden
# bitstreams' symbol and parameter hashes and the conformance vectors exactly, as the SIMD build does:
# the probability path is identical for scalar and fast kernels. The reference-kernel entries run; the
# SIMD entries (test_*_avx2, test_*_avx512) report themselves skipped, and the summary names them.
# A pattern that selects no test fails (--no-tests=error, scripts/ctest_run.sh).
#   scripts/test_scalar.sh [BUILD_DIR]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build-scalar}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

start=$(date +%s)
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIC_SIMD=OFF -DLIC_CUDA=OFF -DLIC_BUILD_TESTS=ON
cmake --build "$build" -j "$jobs" --target test_codec test_ilayers test_layers test_conformance
"$repo/scripts/ctest_run.sh" test_scalar.sh "$build" -j "$jobs" \
    -R '^(test_codec|test_ilayers(_avx2|_avx512)?|test_layers(_avx2|_avx512)?|test_conformance(_.*)?)$'
echo "test_scalar: scalar build and tests took $(($(date +%s) - start)) s"
