#!/usr/bin/env python3
"""Prints the metadata of a PNG or JPEG, one line per item, as the lic CLI tests compare it:

    icc  <bytes> <sha256>     (PNG iCCP inflated; JPEG APP2 ICC_PROFILE parts joined in order)
    exif <bytes> <sha256>     (PNG eXIf; JPEG APP1 after "Exif\\0\\0")
    xmp  <bytes> <sha256>     (PNG iTXt "XML:com.adobe.xmp" text; JPEG APP1 after the XMP name)

"none" for an absent item. Standard library only, and written apart from the C readers, so a test
that compares an input's dump with a decoded output's dump checks the C code against a second
implementation.

    /usr/bin/python3 tests/cli/meta_dump.py FILE
"""
import hashlib
import struct
import sys
import zlib


def png_meta(d):
    out = {}
    p = 8
    while p + 12 <= len(d):
        n = struct.unpack(">I", d[p:p + 4])[0]
        kind, body = d[p + 4:p + 8], d[p + 8:p + 8 + n]
        if kind == b"iCCP" and "icc" not in out:
            name_end = body.index(b"\0")
            out["icc"] = zlib.decompress(body[name_end + 2:])
        elif kind == b"eXIf" and "exif" not in out:
            out["exif"] = body
        elif kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\0") and "xmp" not in out:
            rest = body[18:]
            compressed = rest[0]
            rest = rest[2:]
            rest = rest[rest.index(b"\0") + 1:]  # language tag
            rest = rest[rest.index(b"\0") + 1:]  # translated keyword
            out["xmp"] = zlib.decompress(rest) if compressed else rest
        elif kind == b"IEND":
            break
        p += 12 + n
    return out


def jpeg_meta(d):
    out, icc = {}, {}
    p = 2
    while p + 4 <= len(d) and d[p] == 0xFF:
        m = d[p + 1]
        if m == 0xDA:
            break
        n = struct.unpack(">H", d[p + 2:p + 4])[0]
        body = d[p + 4:p + 2 + n]
        if m == 0xE1 and body.startswith(b"Exif\0\0") and "exif" not in out:
            out["exif"] = body[6:]
        elif m == 0xE1 and body.startswith(b"http://ns.adobe.com/xap/1.0/\0") and "xmp" not in out:
            out["xmp"] = body[29:]
        elif m == 0xE2 and body.startswith(b"ICC_PROFILE\0"):
            icc[body[12]] = body[14:]
        p += 2 + n
    if icc:
        out["icc"] = b"".join(icc[k] for k in sorted(icc))
    return out


def main():
    with open(sys.argv[1], "rb") as f:
        d = f.read()
    meta = png_meta(d) if d.startswith(b"\x89PNG") else jpeg_meta(d) if d.startswith(b"\xff\xd8") else {}
    for k in ("icc", "exif", "xmp"):
        v = meta.get(k)
        print(k, "none" if v is None else "%d %s" % (len(v), hashlib.sha256(v).hexdigest()))


if __name__ == "__main__":
    main()
