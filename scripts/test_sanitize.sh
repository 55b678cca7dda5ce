#!/usr/bin/env bash
# scripts/test_sanitize.sh [BUILD_DIR [TSAN_BUILD_DIR [CMAKE_ARGS...]]]: the sanitizer CI build.
#   1. configures BUILD_DIR (default build-asan/) with -DLIC_SANITIZE=ON (-fsanitize=address,undefined
#      -fno-sanitize-recover=all) in RelWithDebInfo, builds everything and runs the whole ctest suite:
#      module tests, the bit-flip/truncation sweep, allocation failures, the thread test and the
#      replays of every fuzz corpus and of testdata/corrupt/;
#   2. unless LIC_NO_TSAN=1, builds test_threads, test_batch and test_entropy_tiles in TSAN_BUILD_DIR
#      (default build-tsan/) with -fsanitize=thread and runs them: many threads decoding with one
#      shared model, the batch API's workers (tests/test_batch.c, allocation failures included), and
#      entropy tiles coded and decoded in parallel on the engine's threads.
# Any sanitizer report fails the run (halt_on_error, non-zero exit). The compiler is the default cc;
# CC=clang works too.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build-asan}
tsan_build=${2:-$repo/build-tsan}
shift $(($# > 2 ? 2 : $#))
extra=("$@") # more cmake arguments for both builds, e.g. -DLIC_CUDA=OFF
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2 # shared 2-core machines

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

start=$(date +%s)
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIC_SANITIZE=ON -DLIC_BUILD_TESTS=ON ${extra[@]+"${extra[@]}"}
cmake --build "$build" -j "$jobs"
"$repo/scripts/ctest_run.sh" test_sanitize.sh "$build" -j "$jobs"
echo "test_sanitize: ASan/UBSan build and tests took $(($(date +%s) - start)) s"

if [ "${LIC_NO_TSAN:-0}" != 1 ]; then
    start=$(date +%s)
    cmake -S "$repo" -B "$tsan_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIC_BUILD_TESTS=ON \
        -DLIC_BUILD_APPS=OFF -DCMAKE_C_FLAGS="-fsanitize=thread" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
        -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" ${extra[@]+"${extra[@]}"}
    cmake --build "$tsan_build" -j "$jobs" --target test_threads test_batch test_entropy_tiles
    (cd "$repo" && "$tsan_build/bin/test_threads" --threads 6 --rounds 3)
    (cd "$repo" && "$tsan_build/bin/test_batch")
    (cd "$repo" && "$tsan_build/bin/test_entropy_tiles")
    echo "test_sanitize: TSan thread tests took $(($(date +%s) - start)) s"
fi
