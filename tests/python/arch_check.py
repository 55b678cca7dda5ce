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
* data flow: the buffer views of the C ops and coding steps (lic-oplist prints them) carry the Python
  run's data: every op reads the same channels of the same producers (or of the image, z-hat, the
  coded y-hat' / context values / anchors, zeros) at the same scale and writes at the same scale, a
  step codes with all of its last layer's output, and the views the engine takes y, z and the
  reconstruction from hold the Python transforms' outputs. Buffers are compared up to renaming: a
  view at a wrong buffer, channel offset or count, or scale fails;
* export: a tiny random model of each class, exported by train/export.py, loads in C (lic-oplist: the
  builder's checks), has the same schedule, and lic-encode codes an image with exactly the z/y
  symbols and (mean, scale index) pairs of the Python integer path (the stats hashes); the lic-hp1
  export also passes test_arch (the C round trip: the decoder sees the encoder's symbols and
  parameters at several sizes and qualities), and the Python decoder rebuilds y-hat' from the
  symbols;
* lic-mkmodel's default preset has the keys and tensor shapes of the shipped models/default.licw.
Any mismatch or tool failure exits non-zero.
"""

import math
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
import licw  # noqa: E402


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
        f = line.split(" @ ")[0].split()  # the views after "@" are c_dataflow's
        if not f or f[0] in ("izero", "io"):
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


# ---- data flow through the buffer views ----
#
# The views of both builders are compared through what they mean: for every op, which channels of
# which earlier op's output (or of an input the engine provides) it reads, at which scale, and at
# which scale it writes. A label is (source, channel): source is the index of the producing event in
# the event lists above, "ext" (the image, or y-hat given to the synthesis), "zhat", what a coding
# step writes ("yq": y-hat' in 1/256 units, "yctx": y-hat in context format, "anchor": the group's
# anchors in context format) or "zero". Buffer ids drop out (a renaming of buffers
# changes nothing), but a view at a wrong buffer, channel offset, count or scale reads other labels.


def segments(labels):
    """Per-channel labels as runs (source, first channel, count); "zero" runs have no channel."""
    out = []
    for src, ch in labels:
        if out and out[-1][0] == src and (ch is None or out[-1][1] + out[-1][2] == ch):
            out[-1][2] += 1
        else:
            out.append([src, ch, 1])
    return [tuple(r) for r in out]


def c_dataflow(oplist, path):
    """Simulates lic-oplist's op lists over channel labels of the C buffers. Returns (float records,
    schedule records): per op that reads, (event index, input runs, input scale, output scale); per
    code_y step, (event index, "params", runs of its params view, scale, 2 x its channels fit it);
    and the views by role after the float transforms (runs and scale) as a dict."""
    out = subprocess.run([oplist, path], check=True, capture_output=True, text=True).stdout.split("\n")
    io, flt, sched = {}, [], []
    state = {}  # (buf, channel) -> label

    def view(f):
        return tuple(int(v) for v in f)

    def read(v):
        return [state.get((v[0], v[1] + i), ("undef", None)) for i in range(v[2])]

    def write(v, labels):
        for i, lab in enumerate(labels):
            state[(v[0], v[1] + i)] = lab

    def fill(role, src):
        v = io[role]
        write(v, [(src, i) for i in range(v[2])])

    n_flt, n_ev, pending, current, ends = 0, 0, None, None, {}

    def end_range():
        # what the engine takes from each float transform (views by role)
        roles = {"analysis": ("y", "z"), "synthesis": ("x_out",)}.get(current, ())
        ends.update((r, (segments(read(io[r])), io[r][3])) for r in roles)

    def finish_step():
        nonlocal n_ev
        kind, args, params, anchors = pending
        if kind == "code_z":
            fill("zhat", "zhat")
        if kind == "run":
            return
        if kind == "code_y":
            c0, c = args[0], args[1]
            # the parameters the step codes with are the whole output of its last integer layer
            sched.append((n_ev, "params", segments(read(params)), params[3], c == params[2] // 2))
            for role in ("yq", "yctx"):
                v = io[role]
                write((v[0], v[1] + c0, c, v[3]), [(role, c0 + i) for i in range(c)])
            if anchors[2]:
                write(anchors, [("anchor", c0 + i) for i in range(anchors[2])])
        n_ev += 1

    for line in out[1:]:
        if not line:
            continue
        head, _, tail = line.partition(" @ ")
        f, v = head.split(), tail.split()
        if f[0] == "io":
            io[f[1]] = view(f[2:6])
        elif f[0] == "range":
            end_range()
            state = {}
            fill("x" if f[1] == "analysis" else "y", "ext")
            current = f[1]
            flt.append(None)
            n_flt += 1
        elif f[0] == "step":
            if pending:
                finish_step()
            if f[1] == "code_z":
                end_range()
                state = {}
            pending = (f[1], [int(a) for a in f[2:]], view(v[0:4]), view(v[4:8]))
        elif f[0] == "izero":
            o = view(v[4:8])
            write(o, [("zero", None)] * o[2])
        else:
            i, o = view(v[0:4]), view(v[4:8])
            idx = n_ev if f[0] == "iconv" else n_flt
            rec = (idx, segments(read(i)), i[3], o[3])
            write(o, [(idx, c) for c in range(o[2])])
            if f[0] == "iconv":
                sched.append(rec)
                n_ev += 1
            else:
                flt.append(rec)
                n_flt += 1
    if pending:
        finish_step()
    return [r for r in flt if r], sched, ends


class _Labels:
    """Channel labels of the Python run's tensors, by storage (references are kept so that a freed
    storage's address is not reused by an unlabelled tensor)."""

    def __init__(self, size):
        self.by_storage, self.keep, self.size = {}, [], size

    @staticmethod
    def _where(t):
        ch0 = t.storage_offset() // t.stride(-3) if t.shape[-3] > 1 else t.storage_offset() // max(
            1, t.shape[-1] * t.shape[-2])
        return t.storage().data_ptr(), ch0, t.shape[-3]

    def read(self, t):
        key, ch0, c = self._where(t)
        labs = self.by_storage.get(key, {})
        return [labs.get(ch0 + i, ("ext", i)) for i in range(c)]

    def write(self, t, labels):
        key, ch0, _ = self._where(t)
        self.keep.append(t)
        labs = self.by_storage.setdefault(key, {})
        for i, lab in enumerate(labels):
            labs[ch0 + i] = lab

    def scale(self, t):
        return int(round(math.log2(self.size / t.shape[-2])))

    def op(self, idx, x, y):
        """Event idx reads x and writes y: its record, and y labelled as its output."""
        rec = (idx, segments(self.read(x)), self.scale(x), self.scale(y))
        self.write(y, [(idx, c) for c in range(y.shape[-3])])
        return rec


