#!/usr/bin/env python3
"""Conformance vectors for the C codec from the PyTorch mirror (train/lic_model.py).

    /usr/bin/python3 train/conformance.py --model testdata/models/tiny.licw \
        --image testdata/images/17x33.png --image testdata/images/768x512.png@300,200,130x70 \
        -q 50 -q 90 --case testdata/images/gray_17x33.png=60 --out testdata/conformance

For every (image, quality) pair (each --image at each -q, plus each --case SPEC=Q) this runs the PyTorch pipeline of docs/FORMAT.md §1.3 and writes one
raw little-endian file per intermediate tensor into OUT/<case>/, plus OUT/manifest.txt (one line per
fact, trivially parseable from C: tests/test_conformance.c) and OUT/manifest.json (the same, for
people and scripts). The file format is described in OUT/README.md.

An image argument is PATH or PATH@X,Y,WxH (a crop of the image at column X, row Y). A gray image stays
gray (channels 1): the encoder codes it as three equal planes and the decoder returns the mean of the
three decoded planes (codec/encoder.c, codec/decoder.c), which this mirror reproduces in float32. The
model can be any lic-ctx1 .licw (the trained one too); the manifest records its FNV-1a fingerprint.

The estimated rate is computed from the model's integer CDF tables: -log2(freq / 65536) per symbol,
and for an escape the escape symbol plus 4 + 4 * nc bypass bits (docs/FORMAT.md §2.3), plus the
container header (24 + 5 * 2 bytes). It does not include the rANS flush (the 8-byte final state of
each stream) or the rounding of each stream to 32-bit words; tests/test_conformance.c states the
allowance it gives for those.
"""

import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lic_model  # noqa: E402

FORMAT_VERSION = 2  # 2: "channels" key per case; gray images
HEADER_BYTES = 24 + 5 * 2  # container header with two streams (z, y)
ESC_CHUNK_BITS = 4
CDF_PRECISION = 16

DTYPES = {"f32": np.dtype("<f4"), "i32": np.dtype("<i4"), "u8": np.dtype("u1")}


# ---------------------------------------------------------------------------------------------
# rate estimate from the integer CDF tables (mirrors entropy/symbol_coder.c lic_cdf_cost_bits)

def escape_chunks(m):
    """Number of 4-bit chunks of m (0 when m == 0)."""
    nc = 0
    while m:
        nc += 1
        m >>= ESC_CHUNK_BITS
    return nc


