#!/usr/bin/env bash
# Regenerates the rate-distortion results of docs/RESULTS.md: lic-eval over the 24 Kodak images at
# the qualities of the model's 8 trained gain vectors (q = 1 + 99 j / 7), then rd_report (BD-rate vs
# the classic-codec anchors and CompressAI, and the RD plot).
#   scripts/rd_kodak.sh BUILD_DIR [KODAK_DIR (default ../shared/kodak)] [--model F.licw]
# Writes docs/rd/lic_kodak.json, docs/rd/lic_kodak.csv, docs/rd/rd_table.md, docs/rd/rd_kodak.png.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$1
kodak=${2:-$repo/../shared/kodak}
shift $(( $# < 2 ? $# : 2 ))
out=$repo/docs/rd
mkdir -p "$out"
"$build/bin/lic-eval" "$kodak" --q 1,15,29,43,58,72,86,100 --threads 2 "$@" \
    --json "$out/lic_kodak.json" --csv "$out/lic_kodak.csv"
/usr/bin/python3 "$repo/scripts/rd_report" "$out/lic_kodak.json" --label lic \
    --md "$out/rd_table.md" --png "$out/rd_kodak.png"
