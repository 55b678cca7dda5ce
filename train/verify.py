"""Integerization check of an exported .licw against its training checkpoint.

    /usr/bin/python3 train/verify.py --ckpt train/work/ckpt.pt --licw train/work/model.licw \
        [--q 1 50 100] [--codec build-train/bin] IMAGE...

For each image and quality it prints
  * float: the training graph's estimated bpp (hard rounding, -log2 of the likelihoods) and PSNR,
    with the gains interpolated exactly like the codec (FORMAT.md §1.3);
  * int: the bit-exact mirror of the codec (train/lic_model.py) on the exported file: the ideal code
    length of its z and y symbols under the file's integer CDF tables (escapes included) plus the
    container header, and the PSNR of its reconstruction;
  * C (with --codec): the size of the lic-encode output and the PSNR of lic-decode's output, and
    whether it equals the mirror's reconstruction.
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lic_model as LM  # noqa: E402
from export import load_ckpt  # noqa: E402


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0 ** 2 / max(mse, 1e-10))


def row_bits(cdf, length, offset, rows, vals):
    """Ideal code length in bits of symbols `vals` coded with CDF rows `rows` (FORMAT.md §2.3)."""
    rows = np.asarray(rows, np.int64)
    vals = np.asarray(vals, np.int64)
    o = offset[rows].astype(np.int64)
    n = length[rows].astype(np.int64) - 2
    rel = vals - o
    inside = (rel >= 0) & (rel < n)
    sym = np.where(inside, rel, n)  # escape symbol index n
    f = cdf[rows, sym + 1].astype(np.int64) - cdf[rows, sym].astype(np.int64)
    bits = -np.log2(f / 65536.0)
    u = np.where(vals >= o + n, vals - (o + n), (o - 1) - vals)
    m = np.where(vals >= o + n, 2 * u, 2 * u + 1)
    nc = np.zeros_like(m)
    mm = np.where(inside, 0, m)
    while np.any(mm > 0):
        nc += (mm > 0)
        mm >>= 4
    bits = bits + np.where(inside, 0.0, 4.0 + 4.0 * nc)
    return float(bits.sum()), int((~inside).sum())


@torch.no_grad()
def float_rd(model, x, gains, gains_inv):
    """The training forward (lic_model, eval rounding) with explicit gain vectors."""
    g = torch.from_numpy(gains).view(1, -1, 1, 1)
    gi = torch.from_numpy(gains_inv).view(1, -1, 1, 1)
    y = model.g_a(x) * g
    z = model.h_a(y)
    med = model.eb.medians().view(1, -1, 1, 1)
    zt = torch.round(z - med) + med
    lik_z = model.eb.likelihood(zt).clamp_min(1e-9)
    H = model.h_s(zt)
    yhat, lik_y = model.context(y, H, noise=False)
    xh = model.g_s(yhat * gi)
    bits = -(torch.log2(lik_y).sum() + torch.log2(lik_z).sum())
    return float(bits), xh


@torch.no_grad()
def check(model, lm, path, q, codec=None):
    rgb = np.asarray(Image.open(path).convert("RGB"))
    h, w = rgb.shape[:2]
    x = LM.image_to_tensor(rgb)
    # float
    bits_f, xh_f = float_rd(model, x, lm.gains(q), lm.gains(q, inverse=True))
    rec_f = LM.tensor_to_image(xh_f, h, w)
    # integer mirror
    y, z = lm.analysis(x, q)
    rec = []
    zs, yq = lm.encode_latents(y, z, rec)
    order = LM.coding_order(rec)
    T = lm.tables
    zsym = zs[0].to(torch.int64).numpy()  # [N, h, w]
    zrows = np.broadcast_to(np.arange(zsym.shape[0]).reshape(-1, 1, 1), zsym.shape).reshape(-1)
    bz, ez = row_bits(T["entropy.z.cdf"], T["entropy.z.length"], T["entropy.z.offset"], zrows, zsym.reshape(-1))
    by, ey = row_bits(T["entropy.y.cdf"], T["entropy.y.length"], T["entropy.y.offset"], order["scale_idx"],
                      order["y_symbols"])
    rec_i = LM.tensor_to_image(lm.synthesis(yq, q), h, w)
    header = 81 + 2 * 8  # version-2 container chunks (docs/FORMAT.md §3) + two flushed rANS states
    bpp_i = ((bz + by) / 8 + header) * 8 / (h * w)
    out = dict(bpp_float=bits_f / (h * w), psnr_float=psnr(rgb, rec_f), bpp_int=bpp_i, psnr_int=psnr(rgb, rec_i),
               psnr_int_vs_float=psnr(rec_f, rec_i), escapes=ez + ey)
    if codec:
        with tempfile.TemporaryDirectory() as td:
            lic, png = os.path.join(td, "a.lic"), os.path.join(td, "a.png")
            subprocess.run([os.path.join(codec, "lic-encode"), "--threads", "1", "--model", lm.path, "-q", str(q), path, "-o", lic],
                           check=True, capture_output=True)
            subprocess.run([os.path.join(codec, "lic-decode"), "--threads", "1", "--model", lm.path, lic, "-o", png],
                           check=True, capture_output=True)
            dec = np.asarray(Image.open(png).convert("RGB"))
            out.update(bpp_c=os.path.getsize(lic) * 8 / (h * w), psnr_c=psnr(rgb, dec),
                       c_equals_mirror=bool(np.array_equal(dec, rec_i)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--licw", required=True)
    ap.add_argument("--q", type=int, nargs="+", default=[1, 50, 100])
    ap.add_argument("--codec", help="folder with lic-encode / lic-decode")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, _ = load_ckpt(args.ckpt)
    lm = LM.LicModel.from_licw(args.licw)
    lm.path = args.licw
    rows = []
    for q in args.q:
        for p in args.images:
            r = check(model, lm, p, q, args.codec)
            rows.append((q, r))
            print("q %3d %-28s float %.4f bpp %.2f dB | int %.4f bpp %.2f dB (vs float %.1f dB, %d esc)%s"
                  % (q, os.path.basename(p), r["bpp_float"], r["psnr_float"], r["bpp_int"], r["psnr_int"],
                     r["psnr_int_vs_float"], r["escapes"],
                     "" if "bpp_c" not in r else " | C %.4f bpp %.2f dB %s" % (
                         r["bpp_c"], r["psnr_c"], "= mirror" if r["c_equals_mirror"] else "!= mirror")), flush=True)
    for q in args.q:
        rr = [r for qq, r in rows if qq == q]
        bf = np.mean([r["bpp_float"] for r in rr])
        bi = np.mean([r["bpp_int"] for r in rr])
        print("q %3d mean: float %.4f bpp %.2f dB, int %.4f bpp (%+.1f%%) %.2f dB%s" % (
            q, bf, np.mean([r["psnr_float"] for r in rr]), bi, 100 * (bi / bf - 1), np.mean([r["psnr_int"] for r in rr]),
            "" if "bpp_c" not in rr[0] else ", C %.4f bpp %.2f dB" % (
                np.mean([r["bpp_c"] for r in rr]), np.mean([r["psnr_c"] for r in rr]))))


if __name__ == "__main__":
    main()
