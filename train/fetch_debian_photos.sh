#!/bin/sh
# Fetches freely licensed photographs from Debian (bookworm) packages with `apt-get download` +
# `dpkg -x` and writes the list of the chosen files (photographs only; renders, illustrations and
# abstract wallpapers are left out) to $OUT/photos.txt, for `train/dataset.py --list`.
# Licenses: see train/DATA.md (and each package's usr/share/doc/<pkg>/copyright, kept in $OUT).
#
#   sh train/fetch_debian_photos.sh [OUT]      (default train/work/debian)
set -eu
OUT=${1:-train/work/debian}
mkdir -p "$OUT/debs"
PKGS="lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 plasma-workspace-wallpapers mate-backgrounds palapeli-data"
(cd "$OUT/debs" && apt-get download $PKGS)
for f in "$OUT"/debs/*.deb; do
    p=$(basename "$f" | cut -d_ -f1)
    mkdir -p "$OUT/$p"
    dpkg -x "$f" "$OUT/$p"
done
L="$OUT/photos.txt"
: > "$L"
# lomiri-wallpapers-16.04: 13 of 15 (umang = colour gradient; analogpattern = abstract texture)
for f in "$OUT"/lomiri-wallpapers-16.04/usr/share/backgrounds/*.jpg; do
    case "$f" in *umang_by*|*analogpattern_by*) ;; *) echo "$f" >> "$L" ;; esac
done
# lomiri-wallpapers-20.04: only the photograph Kleiber (the others are renders or graphics)
echo "$OUT/lomiri-wallpapers-20.04/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg" >> "$L"
# plasma-workspace-wallpapers: the 11 photographic sets
for s in FallenLeaf Path DarkestHour summer_1am EveningGlow Grey Kite ColorfulCups OneStandsOut ColdRipple BytheWater; do
    ls "$OUT"/plasma-workspace-wallpapers/usr/share/wallpapers/$s/contents/images/* | awk -F/ '{print $NF"\t"$0}' | sort -n | tail -n 1 | cut -f2 >> "$L"  # largest
done
# mate-backgrounds: nature/ only
ls "$OUT"/mate-backgrounds/usr/share/backgrounds/mate/nature/*.jpg >> "$L"
# palapeli-data: the puzzle collection photos
ls "$OUT"/palapeli-data/usr/share/palapeli/collection/*.jpg >> "$L"
echo "$(wc -l < "$L") photos listed in $L"