class _ScheduleOps(TorchFunctionMode):
    """Carries labels through the integer path's tensor plumbing: torch.cat (concatenated labels),
    torch.zeros ("zero"), and (setitem) item assignment into the y-hat buffers and the anchors
    (anchors are indexed within the current group)."""

    def __init__(self, labels, group_c0):
        super().__init__()
        self.labels, self.group_c0 = labels, group_c0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        r = func(*args, **kwargs)
        if func is torch.cat:
            labs = [lab for t in args[0] for lab in self.labels.read(t)]
            self.labels.write(r, labs)
        elif func is torch.zeros and r.dim() >= 3:
            self.labels.write(r, [("zero", None)] * r.shape[-3])
        return r

    def setitem(self, t, key, value):
        """Item assignment (patched into torch.Tensor while tracing: an integer key bypasses the
        function mode)."""
        torch._C._TensorBase.__setitem__(t, key, value)
        dst = t[key]
        ptr, ch0, c = self.labels._where(dst)
        if isinstance(key, int):  # anchors[0]: the current group's channels
            self.labels.write(dst, [("anchor", self.group_c0[0] + i) for i in range(c)])
        else:  # y-hat' or y-hat in context format; which one is known when the run returns y-hat'
            self.labels.write(dst, [(("coded", ptr), ch0 + i) for i in range(c)])


class _FunctionalOps(TorchFunctionMode):
    """Records the functional ops of the float transforms: leaky ReLU (slope in 1/256) and pixel
    shuffle, with their data flow."""

    def __init__(self, events, records, labels):
        super().__init__()
        self.events, self.records, self.labels = events, records, labels

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        r = func(*args, **kwargs)
        if func is F.leaky_relu:
            slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
            ev = ("leaky_relu", int(round(slope * 256)))
        elif func is F.pixel_shuffle:
            ev = ("pixel_shuffle",)
        else:
            return r
        self.records.append(self.labels.op(len(self.events), args[0], r))
        self.events.append(ev)
        return r


