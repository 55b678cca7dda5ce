"""Reader and writer of .licw model files (docs/FORMAT.md §1.1) in numpy.

The reader validates the same things as the C loader (codec/licw.c): magic and version, counts,
alignment, every length/offset against the file size, unique names, non-overlapping tensors, zero
directory padding, finite floats. Any violation raises LicwError. Arrays come back as read-only
numpy views (little-endian) of the file bytes; copy them before modifying.

The writer lays files out like tools/licw_writer.c (entries in insertion order, each tensor at the
next multiple of 64, no padding after the last one), so reading a C-written file and writing it back
gives the same bytes and therefore the same model fingerprint.
"""

import struct

import numpy as np

MAGIC = b"LICW"
VERSION = 1
HEADER_SIZE = 32
ALIGN = 64
MAX_KV = 4096
MAX_TENSORS = 65536
MAX_NAME = 255
MAX_STRING = 65536

KV_INT, KV_FLOAT, KV_STRING = 0, 1, 2
# dtype codes are in the file: append-only.
DTYPES = {0: np.dtype("<f4"), 1: np.dtype("<i2"), 2: np.dtype("<i4")}
DTYPE_CODES = {np.dtype("float32"): 0, np.dtype("int16"): 1, np.dtype("int32"): 2}


class LicwError(ValueError):
    """The bytes are not a valid .licw file (the C side's LIC_EMODEL)."""


FNV_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv_mix(h, values):
    """The FNV-1a step over `values` (ints below 2^64, e.g. bytes): h = (h ^ v) * prime mod 2^64.
    The model fingerprint mixes bytes; the codec's stats hashes mix 32-bit values (lic_model)."""
    mask = 0xFFFFFFFFFFFFFFFF
    for v in values:
        h = ((h ^ v) * FNV_PRIME) & mask
    return h


def fnv1a64(data):
    """64-bit FNV-1a of `data`: the model fingerprint. Each step depends on the previous one, so this
    is a plain byte loop: a few seconds for a 20 MB model, computed only on request."""
    return fnv_mix(FNV_BASIS, memoryview(data).cast("B"))


class Licw:
    """A parsed model file: `kv` (str -> int | float | str), `tensors` (str -> np.ndarray), both in
    file order, and `data`, the raw bytes (for the fingerprint)."""

    def __init__(self, kv, tensors, data=None):
        self.kv = kv
        self.tensors = tensors
        self.data = data

    def fingerprint(self):
        if self.data is None:
            self.data = serialize(self.kv, self.tensors)
        return fnv1a64(self.data)

    def __getitem__(self, name):
        return self.tensors[name]

    def __contains__(self, name):
        return name in self.tensors


class _Cursor:
    """Bounded little-endian reads over data[pos:end]."""

    def __init__(self, data, pos, end):
        self.data, self.pos, self.end = data, pos, end

    def take(self, n):
        if n > self.end - self.pos:
            raise LicwError("entry runs past the directory")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u(self, n):
        return int.from_bytes(self.take(n), "little")

    def name(self):
        n = self.u(2)
        if not 1 <= n <= MAX_NAME:
            raise LicwError("name length %d out of 1..%d" % (n, MAX_NAME))
        b = bytes(self.take(n))
        if any(c == 0 or c > 127 for c in b):
            raise LicwError("name is not NUL-free ASCII")
        return b.decode("ascii")


