#!/usr/bin/env python3
"""Generates the synthetic test images in testdata/images/ (CC0, made by the lic project).

Every pixel comes from closed-form formulas and an integer hash (no random generator whose stream
could change between library versions), so the PNG/PGM/PPM files are reproducible byte for byte.
PNGs are written by the small encoder below (zlib level 9, per-row filter choice), not by an image
library; only small.jpg needs Pillow's JPEG encoder.

Needs numpy and Pillow (Debian: python3-numpy python3-pil; run with /usr/bin/python3 if another
python3 comes first in PATH).

    python3 scripts/make_testdata.py [OUTDIR]     # default: testdata/images next to this script
"""
import os
import struct
import sys
import zlib

import numpy as np

# ---- a minimal PNG writer -------------------------------------------------------------------------


def _chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _filter_rows(raw, bpp):
    """raw: (h, rowbytes) uint8. Returns the filtered scanlines, choosing per row the PNG filter
    with the smallest sum of |signed residual| (the usual heuristic)."""
    h, n = raw.shape
    x = raw.astype(np.int16)
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]  # left
    b = np.zeros_like(x)
    b[1:] = x[:-1]  # up
    c = np.zeros_like(x)
    c[1:, bpp:] = x[:-1, :-bpp]  # up-left
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    cands = [x, x - a, x - b, x - (a + b) // 2, x - paeth]
    out = bytearray()
    for y in range(h):
        rows = [(cand[y] & 0xFF).astype(np.uint8) for cand in cands]
        costs = [int(np.abs(r.astype(np.int8).astype(np.int32)).sum()) for r in rows]
        f = int(np.argmin(costs))
        out.append(f)
        out += rows[f].tobytes()
    return bytes(out)


def write_png(path, pixels, bit_depth=8, color_type=None, trns=None):
    """pixels: (h, w) or (h, w, c) array. color_type: 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, ch = pixels.shape
    if color_type is None:
        color_type = {1: 0, 2: 4, 3: 2, 4: 6}[ch]
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = np.ascontiguousarray(pixels.astype(dtype)).view(np.uint8).reshape(h, -1)
    bpp = ch * (2 if bit_depth == 16 else 1)
    data = b"\x89PNG\r\n\x1a\n"
    data += _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    if trns is not None:
        data += _chunk(b"tRNS", trns)
    data += _chunk(b"IDAT", zlib.compress(_filter_rows(raw, bpp), 9))
    data += _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def write_pnm(path, pixels, maxval=255):
    pixels = np.asarray(pixels)
    magic = b"P5" if pixels.ndim == 2 else b"P6"
    h, w = pixels.shape[:2]
    dtype = ">u2" if maxval > 255 else "u1"
    # A comment in the header, as real files have, so readers must skip it.
    header = magic + b"\n# synthetic test image, CC0, lic project\n%d %d\n%d\n" % (w, h, maxval)
    with open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(pixels.astype(dtype)).tobytes())


# ---- synthetic content ------------------------------------------------------------------------


def hash_noise(h, w, seed, channels=1):
    """Integer hash of (x, y, c, seed) -> float in [-1, 1): reproducible white noise."""
    y, x, c = np.meshgrid(np.arange(h, dtype=np.uint64), np.arange(w, dtype=np.uint64),
                          np.arange(channels, dtype=np.uint64), indexing="ij")
    v = (x * np.uint64(0x9E3779B1) + y * np.uint64(0x85EBCA77) + c * np.uint64(0xC2B2AE3D)
         + np.uint64(seed) * np.uint64(0x27D4EB2F)) & np.uint64(0xFFFFFFFF)
    v ^= v >> np.uint64(15)
    v = (v * np.uint64(0x2C1B3C6D)) & np.uint64(0xFFFFFFFF)
    v ^= v >> np.uint64(12)
    v = (v * np.uint64(0x297A2D39)) & np.uint64(0xFFFFFFFF)
    v ^= v >> np.uint64(15)
    n = v.astype(np.float64) / 2.0**31 - 1.0
    return n if channels > 1 else n[:, :, 0]


def smooth(a, passes):
    """Box-blurs a 2-D array `passes` times (3x3, edge-clamped): turns white noise into texture."""
    for _ in range(passes):
        p = np.pad(a, 1, mode="edge")
        a = sum(p[dy:dy + a.shape[0], dx:dx + a.shape[1]] for dy in range(3) for dx in range(3)) / 9.0
    return a


def upsample(a, h, w):
    """Bilinear resize of a 2-D array to (h, w), separable with np.interp: soft, blockless shapes."""
    ys = np.linspace(0, a.shape[0] - 1, h)
    xs = np.linspace(0, a.shape[1] - 1, w)
    rows = np.array([np.interp(xs, np.arange(a.shape[1]), r) for r in a])
    return np.array([np.interp(ys, np.arange(a.shape[0]), col) for col in rows.T]).T


def small_rgb(h, w, seed):
    """Gradients + a disc + a bar + mild noise: exercises edges and smooth areas at tiny sizes."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin(0.5 * x + 0.3 * y)
    img = np.stack([r, g, b], axis=-1)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.3) ** 2
    img[disc] = [240, 220, 30]
    img[(y > h * 0.7) & (y < h * 0.8)] = [20, 20, 60]
    img += 12 * hash_noise(h, w, seed, 3)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def luma(rgb):
    return np.clip(np.rint(rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114), 0, 255).astype(np.uint8)


