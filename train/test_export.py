"""Tests of the export path (train/export.py): CDF construction against the C-built tables of the
test models, integer layer quantization, and a whole export of a small random model read back by the
bit-exact mirror. Run: /usr/bin/python3 -m unittest discover -s train -p "test_*.py"
"""

import os
import sys
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import export as E  # noqa: E402
import lic_model as LM  # noqa: E402
import licw  # noqa: E402
from lic_model import Config, LicCtx1 as TrainModel  # noqa: E402

TINY = os.path.join(ROOT, "testdata", "models", "tiny.licw")


class CdfTest(unittest.TestCase):
    def test_y_table_equals_c_tool(self):
        """The tiny test model was written by lic-mkmodel (tools/cdf_build.c) with smax 64."""
        if not os.path.exists(TINY):
            self.skipTest("no testdata/models/tiny.licw")
        f = licw.read(TINY)
        cdf, length, offset, thr = E.y_tables(smax=64.0)
        np.testing.assert_array_equal(cdf, f.tensors["entropy.y.cdf"])
        np.testing.assert_array_equal(length, f.tensors["entropy.y.length"])
        np.testing.assert_array_equal(offset, f.tensors["entropy.y.offset"])
        np.testing.assert_array_equal(thr, f.tensors["entropy.y.scale_thresholds"])

    def test_gg_rows(self):
        """beta = 2 reproduces every Gaussian row; beta = 1.5 rows are valid and fit the C coder."""
        for s in E.scale_table():
            self.assertEqual(E.gg_row(s, 2.0), E.gaussian_row(s))
            cdf, off = E.gg_row(s, 1.5)
            self.assertLessEqual(len(cdf), 4096)  # LIC_CDF_MAX_LENGTH
            self.assertEqual(cdf[-1], 65536)
            self.assertTrue(all(b > a for a, b in zip(cdf, cdf[1:])))
            self.assertEqual(off, -((len(cdf) - 3) // 2))
        # heavier tails than the Gaussian of the same standard deviation: a wider row
        self.assertGreater(len(E.gg_row(10.0, 1.5)[0]), len(E.gaussian_row(10.0)[0]))

    def test_cdf_rules(self):
        cdf = E.cdf_from_pmf([0.5, 0.0, 0.5 - 1e-9, 0.0], 1e-12)
        self.assertEqual(cdf[0], 0)
        self.assertEqual(cdf[-1], 65536)
        self.assertEqual(len(cdf), 6)
        self.assertTrue(all(b > a for a, b in zip(cdf, cdf[1:])))  # zero-probability symbols get 1
        # largest remainder: three equal thirds -> 21846, 21845, 21845 (ties to the lowest index)
        self.assertEqual(E.cdf_from_pmf([1, 1, 1], 0.0)[:4], [0, 21845, 43690, 65535])

    def test_rejects_bad_pmf(self):
        with self.assertRaises(ValueError):
            E.cdf_from_pmf([0.5, float("nan")], 0.0)
        with self.assertRaises(ValueError):
            E.cdf_from_pmf([0.5, -0.1], 0.0)


class QuantizeTest(unittest.TestCase):
    def test_conv_layer_matches_float(self):
        torch.manual_seed(0)
        for transposed in (False, True):
            if transposed:
                L = torch.nn.ConvTranspose2d(6, 5, 5, 2, 2, output_padding=1)
            else:
                L = torch.nn.Conv2d(6, 5, 3, 1, 1)
            x = torch.randn(1, 6, 7, 7) * 3
            a_in, a_out = 9, 10
            (w, b, s), used = E.quantize_layer(L, np.full(6, a_in), a_out, transposed)
            self.assertEqual(used, a_out)
            self.assertTrue(np.all(s >= 1) and np.all(s <= 62))
            il = LM.IConv(6, 5, L.kernel_size[0], L.stride[0], transposed=transposed)
            il.load(w, b, s)
            xi = torch.round(x.double() * 2 ** a_in)
            yi = il(xi) / 2 ** a_out
            with torch.no_grad():
                yf = L(x).double()
            err = float((yi - yf).abs().max())
            self.assertLess(err, 0.01, "transposed=%s max error %g" % (transposed, err))

    def test_output_exponent_lowered_when_unreachable(self):
        L = torch.nn.Conv2d(2, 2, 1)
        with torch.no_grad():
            L.weight.fill_(1000.0)
        (w, b, s), used = E.quantize_layer(L, np.zeros(2), 20, False)
        self.assertLess(used, 20)
        self.assertGreaterEqual(int(s.min()), 1)
        with self.assertRaises(ValueError):
            E.quantize_layer(L, np.zeros(2), 20, False, fixed_out=True)


class ExportTest(unittest.TestCase):
    def test_export_reads_back_and_codes(self):
        torch.manual_seed(1)
        cfg = Config(N=8, M=24, groups=(8, 16), C_h=16, C_cc=8, C_sp=8, C_ep=16)
        model = TrainModel(cfg).eval()
        crops = (np.random.default_rng(0).random((2, 64, 64, 3)) * 255).astype(np.uint8)
        blob = E.export(model, crops, "test", log=lambda *a: None)
        lm = LM.LicModel.from_licw(blob)
        self.assertEqual(lm.arch.groups, [8, 16])
        self.assertEqual(lm.tables["gain.y"].shape, (8, 24))
        # the integer means/scales follow the float ones on the same latents
        x = torch.from_numpy(crops[:1]).permute(0, 3, 1, 2).float() / 255
        with torch.no_grad():
            y, z = lm.analysis(x, 1)
            rec = []
            lm.encode_latents(y, z, rec)
            med = model.eb.medians().view(1, -1, 1, 1)
            zq = torch.round(torch.round(z * 16) / 16 - torch.round(med * 16) / 16) + torch.round(med * 16) / 16
            H = model.h_s(zq)
            frec = []
            model.context(y, H, noise=False, record=frec)
        for k, pass_, mask, mu, idx, s in rec:  # every group and pass, at the pass's positions
            mu_f = frec[k][1][0]
            d = (mu / 256.0 - mu_f.double())[:, mask]
            self.assertLess(float(d.abs().max()), 0.05, "group %d pass %d" % (k, pass_))


class ArchTest(unittest.TestCase):
    def test_hp1_trains_and_exports(self):
        """lic-hp1 is lic-ctx1 without the channel context: no cc parameters, a training step that
        reaches every parameter of ep, and an export without C_cc or cc.* that reads back as LicHp1."""
        torch.manual_seed(2)
        cfg = Config(N=8, M=24, groups=(8, 16), C_h=16, C_cc=8, C_sp=8, C_ep=16)
        model = LM.LicHp1(cfg)
        self.assertFalse([n for n, _ in model.named_parameters() if n.startswith("cc.")])
        self.assertEqual(model.ep["1"].layers()[0].in_channels, 16 + 8)
        x = torch.rand(2, 3, 64, 64)
        out = model(x, 2)
        bpp = -(torch.log(out["lik_y"]).sum() + torch.log(out["lik_z"]).sum()) / (2 * 64 * 64)
        (bpp + ((out["x_hat"] - x) ** 2).mean()).backward()
        for n, p in model.named_parameters():
            if n.startswith(("ep.", "sp.", "h_s.", "g_a.", "g_s.")):
                self.assertIsNotNone(p.grad, n)
        crops = (np.random.default_rng(1).random((2, 64, 64, 3)) * 255).astype(np.uint8)
        blob = E.export(model.eval(), crops, "hp1", log=lambda *a: None)
        f = licw.parse(blob)
        self.assertEqual(f.kv["arch"], "lic-hp1")
        self.assertNotIn("C_cc", f.kv)
        self.assertFalse([n for n in f.tensors if n.startswith("cc.")])
        lm = LM.LicModel.from_licw(blob)
        self.assertIs(type(lm), LM.LicHp1)
        self.assertEqual(lm.to_licw_bytes(), blob)
        with self.assertRaises(ValueError):
            LM.LicCtx1.from_licw(blob)


if __name__ == "__main__":
    unittest.main()
