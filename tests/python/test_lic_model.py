"""train/lic_model.py: the integer layers against an independent int64 numpy implementation of
transforms/ilayers.h (and, when gcc is available, against the C code itself through ctypes), the
quantizers' rounding, and the whole pipeline on the tiny test models.

Run from the repo root: /usr/bin/python3 -m unittest discover -s tests/python -v
"""

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "train"))
import lic_model as L  # noqa: E402

MODELS = [os.path.join(ROOT, "testdata", "models", n) for n in ("tiny.licw", "tiny_deconv.licw")]


def iconv_numpy(x, w, b, s, k, stride, transposed, relu, slope, out_bits):
    """The contract of transforms/ilayers.h, written out with int64 loops over taps."""
    cin, h, wd = x.shape
    p = k // 2
    if transposed:
        cout = w.shape[1]
        oh, ow = h * stride, wd * stride
        acc = np.zeros((cout, oh, ow), np.int64)
        for ky in range(k):
            for kx in range(k):
                for yy in range(h):
                    oy = yy * stride + ky - p
                    if not 0 <= oy < oh:
                        continue
                    for xx in range(wd):
                        ox = xx * stride + kx - p
                        if 0 <= ox < ow:
                            acc[:, oy, ox] += w[:, :, ky, kx].astype(np.int64).T @ x[:, yy, xx].astype(np.int64)
    else:
        cout = w.shape[0]
        oh, ow = (h + stride - 1) // stride, (wd + stride - 1) // stride
        xp = np.zeros((cin, h + 2 * p, wd + 2 * p), np.int64)
        xp[:, p:p + h, p:p + wd] = x
        acc = np.zeros((cout, oh, ow), np.int64)
        for ky in range(k):
            for kx in range(k):
                patch = xp[:, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride]
                acc += np.einsum("oi,ihw->ohw", w[:, :, ky, kx].astype(np.int64), patch)
    acc += b.astype(np.int64)[:, None, None]
    sh = s.astype(np.int64)[:, None, None]
    v = (acc + (np.int64(1) << (sh - 1))) >> sh           # numpy >> on int64 is arithmetic (floor)
    if relu:
        v = np.where(v < 0, (v * slope + 128) >> 8, v)
    lim = 1 << (out_bits - 1)
    return np.clip(v, -lim, lim - 1)


def random_layer(rng, cin, cout, k, transposed, big_shift=False):
    shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
    w = rng.integers(-32768, 32768, size=shape).astype(np.int16)
    b = rng.integers(-2 ** 31, 2 ** 31, size=cout).astype(np.int32)
    s = rng.integers(1, 62 if big_shift else 30, size=cout).astype(np.int32)
    return w, b, s


def run_iconv(w, b, s, x, **kw):
    cin = x.shape[0]
    cout = w.shape[1] if kw.get("transposed") else w.shape[0]
    layer = L.IConv(cin, cout, w.shape[2], **kw)
    layer.load(w, b, s)
    with torch.no_grad():
        return layer(torch.from_numpy(x.astype(np.float64))[None])[0].numpy().astype(np.int64)


CASES = [  # cin, cout, k, stride, transposed, relu, out_bits
    (3, 4, 3, 1, False, True, 16), (2, 5, 5, 1, False, False, 16), (4, 3, 1, 1, False, True, 24),
    (3, 2, 5, 2, True, True, 16), (2, 3, 5, 2, True, False, 24), (3, 3, 5, 2, False, True, 16),
]


