#!/usr/bin/env bash
# scripts/ctest_run.sh LABEL BUILD_DIR [CTEST_ARGS...]: runs ctest in BUILD_DIR with --output-on-failure
# and --no-tests=error (a pattern that selects nothing fails instead of passing), then prints how many
# tests were skipped and which: ctest reports a test as skipped when it exits with its
# SKIP_RETURN_CODE (LIC_TEST_SKIP, tests/test_support.h: no GPU, a SIMD kernel the CPU lacks). When
# LIC_SKIP_LOG names a file, one "LABEL: test" line per skipped test is appended to it (.ci/run prints
# the total). Exits with ctest's status.
set -euo pipefail
label=$1 build=$2
shift 2
log=$(mktemp "${TMPDIR:-/tmp}/lic-ctest.XXXXXX")
trap 'rm -f "$log"' EXIT
status=0
(cd "$build" && ctest --output-on-failure --no-tests=error "$@") 2>&1 | tee "$log" || status=$?
# ctest's summary lists them as "  NN - name (Skipped)".
mapfile -t skipped < <(sed -n 's/^[[:space:]]*[0-9]\{1,\} - \(.*\) (Skipped)$/\1/p' "$log")
if ((${#skipped[@]})); then
    echo "$label: ${#skipped[@]} test(s) skipped: ${skipped[*]}"
else
    echo "$label: 0 tests skipped"
fi
if [ -n "${LIC_SKIP_LOG:-}" ]; then
    for t in ${skipped[@]+"${skipped[@]}"}; do
        echo "$label: $t" >>"$LIC_SKIP_LOG"
    done
fi
exit "$status"