def parse(data):
    """Parses a whole file held in `data` (bytes-like). Returns a Licw."""
    data = bytes(data)
    size = len(data)
    if size < HEADER_SIZE or data[:4] != MAGIC:
        raise LicwError("not a .licw file")
    version, n_kv, n_tensors, data_offset, data_size = struct.unpack_from("<IIIQQ", data, 4)
    if version != VERSION:
        raise LicwError("unsupported version %d" % version)
    if n_kv > MAX_KV or n_tensors > MAX_TENSORS:
        raise LicwError("too many entries")
    if (data_offset < HEADER_SIZE or data_offset % ALIGN or data_offset > size
            or data_size != size - data_offset):
        raise LicwError("bad data_offset/data_size")

    c = _Cursor(data, HEADER_SIZE, data_offset)
    kv = {}
    for _ in range(n_kv):
        key = c.name()
        if key in kv:
            raise LicwError("duplicate key %r" % key)
        t = c.u(1)
        if t == KV_INT:
            kv[key] = struct.unpack("<q", c.take(8))[0]
        elif t == KV_FLOAT:
            v = struct.unpack("<d", c.take(8))[0]
            if not np.isfinite(v):
                raise LicwError("key %r: non-finite float" % key)
            kv[key] = v
        elif t == KV_STRING:
            n = c.u(4)
            if n > MAX_STRING:
                raise LicwError("key %r: string too long" % key)
            kv[key] = bytes(c.take(n)).decode("utf-8", errors="replace")
        else:
            raise LicwError("key %r: unknown type %d" % (key, t))

    blob = memoryview(data)[data_offset:]
    tensors, spans = {}, []
    for _ in range(n_tensors):
        name = c.name()
        if name in tensors:
            raise LicwError("duplicate tensor %r" % name)
        code, n_dims = c.u(1), c.u(1)
        if code not in DTYPES or not 1 <= n_dims <= 4:
            raise LicwError("tensor %r: bad dtype or rank" % name)
        dims = tuple(c.u(4) for _ in range(n_dims))
        if min(dims) < 1:
            raise LicwError("tensor %r: zero dimension" % name)
        nbytes = DTYPES[code].itemsize
        for d in dims:  # Python ints do not overflow; compare against the blob like the C side
            nbytes *= d
        off = c.u(8)
        if off % ALIGN or off > data_size or nbytes > data_size - off:
            raise LicwError("tensor %r: data out of range or misaligned" % name)
        arr = np.frombuffer(blob[off:off + nbytes], dtype=DTYPES[code]).reshape(dims)
        if code == 0 and not np.isfinite(arr).all():
            raise LicwError("tensor %r: NaN or infinity" % name)
        tensors[name] = arr
        spans.append((off, off + nbytes))
    if any(data[c.pos:c.end]):
        raise LicwError("non-zero directory padding")
    spans.sort()
    for (_, end0), (begin1, _) in zip(spans, spans[1:]):
        if begin1 < end0:
            raise LicwError("tensors overlap")
    return Licw(kv, tensors, data)


def read(path):
    """Reads and parses a .licw file."""
    with open(path, "rb") as f:
        return parse(f.read())


def _align(v):
    return (v + ALIGN - 1) // ALIGN * ALIGN


def _name_bytes(name):
    b = name.encode("ascii")
    if not 1 <= len(b) <= MAX_NAME or b"\0" in b:
        raise LicwError("bad name %r" % name)
    return struct.pack("<H", len(b)) + b


def serialize(kv, tensors):
    """Returns the bytes of a .licw file. kv values: int, float or str (bool is refused: ambiguous).
    tensors: arrays of dtype float32, int16 or int32 (converted to little-endian), 1..4 dims."""
    if len(kv) > MAX_KV or len(tensors) > MAX_TENSORS:
        raise LicwError("too many entries")
    d = bytearray()
    for key, v in kv.items():
        d += _name_bytes(key)
        if isinstance(v, bool):
            raise LicwError("key %r: bool is not a .licw type" % key)
        if isinstance(v, (int, np.integer)):
            d += struct.pack("<Bq", KV_INT, int(v))
        elif isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                raise LicwError("key %r: non-finite float" % key)
            d += struct.pack("<Bd", KV_FLOAT, float(v))
        elif isinstance(v, str):
            b = v.encode("utf-8")
            if len(b) > MAX_STRING:
                raise LicwError("key %r: string too long" % key)
            d += struct.pack("<BI", KV_STRING, len(b)) + b
        else:
            raise LicwError("key %r: unsupported type %s" % (key, type(v).__name__))
    blobs, off = [], 0
    for name, a in tensors.items():
        a = np.asarray(a)
        code = DTYPE_CODES.get(a.dtype.newbyteorder("="))
        if code is None:
            raise LicwError("tensor %r: dtype %s not in f32/i16/i32" % (name, a.dtype))
        if not 1 <= a.ndim <= 4 or a.size == 0 or max(a.shape) >= 2 ** 32:
            raise LicwError("tensor %r: bad shape %s" % (name, a.shape))
        if code == 0 and not np.isfinite(a).all():
            raise LicwError("tensor %r: NaN or infinity" % name)
        off = _align(off)
        d += _name_bytes(name) + struct.pack("<BB", code, a.ndim)
        d += struct.pack("<%dI" % a.ndim, *a.shape) + struct.pack("<Q", off)
        raw = np.ascontiguousarray(a, dtype=DTYPES[code]).tobytes()
        blobs.append((off, raw))
        off += len(raw)
    data_offset = _align(HEADER_SIZE + len(d))
    out = bytearray(data_offset + off)
    struct.pack_into("<4sIIIQQ", out, 0, MAGIC, VERSION, len(kv), len(tensors), data_offset, off)
    out[HEADER_SIZE:HEADER_SIZE + len(d)] = d
    for o, raw in blobs:
        out[data_offset + o:data_offset + o + len(raw)] = raw
    return bytes(out)


def write(path, kv, tensors):
    """Writes a .licw file; returns its fingerprint."""
    data = serialize(kv, tensors)
    with open(path, "wb") as f:
        f.write(data)
    return fnv1a64(data)
