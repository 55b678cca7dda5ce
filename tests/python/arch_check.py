"""The Python model definition (train/lic_model.py) against the C builders (codec/arch_ctx.c), for
every architecture (lic-ctx1, lic-hp1); run by ctest as python_arch with the paths of the C tools:

    python3 tests/python/arch_check.py LIC_OPLIST LIC_MKMODEL LIC_ENCODE TEST_ARCH

* op lists: for a tiny untrained model of each architecture written by lic-mkmodel, the Python class
  reads it back byte-identically; the order in which its float transforms run (each conv and GDN by
  name and shape, leaky ReLU slopes, pixel shuffles, the gain) equals the C analysis and synthesis
  op lists, and the order in which its integer path runs (code z; each integer layer by name and
  shape; each channel group x checkerboard pass it codes) equals the C coding schedule, both as
  lic-oplist prints them (C's "izero" ops, which clear the anchor buffer, are left out: the Python
  path starts from fresh zero anchors);
* export: a tiny random model of each class, exported by train/export.py, loads in C (lic-oplist: the
  builder's checks), has the same schedule, and lic-encode codes an image with exactly the z/y
  symbols and (mean, scale index) pairs of the Python integer path (the stats hashes); the lic-hp1
  export also passes test_arch (the C round trip: the decoder sees the encoder's symbols and
  parameters at several sizes and qualities), and the Python decoder rebuilds y-hat' from the
  symbols.
Any mismatch or tool failure exits non-zero.
"""

import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.overrides import TorchFunctionMode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "train"))
import export as E  # noqa: E402
import lic_model as LM  # noqa: E402


def c_events(oplist, path):
    """lic-oplist's output as (arch, float events, schedule events), each in run order; in the
    schedule a step's integer layers come before what it codes."""
    out = subprocess.run([oplist, path], check=True, capture_output=True, text=True).stdout.split("\n")
    arch = out[0].split()[1]
    flt, events, pending = [], [], None

    def parse(f):
        return (f[0],) + tuple(v if i == 0 and f[0] in ("conv", "gdn", "iconv", "range") else int(v)
                               for i, v in enumerate(f[1:]))

    for line in out[1:]:
        f = line.split()
        if not f or f[0] == "izero":
            continue
        if f[0] == "step":
            if pending:
                events.append(pending)
            pending = None if f[1] == "run" else tuple([f[1]] + [int(v) for v in f[2:]])
        elif f[0] == "iconv":
            events.append(parse(f))
        else:
            flt.append(parse(f))
    if pending:
        events.append(pending)
    return arch, flt, events


class _FunctionalOps(TorchFunctionMode):
    """Records the functional ops of the float transforms: leaky ReLU (slope in 1/256) and pixel
    shuffle."""

    def __init__(self, events):
        super().__init__()
        self.events = events

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.leaky_relu:
            slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
            self.events.append(("leaky_relu", int(round(slope * 256))))
        elif func is F.pixel_shuffle:
            self.events.append(("pixel_shuffle",))
        return func(*args, **kwargs)


