#!/usr/bin/env bash
# Round-trips every image of a folder through lic-encode / lic-decode at several qualities and checks
# that (1) --threads 1 and --threads 2 give identical .lic bytes, and (2) the decoder reproduces
# exactly the symbols and entropy parameters the encoder coded (hashes printed by -v), and
# (3) the decoded image has the input's size.
# Usage: scripts/check_roundtrip.sh BUILD_DIR IMAGE_DIR [QUALITIES (default "10 50 90")] [--model F]
set -euo pipefail
build=$1 dir=$2 qualities=${3:-"10 50 90"}
shift $(( $# < 3 ? $# : 3 ))
model_args=("$@")
enc=$build/bin/lic-encode dec=$build/bin/lic-decode
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hashes() { grep -o 'symbols hash [0-9a-f]*, params hash [0-9a-f]*' "$1"; }
n=0 fail=0
for img in "$dir"/*.png "$dir"/*.ppm "$dir"/*.jpg; do
  [ -e "$img" ] || continue
  for q in $qualities; do
    n=$((n + 1))
    "$enc" "$img" -o "$tmp/t1.lic" -q "$q" --threads 1 -v "${model_args[@]}" 2>"$tmp/e1.log"
    "$enc" "$img" -o "$tmp/t2.lic" -q "$q" --threads 2 -v "${model_args[@]}" 2>"$tmp/e2.log"
    "$dec" "$tmp/t1.lic" -o "$tmp/out.ppm" --threads 2 -v "${model_args[@]}" 2>"$tmp/d.log"
    ok=1
    cmp -s "$tmp/t1.lic" "$tmp/t2.lic" || { echo "FAIL $img q=$q: thread counts give different bytes"; ok=0; }
    [ "$(hashes "$tmp/e1.log")" = "$(hashes "$tmp/d.log")" ] || { echo "FAIL $img q=$q: decoder symbols differ"; ok=0; }
    in_size=$("$dec" "$tmp/t1.lic" --info | awk '/^width|^height/ {printf "%s ", $2}')
    out_size=$(head -c 64 "$tmp/out.ppm" | tr '\n' ' ' | awk '{printf "%s %s ", $2, $3}')
    [ "$in_size" = "$out_size" ] || { echo "FAIL $img q=$q: size $in_size vs $out_size"; ok=0; }
    bytes=$(stat -c %s "$tmp/t1.lic")
    [ $ok = 1 ] && echo "ok   $(basename "$img") q=$q $bytes bytes" || fail=$((fail + 1))
  done
done
echo "$n round trips, $fail failures"
[ "$fail" = 0 ] && [ "$n" -gt 0 ]
