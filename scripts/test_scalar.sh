#!/usr/bin/env bash
# The scalar build: no SIMD kernels (LIC_SIMD=OFF), no CUDA. Its decoder must reproduce the golden
# bitstreams' symbol and parameter hashes and the conformance vectors exactly, as the SIMD build does:
# the probability path is identical for scalar and fast kernels (DESIGN.md §2).
#   scripts/test_scalar.sh [BUILD_DIR]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build-scalar}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

start=$(date +%s)
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIC_SIMD=OFF -DLIC_CUDA=OFF -DLIC_BUILD_TESTS=ON
cmake --build "$build" -j "$jobs" --target test_codec test_ilayers test_layers test_conformance
(cd "$build" && ctest --output-on-failure -j "$jobs" -R '^(test_codec|test_ilayers|test_layers|test_conformance)$')
echo "test_scalar: scalar build and tests took $(($(date +%s) - start)) s"
