"""Data packs for the training relay: the crop cache (train/dataset.py) cut into files small enough to
travel to a GPU machine with the code and the relay checkpoint in one call (train/DATA.md §4).

    /usr/bin/python3 train/packs.py build --data train/work/data --out train/work/packs [--max-mb 24]
    /usr/bin/python3 train/packs.py list train/work/packs

A pack is one .npz file (no pickled objects): every tile stored as a lossless WebP (PIL), the
concatenated bytes in `train_blob` with `train_off` (n + 1 offsets), the same for a small fixed
held-out set (`val_blob`, `val_off`, the first --val tiles of val_<tile>.npy, identical in every
pack), `tile`, and `info` (JSON bytes: pack index, count, source cache, first and last tile). The
training tiles are dealt to packs in a fixed pseudo-random order (seed 1), so every pack is a
sample of every source; all packs together hold every training tile exactly once.
"""

import argparse
import hashlib
import io
import json
import os
import sys

import numpy as np
from PIL import Image


def encode_tile(t):
    b = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(t)).save(b, format="WEBP", lossless=True, quality=50, method=2)
    return b.getvalue()


def decode_blobs(blob, off):
    """-> uint8 [n, T, T, 3] (the size of the first tile; all tiles of a blob have one size)."""
    ims = [np.asarray(Image.open(io.BytesIO(blob[off[i]:off[i + 1]].tobytes())).convert("RGB"))
           for i in range(len(off) - 1)]
    return np.stack(ims)


def _pack_arrays(tiles):
    blobs = [encode_tile(t) for t in tiles]
    off = np.zeros(len(blobs) + 1, np.int64)
    off[1:] = np.cumsum([len(b) for b in blobs])
    return np.frombuffer(b"".join(blobs), np.uint8), off


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_pack(path):
    """-> (train tiles uint8 [n, T, T, 3], val tiles, info dict)."""
    z = np.load(path, allow_pickle=False)
    tile = int(z["tile"])
    info = json.loads(bytes(z["info"]).decode())
    train = decode_blobs(z["train_blob"], z["train_off"])
    assert train.shape[1] == tile
    return train, decode_blobs(z["val_blob"], z["val_off"]), info


def build(data, out, max_mb, val_n, seed=1, tile=320):
    train = np.load(os.path.join(data, "train_%d.npy" % tile), mmap_mode="r")
    val = np.load(os.path.join(data, "val_%d.npy" % tile))[:val_n]
    order = np.random.default_rng(seed).permutation(train.shape[0])
    val_blob, val_off = _pack_arrays(val)
    budget = int(max_mb * 1e6) - val_blob.size - 4096
    os.makedirs(out, exist_ok=True)
    # encode every tile once, then deal them to packs in `order` until a pack's budget is full
    sizes, blobs = [], []
    for k, i in enumerate(order):
        b = encode_tile(train[i])
        blobs.append(b)
        sizes.append(len(b))
        if (k + 1) % 200 == 0:
            print("%d/%d tiles encoded" % (k + 1, len(order)), flush=True)
    packs, cur, cur_bytes = [], [], 0
    for k, s in enumerate(sizes):
        if cur and cur_bytes + s > budget:
            packs.append(cur)
            cur, cur_bytes = [], 0
        cur.append(k)
        cur_bytes += s
    if cur:
        packs.append(cur)
    raw = train.shape[1] * train.shape[2] * 3
    for p, ks in enumerate(packs):
        info = dict(pack=p, n_packs=len(packs), count=len(ks), tile=tile, source=os.path.normpath(data),
                    tiles=[int(order[k]) for k in ks], val=int(val.shape[0]), seed=seed)
        path = os.path.join(out, "pack%02d.npz" % p)
        n = write_pack(path, [blobs[k] for k in ks], val_blob, val_off, tile, info)
        print("%s: %d tiles, %.1f MB (%.0f %% of raw)" % (path, len(ks), os.path.getsize(path) / 1e6,
                                                          100.0 * n / (len(ks) * raw)))


def write_pack(path, blobs, val_blob, val_off, tile, info):
    """Writes one pack from encoded tiles (atomic); returns the bytes of the training tiles."""
    blob = np.frombuffer(b"".join(blobs), np.uint8)
    off = np.zeros(len(blobs) + 1, np.int64)
    off[1:] = np.cumsum([len(b) for b in blobs])
    tmp = path + ".tmp.npz"
    np.savez(tmp, train_blob=blob, train_off=off, val_blob=val_blob, val_off=val_off,
             tile=np.int64(tile), info=np.frombuffer(json.dumps(info).encode(), np.uint8))
    os.replace(tmp, path)
    return blob.size


def pack_from_arrays(path, train, val, info=None):
    """A pack from uint8 tile arrays [n, T, T, 3] (tests, small experiments)."""
    val_blob, val_off = _pack_arrays(val)
    write_pack(path, [encode_tile(t) for t in train], val_blob, val_off, train.shape[1],
               dict(info or {}, count=int(train.shape[0]), tile=int(train.shape[1])))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--data", default="train/work/data")
    b.add_argument("--out", default="train/work/packs")
    b.add_argument("--tile", type=int, default=320)
    b.add_argument("--max-mb", type=float, default=24.0)
    b.add_argument("--val", type=int, default=24)
    ls = sub.add_parser("list")
    ls.add_argument("dir", nargs="?", default="train/work/packs")
    args = ap.parse_args(argv)
    if args.cmd == "build":
        build(args.data, args.out, args.max_mb, args.val, tile=args.tile)
    else:
        for n in sorted(os.listdir(args.dir)):
            if n.endswith(".npz"):
                z = np.load(os.path.join(args.dir, n))
                info = json.loads(bytes(z["info"]).decode())
                print("%s %d tiles %.1f MB" % (n, info["count"], os.path.getsize(os.path.join(args.dir, n)) / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