def photo_like(h, w):
    """A landscape: sky gradient, sun, two hill lines, a textured field, a house with hard edges and
    a fence. Smooth regions, sharp edges and fine texture, as a codec test image needs."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    t = y / h
    img = np.zeros((h, w, 3))
    # Sky: blue to pale near the horizon, a faint cloud band (blurred noise).
    sky = np.stack([90 + 120 * t, 140 + 90 * t, 230 - 20 * t], axis=-1)
    clouds = smooth(hash_noise(h // 8, w // 8, 7), 3)
    clouds = upsample(clouds, h, w)
    clouds = np.clip(clouds * 6 - 0.2, 0, 1)[..., None] * np.exp(-((t - 0.2) / 0.12) ** 2)[..., None]
    img[:] = sky * (1 - clouds) + 245 * clouds
    # Sun with a soft halo.
    d = np.hypot(x - 0.78 * w, y - 0.18 * h)
    halo = np.exp(-(d / 60.0) ** 2)[..., None]
    img = img * (1 - halo) + np.array([255, 240, 190]) * halo
    img[d < 28] = [255, 245, 200]
    # Far hills (bluish) and near hills (green), each a sum of sines.
    far = 0.52 * h + 25 * np.sin(x / 70.0) + 12 * np.sin(x / 23.0 + 1.0)
    near = 0.64 * h + 30 * np.sin(x / 110.0 + 2.0) + 8 * np.sin(x / 17.0)
    far_m = y > far
    img[far_m] = (np.stack([70 + 0 * x, 100 + 0 * x, 130 + 20 * (y - far) / h], axis=-1))[far_m]
    grass_tex = smooth(hash_noise(h, w, 3), 1)
    near_m = y > near
    shade = (y - near) / h
    grass = np.stack([60 + 40 * shade + 25 * grass_tex, 120 + 60 * shade + 40 * grass_tex,
                      40 + 10 * shade + 10 * grass_tex], axis=-1)
    img[near_m] = grass[near_m]
    # A house: walls, a darker roof (triangle), a window and a door: hard, straight edges.
    hx0, hx1, hy0, hy1 = int(0.18 * w), int(0.36 * w), int(0.62 * h), int(0.82 * h)
    wall = (x >= hx0) & (x < hx1) & (y >= hy0) & (y < hy1)
    img[wall] = [200, 180, 150]
    roof = (y < hy0) & (y >= hy0 - (hx1 - hx0) * 0.45 + np.abs(x - (hx0 + hx1) / 2) * 0.9) & (x >= hx0 - 8) & (x < hx1 + 8)
    img[roof] = [140, 50, 40]
    win = (x >= hx0 + 15) & (x < hx0 + 45) & (y >= hy0 + 15) & (y < hy0 + 45)
    img[win] = [60, 90, 130]
    img[win & ((np.abs(x - (hx0 + 30)) < 1.5) | (np.abs(y - (hy0 + 30)) < 1.5))] = [230, 230, 230]
    door = (x >= hx1 - 45) & (x < hx1 - 20) & (y >= hy1 - 55) & (y < hy1)
    img[door] = [90, 60, 30]
    # A fence: thin vertical posts over the field (high-frequency detail).
    fence = (y > 0.80 * h) & (y < 0.88 * h) & ((x.astype(int) % 14) < 3) & (x > 0.45 * w)
    img[fence] = [230, 225, 210]
    rail = (np.abs(y - 0.83 * h) < 1.5) & (x > 0.45 * w)
    img[rail] = [230, 225, 210]
    # Sensor-like noise everywhere (small, so the PNG stays small).
    img += 2.5 * hash_noise(h, w, 11, 3)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def sixteen_bit(h, w):
    """16-bit RGB whose values tests recompute: v = (x*7283 + y*9521 + c*21841 + x*y*131) mod 65536,
    except pixel (0,0) = (0, 65535, 128) and pixel (1,0) = (257, 32896, 33025)."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    v = (x * 7283 + y * 9521 + c * 21841 + x * y * 131) % 65536
    v[0, 0] = [0, 65535, 128]
    v[0, 1] = [257, 32896, 33025]
    return v.astype(np.uint16)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                             "..", "testdata", "images")
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)

    write_png(p("1x1.png"), np.array([[[200, 100, 50]]], dtype=np.uint8))
    rgb = small_rgb(33, 17, 1)
    write_png(p("17x33.png"), rgb)
    write_png(p("gray_17x33.png"), luma(small_rgb(33, 17, 2)))
    # RGBA 8x8: a color ramp with alpha falling from 255 (left) to 31 (right).
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    yy, xx = np.mgrid[0:8, 0:8]
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = xx * 32, yy * 32, 255 - xx * 16, 255 - xx * 32
    write_png(p("rgba_8x8.png"), rgba)
    write_png(p("16bit_9x7.png"), sixteen_bit(7, 9), bit_depth=16)
    write_png(p("768x512.png"), photo_like(512, 768))
    write_pnm(p("small.ppm"), small_rgb(19, 23, 3))
    write_pnm(p("small.pgm"), luma(small_rgb(19, 23, 4)))

    from PIL import Image  # only the JPEG needs an encoder we do not write ourselves

    Image.fromarray(small_rgb(24, 32, 5), "RGB").save(p("small.jpg"), quality=90, optimize=False)
    for name in sorted(os.listdir(out)):
        print("%-18s %7d bytes" % (name, os.path.getsize(p(name))))


if __name__ == "__main__":
    main()
