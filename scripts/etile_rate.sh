#!/usr/bin/env bash
# scripts/etile_rate.sh BUILD_DIR [IMAGE_DIR [QUALITIES [TILES]]]: the rate cost of entropy-coding
# tiles (docs/FORMAT.md §3.2). Encodes every PNG of IMAGE_DIR (default ../shared/kodak beside the
# repository) at each quality (default "10 50 90") with one tile (--entropy-tile whole) and with each
# tile side in pixels (default "128 256 512 1024"), and prints, per quality and tile side, the mean
# over the images of the file size increase against one tile, in percent. Byte counts do not depend on
# the machine's load, so this runs anywhere. Per-file sizes go to stdout as "size image q tile" lines
# prefixed with '#'.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: scripts/etile_rate.sh BUILD_DIR [IMAGE_DIR [QUALITIES [TILES]]]}
images=${2:-$repo/../shared/kodak}
qualities=${3:-10 50 90}
tiles=${4:-128 256 512 1024}
enc=$build/bin/lic-encode
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for img in "$images"/*.png; do
    name=$(basename "$img" .png)
    for q in $qualities; do
        for t in whole $tiles; do
            "$enc" "$img" -o "$tmp/out.lic" -q "$q" --threads 1 --entropy-tile "$t"
            echo "# $(stat -c %s "$tmp/out.lic") $name $q $t"
        done
    done
done >"$tmp/sizes"

awk '
    { size[$3 " " $4 " " $5] = $2; imgs[$3] = 1; qs[$4] = 1; ts[$5] = 1 }
    END {
        printf "%-8s", "q"
        n = split("'"$tiles"'", tl, " ")
        for (i = 1; i <= n; i++) printf " %10s", tl[i] " px"
        printf "\n"
        nq = split("'"$qualities"'", ql, " ")
        for (j = 1; j <= nq; j++) {
            printf "%-8s", ql[j]
            for (i = 1; i <= n; i++) {
                s = 0; k = 0
                for (im in imgs) { s += size[im " " ql[j] " " tl[i]] / size[im " " ql[j] " whole"] - 1; k++ }
                printf " %9.2f%%", 100 * s / k
            }
            printf "\n"
        }
    }' "$tmp/sizes"
cat "$tmp/sizes"
