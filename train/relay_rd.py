"""Kodak RD of a relay leg's export: the lic-eval JSON of the leg against the shipped model's curve
(docs/rd/lic_kodak.json) and the classic-codec anchors, with scripts/rd_report's BD-rate (the same
PCHIP Bjontegaard as docs/RESULTS.md).

    /usr/bin/python3 train/relay_rd.py LEG.json [--ref docs/rd/lic_kodak.json] [--leg N]
"""

import argparse
import importlib.machinery
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFS = ("shipped", "webp", "jp2k", "hevc444")


def _rd_report():
    path = os.path.join(ROOT, "scripts", "rd_report")
    loader = importlib.machinery.SourceFileLoader("rd_report", path)
    spec = importlib.util.spec_from_loader("rd_report", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


R = _rd_report()


def load_points(path):
    c = R.load_lic(path)
    return sorted(zip(c.bpp.tolist(), c.psnr.tolist()))


def bd_vs_refs(pts, ref=os.path.join(ROOT, "docs", "rd", "lic_kodak.json"), anchors=os.path.join(R.SHARED, "anchors")):
    """{name: BD-rate %} of the points against the shipped model and the anchors in REFS."""
    b = [p[0] for p in pts]
    q = [p[1] for p in pts]
    out = {}
    s = R.load_lic(ref)
    out["shipped"] = R.bd_rate(s.bpp, s.psnr, b, q)
    for c in R.load_classic(anchors, "kodak", [k for k in REFS if k != "shipped"]):
        bb, pp, _ = c.window(0.05, 3.0)
        out[c.key] = R.bd_rate(bb, pp, b, q)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json")
    ap.add_argument("--ref", default=os.path.join(ROOT, "docs", "rd", "lic_kodak.json"))
    ap.add_argument("--leg", default="?")
    a = ap.parse_args(argv)
    pts = load_points(a.json)
    c = R.load_lic(a.json)
    print("leg %s, Kodak (%s images), lic-eval:" % (a.leg, c.n_images))
    for qq, (b, p) in zip(c.q, zip(c.bpp, c.psnr)):
        print("  q %3d  %.4f bpp  %.2f dB" % (qq, b, p))
    for k, v in bd_vs_refs(pts, a.ref).items():
        print("  BD-rate vs %-8s %+.1f %%" % (k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
