"""train/licw.py: round trips and the validation the C loader also does.

Run from the repo root: /usr/bin/python3 -m unittest discover -s tests/python -v
"""

import os
import struct
import sys
import unittest

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "train"))
import licw  # noqa: E402

TINY = os.path.join(ROOT, "testdata", "models", "tiny.licw")


def small_file():
    kv = {"arch": "x", "n": -3, "f": 0.5}
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], dtype=np.int16),
               "c": np.arange(70, dtype=np.int32)}
    return kv, tensors


def dir_entry_offset(data, name):
    """Byte offset of the u64 tensor offset field of tensor `name` in the directory."""
    i = data.index(struct.pack("<H", len(name)) + name.encode())
    ndims = data[i + 2 + len(name) + 1]
    return i + 2 + len(name) + 2 + 4 * ndims


class TestLicw(unittest.TestCase):
    def test_round_trip_small(self):
        kv, tensors = small_file()
        data = licw.serialize(kv, tensors)
        f = licw.parse(data)
        self.assertEqual(f.kv, kv)
        self.assertEqual(list(f.tensors), ["a", "b", "c"])
        for k in tensors:
            self.assertEqual(f.tensors[k].dtype, tensors[k].dtype)
            np.testing.assert_array_equal(f.tensors[k], tensors[k])
        self.assertEqual(licw.serialize(f.kv, f.tensors), data)
        # layout: header, data_offset and every tensor offset 64-aligned
        data_offset = struct.unpack_from("<Q", data, 16)[0]
        self.assertEqual(data_offset % 64, 0)
        for name in tensors:
            self.assertEqual(struct.unpack_from("<Q", data, dir_entry_offset(data, name))[0] % 64, 0)

    def test_fnv1a64(self):
        # FNV-1a 64 test vectors (empty string = offset basis, "a")
        self.assertEqual(licw.fnv1a64(b""), 0xCBF29CE484222325)
        self.assertEqual(licw.fnv1a64(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(licw.fnv1a64(b"foobar"), 0x85944171F73967E8)

    @unittest.skipUnless(os.path.exists(TINY), "testdata/models/tiny.licw missing")
    def test_c_written_model_round_trips_byte_identical(self):
        with open(TINY, "rb") as fh:
            raw = fh.read()
        f = licw.parse(raw)
        self.assertEqual(f.kv["arch"], "lic-ctx1")
        self.assertEqual(f.tensors["h_s.0.weight"].dtype, np.int16)
        self.assertEqual(f.tensors["g_a.0.weight"].shape, (f.kv["N"], 3, 5, 5))
        self.assertEqual(licw.serialize(f.kv, f.tensors), raw)

    def check_bad(self, data):
        with self.assertRaises(licw.LicwError):
            licw.parse(bytes(data))

    def test_rejects_corrupt_files(self):
        kv, tensors = small_file()
        good = bytearray(licw.serialize(kv, tensors))
        licw.parse(bytes(good))  # sanity: the base file is valid

        bad = bytearray(good); bad[0:4] = b"LICX"; self.check_bad(bad)
        bad = bytearray(good); struct.pack_into("<I", bad, 4, 2); self.check_bad(bad)          # version
        bad = bytearray(good); struct.pack_into("<I", bad, 8, 5000); self.check_bad(bad)       # n_kv
        bad = bytearray(good); struct.pack_into("<I", bad, 12, 4); self.check_bad(bad)         # n_tensors
        bad = bytearray(good); struct.pack_into("<Q", bad, 16, 100); self.check_bad(bad)       # misaligned
        bad = bytearray(good); struct.pack_into("<Q", bad, 24, 1); self.check_bad(bad)         # data_size
        self.check_bad(good[:-1])                                                              # truncated
        self.check_bad(good[:20])
        off_c = dir_entry_offset(good, "c")
        bad = bytearray(good); struct.pack_into("<Q", bad, off_c, 8); self.check_bad(bad)      # unaligned
        bad = bytearray(good); struct.pack_into("<Q", bad, off_c, 0); self.check_bad(bad)      # overlaps 'a'
        bad = bytearray(good); struct.pack_into("<Q", bad, off_c, 1 << 20); self.check_bad(bad)  # past end
        # NaN in a float tensor
        data_offset = struct.unpack_from("<Q", good, 16)[0]
        bad = bytearray(good); struct.pack_into("<f", bad, data_offset + 4, float("nan")); self.check_bad(bad)
        # non-zero directory padding (the byte before data_offset is padding in this file)
        bad = bytearray(good); bad[data_offset - 1] = 1; self.check_bad(bad)
        # duplicate key: rename "n" to "f"
        i = good.index(b"\x01\x00n")
        bad = bytearray(good); bad[i + 2] = ord("f"); self.check_bad(bad)
        # NUL in a name, unknown kv type, unknown dtype, zero dim
        bad = bytearray(good); bad[i + 2] = 0; self.check_bad(bad)
        bad = bytearray(good); bad[i + 3] = 7; self.check_bad(bad)
        j = good.index(b"\x01\x00b")
        bad = bytearray(good); bad[j + 3] = 3; self.check_bad(bad)
        bad = bytearray(good); struct.pack_into("<I", bad, j + 5, 0); self.check_bad(bad)

    def test_writer_refuses_what_the_format_cannot_hold(self):
        for kv, tensors in [({"b": True}, {}), ({"x": [1]}, {}), ({"": 1}, {}),
                            ({}, {"t": np.zeros(2, np.float64)}), ({}, {"t": np.zeros((1,) * 5, np.int16)}),
                            ({}, {"t": np.array([np.inf], np.float32)}), ({}, {"t": np.zeros(0, np.int32)})]:
            with self.assertRaises(licw.LicwError):
                licw.serialize(kv, tensors)


if __name__ == "__main__":
    unittest.main()