def cost_bits(cdf, length, offset, rows, values):
    """Ideal cost in bits of coding values[i] with row rows[i] of a CDF table (escapes included)."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    values = np.asarray(values, dtype=np.int64).reshape(-1)
    n = length[rows].astype(np.int64) - 2
    off = offset[rows].astype(np.int64)
    d = values - off
    inside = (d >= 0) & (d < n)
    sym = np.where(inside, d, n)  # the escape symbol is index n
    freq = cdf[rows, sym + 1].astype(np.int64) - cdf[rows, sym].astype(np.int64)
    bits = CDF_PRECISION - np.log2(freq.astype(np.float64))
    for i in np.nonzero(~inside)[0]:
        v, o, nn = int(values[i]), int(off[i]), int(n[i])
        m = 2 * (v - (o + nn)) if v >= o + nn else 2 * ((o - 1) - v) + 1
        bits[i] += ESC_CHUNK_BITS * (1 + escape_chunks(m))
    return float(bits.sum()), int((~inside).sum())


# ---------------------------------------------------------------------------------------------
# inputs

def load_image(spec):
    """PATH or PATH@X,Y,WxH -> (uint8 [H, W, 3] or, for a gray image, [H, W], description)."""
    path, crop = (spec.split("@", 1) + [None])[:2]
    im = Image.open(path)
    rgb = np.array(im.convert("L" if im.mode in ("L", "I;16", "I") else "RGB"))
    if crop:
        x, y, wh = crop.split(",")
        w, h = (int(v) for v in wh.lower().split("x"))
        x, y = int(x), int(y)
        if x < 0 or y < 0 or w < 1 or h < 1 or y + h > rgb.shape[0] or x + w > rgb.shape[1]:
            raise SystemExit("crop %s outside the %dx%d image" % (crop, rgb.shape[1], rgb.shape[0]))
        rgb = np.ascontiguousarray(rgb[y:y + h, x:x + w])
    return rgb, spec


# ---------------------------------------------------------------------------------------------
# one case

class Case:
    def __init__(self, name, out_dir):
        self.name, self.dir = name, os.path.join(out_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.tensors = []  # (name, dtype, shape, file, sha256)
        self.values = {}   # scalar facts

    def put(self, name, array, dtype):
        a = np.ascontiguousarray(np.asarray(array).astype(DTYPES[dtype]))
        fname = name + "." + dtype
        data = a.tobytes()
        with open(os.path.join(self.dir, fname), "wb") as f:
            f.write(data)
        self.tensors.append((name, dtype, list(a.shape), self.name + "/" + fname, hashlib.sha256(data).hexdigest()))


def as_i32(t):
    """float64 tensor of integers -> int32 numpy (checked)."""
    a = t.detach().cpu().numpy()
    assert np.all(a == np.round(a)) and np.all(np.abs(a) < 2 ** 31), "not an int32 tensor"
    return a.astype(np.int32)


def gray_from_planes(xs, h, w):
    """codec/decoder.c for a gray stream: to_u8((r + g + b) * (1.0f / 3.0f)), all float32, the sum
    left to right, then x * 255 rounded half-even and clamped. uint8 [h, w]."""
    p = xs[0, :, :h, :w]
    m = ((p[0] + p[1]) + p[2]) * torch.tensor(1.0 / 3.0, dtype=torch.float32)
    s = torch.nan_to_num(m * 255.0, nan=0.0)
    return torch.round(s).clamp(0, 255).to(torch.uint8).numpy()


def run_case(model, rgb, q, case):
    a = model.arch
    h, w = rgb.shape[:2]
    gray = rgb.ndim == 2
    x = lic_model.image_to_tensor(rgb)
    ph, pw = x.shape[2], x.shape[3]
    gain = model.gains(q)
    gain_inv = model.gains(q, inverse=True)

    y = model.g_a(x)                                   # g_a output, before the gain
    yp = y * torch.from_numpy(gain).view(1, -1, 1, 1)  # y' (exactly what LicModel.analysis does)
    z = model.h_a(yp)
    zs, zhat = model.quantize_z(z)
    H = model.hyper_synthesis(zhat)
    record = []
    zs2, yq = model.encode_latents(yp, z, record)
    assert torch.equal(zs2, zs)
    order = lic_model.coding_order(record)
    sym_hash, par_hash = lic_model.stream_hashes(zs, order)
    # The decoder side of the mirror must rebuild y-hat' from the symbols alone.
    yq_dec = model.decode_latents(zs, order["y_symbols"], yq.shape[2], yq.shape[3])
    assert torch.equal(yq_dec, yq), "PyTorch decoder disagrees with its encoder"

    s_inv = torch.from_numpy(gain_inv * np.float32(1.0 / 256.0)).view(1, -1, 1, 1)
    yhat = yq.to(torch.float32) * s_inv                # decoder-side y-hat (float32)
    xs = model.g_s(yhat)                               # g_s output, padded size
    recon = gray_from_planes(xs, h, w) if gray else lic_model.tensor_to_image(xs, h, w)  # [h, w(, 3)]

    # Rate from the integer tables.
    t = model.tables
    zrows = np.repeat(np.arange(a.N), zs.shape[2] * zs.shape[3])
    z_bits, z_esc = cost_bits(t["entropy.z.cdf"], t["entropy.z.length"], t["entropy.z.offset"], zrows,
                              as_i32(zs[0]))
    y_bits, y_esc = cost_bits(t["entropy.y.cdf"], t["entropy.y.length"], t["entropy.y.offset"],
                              order["scale_idx"], order["y_symbols"])

    x_pad = torch.round(x[0] * 255.0).to(torch.uint8).numpy()  # x == x_pad * float32(1/255) exactly
    assert torch.equal(torch.from_numpy(x_pad.astype(np.float32)) * np.float32(1.0 / 255.0), x[0])

    case.put("image", rgb, "u8")                 # [H, W, 3] RGB8 or [H, W] GRAY8, as given to lic_encode
    case.put("x_pad", x_pad, "u8")               # [3, PH, PW] padded input, x = value * float32(1/255)
    case.put("gain", gain, "f32")                # [M]
    case.put("gain_inv", gain_inv, "f32")        # [M]
    case.put("y", y[0].detach(), "f32")          # [M, PH/16, PW/16] g_a output
    case.put("y_gain", yp[0].detach(), "f32")    # [M, PH/16, PW/16] y' = y * gain
    case.put("z", z[0].detach(), "f32")          # [N, PH/64, PW/64] h_a output
    case.put("z_symbols", as_i32(zs[0]), "i32")  # [N, PH/64, PW/64]
    case.put("z_hat", as_i32(zhat[0]), "i32")    # [N, PH/64, PW/64] units of 2^-z_frac_bits
    case.put("h_s", as_i32(H[0]), "i32")         # [C_h, PH/16, PW/16]
    case.put("means", order["means"], "i32")     # [M*PH/16*PW/16] coding order, 1/256 units
    case.put("scale_idx", order["scale_idx"], "i32")  # same order
    case.put("y_symbols", order["y_symbols"], "i32")  # same order
    case.put("y_hat_q", as_i32(yq[0]), "i32")    # [M, PH/16, PW/16] y-hat' in 1/256 units
    case.put("y_hat", yhat[0].detach(), "f32")   # [M, PH/16, PW/16] y-hat'/256 * gain_inv
    case.put("g_s", xs[0, :, :h, :w].detach(), "f32")  # [3, H, W] g_s output, cropped to the image
    case.put("recon", recon, "u8")               # [H, W, 3] or [H, W]: final reconstruction

    # Entropy tiles (FORMAT.md §3.2) of 8 latent positions (tile_log2 3) where the latent has more
    # than one: coded from the exact values the C test can feed its encoder (y' = y-hat'/256 and
    # z = z-hat / 2^z_frac_bits, both exact in float32), with H computed whole, as the spec says.
    tiled = None
    if yq.shape[2] > 8 or yq.shape[3] > 8:
        zs_t, yq_t, _, th, tp = model.encode_latents_tiled(yq / 256.0, zhat / float(1 << a.z_frac_bits), 3)
        assert torch.equal(zs_t, zs)
        tiled = (yq_t, th, tp)

    est_bytes = HEADER_BYTES + (z_bits + y_bits) / 8.0
    case.values.update({
        "width": w, "height": h, "channels": 1 if gray else 3, "quality": q,
        "padded_width": pw, "padded_height": ph,
        "symbols_hash": "%016x" % sym_hash, "params_hash": "%016x" % par_hash,
        "n_symbols": int(zs.numel() + order["y_symbols"].size),
        "z_bits": z_bits, "y_bits": y_bits, "z_escapes": z_esc, "y_escapes": y_esc,
        "header_bytes": HEADER_BYTES, "est_bytes": est_bytes,
        "est_bpp": est_bytes * 8.0 / (w * h),
    })
    if tiled:
        case.put("tile3_y_hat_q", as_i32(tiled[0][0]), "i32")  # [M, PH/16, PW/16] y-hat', tiles of 8
        case.values.update({"tile3_symbols_hash": "%016x" % tiled[1], "tile3_params_hash": "%016x" % tiled[2]})


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="testdata/models/tiny.licw")
    ap.add_argument("--image", action="append", help="PATH or PATH@X,Y,WxH (repeatable)")
    ap.add_argument("-q", "--quality", type=int, action="append", help="repeatable")
    ap.add_argument("--case", action="append", default=[], metavar="SPEC=Q",
                    help="one image (PATH or PATH@X,Y,WxH) at one quality (repeatable)")
    ap.add_argument("--out", default="testdata/conformance")
    ap.add_argument("--prefix", help="case name prefix (default: the model's file name)")
    args = ap.parse_args()
    images = args.image if args.image is not None else (
        [] if args.case else ["testdata/images/17x33.png", "testdata/images/768x512.png@300,200,130x70"])
    qualities = args.quality or [50, 90]
    pairs = [(spec, q) for spec in images for q in qualities]
    for c in args.case:
        spec, _, q = c.rpartition("=")
        if not spec or not q.isdigit():
            ap.error("--case wants SPEC=Q, got %r" % c)
        pairs.append((spec, int(q)))
    if any(not 1 <= q <= 100 for _, q in pairs):
        ap.error("quality in 1..100")

    torch.set_num_threads(1)
    model = lic_model.LicModel.from_licw(args.model)
    fp = model.source.fingerprint()
    a = model.arch
    prefix = args.prefix or os.path.splitext(os.path.basename(args.model))[0]
    os.makedirs(args.out, exist_ok=True)
    cases = []
    with torch.inference_mode():
        for spec, q in pairs:
            rgb, desc = load_image(spec)
            name = "%s_%s%dx%d_q%d" % (prefix, "gray_" if rgb.ndim == 2 else "", rgb.shape[1], rgb.shape[0], q)
            c = Case(name, args.out)
            c.values["source"] = desc
            run_case(model, rgb, q, c)
            cases.append(c)
            print("%s: est %.1f bytes (%d escapes), %d symbols" % (
                name, c.values["est_bytes"], c.values["z_escapes"] + c.values["y_escapes"],
                c.values["n_symbols"]))

    model_path = os.path.relpath(os.path.abspath(args.model), os.getcwd())
    common = {"format": "lic-conformance", "version": FORMAT_VERSION, "model": model_path,
              "fingerprint": "%016x" % fp, "arch": model.ARCH, "N": a.N, "M": a.M, "C_h": a.C_h,
              "z_frac_bits": a.z_frac_bits, "torch": torch.__version__,
              "command": "/usr/bin/python3 train/conformance.py " + " ".join(
                  "'%s'" % s if " " in s else s for s in sys.argv[1:])}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump({**common, "cases": [{"name": c.name, **c.values,
                                        "tensors": [{"name": n, "dtype": d, "shape": s, "file": p, "sha256": h}
                                                    for n, d, s, p, h in c.tensors]} for c in cases]},
                  f, indent=1)
        f.write("\n")
    # manifest.txt: "key value" lines; a case starts with "case NAME" and ends with "end"; a tensor
    # line is "tensor NAME DTYPE NDIMS D0 .. FILE" (FILE relative to the manifest's directory).
    with open(os.path.join(args.out, "manifest.txt"), "w") as f:
        f.write("format lic-conformance %d\n" % FORMAT_VERSION)
        for k in ("model", "fingerprint", "arch", "N", "M", "C_h", "z_frac_bits"):
            f.write("%s %s\n" % (k, common[k]))
        for c in cases:
            f.write("case %s\n" % c.name)
            for k, v in c.values.items():
                if k == "source":
                    continue
                f.write("%s %s\n" % (k, repr(v) if isinstance(v, float) else v))
            for n, d, s, p, _ in c.tensors:
                f.write("tensor %s %s %d %s %s\n" % (n, d, len(s), " ".join(str(v) for v in s), p))
            f.write("end\n")
    total = sum(os.path.getsize(os.path.join(args.out, p)) for c in cases for _, _, _, p, _ in c.tensors)
    print("wrote %d cases, %d bytes of tensors, to %s" % (len(cases), total, args.out))


if __name__ == "__main__":
    main()