def python_float_events(m, size=64):
    """The Python float transforms' run order on a zero image (analysis at q 50, then synthesis), their
    data flow records (as c_dataflow's) and the runs and scales of y, z and the synthesis output."""
    events, records, hooks, labels = [], [], [], _Labels(size)

    def record(ev, x, y):
        records.append(labels.op(len(events), x, y))
        events.append(ev)

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
        hooks.append(mod.register_forward_hook(lambda mod, i, o, ev=ev: record(ev, i[0], o)))
    g_a_out = []
    hooks.append(m.g_a.register_forward_hook(lambda mod, i, o: g_a_out.append(o)))
    # the gain: y' = g_a(x) * gain, as h_a receives it
    hooks.append(m.h_a.register_forward_pre_hook(lambda mod, i: record(("gain",), g_a_out[-1], i[0])))
    try:
        with torch.no_grad(), _FunctionalOps(events, records, labels):
            events.append(("range", "analysis"))
            y, z = m.analysis(torch.zeros(1, 3, size, size), 50)
            events.append(("range", "synthesis"))
            x_out = m.synthesis(torch.zeros(1, m.arch.M, size // 16, size // 16, dtype=torch.float64), 50)
    finally:
        for h in hooks:
            h.remove()
    ends = {r: (segments(labels.read(t)), labels.scale(t)) for r, t in (("y", y), ("z", z), ("x_out", x_out))}
    return events, records, ends


def python_events(m, size=64):
    """The Python integer path's run order on a zero image: code_z, each integer layer (name, cin,
    cout, k, stride, transposed, relu, out_bits) as it runs, each (c0, c, pass) as it is coded; and its
    data flow records (as c_dataflow's)."""
    events, records, labels = [], [], _Labels(size)
    a = m.arch
    group_c0 = [0]
    names = {id(L): n for n, L in m.iconv.items()}

    def on_iconv(mod, i, o):
        name = names[id(mod)]
        if not name.startswith("h_s."):
            group_c0[0] = a.group_starts()[int(name.split(".")[1])]
        records.append(labels.op(len(events), i[0], o))
        events.append(("iconv", name, mod.cin, mod.cout, mod.k, mod.stride, int(mod.transposed), int(mod.relu),
                       mod.out_bits))

    hooks = [L.register_forward_hook(on_iconv) for L in m.iconv.values()]
    quantize_z = m.quantize_z

    def traced_quantize_z(z):
        events.append(("code_z",))
        zs, zhat = quantize_z(z)
        labels.write(zhat, [("zhat", c) for c in range(zhat.shape[-3])])
        return zs, zhat

    m.quantize_z = traced_quantize_z
    own_setitem = torch.Tensor.__dict__.get("__setitem__")
    try:
        y = torch.zeros(1, a.M, size // 16, size // 16)
        z = torch.zeros(1, a.N, size // 64, size // 64)

        class Rec(list):
            def append(self, item):
                k, pass_, mu = item[0], item[1], item[3]
                g = a.groups[k]
                # mu is the first half of the parameter tensor (means, then scales)
                labs = labels.by_storage.get(mu.storage().data_ptr(), {})
                params = [labs.get(c, ("undef", None)) for c in range(2 * g)]
                records.append((len(events), "params", segments(params), labels.scale(mu), True))
                events.append(("code_y", a.group_starts()[k], g, pass_))
                super().append(item)

        mode = _ScheduleOps(labels, group_c0)
        torch.Tensor.__setitem__ = lambda t, key, value: mode.setitem(t, key, value)
        with torch.no_grad(), mode:
            _, yq = m.encode_latents(y, z, Rec())
    finally:
        if own_setitem is None and "__setitem__" in torch.Tensor.__dict__:
            del torch.Tensor.__setitem__
        else:
            torch.Tensor.__setitem__ = own_setitem
        del m.quantize_z
        for h in hooks:
            h.remove()
    yq_ptr = yq.storage().data_ptr()

    def role(src):
        return ("yq" if src[1] == yq_ptr else "yctx") if isinstance(src, tuple) else src

    records = [r[:1] + ([(role(src), ch, n) for src, ch, n in r[1]],) + r[2:] if r[1] != "params" else r
               for r in records]
    return events, records


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
    pf, pf_flow, p_ends = python_float_events(m)
    ps, ps_flow = python_events(m)
    same("%s: C analysis and synthesis op lists (%d ops) equal the Python float run order" % (m.ARCH, len(cf)),
         cf, pf)
    same("%s: C schedule (%d events, %d integer layers) equals the Python run order"
         % (m.ARCH, len(ce), sum(e[0] == "iconv" for e in ce)), ce, ps)
    cf_flow, cs_flow, c_ends = c_dataflow(oplist, path)
    same("%s: the float ops' views carry the Python data flow (sources, channels, scales)" % m.ARCH,
         cf_flow, pf_flow)
    check(c_ends == p_ends, "%s: the views by role (y, z, x_out) hold the Python transforms' outputs" % m.ARCH)
    same("%s: the integer ops' and coding steps' views carry the Python data flow" % m.ARCH, cs_flow, ps_flow)
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


def check_default_preset(mkmodel, tmp):
    """lic-mkmodel --preset default (what a build without models/default.licw embeds) has the shipped
    model's keys and tensor shapes; only the z CDF table's row stride differs, which the trained z
    density sets."""
    shipped = os.path.join(ROOT, "models", "default.licw")
    if not os.path.exists(shipped):
        print("skip: no models/default.licw")
        return
    path = os.path.join(tmp, "preset-default.licw")
    subprocess.run([mkmodel, "--preset", "default", "-o", path], check=True)
    a, b = licw.read(shipped), licw.read(path)
    keys = [{k: v for k, v in f.kv.items() if k != "description"} for f in (a, b)]
    check(keys[0] == keys[1], "lic-mkmodel --preset default has the shipped model's keys (%s)" % keys[1])
    shapes = [{n: (t.dtype, t.shape) for n, t in f.tensors.items() if n != "entropy.z.cdf"} for f in (a, b)]
    check(shapes[0] == shapes[1], "lic-mkmodel --preset default has the shipped model's tensors and shapes")


def main():
    oplist, mkmodel, encode, test_arch = sys.argv[1:5]
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        check_default_preset(mkmodel, tmp)
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
