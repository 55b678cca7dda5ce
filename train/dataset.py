"""Crop cache for training: photos from any folders -> uint8 numpy arrays of square tiles.

    /usr/bin/python3 train/dataset.py --out train/work/data DIR [DIR ...] [--tile 256] [--val 100]

Every image (jpg/jpeg/png/webp/bmp/ppm, searched recursively) is converted to RGB and, if its short
side is >= 640 px, downsampled by 2 (more for very large photos, until the short side is < 1200) with
an antialiasing (Lanczos) filter: JPEG artifacts and sensor noise shrink, and the content gets closer
to the scale of the Kodak set. Then it is cut into non-overlapping tile x tile crops on a grid with a
random offset. Training reads random sub-crops and flips of these tiles (train/train.py).

Hold-out: `--val` whole images (one tile each) are set aside before any tile is taken, so the
validation tiles come from photos the training never sees. Output in --out:
  train_<tile>.npy   uint8 [n, tile, tile, 3]
  val_<tile>.npy     uint8 [n_val, tile, tile, 3]
  manifest.tsv       split, source file, downsample factor, x, y of every tile
Deterministic for a given file list and --seed.
"""

import argparse
import hashlib
import os
import sys

import numpy as np
from PIL import Image

EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".ppm")


def list_images(dirs, list_file=None):
    files = []
    for d in dirs:
        if os.path.isfile(d):
            files.append(d)
            continue
        for root, _, names in os.walk(d):
            files += [os.path.join(root, n) for n in names if n.lower().endswith(EXTS)]
    if list_file:
        with open(list_file) as f:
            files += [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    return sorted(set(files))


def downsample_factor(w, h):
    s = min(w, h)
    if s < 640:
        return 1
    f = 2
    while s // f >= 1200:
        f *= 2
    return f


def load(path):
    """RGB uint8 array after the downsampling rule, and the factor used."""
    im = Image.open(path)
    w, h = im.size
    f = downsample_factor(w, h)
    if f > 1:
        if im.format == "JPEG":
            im.draft("RGB", (w // f, h // f))  # DCT-domain pre-reduction (<= f), then Lanczos
        im = im.convert("RGB").resize((w // f, h // f), Image.LANCZOS)
    else:
        im = im.convert("RGB")
    return np.asarray(im), f


def tiles_of(img, tile, rng):
    h, w = img.shape[:2]
    ny, nx = h // tile, w // tile
    if ny == 0 or nx == 0:
        return []
    oy = int(rng.integers(0, h - ny * tile + 1))
    ox = int(rng.integers(0, w - nx * tile + 1))
    return [(oy + i * tile, ox + j * tile) for i in range(ny) for j in range(nx)]


def usable(t):
    """Rejects near-flat tiles (borders, sky-only crops): they teach nothing and skew the rate."""
    return float(t.reshape(-1, 3).astype(np.float32).std(axis=0).mean()) > 2.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--list", help="file with one image path per line (added to dirs)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--val", type=int, default=100, help="held-out images (one tile each)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    files = list_images(args.dirs, args.list)
    if not files:
        sys.exit("no images found")
    # Stable per-file order independent of the folder layout: sort by a hash of the base name.
    files.sort(key=lambda p: hashlib.sha256(os.path.basename(p).encode()).hexdigest())
    rng = np.random.default_rng(args.seed)
    train, val, manifest = [], [], []
    for i, path in enumerate(files):
        try:
            img, f = load(path)
        except Exception as e:  # unreadable file: skip, but say so
            print("skip %s: %s" % (path, e), file=sys.stderr)
            continue
        pos = tiles_of(img, args.tile, rng)
        tiles = [(y, x) for (y, x) in pos if usable(img[y:y + args.tile, x:x + args.tile])]
        if not tiles:
            continue
        if len(val) < args.val:
            y, x = tiles[int(rng.integers(len(tiles)))]
            val.append(img[y:y + args.tile, x:x + args.tile].copy())
            manifest.append(("val", path, f, x, y))
            continue
        for y, x in tiles:
            train.append(img[y:y + args.tile, x:x + args.tile].copy())
            manifest.append(("train", path, f, x, y))
        if (i + 1) % 100 == 0:
            print("%d/%d images, %d train tiles" % (i + 1, len(files), len(train)), flush=True)
    os.makedirs(args.out, exist_ok=True)
    for name, arr in (("train", train), ("val", val)):
        a = np.stack(arr) if arr else np.zeros((0, args.tile, args.tile, 3), np.uint8)
        tmp = os.path.join(args.out, "%s_%d.tmp.npy" % (name, args.tile))
        np.save(tmp, a)
        os.replace(tmp, os.path.join(args.out, "%s_%d.npy" % (name, args.tile)))
    with open(os.path.join(args.out, "manifest.tsv"), "w") as fh:
        fh.write("split\tfile\tdownsample\tx\ty\n")
        for row in manifest:
            fh.write("%s\t%s\t%d\t%d\t%d\n" % row)
    print("done: %d train tiles, %d val tiles from %d files" % (len(train), len(val), len(files)))


if __name__ == "__main__":
    main()
