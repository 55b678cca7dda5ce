#!/usr/bin/env python3
"""Regenerates the seed corpora of tests/fuzz/corpus/ (deterministic; no third-party content).

    python3 tests/fuzz/make_seeds.py BUILD_DIR

BUILD_DIR must hold bin/lic-encode (for the .lic seeds). JPEG seeds need a C compiler and libjpeg
(libjpeg62-turbo-dev): a tiny writer is compiled on the fly. Seeds are kept small (a few KB) so the
fuzzers can run with a small -max_len.

The .lic seeds are container version 2 (v2_*.lic, one with metadata). The tiny_*.lic seeds were
written by the version-1 encoder and are kept for the version-1 reader. The same run writes the
version-2 malformed-input cases of testdata/corrupt/{decode,container}/v2_*.lic (chunks rebuilt with
valid CRCs where the case is about another rule).
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def pixel(x, y, c, w, h):
    """A deterministic photo-like pattern: ramps, an edge and a hash texture."""
    v = (x * 255) // max(w, 1) // 2 + (y * 97) // max(h, 1) + (60 if x > w // 2 else 0) + c * 20
    v += ((x * 7919 + y * 104729 + c * 31) * 2654435761 >> 13) % 17 - 8
    return max(0, min(255, v))


def image(w, h, ch):
    return bytes(pixel(x, y, c, w, h) for y in range(h) for x in range(w) for c in range(ch))


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


def png(w, h, color_type, depth, rows, extra=b"", interlace=0):
    """rows: list of raw scanlines (without filter byte); filter type cycles 0..4."""
    raw = b"".join(bytes([i % 5 if interlace == 0 else 0]) + r for i, r in enumerate(rows))
    if interlace == 0:
        # Apply the chosen filters for real so the decoder's unfiltering paths are exercised.
        bpp = max(1, {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type] * depth // 8)
        out, prev = [], bytes(len(rows[0]))
        for i, r in enumerate(rows):
            f = i % 5
            enc = bytearray()
            for j, b in enumerate(r):
                a = r[j - bpp] if j >= bpp else 0
                u = prev[j]
                cc = prev[j - bpp] if j >= bpp else 0
                if f == 0:
                    p = 0
                elif f == 1:
                    p = a
                elif f == 2:
                    p = u
                elif f == 3:
                    p = (a + u) // 2
                else:
                    pa, pb, pc = abs(u - cc), abs(a - cc), abs(a + u - 2 * cc)
                    p = a if pa <= pb and pa <= pc else (u if pb <= pc else cc)
                enc.append((b - p) & 255)
            out.append(bytes([f]) + bytes(enc))
            prev = r
        raw = b"".join(out)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra +
            png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def adam7_rows(w, h, bytes_per_px, get):
    """Scanlines of an Adam7-interlaced image, pass by pass (filter 0)."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    rows = []
    for x0, y0, dx, dy in passes:
        xs = list(range(x0, w, dx))
        if not xs:
            continue
        for y in range(y0, h, dy):
            rows.append(b"".join(get(x, y) for x in xs))
    return rows


