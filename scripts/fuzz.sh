#!/usr/bin/env bash
# scripts/fuzz.sh [-t SECONDS] [-b BUILD_DIR] [TARGET...]: runs each libFuzzer target for SECONDS
# (default 300) in a single process, then prints its executions, CPU time, coverage and findings.
#
#   targets: decode container model entropy imageio roundtrip (default: all)
#   build:   a build configured with clang, -DLIC_FUZZ=ON -DLIC_SANITIZE=ON (default build-fuzz/,
#            configured and built here when missing)
#
# Each target fuzzes a working corpus in BUILD_DIR/fuzz-corpus/<target>/ (seeded from
# tests/fuzz/corpus/<target>/ and kept between runs, so later runs continue where earlier ones
# stopped), with -max_len, -rss_limit_mb, -malloc_limit_mb and -timeout set per target. Crash, leak,
# timeout and OOM inputs land in BUILD_DIR/fuzz-artifacts/<target>/; a finding makes the exit status 1.
# A crash input belongs in testdata/corrupt/<target>/ once it is fixed: ctest replays that directory.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=300
build=$repo/build-fuzz
while getopts "t:b:h" opt; do
    case $opt in
    t) seconds=$OPTARG ;;
    b) build=$(realpath -m "$OPTARG") ;;
    *) sed -n '2,13p' "$0"; exit 1 ;;
    esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(decode container model entropy imageio roundtrip)

if [ ! -f "$build/CMakeCache.txt" ]; then
    # No CUDA: the fuzzers exercise the CPU paths, and nvcc's host compiler is not clang.
    CC=clang cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIC_FUZZ=ON -DLIC_SANITIZE=ON \
        -DLIC_CUDA=OFF >/dev/null || exit 1
fi
cmake --build "$build" -j 2 --target "${targets[@]/#/fuzz_}" >/dev/null || exit 1

# Per-target options: -max_len bounds the input size (seeds are a few KB), -timeout one execution.
opts_for() {
    case $1 in
    decode) echo "-max_len=4096 -dict=$repo/tests/fuzz/lic.dict" ;;
    container) echo "-max_len=4096 -dict=$repo/tests/fuzz/lic.dict" ;;
    model) echo "-max_len=16384 -dict=$repo/tests/fuzz/licw.dict" ;;
    entropy) echo "-max_len=4096" ;;
    imageio) echo "-max_len=8192" ;;
    roundtrip) echo "-max_len=4096" ;;
    esac
}

status=0
printf '%-10s %12s %10s %8s %8s %8s %8s  %s\n' target execs exec/s cpu-min cov ft corpus findings
for t in "${targets[@]}"; do
    corpus=$build/fuzz-corpus/$t
    artifacts=$build/fuzz-artifacts/$t
    log=$build/fuzz-$t.log
    mkdir -p "$corpus" "$artifacts"
    # ASan: no leak reports of the process' static model (freed at exit by nobody), abort on UB.
    # The CPU time (user + system, measured by bash's `time`) is what the fuzzing budget counts:
    # the wall time overstates it when other work shares the cores.
    TIMEFORMAT='%U %S'
    { time env ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}" \
        UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
        "$build/bin/fuzz_$t" $(opts_for "$t") -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$corpus" "$repo/tests/fuzz/corpus/$t" >"$log" 2>&1; } 2>"$log.cpu"
    rc=$?
    cpu_min=$(awk '{ printf "%.1f", ($1 + $2) / 60 }' "$log.cpu")
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
    ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
    corp=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*')
    findings=$(ls "$artifacts" | wc -l)
    what=none
    if [ $rc -ne 0 ] || [ "$findings" -gt 0 ]; then
        what="rc=$rc, $findings artifact(s) in $artifacts, log $log"
        status=1
    fi
    printf '%-10s %12s %10s %8s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cpu_min:-?}" "${cov:-?}" \
        "${ft:-?}" "${corp:-?}" "$what"
done
exit $status