class TestIntegerLayers(unittest.TestCase):
    def test_hand_computed(self):
        # 1x1, weight 3, bias -5, shift 2, slope 26: v = floor((3x - 5 + 2) / 4), then leaky ReLU.
        x = np.arange(-10, 11, dtype=np.int64).reshape(1, 1, 21)
        got = run_iconv(np.full((1, 1, 1, 1), 3, np.int16), np.array([-5], np.int32), np.array([2], np.int32), x,
                        relu=True, slope_q8=26)
        v = [(3 * xi - 5 + 2) // 4 for xi in range(-10, 11)]
        want = [vi if vi >= 0 else (vi * 26 + 128) // 256 for vi in v]
        self.assertEqual(got.reshape(-1).tolist(), want)
        # floor semantics for negatives: x = -10 -> v = floor(-33 / 4) = -9 -> (-234 + 128) >> 8 = -1
        self.assertEqual(want[0], -1)
        # clamp to int16 and to 24 bits
        x = np.array([[[32767]]])
        big = np.full((1, 1, 1, 1), 32767, np.int16)
        self.assertEqual(run_iconv(big, np.array([0], np.int32), np.array([1], np.int32), x).item(), 32767)
        self.assertEqual(run_iconv(big, np.array([0], np.int32), np.array([1], np.int32), x, out_bits=24).item(),
                         (1 << 23) - 1)
        self.assertEqual(run_iconv(big, np.array([0], np.int32), np.array([10], np.int32), -x, out_bits=24).item(),
                         -((32767 * 32767 - 512) // 1024) - 1)

    def test_against_numpy_reference(self):
        rng = np.random.default_rng(1)
        for cin, cout, k, stride, tr, relu, ob in CASES:
            for big_shift in (False, True):
                w, b, s = random_layer(rng, cin, cout, k, tr, big_shift)
                x = rng.integers(-32768, 32768, size=(cin, 7, 6))
                got = run_iconv(w, b, s, x, stride=stride, transposed=tr, relu=relu, slope_q8=77, out_bits=ob)
                want = iconv_numpy(x, w, b, s, k, stride, tr, relu, 77 if relu else 0, ob)
                np.testing.assert_array_equal(got, want, err_msg=str((cin, cout, k, stride, tr, relu, ob)))

    def test_rejects_bad_constants(self):
        layer = L.IConv(1, 1, 1)
        with self.assertRaises(ValueError):
            layer.load(np.zeros((1, 1, 1, 1), np.int16), np.zeros(1, np.int32), np.zeros(1, np.int32))
        with self.assertRaises(ValueError):
            layer.load(np.zeros((1, 1, 3, 3), np.int16), np.zeros(1, np.int32), np.ones(1, np.int32))


class _CLayer(ctypes.Structure):
    _fields_ = [("cin", ctypes.c_int), ("cout", ctypes.c_int), ("k", ctypes.c_int), ("stride", ctypes.c_int),
                ("transposed", ctypes.c_int), ("relu", ctypes.c_int), ("relu_slope_q8", ctypes.c_int),
                ("out_bits", ctypes.c_int), ("weight", ctypes.c_void_p), ("bias", ctypes.c_void_p),
                ("shift", ctypes.c_void_p)]


class _CTensor(ctypes.Structure):
    _fields_ = [("c", ctypes.c_int), ("h", ctypes.c_int), ("w", ctypes.c_int), ("data", ctypes.c_void_p)]


ISA_FLAGS = {"_avx2.c": ["-mavx2", "-mfma"],  # the per-file flags of transforms/CMakeLists.txt
             "_avx512.c": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mfma"]}
# The module-wide definitions transforms/CMakeLists.txt sets on x86-64 with gcc, so that the SIMD
# kernels are built in and selected where the CPU has them (LIC_XF_HAVE_AVX512VNNI as well).
SIMD_DEFS = ["-DLIC_XF_HAVE_AVX2", "-DLIC_XF_HAVE_AVX512", "-DLIC_XF_HAVE_AVX512VNNI"] \
    if os.uname().machine in ("x86_64", "amd64") else []


def transforms_sources():
    import glob
    # transforms/ and what it links: util/ (allocator, logging helpers) where the tree has it.
    return sorted(glob.glob(os.path.join(ROOT, "transforms", "*.c")) +
                  glob.glob(os.path.join(ROOT, "transforms", "cpu", "*.c")) +
                  glob.glob(os.path.join(ROOT, "util", "*.c")))


@unittest.skipUnless(shutil.which("gcc") and os.path.exists(os.path.join(ROOT, "transforms", "ilayers.c")),
                     "gcc or transforms sources missing")
class TestAgainstC(unittest.TestCase):
    """Builds the transforms module (with util/, which it links) into a throw-away shared object and
    compares every integer kernel this CPU runs (lic_iconv2d_kernel: reference, AVX2, AVX-512 VNNI)
    with IConv. A module that does not build is a failure, not a skip: this is the C side of the
    mirror's independent check."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        inc = ["-I" + ROOT, "-I" + os.path.join(ROOT, "codec", "include")]
        objs = []
        try:
            for n, src in enumerate(transforms_sources()):
                obj = os.path.join(cls.tmp, "%d.o" % n)
                flags = next((f for suffix, f in ISA_FLAGS.items() if src.endswith(suffix)), []) + SIMD_DEFS
                r = subprocess.run(["gcc", "-O1", "-fPIC", "-c", src, "-o", obj] + flags + inc,
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise OSError(r.stderr[-300:])
                objs.append(obj)
            so = os.path.join(cls.tmp, "libtransforms.so")
            r = subprocess.run(["gcc", "-shared", "-o", so] + objs + ["-lpthread", "-lm"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise OSError(r.stderr[-300:])
            cls.lib = ctypes.CDLL(so)
        except OSError as e:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("cannot build or load the transforms module: %s" % e)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_c(self, w, b, s, x, k, stride, tr, relu, slope, ob, kernel):
        cin, h, wd = x.shape
        cout = w.shape[1] if tr else w.shape[0]
        oh, ow = (h * stride, wd * stride) if tr else ((h + stride - 1) // stride, (wd + stride - 1) // stride)
        w, b, s = (np.ascontiguousarray(a) for a in (w, b, s))
        xi = np.ascontiguousarray(x, dtype=np.int32)
        out = np.zeros((cout, oh, ow), np.int32)
        layer = _CLayer(cin, cout, k, stride, int(tr), int(relu), slope, ob, w.ctypes.data, b.ctypes.data,
                        s.ctypes.data)
        tin = _CTensor(cin, h, wd, xi.ctypes.data)
        tout = _CTensor(cout, oh, ow, out.ctypes.data)
        ret = self.lib.lic_iconv2d_kernel(None, ctypes.byref(layer), ctypes.byref(tin), ctypes.byref(tout),
                                          kernel)
        self.assertEqual(ret, 0)
        return out.astype(np.int64)

    def test_matches_lic_iconv2d(self):
        # Kernel ids of transforms/cpu/iconv.h: 0 reference, 1 AVX2, 2 AVX-512 VNNI.
        kernels = [kid for kid in (0, 1, 2) if self.lib.lic_iconv_kernel_available(kid)]
        self.assertIn(0, kernels)
        sys.stderr.write("\nTestAgainstC: integer kernels compared with IConv: %s (not on this CPU/build: %s)\n" % (
            [("ref", "avx2", "avx512vnni")[kid] for kid in kernels],
            [("ref", "avx2", "avx512vnni")[kid] for kid in (0, 1, 2) if kid not in kernels]))
        rng = np.random.default_rng(2)
        for cin, cout, k, stride, tr, relu, ob in CASES:
            w, b, s = random_layer(rng, cin, cout, k, tr)
            x = rng.integers(-32768, 32768, size=(cin, 9, 8))
            slope = 26 if relu else 0
            got = run_iconv(w, b, s, x, stride=stride, transposed=tr, relu=relu, slope_q8=slope, out_bits=ob)
            for kid in kernels:
                want = self.run_c(w, b, s, x, k, stride, tr, relu, slope, ob, kid)
                np.testing.assert_array_equal(got, want, err_msg=str((kid, cin, cout, k, stride, tr, relu, ob)))


class TestQuantizers(unittest.TestCase):
    def test_round_half_away_from_zero(self):
        v = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4999, -2.4999], dtype=torch.float64)
        self.assertEqual(L.round_half_away(v).tolist(), [-3, -2, -1, 1, 2, 3, 2, -2])
        z = torch.tensor([float("nan"), 1e30, -1e30], dtype=torch.float32)
        self.assertEqual(L.to_fixed(z, 4).tolist(), [0.0, 1e12, -1e12])

    def test_gain_interpolation(self):
        table = np.array([[1.0, 2.0], [4.0, 8.0], [16.0, 32.0]], np.float32)
        np.testing.assert_array_equal(L.interp_gains(table, 1), table[0])
        np.testing.assert_array_equal(L.interp_gains(table, 100), table[2])
        # q = 50.5 -> t = 1.0 exactly -> row 1; q = 25.75 -> t = 0.5 -> geometric mean of rows 0, 1
        np.testing.assert_allclose(L.interp_gains(table, 25.75), [2.0, 4.0], rtol=1e-6)


@unittest.skipUnless(all(os.path.exists(m) for m in MODELS), "testdata/models missing")
class TestPipeline(unittest.TestCase):
    def test_models(self):
        rng = np.random.default_rng(3)
        img = rng.integers(0, 256, size=(70, 130, 3), dtype=np.uint8)  # pads to 128 x 192
        for path in MODELS:
            m = L.LicModel.from_licw(path)
            with open(path, "rb") as f:
                self.assertEqual(m.to_licw_bytes(), f.read(), path)  # names, dtypes, order all match
            with torch.no_grad():
                x = L.image_to_tensor(img)
                self.assertEqual(tuple(x.shape), (1, 3, 128, 192))
                np.testing.assert_array_equal(x[0, :, 69, 129:].numpy(), np.repeat(x[0, :, 69, 129:130].numpy(), 63, 1))
                y, z = m.analysis(x, 60)
                self.assertEqual(tuple(y.shape), (1, m.arch.M, 8, 12))
                self.assertEqual(tuple(z.shape), (1, m.arch.N, 2, 3))
                rec = []
                zs, yq = m.encode_latents(y, z, rec)
                order = L.coding_order(rec)
                n = m.arch.M * 8 * 12
                self.assertEqual(order["y_symbols"].size, n)
                # symbols follow the definition (round(y' * 256) - mu + 128) >> 8 at every position
                yfix = L.to_fixed(y, 8)[0].numpy().astype(np.int64)
                yqa = yq[0].numpy().astype(np.int64)
                d = yfix - yqa
                self.assertTrue(d.min() >= -128 and d.max() <= 127)
                # y-hat' = s * 256 + mu, read back in coding order
                starts = m.arch.group_starts()
                yq_order = np.concatenate([yqa[starts[k]:starts[k] + m.arch.groups[k]][:, mask.numpy()].reshape(-1)
                                           for k, _, mask, _, _, _ in rec])
                np.testing.assert_array_equal(yq_order, order["y_symbols"] * 256 + order["means"])
                # the decoder rebuilds y-hat' and the same means / scale indexes from the symbols alone
                rec2 = []
                yq2 = m.decode_latents(zs, order["y_symbols"], 8, 12, rec2)
                self.assertTrue(torch.equal(yq, yq2))
                order2 = L.coding_order(rec2)
                for k in order:
                    np.testing.assert_array_equal(order[k], order2[k])
                self.assertTrue(0 <= order["scale_idx"].min() and order["scale_idx"].max() < len(
                    m.tables["entropy.y.length"]))
                # a wrong symbol changes what follows (context really feeds back)
                bad = order["y_symbols"].copy()
                bad[0] += 5
                rec3 = []
                m.decode_latents(zs, bad, 8, 12, rec3)
                self.assertFalse(np.array_equal(L.coding_order(rec3)["means"], order["means"]))
                with self.assertRaises(ValueError):
                    m.decode_latents(zs, order["y_symbols"][:-1], 8, 12)
                out = L.tensor_to_image(m.synthesis(yq, 60), 70, 130)
                self.assertEqual(out.shape, (70, 130, 3))
                self.assertEqual(out.dtype, np.uint8)


if __name__ == "__main__":
    unittest.main()