def python_float_events(m, size=64):
    """The Python float transforms' run order on a zero image (analysis at q 50, then synthesis)."""
    events, hooks = [], []
    for name, mod in m.named_modules():
        if name.split(".")[0] not in ("g_a", "h_a", "g_s"):
            continue
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            ev = ("conv", name, mod.in_channels, mod.out_channels, mod.kernel_size[0], mod.stride[0],
                  int(isinstance(mod, nn.ConvTranspose2d)))
        elif isinstance(mod, LM.GDN):
            ev = ("gdn", name, mod.effective()[0].shape[0], int(mod.inverse))
        else:
            continue
        hooks.append(mod.register_forward_hook(lambda mod, i, o, ev=ev: events.append(ev)))
    hooks.append(m.h_a.register_forward_pre_hook(lambda mod, i: events.append(("gain",))))
    try:
        with torch.no_grad(), _FunctionalOps(events):
            events.append(("range", "analysis"))
            m.analysis(torch.zeros(1, 3, size, size), 50)
            events.append(("range", "synthesis"))
            m.synthesis(torch.zeros(1, m.arch.M, size // 16, size // 16, dtype=torch.float64), 50)
    finally:
        for h in hooks:
            h.remove()
    return events


def python_events(m, size=64):
    """The Python integer path's run order on a zero image: code_z, each integer layer (name, cin,
    cout, k, stride, transposed, relu, out_bits) as it runs, each (c0, c, pass) as it is coded."""
    events = []
    names = {id(L): n for n, L in m.iconv.items()}
    hooks = [L.register_forward_hook(lambda mod, i, o: events.append(
        ("iconv", names[id(mod)], mod.cin, mod.cout, mod.k, mod.stride, int(mod.transposed), int(mod.relu),
         mod.out_bits))) for L in m.iconv.values()]
    quantize_z = m.quantize_z

    def traced_quantize_z(z):
        events.append(("code_z",))
        return quantize_z(z)

    m.quantize_z = traced_quantize_z
    try:
        a = m.arch
        y = torch.zeros(1, a.M, size // 16, size // 16)
        z = torch.zeros(1, a.N, size // 64, size // 64)

        class Rec(list):
            def append(self, item):
                k, pass_ = item[0], item[1]
                events.append(("code_y", a.group_starts()[k], a.groups[k], pass_))
                super().append(item)

        with torch.no_grad():
            m.encode_latents(y, z, Rec())
    finally:
        del m.quantize_z
        for h in hooks:
            h.remove()
    return events


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok:", what)


def same(what, ce, pe):
    if ce != pe:
        for i, (c, p) in enumerate(zip(ce + [None] * len(pe), pe + [None] * len(ce))):
            if c != p:
                print("first difference at event %d: C %s, Python %s" % (i, c, p))
                break
    check(ce == pe, what)


def check_schedule(oplist, path, m):
    arch, cf, ce = c_events(oplist, path)
    check(arch == m.ARCH, "%s: C builds arch %s" % (m.ARCH, arch))
    same("%s: C analysis and synthesis op lists (%d ops) equal the Python float run order" % (m.ARCH, len(cf)),
         cf, python_float_events(m))
    same("%s: C schedule (%d events, %d integer layers) equals the Python run order"
         % (m.ARCH, len(ce), sum(e[0] == "iconv" for e in ce)), ce, python_events(m))
    check(sorted(set(e[1] for e in ce if e[0] == "iconv")) == sorted(s.name for s in m.layer_table()),
          "%s: the layers C runs are those of the Python layer table" % m.ARCH)


def encode_hashes(encode, model_path, png, q, tmp):
    r = subprocess.run([encode, png, "-o", os.path.join(tmp, "x.lic"), "-q", str(q), "--model", model_path, "-v"],
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit("FAIL: lic-encode: %s" % r.stderr)
    m = re.search(r"symbols hash ([0-9a-f]{16}), params hash ([0-9a-f]{16})", r.stderr)
    check(m is not None, "lic-encode prints the stats hashes")
    return int(m.group(1), 16), int(m.group(2), 16)


def main():
    oplist, mkmodel, encode, test_arch = sys.argv[1:5]
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(3)
        rgb = (rng.random((70, 90, 3)) * 255).astype(np.uint8)
        png = os.path.join(tmp, "img.png")
        Image.fromarray(rgb).save(png)
        for cls in (LM.LicCtx1, LM.LicHp1):
            # the C tool's untrained models (both g_s variants): read back byte-identically, same op lists
            for gs_up in (0, 1):
                path = os.path.join(tmp, "%s-mk%d.licw" % (cls.ARCH, gs_up))
                subprocess.run([mkmodel, "--preset", "tiny", "--arch", cls.ARCH, "--gs-up", str(gs_up), "-o", path],
                               check=True)
                m = LM.LicModel.from_licw(path)
                check(type(m) is cls and m.arch.gs_up == gs_up,
                      "%s: lic-mkmodel's file (gs_up %d) reads as %s" % (cls.ARCH, gs_up, cls.__name__))
                with open(path, "rb") as f:
                    check(m.to_licw_bytes() == f.read(), "%s: read and written back byte-identically" % cls.ARCH)
                check_schedule(oplist, path, m)
            # a tiny random model of the class, exported from its training form
            torch.manual_seed(7)
            cfg = LM.Config(N=8, M=24, groups=(4, 8, 12), C_h=16, C_cc=8, C_sp=8, C_ep=16)
            crops = (rng.random((2, 64, 64, 3)) * 255).astype(np.uint8)
            blob = E.export(cls(cfg).eval(), crops, "arch_check " + cls.ARCH, log=lambda *a: None)
            path = os.path.join(tmp, cls.ARCH + "-export.licw")
            with open(path, "wb") as f:
                f.write(blob)
            m = LM.LicModel.from_licw(path)
            check(type(m) is cls and m.to_licw_bytes() == blob, "%s: export reads back" % cls.ARCH)
            check_schedule(oplist, path, m)
            for q in (20, 80):
                c_hash = encode_hashes(encode, path, png, q, tmp)
                x = LM.image_to_tensor(rgb)
                rec = []
                with torch.no_grad():
                    y, z = m.analysis(x, q)
                    zs, yq = m.encode_latents(y, z, rec)
                order = LM.coding_order(rec)
                check(LM.stream_hashes(zs, order) == c_hash,
                      "%s export, q %d: C symbols and parameters equal the Python integer path's" % (cls.ARCH, q))
                yq2 = m.decode_latents(zs, order["y_symbols"], yq.shape[2], yq.shape[3])
                check(torch.equal(yq, yq2), "%s export, q %d: the Python decoder rebuilds y-hat'" % (cls.ARCH, q))
            if cls is LM.LicHp1:
                r = subprocess.run([test_arch, path], capture_output=True, text=True)
                sys.stdout.write(r.stdout[-2000:] + r.stderr[-2000:])
                check(r.returncode == 0, "lic-hp1 export: test_arch (C round trip) passes")
    print("arch_check: all passed")


if __name__ == "__main__":
    main()
