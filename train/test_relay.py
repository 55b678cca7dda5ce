"""Tests of the training relay (train/relay.py, train/packs.py) on a tiny model: a resumed leg
continues exactly where the uninterrupted one goes. Run:
/usr/bin/python3 -m unittest discover -s train -p "test_*.py"
"""

import os
import shutil
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import packs as P  # noqa: E402
import relay  # noqa: E402

K = 4  # steps of each half


def smooth_tiles(rng, n, t):
    """Photo-like enough tiles (smooth colour fields + noise) for lossless WebP and the codec."""
    yy, xx = np.mgrid[0:t, 0:t] / t
    out = np.empty((n, t, t, 3), np.uint8)
    for i in range(n):
        f = rng.uniform(1, 6, size=(3, 2))
        ph = rng.uniform(0, 6.3, size=3)
        img = [127 + 100 * np.sin(f[c, 0] * xx * 3 + f[c, 1] * yy * 3 + ph[c]) for c in range(3)]
        out[i] = np.clip(np.stack(img, -1) + rng.normal(0, 4, size=(t, t, 3)), 0, 255).astype(np.uint8)
    return out


class RelayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.tmp = tempfile.mkdtemp(prefix="lic_relay_")
        rng = np.random.default_rng(3)
        cls.pack = os.path.join(cls.tmp, "pack00.npz")
        cls.train = smooth_tiles(rng, 6, 96)
        P.pack_from_arrays(cls.pack, cls.train, smooth_tiles(rng, 2, 64))
        cls.ckpt0 = os.path.join(cls.tmp, "ckpt0.pt")
        relay.main(["leg", "--preset", "tiny", "--steps", "1", "--packs", cls.pack, "--device", "cpu",
                    "--threads", "1", "--batch", "2", "--crop", "64", "--log-every", "1000",
                    "--out", os.path.join(cls.tmp, "init")])
        shutil.copyfile(os.path.join(cls.tmp, "init", "ckpt.pt"), cls.ckpt0)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def leg(self, out, *extra, ckpt=None):
        relay.TRACE = []
        relay.main(["leg", "--ckpt", ckpt or self.ckpt0, "--packs", self.pack, "--device", "cpu", "--threads", "1",
                    "--batch", "2", "--crop", "64", "--log-every", "1000", "--rewarm", "3", "--lr", "1e-3",
                    "--out", os.path.join(self.tmp, out)] + list(extra))
        tr, relay.TRACE = relay.TRACE, None
        return tr

    def weights(self, out, name="ckpt.pt"):
        return torch.load(os.path.join(self.tmp, out, name), map_location="cpu")["model"]

    def test_pack_roundtrip(self):
        tr, va, info = P.load_pack(self.pack)
        np.testing.assert_array_equal(tr, self.train)  # lossless
        self.assertEqual(va.shape, (2, 64, 64, 3))
        self.assertEqual(info["count"], 6)

    def test_cut_batch_matches_numpy(self):
        plan, js = relay.plan_steps(1, 10, 1, 6, 96, 3, 64)
        x = relay.cut_batch(torch.from_numpy(self.train), torch.from_numpy(plan[0]), 64)
        for b, (i, oy, ox, fl) in enumerate(plan[0]):
            t = self.train[i, oy:oy + 64, ox:ox + 64]
            if fl:
                t = t[:, ::-1]
            np.testing.assert_array_equal((x[b].permute(1, 2, 0) * 255).round().byte().numpy(), t)

    def test_k_plus_k_equals_2k(self):
        # one leg of 2K steps (decay at 3/4 of it) ...
        whole = self.leg("whole", "--steps", str(2 * K), "--decay-frac", "0.25")
        # ... against K steps, the full checkpoint (with Adam's moments) kept, and K more from it
        a = self.leg("half", "--steps", str(2 * K), "--decay-frac", "0.25", "--stop-after", str(K), "--keep-full")
        b = self.leg("half", "--steps", str(2 * K), "--decay-frac", "0.25", "--resume-full")
        self.assertEqual(len(whole), 2 * K)
        self.assertEqual(a + b, whole)  # step, lr, data order (plan checksum) and quality index j
        for k, v in self.weights("whole").items():
            torch.testing.assert_close(self.weights("half")[k], v, rtol=0, atol=0, msg=k)
        st = torch.load(os.path.join(self.tmp, "half", "ckpt.pt"))["state"]
        self.assertEqual(st["step"], torch.load(self.ckpt0)["state"]["step"] + 2 * K)
        self.assertEqual(len(st["legs"]), 2)  # the init leg and this one, once

    def test_weights_only_resume(self):
        """The relay checkpoint (no moments) written mid-leg continues the same leg: same steps, data
        order and base schedule; the lr re-warms over --rewarm steps, so the weights differ."""
        whole = self.leg("w2", "--steps", str(2 * K), "--decay-frac", "0.25")
        a = self.leg("w1", "--steps", str(2 * K), "--decay-frac", "0.25", "--stop-after", str(K))
        st = torch.load(os.path.join(self.tmp, "w1", "ckpt.pt"))["state"]
        self.assertIsNotNone(st["leg"])  # still open
        b = self.leg("w1b", "--steps", str(2 * K), "--decay-frac", "0.25", ckpt=os.path.join(self.tmp, "w1", "ckpt.pt"))
        ab = a + b
        self.assertEqual([t[0] for t in ab], [t[0] for t in whole])  # steps
        self.assertEqual([t[3:] for t in ab], [t[3:] for t in whole])  # data order and j
        self.assertEqual([t[2] for t in ab], [t[2] for t in whole])  # base lr schedule incl. decay
        self.assertEqual([t[1] for t in ab[:K]], [t[1] for t in whole[:K]])
        self.assertLess(b[0][1], b[0][2])  # re-warm after the weights-only restart
        st = torch.load(os.path.join(self.tmp, "w1b", "ckpt.pt"))["state"]
        self.assertIsNone(st["leg"])
        self.assertEqual(st["legs"][-1]["end"] - st["legs"][-1]["start"], 2 * K)

    def test_compiled_step_falls_back_to_eager(self):
        """A compiled step that fails at run time is logged and replaced by the eager step."""
        model, _ = relay.load_relay(self.ckpt0)
        tr = relay.Trainer(model, torch.device("cpu"), False, "none", 0.85, 1.0, 1e-3, None)

        def broken(*a):
            raise RuntimeError("capture failed")

        tr.fn, tr.mode = broken, "compile:test"
        x = torch.rand(2, 3, 64, 64)
        loss, bpp, mse = tr.step(x, torch.tensor(3), 1e-4)
        self.assertEqual(tr.mode, "eager")
        self.assertTrue(torch.isfinite(loss))

    def test_checkpoint_is_fp32_weights_only(self):
        ck = torch.load(self.ckpt0)
        self.assertEqual(ck["format"], relay.FORMAT)
        self.assertNotIn("opt", ck)
        for k, v in ck["model"].items():
            if v.is_floating_point():
                self.assertEqual(v.dtype, torch.float32, k)


if __name__ == "__main__":
    unittest.main()
