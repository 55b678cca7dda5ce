"""Rate-distortion of a .licw through the C command-line tools (a quick check; lic-eval does the
full evaluation).

    /usr/bin/python3 train/eval.py --codec build-train/bin --model models/default.licw \
        [--q 1 15 30 50 70 85 100] [--jpeg] [--dir ../shared/kodak]

For every quality: lic-encode each image, lic-decode it, and report the mean bpp (file bytes * 8 /
pixels) and the mean RGB PSNR (per image, then averaged), plus encode/decode wall time. --jpeg adds
PIL's JPEG (4:2:0, optimized Huffman) at a few qualities as a classic reference, and --webp WebP if PIL
has it.
"""

import argparse
import glob
import io
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0 ** 2 / max(mse, 1e-10))


def lic_point(codec, model, files, q, threads):
    bpps, psnrs, te, td = [], [], 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            ref = np.asarray(Image.open(f).convert("RGB"))
            lic, png = os.path.join(tmp, "a.lic"), os.path.join(tmp, "a.png")
            t0 = time.time()
            subprocess.run([os.path.join(codec, "lic-encode"), "--threads", str(threads), "--model", model,
                            "-q", str(q), f, "-o", lic], check=True, capture_output=True)
            t1 = time.time()
            subprocess.run([os.path.join(codec, "lic-decode"), "--threads", str(threads), "--model", model,
                            lic, "-o", png], check=True, capture_output=True)
            t2 = time.time()
            te, td = te + t1 - t0, td + t2 - t1
            dec = np.asarray(Image.open(png).convert("RGB"))
            bpps.append(os.path.getsize(lic) * 8 / (ref.shape[0] * ref.shape[1]))
            psnrs.append(psnr(ref, dec))
    return float(np.mean(bpps)), float(np.mean(psnrs)), te / len(files), td / len(files)


def pil_point(files, fmt, q):
    bpps, psnrs = [], []
    for f in files:
        im = Image.open(f).convert("RGB")
        buf = io.BytesIO()
        if fmt == "JPEG":
            im.save(buf, "JPEG", quality=q, optimize=True)
        else:
            im.save(buf, fmt, quality=q)
        dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        ref = np.asarray(im)
        bpps.append(len(buf.getvalue()) * 8 / (ref.shape[0] * ref.shape[1]))
        psnrs.append(psnr(ref, dec))
    return float(np.mean(bpps)), float(np.mean(psnrs))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codec", default="build-train/bin")
    ap.add_argument("--model", default="models/default.licw")
    ap.add_argument("--dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "kodak"),
                    help="folder of images (default: ../shared/kodak beside the repository)")
    ap.add_argument("--q", type=int, nargs="+", default=[1, 15, 30, 50, 70, 85, 100])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=0, help="only the first n images (0: all)")
    ap.add_argument("--jpeg", action="store_true")
    ap.add_argument("--webp", action="store_true")
    args = ap.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.dir, "*.png")))
    if args.n:
        files = files[:args.n]
    if not files:
        sys.exit("no PNG images in " + args.dir)
    print("%d images from %s, model %s" % (len(files), args.dir, args.model))
    print("codec  q    bpp     PSNR   enc s  dec s")
    for q in args.q:
        b, p, te, td = lic_point(args.codec, args.model, files, q, args.threads)
        print("lic  %3d  %.4f  %6.2f  %5.2f  %5.2f" % (q, b, p, te, td), flush=True)
    for fmt, flag, qs in (("JPEG", args.jpeg, [10, 25, 50, 75, 90, 95]), ("WEBP", args.webp, [10, 30, 50, 75, 90, 98])):
        if flag:
            for q in qs:
                b, p = pil_point(files, fmt, q)
                print("%-4s %3d  %.4f  %6.2f" % (fmt.lower(), q, b, p), flush=True)


if __name__ == "__main__":
    main()
