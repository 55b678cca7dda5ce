#!/usr/bin/env python3
"""Writes the small input files of the CLI and image-reader tests (CC0, made by the lic project):
ASCII PGM/PPM, a 16-bit PPM, PNGs and a JPEG carrying colour metadata and EXIF orientation, and two
headers that claim a 16384x16384 image with no pixel data behind them.

Only the standard library: PNGs are written by the tiny encoder below, and the JPEGs are
testdata/images/small.jpg with marker segments added or its header changed, so running this again
gives byte-identical files.

    /usr/bin/python3 tests/cli/make_inputs.py [OUTDIR]     # default: testdata/images
"""
import os
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(w, h, rows, color_type=2, depth=8, extra_before=(), extra_after=()):
    """rows: list of bytes objects (one scanline each, unfiltered). extra_*: (kind, data) chunks
    placed before IDAT or between IDAT and IEND."""
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    for kind, data in extra_before:
        out += chunk(kind, data)
    out += chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + r for r in rows), 9))
    for kind, data in extra_after:
        out += chunk(kind, data)
    return out + chunk(b"IEND", b"")


def ramp_rgb(w, h):
    """The pixel formula the tests recompute: R = 20x + 60y, G = 255 - 30x, B = 17(x + y)."""
    return [bytes(v for x in range(w) for v in (20 * x + 60 * y, 255 - 30 * x, 17 * (x + y))) for y in range(h)]


def icc_profile():
    """A tiny well-formed ICC v2 display profile: the 128-byte header and one tag, the media white
    point (D50). It describes no colour space usefully, but libpng accepts it as an iCCP profile."""
    size = 128 + 4 + 12 + 20
    hdr = struct.pack(">I4sI4s4s4s6H4s4sI4s4s8sI3i4s16s28s",
                      size, b"lic ", 0x02100000, b"mntr", b"RGB ", b"XYZ ",
                      2026, 12, 4, 0, 0, 0, b"acsp", b"\0\0\0\0", 0, b"\0\0\0\0", b"\0\0\0\0",
                      b"\0" * 8, 0, 0xF6D6, 0x10000, 0xD32D, b"lic ", b"\0" * 16, b"\0" * 28)
    assert len(hdr) == 128
    tags = struct.pack(">I4sII", 1, b"wtpt", 144, 20)
    wtpt = b"XYZ " + b"\0" * 4 + struct.pack(">3i", 0xF6D6, 0x10000, 0xD32D)
    return hdr + tags + wtpt