def write(sub, name, data):
    d = os.path.join(CORPUS, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pnm(kind, w, h, maxval, ch, comment=True):
    hdr = f"P{kind}\n" + ("# lic seed\n" if comment else "") + f"{w} {h}\n{maxval}\n"
    if maxval < 256:
        body = bytes(v * maxval // 255 for v in image(w, h, ch))
    else:
        body = b"".join(struct.pack(">H", v * maxval // 255) for v in image(w, h, ch))
    return hdr.encode() + body


JPEG_WRITER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
/* usage: jw OUT W H GRAY PROGRESSIVE SUBSAMPLE(0=444,1=420) RESTART QUALITY */
int main(int argc, char **argv) {
    if (argc != 9) return 1;
    FILE *f = fopen(argv[1], "wb"); if (!f) return 1;
    int w = atoi(argv[2]), h = atoi(argv[3]), gray = atoi(argv[4]);
    struct jpeg_compress_struct c; struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e); jpeg_create_compress(&c); jpeg_stdio_dest(&c, f);
    c.image_width = w; c.image_height = h; c.input_components = gray ? 1 : 3;
    c.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c); jpeg_set_quality(&c, atoi(argv[8]), TRUE);
    if (atoi(argv[5])) jpeg_simple_progression(&c);
    if (!gray && !atoi(argv[6])) { for (int i = 0; i < 3; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1; }
    c.restart_interval = atoi(argv[7]);
    jpeg_start_compress(&c, TRUE);
    int ch = gray ? 1 : 3; unsigned char *row = malloc((size_t)w * ch);
    while (c.next_scanline < c.image_height) {
        unsigned y = c.next_scanline;
        for (int x = 0; x < w; x++) for (int k = 0; k < ch; k++) {
            int v = (x * 255) / (w + 1) / 2 + (int)(y * 97) / (h + 1) + (x > w / 2 ? 60 : 0) + k * 20 + (int)((x * 7919u + y * 104729u) % 17) - 8;
            row[x * ch + k] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        JSAMPROW r = row; jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c); jpeg_destroy_compress(&c); fclose(f); free(row); return 0;
}
"""


def imageio_seeds(tmp):
    w, h = 13, 9
    rgb = image(w, h, 3)
    gray = image(w, h, 1)
    write("imageio", "rgb8.png", png(w, h, 2, 8, [rgb[y * w * 3:(y + 1) * w * 3] for y in range(h)]))
    write("imageio", "gray8.png", png(w, h, 0, 8, [gray[y * w:(y + 1) * w] for y in range(h)]))
    g16 = b"".join(struct.pack(">H", v * 257) for v in gray)
    write("imageio", "gray16.png", png(w, h, 0, 16, [g16[y * w * 2:(y + 1) * w * 2] for y in range(h)]))
    ga = bytes(b for v in gray for b in (v, 255 - v))
    write("imageio", "gray_alpha.png", png(w, h, 4, 8, [ga[y * w * 2:(y + 1) * w * 2] for y in range(h)]))
    rgba = bytes(b for i in range(w * h) for b in (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], (i * 37) & 255))
    write("imageio", "rgba8.png", png(w, h, 6, 8, [rgba[y * w * 4:(y + 1) * w * 4] for y in range(h)]))
    pal = bytes(c for i in range(16) for c in (i * 16, 255 - i * 16, (i * 40) & 255))
    idx4 = []
    for y in range(h):
        row = bytearray()
        for x in range(0, w, 2):
            a, b = (x + y) % 16, (x + 1 + y) % 16 if x + 1 < w else 0
            row.append(a << 4 | b)
        idx4.append(bytes(row))
    write("imageio", "palette4_trns.png",
          png(w, h, 3, 4, idx4, png_chunk(b"PLTE", pal) + png_chunk(b"tRNS", bytes([255, 0, 128]))))
    bits1 = [bytes(((x + y) & 1) * 0xAA for x in range((w + 7) // 8)) for y in range(h)]
    write("imageio", "gray1.png", png(w, h, 0, 1, bits1))
    get = lambda x, y: rgb[(y * w + x) * 3:(y * w + x) * 3 + 3]
    write("imageio", "rgb8_adam7.png", png(w, h, 2, 8, adam7_rows(w, h, 3, get), interlace=1))
    write("imageio", "rgb8_trns.png", png(w, h, 2, 8, [rgb[y * w * 3:(y + 1) * w * 3] for y in range(h)],
                                          png_chunk(b"tRNS", struct.pack(">HHH", rgb[0], rgb[1], rgb[2]))))
    write("imageio", "p6.ppm", pnm(6, w, h, 255, 3))
    write("imageio", "p5.pgm", pnm(5, w, h, 255, 1, comment=False))
    write("imageio", "p6_16bit.ppm", pnm(6, 5, 4, 65535, 3))
    write("imageio", "p5_maxval100.pgm", pnm(5, 5, 4, 100, 1))

    src = os.path.join(tmp, "jw.c")
    exe = os.path.join(tmp, "jw")
    with open(src, "w") as f:
        f.write(JPEG_WRITER)
    if subprocess.call(["cc", "-O1", "-o", exe, src, "-ljpeg"]) != 0:
        print("no libjpeg: JPEG seeds skipped", file=sys.stderr)
        return
    for name, args in [("rgb420.jpg", "16 16 0 0 1 0 75"), ("rgb444_restart.jpg", "13 9 0 0 0 1 90"),
                       ("gray.jpg", "13 9 1 0 0 0 80"), ("progressive.jpg", "24 16 0 1 1 0 70")]:
        out = os.path.join(tmp, name)
        subprocess.check_call([exe, out] + args.split())
        with open(out, "rb") as f:
            write("imageio", name, f.read())


def encode(build, src, q, tmp, extra=()):
    out = os.path.join(tmp, "out.lic")
    model = os.path.join(ROOT, "testdata", "models", "tiny.licw")
    subprocess.check_call([os.path.join(build, "bin", "lic-encode"), src, "-o", out, "-q", str(q),
                           "--model", model, "--threads", "1", *extra])
    with open(out, "rb") as f:
        return f.read()


def lic_seeds(build, tmp):
    for w, h, ch, q in [(1, 1, 3, 50), (8, 8, 3, 1), (17, 9, 1, 90), (40, 24, 3, 100), (70, 65, 3, 30)]:
        src = os.path.join(tmp, f"in_{w}x{h}.pnm")
        with open(src, "wb") as f:
            f.write(pnm(6 if ch == 3 else 5, w, h, 255, ch))
        data = encode(build, src, q, tmp)
        name = f"v2_tiny_{w}x{h}_{'gray' if ch == 1 else 'rgb'}_q{q}.lic"
        write("decode", name, data)
        write("container", name, data)
    # Two tiles of the latent (docs/FORMAT.md §3.2): 136x8 pads to 192x64, a 12x4 latent, 8-wide tiles.
    src = os.path.join(tmp, "in_136x8.pnm")
    with open(src, "wb") as f:
        f.write(pnm(6, 136, 8, 255, 3))
    data = encode(build, src, 50, tmp, ("--entropy-tile", "128"))
    write("decode", "v2_tiny_136x8_rgb_q50_2tiles.lic", data)
    write("container", "v2_tiny_136x8_rgb_q50_2tiles.lic", data)
    data = encode(build, os.path.join(ROOT, "testdata", "images", "meta_4x3.png"), 60, tmp)
    write("decode", "v2_tiny_4x3_meta_q60.lic", data)
    write("container", "v2_tiny_4x3_meta_q60.lic", data)
    return data


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
    return c ^ 0xFFFFFFFF


def lic_chunks(data):
    """[(type, body)] of a version-2 .lic file."""
    out, p = [], 5
    while p < len(data):
        n = struct.unpack("<I", data[p:p + 4])[0]
        out.append((data[p + 4:p + 8], data[p + 8:p + 8 + n]))
        p += 12 + n
    return out


def lic_file(chunks):
    return b"\x89LIC\x02" + b"".join(struct.pack("<I", len(b)) + t + b + struct.pack("<I", crc32c(t + b))
                                      for t, b in chunks)


def corrupt_v2(seed):
    """Version-2 malformed inputs from a valid seed (HEAD, iccp, exif, xmpd, ZSYM, YTIL, LEND)."""
    ch = lic_chunks(seed)
    assert [t for t, _ in ch] == [b"HEAD", b"iccp", b"exif", b"xmpd", b"ZSYM", b"YTIL", b"LEND"], ch
    head = ch[0][1]

    def with_head(**kv):
        h = bytearray(head)
        for off, val in kv.values():
            h[off:off + len(val)] = val
        return lic_file([(b"HEAD", bytes(h))] + ch[1:])

    huge = struct.pack("<II", 65535, 65535)
    cases = {
        "v2_claims_65535x65535.lic": with_head(size=(8, huge)),
        "v2_tile_log2_3.lic": with_head(t=(19, b"\x03")),
        "v2_tile_log2_9.lic": with_head(t=(19, b"\x09")),
        "v2_reserved_nonzero.lic": with_head(r=(23, b"\x01")),
        "v2_unknown_critical_chunk.lic": lic_file(ch[:5] + [(b"NEWS", b"x")] + ch[5:]),
        "v2_unknown_ancillary_chunk.lic": lic_file(ch[:5] + [(b"news", b"x")] + ch[5:]),
        "v2_duplicate_head.lic": lic_file(ch[:1] + ch),
        "v2_duplicate_exif.lic": lic_file(ch[:3] + ch[2:]),
        "v2_meta_after_zsym.lic": lic_file(ch[:1] + ch[2:5] + ch[1:2] + ch[5:]),
        "v2_ytil_index_1.lic": lic_file(ch[:5] + [(b"YTIL", b"\x01\0\0\0" + ch[5][1][4:])] + ch[6:]),
        "v2_two_tiles.lic": lic_file(ch[:6] + [(b"YTIL", b"\x01\0\0\0" + ch[5][1][4:])] + ch[6:]),
        "v2_no_lend.lic": lic_file(ch[:6]),
        "v2_after_lend.lic": lic_file(ch) + b"\0",
        "v2_lend_with_data.lic": lic_file(ch[:6] + [(b"LEND", b"\0")]),
        "v2_zsym_crc_flipped.lic": bytearray(seed),
        "v2_chunk_len_overflow.lic": bytearray(seed),
    }
    z_at = len(lic_file(ch[:4]))  # ZSYM's length field
    cases["v2_zsym_crc_flipped.lic"][z_at + 8 + len(ch[4][1])] ^= 1
    cases["v2_chunk_len_overflow.lic"][z_at:z_at + 4] = struct.pack("<I", 0xFFFFFFF0)
    for name, data in cases.items():
        for target in ("decode", "container"):
            d = os.path.join(ROOT, "testdata", "corrupt", target)
            with open(os.path.join(d, name), "wb") as f:
                f.write(bytes(data))


def roundtrip_seeds():
    # byte 0 w-1, byte 1 h-1, byte 2 flags (gray, deconv model, padded stride), byte 3 quality-1
    write("roundtrip", "rgb_16x16_q50", bytes([15, 15, 0, 49]) + image(16, 16, 3))
    write("roundtrip", "gray_9x33_q90_deconv", bytes([8, 32, 3, 89]) + image(9, 33, 1))
    write("roundtrip", "rgb_1x1_q1", bytes([0, 0, 0, 0, 200, 100, 50]))
    write("roundtrip", "rgb_65x64_q100_stride", bytes([64, 63, 4, 99]) + image(7, 5, 3))
    write("roundtrip", "flat_128x7", bytes([127, 6, 0, 60, 128]))


def entropy_seeds():
    # flags, rows, then per row: length byte, (built) length-1 frequency bytes, 4 offset bytes; stream.
    def row(length, offs):
        return bytes([length - 3]) + bytes((i * 37 + 11) % 256 for i in range(length - 1)) + struct.pack("<i", offs)
    stream = bytes((i * 151 + 7) % 256 for i in range(200))
    write("entropy", "built_2rows_small_offsets", bytes([0, 1]) + row(12, -5) + row(40, 0) + stream)
    write("entropy", "built_4rows_large_offsets", bytes([2, 3]) + row(5, 0) + row(9, 0) + row(30, 0) + row(3, 0) + stream)
    write("entropy", "built_1row_int32_edges", bytes([4, 0]) + row(20, 1) + stream)
    cdf = [0, 100, 30000, 65535, 65536]
    raw = bytes([1, 0, len(cdf) - 3]) + b"".join(struct.pack("<i", v) for v in cdf) + struct.pack("<i", -2)
    write("entropy", "raw_valid_row", raw + stream)
    write("entropy", "short_stream", bytes([6, 1]) + row(7, 3) + row(7, -3) + b"\x00\x00\x00\x80")


def licw(kvs, tensors):
    """A canonical .licw file (docs/FORMAT.md 1.1). kvs: [(key, value)], tensors: [(name, dtype, dims,
    values)] with dtype 0 = f32, 1 = i16, 2 = i32."""
    d = b""
    for k, v in kvs:
        d += struct.pack("<H", len(k)) + k.encode()
        if isinstance(v, str):
            d += bytes([2]) + struct.pack("<I", len(v)) + v.encode()
        else:
            d += bytes([0]) + struct.pack("<q", v)
    blob, off = b"", 0
    for name, dt, dims, vals in tensors:
        fmt = {0: "<f", 1: "<h", 2: "<i"}[dt]
        data = b"".join(struct.pack(fmt, x) for x in vals)
        n = 1
        for x in dims:
            n *= x
        assert len(vals) == n, name
        d += struct.pack("<H", len(name)) + name.encode() + bytes([dt, len(dims)])
        d += b"".join(struct.pack("<I", x) for x in dims) + struct.pack("<Q", off)
        blob += data
        last_end = len(blob)
        blob += bytes((-len(data)) % 64)
        off = len(blob)
    blob = blob[:last_end]  # the blob ends with the last tensor (canonical writer)
    dir_end = 32 + len(d)
    data_offset = (dir_end + 63) // 64 * 64
    hdr = b"LICW" + struct.pack("<IIIQQ", 1, len(kvs), len(tensors), data_offset, len(blob))
    return hdr + d + bytes(data_offset - dir_end) + blob


def micro_model(gs_up):
    """The smallest useful lic-ctx1 model: 2 channels everywhere, two groups, a few CDF rows. A seed of
    a few KB lets the model fuzzer mutate every field instead of mostly the big CDF tables of tiny.licw."""
    N, M, C_h, C_cc, C_sp, C_ep, groups, n_gains = 2, 2, 2, 1, 1, 2, [1, 1], 2
    seed = [12345]

    def rnd(n, lo, hi):
        out = []
        for _ in range(n):
            seed[0] = (seed[0] * 1103515245 + 12345) % 2 ** 31
            out.append(lo + seed[0] % (hi - lo + 1))
        return out

    def f(n, scale):
        return [x / 1000.0 * scale for x in rnd(n, -1000, 1000)]

    def prod(dims):
        n = 1
        for x in dims:
            n *= x
        return n

    T = []

    def fconv(name, dims, cout):
        T.append((name + ".weight", 0, dims, f(prod(dims), 0.2)))
        T.append((name + ".bias", 0, [cout], f(cout, 0.05)))

    def gdn(name, c):
        T.append((name + ".beta", 0, [c], [1.0] * c))
        T.append((name + ".gamma", 0, [c, c], [0.1] * (c * c)))

    def iconv(name, dims, cout, shift):
        T.append((name + ".weight", 1, dims, rnd(prod(dims), -300, 300)))
        T.append((name + ".bias", 2, [cout], rnd(cout, -100, 100)))
        T.append((name + ".shift", 2, [cout], [shift] * cout))

    for i, (ci, co) in enumerate([(3, N), (N, N), (N, N), (N, M)]):
        fconv(f"g_a.{i}", [co, ci, 5, 5], co)
    for i in range(3):
        gdn(f"g_a.gdn{i}", N)
    fconv("h_a.0", [N, M, 3, 3], N)
    fconv("h_a.1", [N, N, 5, 5], N)
    fconv("h_a.2", [N, N, 5, 5], N)
    for i, (ci, co) in enumerate([(M, N), (N, N), (N, N), (N, 3)]):
        if gs_up:
            fconv(f"g_s.{i}", [4 * co, ci, 3, 3], 4 * co)
        else:
            fconv(f"g_s.{i}", [ci, co, 5, 5], co)
    for i in range(3):
        gdn(f"g_s.igdn{i}", N)
    iconv("h_s.0", [N, N, 5, 5], N, 6)
    iconv("h_s.1", [N, C_h, 5, 5], C_h, 6)
    iconv("h_s.2", [C_h, C_h, 3, 3], C_h, 6)
    c0 = 0
    for k, g in enumerate(groups):
        if k > 0:
            iconv(f"cc.{k}.0", [C_cc, c0, 3, 3], C_cc, 6)
            iconv(f"cc.{k}.1", [C_cc, C_cc, 3, 3], C_cc, 6)
        iconv(f"sp.{k}.0", [C_sp, g, 5, 5], C_sp, 6)
        iconv(f"ep.{k}.0", [C_ep, C_h + (C_cc if k else 0) + C_sp, 1, 1], C_ep, 4)
        iconv(f"ep.{k}.1", [C_ep, C_ep, 1, 1], C_ep, 4)
        iconv(f"ep.{k}.2", [2 * g, C_ep, 1, 1], 2 * g, 2)
        c0 += g

    def cdf_rows(freqs_list, width):
        out = []
        for fr in freqs_list:
            c = [0]
            for x in fr:
                c.append(c[-1] + x)
            assert c[-1] == 65536
            out += c + [0] * (width - len(c))
        return out

    zf = [[4000, 12000, 33072, 12000, 4000, 464]] * N  # 5 values + escape: length 7
    T.append(("entropy.z.cdf", 2, [N, 8], cdf_rows(zf, 8)))
    T.append(("entropy.z.length", 2, [N], [7] * N))
    T.append(("entropy.z.offset", 2, [N], [-2] * N))
    T.append(("entropy.z.median", 2, [N], [3, -5]))
    yf = [[60000, 5000, 536], [10000, 20000, 20000, 10000, 5536], [3000, 9000, 14000, 14000, 9000, 8000, 8536]]
    T.append(("entropy.y.cdf", 2, [3, 8], cdf_rows(yf, 8)))
    T.append(("entropy.y.length", 2, [3], [4, 6, 8]))
    T.append(("entropy.y.offset", 2, [3], [0, -2, -3]))
    T.append(("entropy.y.scale_thresholds", 2, [2], [64, 512]))
    T.append(("gain.y", 0, [n_gains, M], [0.5, 0.6, 4.0, 5.0]))
    T.append(("gain.y_inv", 0, [n_gains, M], [2.0, 1.0 / 0.6, 0.25, 0.2]))
    kvs = [("arch", "lic-ctx1"), ("N", N), ("M", M), ("C_h", C_h), ("C_cc", C_cc), ("C_sp", C_sp),
           ("C_ep", C_ep), ("groups", ",".join(map(str, groups))), ("gs_up", gs_up), ("relu_slope_q8", 26),
           ("z_frac_bits", 4), ("yctx_frac_bits", 4), ("n_gains", n_gains), ("description", "fuzz seed")]
    return licw(kvs, T)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        imageio_seeds(tmp)
        corrupt_v2(lic_seeds(sys.argv[1], tmp))
    roundtrip_seeds()
    entropy_seeds()
    write("model", "micro_subpel.licw", micro_model(1))
    write("model", "micro_deconv.licw", micro_model(0))


if __name__ == "__main__":
    main()
