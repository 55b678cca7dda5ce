#!/usr/bin/env bash
# scripts/fuzz_coverage.sh [-b FUZZ_BUILD] [-o COV_BUILD] [TARGET...]: how much of the library the fuzz
# corpora reach, in source lines and regions (clang source-based coverage).
#
#   targets: decode container model entropy imageio roundtrip (default: all)
#   FUZZ_BUILD: where scripts/fuzz.sh kept its working corpora (default build-fuzz/)
#   COV_BUILD:  the coverage build, configured and built here when missing (default build-fuzzcov/)
#
# Builds the plain replay programs (fuzz_replay_<target>) with -fprofile-instr-generate
# -fcoverage-mapping, runs each over its working corpus FUZZ_BUILD/fuzz-corpus/<target>/, the committed
# seeds tests/fuzz/corpus/<target>/ and testdata/corrupt/<target>/, and prints the line and region
# coverage of the sources that target is about (below), summed, with one row per file in
# COV_BUILD/coverage-<target>.txt. The SIMD kernels count only where this CPU runs them: a machine
# with AVX-512 never enters the AVX2 variants, so transforms/ reads lower than what is exercised.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
fuzz_build=$repo/build-fuzz
cov_build=$repo/build-fuzzcov
while getopts "b:o:h" opt; do
    case $opt in
    b) fuzz_build=$(realpath -m "$OPTARG") ;;
    o) cov_build=$(realpath -m "$OPTARG") ;;
    *) sed -n '2,14p' "$0"; exit 1 ;;
    esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(decode container model entropy imageio roundtrip)

# The sources each target exists to exercise, relative to the repository: llvm-cov takes directories
# too (every source under them, headers with inline code included).
sources_for() {
    case $1 in
    decode | roundtrip) echo "codec entropy transforms" ;;
    container) echo "codec/container.c" ;;
    model) echo "codec/licw.c codec/model.c" ;;
    entropy) echo "entropy" ;;
    imageio) echo "apps/image_io.c" ;;
    esac
}

if [ ! -f "$cov_build/CMakeCache.txt" ]; then
    CC=clang cmake -S "$repo" -B "$cov_build" -DCMAKE_BUILD_TYPE=Release -DLIC_CUDA=OFF \
        -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" >/dev/null
fi
cmake --build "$cov_build" -j 2 --target "${targets[@]/#/fuzz_replay_}" >/dev/null

printf '%-10s %8s %16s %18s\n' target inputs "lines covered" "regions covered"
for t in "${targets[@]}"; do
    dirs=()
    for d in "$fuzz_build/fuzz-corpus/$t" "$repo/tests/fuzz/corpus/$t" "$repo/testdata/corrupt/$t"; do
        [ -d "$d" ] && dirs+=("$d")
    done
    inputs=$(find "${dirs[@]}" -maxdepth 1 -type f | wc -l)
    rm -f "$cov_build/cov-$t".*
    # The replay program exits 0 only when every input ran (a broken property aborts it).
    LLVM_PROFILE_FILE="$cov_build/cov-$t.profraw" "$cov_build/bin/fuzz_replay_$t" "${dirs[@]}" >/dev/null
    llvm-profdata merge -sparse "$cov_build/cov-$t.profraw" -o "$cov_build/cov-$t.profdata"
    report=$cov_build/coverage-$t.txt
    (cd "$repo" && llvm-cov report "$cov_build/bin/fuzz_replay_$t" -instr-profile="$cov_build/cov-$t.profdata" \
        $(sources_for "$t")) >"$report"
    # TOTAL row: regions, missed, cover%, functions, missed, executed%, lines, missed, cover%, ...
    read -r regions rmiss lines lmiss lcover < <(awk '/^TOTAL/ { print $2, $3, $8, $9, $10 }' "$report")
    printf '%-10s %8d %8d/%-7d %9d/%-8d  %s of lines\n' "$t" "$inputs" $((lines - lmiss)) "$lines" \
        $((regions - rmiss)) "$regions" "$lcover"
done