def big_icc_profile(size=70000):
    """An ICC v2 profile of `size` bytes (a multiple of 4): the media white point and a private
    'data' tag filling the rest with a byte pattern. Longer than one JPEG APP2 marker can hold
    (65519 bytes of profile), so a JPEG stores it in two markers that a reader must join."""
    n_tags = 2
    table = 128 + 4 + 12 * n_tags
    wtpt_at, data_at = table, table + 20
    data_len = size - data_at
    hdr = struct.pack(">I4sI4s4s4s6H4s4sI4s4s8sI3i4s16s28s",
                      size, b"lic ", 0x02100000, b"mntr", b"RGB ", b"XYZ ",
                      2026, 12, 4, 0, 0, 0, b"acsp", b"\0\0\0\0", 0, b"\0\0\0\0", b"\0\0\0\0",
                      b"\0" * 8, 0, 0xF6D6, 0x10000, 0xD32D, b"lic ", b"\0" * 16, b"\0" * 28)
    tags = struct.pack(">I", n_tags) + struct.pack(">4sII", b"wtpt", wtpt_at, 20) + struct.pack(">4sII", b"licD", data_at, data_len)
    wtpt = b"XYZ " + b"\0" * 4 + struct.pack(">3i", 0xF6D6, 0x10000, 0xD32D)
    data = b"data" + b"\0" * 4 + struct.pack(">I", 1) + bytes((i * 7 + i // 251) & 0xFF for i in range(data_len - 12))
    out = hdr + tags + wtpt + data
    assert len(out) == size
    return out


def icc_markers(profile):
    """JPEG APP2 ICC_PROFILE payloads: the profile in parts of at most 65519 bytes, numbered from 1."""
    parts = [profile[i:i + 65519] for i in range(0, len(profile), 65519)]
    return [(0xE2, b"ICC_PROFILE\0" + bytes([k + 1, len(parts)]) + p) for k, p in enumerate(parts)]


def xmp_packet():
    return (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
            b"<rdf:Description xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:creator>lic tests (CC0)</dc:creator>"
            b"</rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end='w'?>")


def exif_orientation(value, big_endian):
    """A TIFF-structured EXIF block whose IFD0 holds two entries, the second the orientation."""
    e = ">" if big_endian else "<"
    head = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    ifd = struct.pack(e + "H", 2)
    ifd += struct.pack(e + "HHI4s", 0x010F, 2, 4, b"lic\0")           # Make = "lic"
    ifd += struct.pack(e + "HHIHH", 0x0112, 3, 1, value, 0)           # Orientation, SHORT
    return head + ifd + struct.pack(e + "I", 0)


def jpeg_segments(jpg, segments):
    """Inserts marker segments (marker byte, payload) right after SOI."""
    assert jpg[:2] == b"\xff\xd8"
    body = b"".join(b"\xff" + bytes([m]) + struct.pack(">H", len(p) + 2) + p for m, p in segments)
    return jpg[:2] + body + jpg[2:]


def jpeg_huge_header(jpg, side):
    """small.jpg with its frame header claiming side x side, cut right after the scan header: the
    header is complete, the image data absent."""
    i, out = 2, bytearray(jpg[:2])
    while i < len(jpg):
        assert jpg[i] == 0xFF
        m = jpg[i + 1]
        n = struct.unpack(">H", jpg[i + 2:i + 4])[0]
        seg = bytearray(jpg[i:i + 2 + n])
        if m in (0xC0, 0xC1, 0xC2):
            seg[5:9] = struct.pack(">HH", side, side)
        out += seg
        if m == 0xDA:
            return bytes(out)
        i += 2 + n
    raise ValueError("no SOS")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "testdata", "images")
    files = {}
    w, h = 4, 3
    rows = ramp_rgb(w, h)
    # Plain PPM with comments and uneven spacing; plain PGM with maxval 1000 (scaled to 8 bits).
    ppm = "P3\n# plain PPM made by tests/cli/make_inputs.py\n%d %d\n255\n" % (w, h)
    for r in rows:
        ppm += " ".join("%d" % v for v in r) + "\n"
    files["ascii_4x3.ppm"] = ppm.encode()
    pgm = "P2 %d %d # comment after the size\n1000\n" % (w, h)
    for y in range(h):
        pgm += "  ".join("%d" % (100 * x + 250 * y) for x in range(w)) + "\n"
    files["ascii_4x3.pgm"] = pgm.encode()
    # 16-bit binary PPM: v = 4096x + 16384y + 1000c + 7, big-endian.
    ppm16 = b"P6\n3 2\n65535\n" + b"".join(struct.pack(">H", 4096 * x + 16384 * y + 1000 * c + 7)
                                            for y in range(2) for x in range(3) for c in range(3))
    files["16bit_3x2.ppm"] = ppm16
    # Colour metadata: an ICC profile; gAMA + cHRM without sRGB; EXIF orientation 6 in eXIf. The
    # profile is stored, not deflated: libpng refuses an iCCP chunk shorter than 92 bytes as "too short".
    files["icc_4x3.png"] = png(w, h, rows, extra_before=[(b"iCCP", b"lic test\0\0" + zlib.compress(icc_profile(), 0))])
    chrm = struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)
    files["gamma_4x3.png"] = png(w, h, rows, extra_before=[(b"gAMA", struct.pack(">I", 100000)), (b"cHRM", chrm)])
    files["exif6_4x3.png"] = png(w, h, rows, extra_after=[(b"eXIf", exif_orientation(6, True))])
    # small.jpg with EXIF (orientation 6, little-endian), XMP and an ICC profile.
    with open(os.path.join(ROOT, "testdata", "images", "small.jpg"), "rb") as f:
        small = f.read()
    xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    files["exif6_32x24.jpg"] = jpeg_segments(small, [
        (0xE1, b"Exif\0\0" + exif_orientation(6, False)),
        (0xE1, xmp),
        (0xE2, b"ICC_PROFILE\0\x01\x01" + icc_profile()),
    ])
    # Metadata carried through .lic files: a PNG with a deflated iCCP, eXIf (orientation 6) and an
    # uncompressed XMP iTXt; a JPEG with EXIF, XMP and a 70000-byte ICC profile in two APP2 markers.
    itxt = b"XML:com.adobe.xmp\0" + b"\0\0" + b"\0" + b"\0" + xmp_packet()
    files["meta_4x3.png"] = png(w, h, rows, extra_before=[(b"iCCP", b"lic test\0\0" + zlib.compress(big_icc_profile(1024), 9)),
                                                          (b"eXIf", exif_orientation(6, True)), (b"iTXt", itxt)])
    files["meta_32x24.jpg"] = jpeg_segments(small, [
        (0xE1, b"Exif\0\0" + exif_orientation(3, False)),
        (0xE1, b"http://ns.adobe.com/xap/1.0/\0" + xmp_packet()),
    ] + icc_markers(big_icc_profile()))
    # Headers of a 16384x16384 image with nothing (PNG: a few bytes) of pixel data after them.
    files["huge_16384.png"] = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16384, 16384, 8, 2, 0, 0, 0))
                               + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    files["huge_16384.jpg"] = jpeg_huge_header(small, 16384)
    for name, data in sorted(files.items()):
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        print("%-18s %6d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
