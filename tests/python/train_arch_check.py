"""The trainer's --arch end to end: train/train.py trains a few steps of a tiny lic-hp1 model from a
small crop cache, train/export.py exports its checkpoint, and the C tools accept the file (lic-encode
--model codes an image, lic-decode --model decodes it to the image's size). Run by ctest as
python_train_arch with the paths of the C tools:

    python3 tests/python/train_arch_check.py LIC_ENCODE LIC_DECODE

Any mismatch or tool failure exits non-zero.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "train"))
import export as E  # noqa: E402
import licw  # noqa: E402
import train as T  # noqa: E402

TILE = 64
CONFIG = dict(N=8, M=24, groups=[8, 16], C_h=16, C_cc=8, C_sp=8, C_ep=16)


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


def crop_cache(folder, n, seed):
    """train_TILE.npy / val_TILE.npy as train/dataset.py writes them: uint8 [n, TILE, TILE, 3]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:TILE, 0:TILE]
    tiles = np.empty((n, TILE, TILE, 3), np.uint8)
    for i in range(n):
        base = (xx * rng.integers(1, 4) + yy * rng.integers(1, 4)) % 256
        noise = rng.integers(0, 32, (TILE, TILE, 3))
        tiles[i] = np.clip(base[..., None] + noise, 0, 255)
    np.save(os.path.join(folder, "train_%d.npy" % TILE), tiles)
    np.save(os.path.join(folder, "val_%d.npy" % TILE), tiles[:2])
    return tiles


def main():
    encode, decode = sys.argv[1:3]
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data, work = os.path.join(tmp, "data"), os.path.join(tmp, "work")
        os.makedirs(data)
        tiles = crop_cache(data, 6, 3)
        rc = T.main(["--arch", "lic-hp1", "--data", data, "--work", work, "--tile", str(TILE),
                     "--config", json.dumps(CONFIG), "--batch", "2", "--crop", str(TILE), "--steps", "3",
                     "--threads", "1", "--adapt-threads", "0", "--log-every", "1", "--val-every", "1000",
                     "--val-n", "2"])
        check(rc == 0, "train.py exits 0 (got %r)" % rc)
        ckpt = os.path.join(work, "ckpt.pt")
        st = torch.load(ckpt, map_location="cpu")
        check(st.get("arch") == "lic-hp1" and st["step"] == 3, "the checkpoint records lic-hp1 at step 3")
        # resuming under another architecture is refused, not silently mixed
        try:
            T.main(["--arch", "lic-ctx1", "--data", data, "--work", work, "--tile", str(TILE)])
            check(False, "train.py refuses --arch lic-ctx1 on a lic-hp1 checkpoint")
        except SystemExit as e:
            check(e.code == 2, "train.py refuses --arch lic-ctx1 on a lic-hp1 checkpoint (exit %r)" % e.code)

        model_path = os.path.join(tmp, "hp1.licw")
        E.main(["--ckpt", ckpt, "--data", data, "--tile", str(TILE), "--calib", "4", "-o", model_path])
        f = licw.read(model_path)
        check(f.kv["arch"] == "lic-hp1", "the export's arch key is lic-hp1 (got %r)" % f.kv.get("arch"))
        check(not [n for n in f.tensors if n.startswith("cc.")], "the lic-hp1 export has no cc.* tensors")

        png = os.path.join(tmp, "x.png")
        Image.fromarray(tiles[1][:48, :56]).save(png)
        lic, out = os.path.join(tmp, "x.lic"), os.path.join(tmp, "y.png")
        r = subprocess.run([encode, png, "-o", lic, "-q", "60", "--model", model_path],
                           capture_output=True, text=True)
        check(r.returncode == 0, "lic-encode --model accepts the export: %s" % r.stderr.strip())
        r = subprocess.run([decode, lic, "-o", out, "--model", model_path], capture_output=True, text=True)
        check(r.returncode == 0, "lic-decode --model decodes it: %s" % r.stderr.strip())
        check(Image.open(out).size == (56, 48), "the decoded image has the input's size")
    print("train_arch_check: OK")


if __name__ == "__main__":
    main()
