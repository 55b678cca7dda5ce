#!/usr/bin/env bash
# scripts/demo.sh [IMAGE]: builds lic in build/ and round-trips IMAGE (default: the repository's test
# image) through lic-encode and lic-decode with the embedded default model, then prints the stream's
# header and size. Outputs go to build/demo/. Run scripts/setup.sh first on a fresh machine.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$repo/build
image=${1:-$repo/testdata/images/768x512.png}
[[ -f "$image" ]] || { echo "demo.sh: no such image: $image" >&2; exit 1; }

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"

mkdir -p "$build/demo"
out=$build/demo/$(basename "${image%.*}")
"$build/bin/lic-encode" -q 75 -v "$image" -o "$out.lic"
"$build/bin/lic-decode" "$out.lic" -o "$out.png"
"$build/bin/lic-decode" --info "$out.lic"
echo "demo.sh: $image -> $out.lic ($(stat -c %s "$out.lic") bytes) -> $out.png"
