#!/usr/bin/env python3
"""Per-stage CPU timing of the PyTorch reference of a lic-ctx1 model (train/lic_model.py).

    bench_pytorch.py MODEL.licw IMAGE.png [--threads T] [--runs R] [-q Q] [--dump DIR] [--hash]

Stages (the same split as the C codec's lic_stats, see codec/include/lic/codec.h):
  analysis   pixels -> float, edge padding to multiples of 64, g_a, gain, h_a
  hyper      z quantization + integer hyper-synthesis h_s
  entropy    the integer context networks of every group, both checkerboard passes, means, scale
             indexes, symbols and y-hat -- WITHOUT arithmetic coding (PyTorch has no coder; the C
             numbers include it)
  synthesis  y-hat / 256 * gain_inv, g_s, x255, rounding, crop
One warm-up run, then the median (and min) of R timed runs, under torch.inference_mode().

Optional speedups (reported in the output, never set by this script):
  OPENBLAS_NUM_THREADS=1           keeps OpenBLAS from spawning its own threads next to torch's
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1
                                   reuses freed memory: first-touch page faults are very slow here
  env -u OPENBLAS_CORETYPE         lets OpenBLAS use its AVX-512 kernels
  OpenBLAS instead of Debian's netlib libblas.so.3 (apt-get install libopenblas0, or put its
  libblas.so.3 on LD_LIBRARY_PATH): the integer path runs float64 convs through BLAS
Debian's python3-torch lives in /usr/bin/python3 (a pyenv python3 earlier in PATH may lack it).

--dump DIR writes z_symbols.npy ([N, h/64, w/64], coding order c, y, x), y_symbols.npy, means.npy and
scale_idx.npy (1-D, coding order: group, pass, channel, y, x), yhat.npy ([M, h/16, w/16], 1/256
units), recon.png and info.json (shapes, stream hashes). --hash prints the hashes the C encoder keeps
in lic_stats (symbols_hash, params_hash, n_symbols); they agree with the C side when the float
transforms round y' and z the same way (they may differ on exact rounding ties).
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import lic_model  # noqa: E402

STAGES = ("analysis", "hyper", "entropy", "synthesis")


def loaded_libraries():
    """Paths of the shared objects mapped into this process (empty where /proc is unavailable)."""
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f if ".so" in line})
    except OSError:
        return []


def runtime_env():
    """What this run used: allocator, BLAS (Debian's libblas.so.3 is whichever alternative is
    installed: the netlib reference one is several times slower than OpenBLAS), thread settings."""
    libs = loaded_libraries()
    blas = [p for p in libs if "blas" in os.path.basename(p).lower()]
    return {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "jemalloc": any("jemalloc" in p for p in libs),
            "blas": "openblas" if any("openblas" in p for p in blas) else ("netlib" if blas else "none"),
            "blas_path": blas[0] if blas else None}


def run_once(model, rgb, q):
    """One full pipeline; returns (stage times in s, outputs)."""
    h, w = rgb.shape[:2]
    t = {}
    t0 = time.perf_counter()
    x = lic_model.image_to_tensor(rgb)
    y, z = model.analysis(x, q)
    t1 = time.perf_counter()
    zs, zhat = model.quantize_z(z)
    H = model.hyper_synthesis(zhat)
    t2 = time.perf_counter()
    yfix = lic_model.to_fixed(y, 8)[0]

    def from_y(k, c0, g, pass_, mask, mu):
        return torch.floor((yfix[c0:c0 + g] - mu + 128.0) / 256.0)

    yq = model.context_loop(H, from_y)
    t3 = time.perf_counter()
    out = lic_model.tensor_to_image(model.synthesis(yq, q), h, w)
    t4 = time.perf_counter()
    t["analysis"], t["hyper"], t["entropy"], t["synthesis"] = t1 - t0, t2 - t1, t3 - t2, t4 - t3
    return t, (x, y, z, zs, yq, out)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("image")
    ap.add_argument("--threads", "-t", type=int, default=1)
    ap.add_argument("--runs", "-r", type=int, default=5)
    ap.add_argument("-q", "--quality", type=int, default=75)
    ap.add_argument("--dump", metavar="DIR")
    ap.add_argument("--hash", action="store_true", help="print the C encoder's stream hashes")
    ap.add_argument("--json-only", action="store_true")
    args = ap.parse_args()
    if args.threads < 1 or args.runs < 1 or not 1 <= args.quality <= 100:
        ap.error("threads, runs >= 1 and quality in 1..100")

    torch.set_num_threads(args.threads)
    model = lic_model.LicModel.from_licw(args.model)
    img = Image.open(args.image)
    rgb = np.array(img.convert("L") if img.mode in ("L", "LA", "I", "I;16") else img.convert("RGB"))
    h, w = rgb.shape[:2]

    times = {s: [] for s in STAGES}
    with torch.inference_mode():
        run_once(model, rgb, args.quality)  # warm-up: allocator, kernels, page faults
        for _ in range(args.runs):
            t, outs = run_once(model, rgb, args.quality)
            for s in STAGES:
                times[s].append(t[s])
        x, y, z, zs, yq, out = outs

        extra = {}
        if args.dump or args.hash:
            record = []
            zs2, yq2 = model.encode_latents(y, z, record)
            order = lic_model.coding_order(record)
            sym_h, par_h = lic_model.stream_hashes(zs2, order)
            extra = {"symbols_hash": "%016x" % sym_h, "params_hash": "%016x" % par_h,
                     "n_symbols": int(zs2.numel() + order["y_symbols"].size)}
            # The decoder side must rebuild the same y-hat from the symbols alone.
            yq_dec = model.decode_latents(zs2, order["y_symbols"], yq.shape[2], yq.shape[3])
            extra["decoder_matches_encoder"] = bool(torch.equal(yq_dec, yq2) and torch.equal(yq2, yq))
        if args.dump:
            os.makedirs(args.dump, exist_ok=True)
            np.save(os.path.join(args.dump, "z_symbols.npy"), zs2[0].to(torch.int32).numpy())
            for k in ("y_symbols", "means", "scale_idx"):
                np.save(os.path.join(args.dump, k + ".npy"), order[k].astype(np.int32))
            np.save(os.path.join(args.dump, "yhat.npy"), yq2[0].to(torch.int32).numpy())
            Image.fromarray(out if rgb.ndim == 3 else out.mean(axis=2).round().astype(np.uint8)).save(
                os.path.join(args.dump, "recon.png"))
            with open(os.path.join(args.dump, "info.json"), "w") as f:
                json.dump({"model": args.model, "image": args.image, "quality": args.quality,
                           "width": w, "height": h, "padded": [x.shape[3], x.shape[2]],
                           "latent": list(yq2.shape[1:]), "hyper_latent": list(zs2.shape[1:]), **extra}, f,
                          indent=1)

    med = {s: statistics.median(times[s]) for s in STAGES}
    mins = {s: min(times[s]) for s in STAGES}
    env = runtime_env()
    result = {
        "tool": "bench_pytorch", "model": os.path.basename(args.model), "image": os.path.basename(args.image),
        "width": w, "height": h, "padded": [int(x.shape[3]), int(x.shape[2])], "quality": args.quality,
        "threads": args.threads, "runs": args.runs, "torch": torch.__version__, "env": env,
        "median_s": {s: round(med[s], 6) for s in STAGES}, "min_s": {s: round(mins[s], 6) for s in STAGES},
        "total_median_s": round(sum(med.values()), 6), "entropy_includes_coding": False,
        "psnr_db": round(psnr(rgb if rgb.ndim == 3 else np.repeat(rgb[:, :, None], 3, 2), out), 3), **extra,
    }
    if not args.json_only:
        print("PyTorch %s reference, %s, %dx%d (padded %dx%d), q=%d, %d thread(s), median of %d runs"
              % (torch.__version__, result["model"], w, h, x.shape[3], x.shape[2], args.quality, args.threads,
                 args.runs))
        print("env: jemalloc %s, BLAS %s, OPENBLAS_NUM_THREADS=%s, OPENBLAS_CORETYPE=%s"
              % ("preloaded" if env["jemalloc"] else "not loaded", env["blas"],
                 env["OPENBLAS_NUM_THREADS"] or "unset", env["OPENBLAS_CORETYPE"] or "unset"))
        print("%-10s %10s %10s" % ("stage", "median s", "min s"))
        for s in STAGES:
            note = "  (no arithmetic coding)" if s == "entropy" else ""
            print("%-10s %10.4f %10.4f%s" % (s, med[s], mins[s], note))
        print("%-10s %10.4f" % ("total", sum(med.values())))
        for k, v in extra.items():
            print("%s: %s" % (k, v))
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
