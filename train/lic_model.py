"""The lic-ctx1 architecture (docs/FORMAT.md §1.2-1.3) in PyTorch.

Two halves, as in the C codec (codec/engine.c):

* float transforms g_a, h_a, g_s: ordinary nn.Modules (float32), trainable later. Their parameter
  names are the .licw tensor names (g_a.0.weight, g_a.gdn0.beta, g_s.igdn2.gamma, ...), as are the
  integer layers' buffers (h_s.0.weight, cc.1.0.shift, ...; float64 holding the integers).
  GDN/IGDN hold the *effective* beta and gamma (y = x / sqrt(beta + conv1x1(x^2, gamma))); a
  training reparametrization belongs on top.
* the integer probability path (h_s, channel/spatial context, parameter networks, z/y quantization,
  scale index): executed exactly. Tensors are float64 holding integers. |w|, |x| <= 2^15 and a
  fan-in of at most 4096 * 7 * 7 (the limits of lic_iconv_validate) keep |acc| < 2^48 plus a bias
  below 2^31, so every product and partial sum is an exactly representable integer: conv2d and
  conv_transpose2d in float64 are exact whatever the summation order, BLAS or thread count. The
  rounding shift floor((acc + 2^(s-1)) / 2^s) is exact as well (for s > 53 both it and the integer
  result are 0). The C side computes the same integers in int64 (transforms/ilayers.h), so means,
  scale indexes and symbols agree bit for bit given the same z and y'.

Tensor layout is NCHW with N = 1 throughout; the integer path works on one image.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from . import licw as licw_io
except ImportError:  # run as a plain module from train/ or with train/ on sys.path
    import licw as licw_io

ARCH = "lic-ctx1"
SYMBOL_LIMIT = 1 << 22      # |symbol| bound of the coder (keeps s * 256 + mean inside int32)
PAD_MULTIPLE = 64           # the image is padded so that z has an integer size (16 * 4)
FNV_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


# ---------------------------------------------------------------------------------------------
# architecture keys

class Arch:
    """The architecture keys of a lic-ctx1 .licw, range-checked like codec/model.c."""

    INT_KEYS = {  # key: (lo, hi)
        "N": (1, 1024), "M": (1, 1024), "C_h": (1, 1024), "C_cc": (1, 1024), "C_sp": (1, 1024),
        "C_ep": (1, 1024), "gs_up": (0, 1), "relu_slope_q8": (0, 255), "z_frac_bits": (0, 8),
        "yctx_frac_bits": (0, 7), "n_gains": (1, 64),
    }

    def __init__(self, kv):
        if kv.get("arch") != ARCH:
            raise ValueError("arch is %r, expected %r" % (kv.get("arch"), ARCH))
        for key, (lo, hi) in self.INT_KEYS.items():
            v = kv.get(key)
            if not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError("key %s = %r not an int in %d..%d" % (key, v, lo, hi))
            setattr(self, key, v)
        try:
            self.groups = [int(s) for s in str(kv.get("groups", "")).split(",")]
        except ValueError:
            raise ValueError("groups %r is not a list of ints" % kv.get("groups"))
        if not 1 <= len(self.groups) <= 8 or min(self.groups) < 1 or sum(self.groups) != self.M:
            raise ValueError("groups %r must be 1..8 positive counts summing to M=%d"
                             % (self.groups, self.M))
        self.description = kv.get("description")

    def kv(self):
        out = {"arch": ARCH}
        if self.description is not None:
            out["description"] = self.description
        for key in ("N", "M", "C_h", "C_cc", "C_sp", "C_ep"):
            out[key] = getattr(self, key)
        out["groups"] = ",".join(str(g) for g in self.groups)
        for key in ("gs_up", "relu_slope_q8", "z_frac_bits", "yctx_frac_bits", "n_gains"):
            out[key] = getattr(self, key)
        return out

    def group_starts(self):
        return [sum(self.groups[:k]) for k in range(len(self.groups))]


# ---------------------------------------------------------------------------------------------
# float transforms

def _use_mkldnn(x):
    """oneDNN fast path for float32 CPU inference (no autograd through it)."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and hasattr(torch, "mkldnn_convolution") and torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled)


class GDN(nn.Module):
    """GDN / IGDN with effective parameters: y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)
    (IGDN multiplies). gamma is [out i][in j] like a 1x1 conv."""

    def __init__(self, c, inverse=False):
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(c))
        self.gamma = nn.Parameter(0.1 * torch.eye(c))

    def forward(self, x):
        c = self.beta.shape[0]
        w = self.gamma.view(c, c, 1, 1)
        x2 = x * x
        if _use_mkldnn(x2):
            # PyTorch 1.13 sends 1x1 convs to its im2col+BLAS path when single-threaded; with
            # Debian's reference BLAS that is ~15x slower than oneDNN here. Same math, inference only.
            s = torch.mkldnn_convolution(x2, w.contiguous(), self.beta, [0, 0], [1, 1], [1, 1], 1)
        else:
            s = F.conv2d(x2, w, self.beta)
        norm = torch.sqrt(s)
        return x * norm if self.inverse else x / norm


class _Named(nn.Module):
    """A module whose children are named like the .licw tensors ("0", "gdn0", ...)."""

    def add(self, name, m):
        self.add_module(name, m)
        return m


class GAnalysis(_Named):
    """g_a: four 5x5 stride-2 convs 3->N->N->N->M, GDN after the first three."""

    def __init__(self, N, M):
        super().__init__()
        chans = [3, N, N, N, M]
        self.convs = [self.add(str(i), nn.Conv2d(chans[i], chans[i + 1], 5, 2, 2)) for i in range(4)]
        self.gdns = [self.add("gdn%d" % i, GDN(N)) for i in range(3)]

    def forward(self, x):
        for i in range(4):
            x = self.convs[i](x)
            if i < 3:
                x = self.gdns[i](x)
        return x


class HAnalysis(_Named):
    """h_a: 3x3 s1 M->N, leaky ReLU, 5x5 s2 N->N, leaky ReLU, 5x5 s2 N->N."""

    def __init__(self, N, M, slope):
        super().__init__()
        self.slope = slope
        self.convs = [self.add("0", nn.Conv2d(M, N, 3, 1, 1)), self.add("1", nn.Conv2d(N, N, 5, 2, 2)),
                      self.add("2", nn.Conv2d(N, N, 5, 2, 2))]

    def forward(self, x):
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < 2:
                x = F.leaky_relu(x, self.slope)
        return x


class GSynthesis(_Named):
    """g_s: M->N->N->N->3, IGDN after the first three. gs_up 0: 5x5 stride-2 transposed convs
    (padding 2, output_padding 1); gs_up 1: 3x3 conv to 4*C_out, then PixelShuffle(2)."""

    def __init__(self, N, M, gs_up):
        super().__init__()
        self.gs_up = gs_up
        chans = [M, N, N, N, 3]
        self.convs = []
        for i in range(4):
            if gs_up == 0:
                conv = nn.ConvTranspose2d(chans[i], chans[i + 1], 5, 2, 2, output_padding=1)
            else:
                conv = nn.Conv2d(chans[i], 4 * chans[i + 1], 3, 1, 1)
            self.convs.append(self.add(str(i), conv))
        self.igdns = [self.add("igdn%d" % i, GDN(N, inverse=True)) for i in range(3)]

    def forward(self, x):
        for i in range(4):
            x = self.convs[i](x)
            if self.gs_up == 1:
                x = F.pixel_shuffle(x, 2)
            if i < 3:
                x = self.igdns[i](x)
        return x


# ---------------------------------------------------------------------------------------------
# integer layers

def rshift_round(acc, shift_pow, shift_half):
    """floor((acc + 2^(s-1)) / 2^s) per output channel; exact in float64 (see module doc)."""
    return torch.floor((acc + shift_half) / shift_pow)


class IConv(nn.Module):
    """One integer layer of transforms/ilayers.h: int16 weight, int32 bias (accumulator units),
    per-channel rounding shift, optional integer leaky ReLU, clamp to out_bits. Buffers are float64
    holding integers; the input must be float64 holding integers in int16 range."""

    def __init__(self, cin, cout, k, stride=1, transposed=False, relu=False, slope_q8=0, out_bits=16):
        super().__init__()
        self.cin, self.cout, self.k, self.stride = cin, cout, k, stride
        self.transposed, self.relu, self.out_bits = transposed, relu, out_bits
        self.slope_q8 = slope_q8 if relu else 0
        shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
        self.register_buffer("weight", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("bias", torch.zeros(cout, dtype=torch.float64))
        self.register_buffer("shift", torch.ones(cout, dtype=torch.float64))

    def load(self, weight, bias, shift):
        """Sets the integer constants from numpy arrays (int16, int32, int32) and checks them like
        lic_iconv_validate (shapes, shift 1..62)."""
        weight, bias, shift = np.asarray(weight), np.asarray(bias), np.asarray(shift)
        if weight.shape != tuple(self.weight.shape) or bias.shape != (self.cout,) or shift.shape != (self.cout,):
            raise ValueError("integer layer: shapes %s %s %s, expected %s"
                             % (weight.shape, bias.shape, shift.shape, tuple(self.weight.shape)))
        if weight.dtype != np.int16 or bias.dtype != np.int32 or shift.dtype != np.int32:
            raise ValueError("integer layer: dtypes must be int16/int32/int32")
        if shift.min() < 1 or shift.max() > 62:
            raise ValueError("integer layer: shift outside 1..62")
        self.weight.copy_(torch.from_numpy(weight.astype(np.float64)))
        self.bias.copy_(torch.from_numpy(bias.astype(np.float64)))
        self.shift.copy_(torch.from_numpy(shift.astype(np.float64)))

    def arrays(self):
        """The constants as (int16 weight, int32 bias, int32 shift) numpy arrays, for export."""
        return (self.weight.numpy().astype(np.int16), self.bias.numpy().astype(np.int32),
                self.shift.numpy().astype(np.int32))

    def forward(self, x):
        p = self.k // 2
        if self.transposed:
            acc = F.conv_transpose2d(x, self.weight, None, self.stride, p, self.stride - 1)
        else:
            acc = F.conv2d(x, self.weight, None, self.stride, p)
        acc = acc + self.bias.view(-1, 1, 1)
        s = self.shift.view(-1, 1, 1)
        v = rshift_round(acc, torch.exp2(s), torch.exp2(s - 1))
        if self.relu:
            v = torch.where(v < 0, torch.floor((v * self.slope_q8 + 128.0) / 256.0), v)
        lim = float(1 << (self.out_bits - 1))
        return v.clamp_(-lim, lim - 1)


# ---------------------------------------------------------------------------------------------
# helpers of the integer path

def round_half_away(v):
    """C's llround on float64: halves go away from zero (torch.round goes to even)."""
    return torch.sign(v) * torch.floor(torch.abs(v) + 0.5)


def to_fixed(v, frac):
    """codec/engine.c to_fixed: round(v * 2^frac) of a float32 tensor, computed in float64,
    saturated at +-1e12, NaN -> 0."""
    s = v.to(torch.float64) * float(1 << frac)
    s = torch.nan_to_num(s, nan=0.0).clamp(-1e12, 1e12)
    return round_half_away(s)


def fnv_mix(h, values):
    """codec/engine.c mix(): h = (h ^ (uint32)v) * FNV prime over `values` in order (int64 numpy)."""
    mask = 0xFFFFFFFFFFFFFFFF
    for v in (np.asarray(values, dtype=np.int64) & 0xFFFFFFFF).tolist():
        h = ((h ^ v) * FNV_PRIME) & mask
    return h


def interp_gains(table, q):
    """Per-channel gain for quality q (1..100), like lic_engine_gains: geometric interpolation between
    rows j and j+1 in float64, stored as float32. table: float32 [n_gains, M]."""
    n = table.shape[0]
    t = (q - 1) * (n - 1) / 99.0
    j = int(t)
    if j >= n - 1:
        j = n - 2 if n > 1 else 0
    f = t - j if n > 1 else 0.0
    lo = table[j].astype(np.float64)
    hi = table[j + 1].astype(np.float64) if n > 1 else lo
    return (np.power(lo, 1.0 - f) * np.power(hi, f)).astype(np.float32)


def checkerboard(h, w, parity):
    """Boolean [h, w] mask of the positions with (x + y) % 2 == parity (0: anchors)."""
    yy = torch.arange(h).view(-1, 1)
    xx = torch.arange(w).view(1, -1)
    return (yy + xx) % 2 == parity


# ---------------------------------------------------------------------------------------------
# the model

class LicModel(nn.Module):
    """lic-ctx1: float transforms + the exact integer probability path + entropy tables."""

    def __init__(self, arch):
        super().__init__()
        a = self.arch = arch
        slope_f = a.relu_slope_q8 / 256.0
        self.g_a = GAnalysis(a.N, a.M)
        self.h_a = HAnalysis(a.N, a.M, slope_f)
        self.g_s = GSynthesis(a.N, a.M, a.gs_up)
        sq = a.relu_slope_q8
        self.h_s = nn.ModuleList([
            IConv(a.N, a.N, 5, 2, transposed=True, relu=True, slope_q8=sq),
            IConv(a.N, a.C_h, 5, 2, transposed=True, relu=True, slope_q8=sq),
            IConv(a.C_h, a.C_h, 3, 1)])
        self.cc, self.sp, self.ep = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        for k, (c0, g) in enumerate(zip(a.group_starts(), a.groups)):
            if k > 0:
                self.cc[str(k)] = nn.ModuleList([
                    IConv(c0, a.C_cc, 3, relu=True, slope_q8=sq),
                    IConv(a.C_cc, a.C_cc, 3, relu=True, slope_q8=sq)])
            self.sp[str(k)] = nn.ModuleList([IConv(g, a.C_sp, 5)])
            ep_in = a.C_h + (a.C_cc if k > 0 else 0) + a.C_sp
            self.ep[str(k)] = nn.ModuleList([
                IConv(ep_in, a.C_ep, 1, relu=True, slope_q8=sq),
                IConv(a.C_ep, a.C_ep, 1, relu=True, slope_q8=sq),
                IConv(a.C_ep, 2 * g, 1, out_bits=24)])
        # Entropy tables and gains, as stored in the file (numpy; only the coder uses the CDFs).
        self.tables = {}
        self.register_buffer("z_median", torch.zeros(a.N, dtype=torch.float64))
        self.register_buffer("y_thresholds", torch.zeros(1, dtype=torch.int64))

    # ---- loading and export ----

    def int_layers(self):
        """(file prefix, IConv) for every integer layer, in the canonical file order."""
        out = [("h_s.%d" % i, L) for i, L in enumerate(self.h_s)]
        for k in range(len(self.arch.groups)):
            if k > 0:
                out += [("cc.%d.%d" % (k, i), L) for i, L in enumerate(self.cc[str(k)])]
            out.append(("sp.%d.0" % k, self.sp[str(k)][0]))
            out += [("ep.%d.%d" % (k, i), L) for i, L in enumerate(self.ep[str(k)])]
        return out

    def float_params(self):
        """(file name, tensor) of the float transforms in the canonical file order."""
        out = []
        for i in range(4):
            out += [("g_a.%d.weight" % i, self.g_a.convs[i].weight), ("g_a.%d.bias" % i, self.g_a.convs[i].bias)]
        for i in range(3):
            out += [("g_a.gdn%d.beta" % i, self.g_a.gdns[i].beta), ("g_a.gdn%d.gamma" % i, self.g_a.gdns[i].gamma)]
        for i in range(3):
            out += [("h_a.%d.weight" % i, self.h_a.convs[i].weight), ("h_a.%d.bias" % i, self.h_a.convs[i].bias)]
        for i in range(4):
            out += [("g_s.%d.weight" % i, self.g_s.convs[i].weight), ("g_s.%d.bias" % i, self.g_s.convs[i].bias)]
        for i in range(3):
            out += [("g_s.igdn%d.beta" % i, self.g_s.igdns[i].beta), ("g_s.igdn%d.gamma" % i, self.g_s.igdns[i].gamma)]
        return out

    TABLE_NAMES = ["entropy.z.cdf", "entropy.z.length", "entropy.z.offset", "entropy.z.median",
                   "entropy.y.cdf", "entropy.y.length", "entropy.y.offset", "entropy.y.scale_thresholds",
                   "gain.y", "gain.y_inv"]

    @classmethod
    def from_licw(cls, src):
        """Builds the model from a path, bytes or a licw.Licw. Checks every tensor's presence,
        dtype and shape; raises ValueError (or licw.LicwError) on any mismatch."""
        f = src if isinstance(src, licw_io.Licw) else (
            licw_io.parse(src) if isinstance(src, (bytes, bytearray)) else licw_io.read(src))
        m = cls(Arch(f.kv))
        a = m.arch

        def get(name, dtype, shape=None):
            if name not in f.tensors:
                raise ValueError("missing tensor %r" % name)
            t = f.tensors[name]
            if t.dtype != np.dtype(dtype) or (shape is not None and t.shape != tuple(shape)):
                raise ValueError("tensor %r: %s %s, expected %s %s" % (name, t.dtype, t.shape, dtype, shape))
            return t

        with torch.no_grad():
            for name, p in m.float_params():
                p.copy_(torch.from_numpy(np.array(get(name, np.float32, p.shape))))
            for prefix, L in m.int_layers():
                L.load(get(prefix + ".weight", np.int16, L.weight.shape),
                       get(prefix + ".bias", np.int32, (L.cout,)), get(prefix + ".shift", np.int32, (L.cout,)))
        z_cdf = get("entropy.z.cdf", np.int32)
        y_cdf = get("entropy.y.cdf", np.int32)
        if z_cdf.ndim != 2 or z_cdf.shape[0] != a.N or y_cdf.ndim != 2:
            raise ValueError("bad CDF table shapes")
        S = y_cdf.shape[0]
        shapes = {"entropy.z.cdf": z_cdf.shape, "entropy.z.length": (a.N,), "entropy.z.offset": (a.N,),
                  "entropy.z.median": (a.N,), "entropy.y.cdf": y_cdf.shape, "entropy.y.length": (S,),
                  "entropy.y.offset": (S,), "entropy.y.scale_thresholds": (S - 1,),
                  "gain.y": (a.n_gains, a.M), "gain.y_inv": (a.n_gains, a.M)}
        for name in cls.TABLE_NAMES:
            dt = np.float32 if name.startswith("gain.") else np.int32
            m.tables[name] = np.array(get(name, dt, shapes[name]))
        thr = m.tables["entropy.y.scale_thresholds"]
        if S > 1 and np.any(np.diff(thr) <= 0):
            raise ValueError("scale thresholds are not ascending")
        if np.any(m.tables["gain.y"] <= 0) or np.any(m.tables["gain.y_inv"] <= 0):
            raise ValueError("gains must be > 0")
        m.z_median = torch.from_numpy(m.tables["entropy.z.median"].astype(np.float64))
        m.y_thresholds = torch.from_numpy(thr.astype(np.int64))
        m.source = f  # keeps the file (and its fingerprint(), computed on request)
        m.eval()
        return m

    def to_licw_bytes(self):
        """Serializes the model in the canonical order (that of tools/lic_mkmodel.c, so an untrained
        model read and written back is byte-identical)."""
        tensors = {}
        for name, p in self.float_params():
            tensors[name] = p.detach().cpu().numpy().astype(np.float32)
        for prefix, L in self.int_layers():
            w, b, s = L.arrays()
            tensors[prefix + ".weight"], tensors[prefix + ".bias"], tensors[prefix + ".shift"] = w, b, s
        for name in self.TABLE_NAMES:
            tensors[name] = self.tables[name]
        return licw_io.serialize(self.arch.kv(), tensors)

    # ---- encoder: float part ----

    def gains(self, q, inverse=False):
        return interp_gains(self.tables["gain.y_inv" if inverse else "gain.y"], q)

    def analysis(self, x, q):
        """x: float32 [1, 3, H, W] in [0, 1], H and W multiples of 64. Returns (y', z), float32."""
        y = self.g_a(x) * torch.from_numpy(self.gains(q)).view(1, -1, 1, 1)
        return y, self.h_a(y)

    # ---- integer probability path ----

    def quantize_z(self, z):
        """z symbols and z-hat (units of 2^-zf) from float z: FORMAT.md §1.3 step 2."""
        zf = self.arch.z_frac_bits
        half = float(1 << (zf - 1)) if zf else 0.0
        med = self.z_median.view(1, -1, 1, 1)
        s = torch.floor((to_fixed(z, zf) - med + half) / float(1 << zf)).clamp_(-SYMBOL_LIMIT, SYMBOL_LIMIT)
        return s, self.dequantize_z(s)

    def dequantize_z(self, s):
        zf = self.arch.z_frac_bits
        return (s * float(1 << zf) + self.z_median.view(1, -1, 1, 1)).clamp_(-32768.0, 32767.0)

    def hyper_synthesis(self, zhat):
        h = zhat
        for L in self.h_s:
            h = L(h)
        return h

    def scale_index(self, sigma):
        """#{t in thresholds : t < sigma} (CompressAI rounds scales up)."""
        return torch.searchsorted(self.y_thresholds, sigma.to(torch.int64).contiguous(), right=False)

    def context_loop(self, H, symbols_fn, record=None):
        """The grouped checkerboard context model (FORMAT.md §1.3 step 4).

        H: hyper-synthesis output [1, C_h, h, w] (float64 integers).
        symbols_fn(k, c0, g, pass_, mask, mu): returns the symbols [g, h, w] (float64 integers) of
            group k at the pass's positions (other positions are ignored); `mu` [g, h, w] are the
            means. The encoder computes them from y', a decoder reads them from a stream.
        record: optional list; gets (k, pass_, mask, mu, idx, s) per pass for dumps and hashes.
        Returns y-hat' [1, M, h, w] in 1/256 units (float64 integers)."""
        a = self.arch
        _, _, h, w = H.shape
        sh = 8 - a.yctx_frac_bits
        yq = torch.zeros(1, a.M, h, w, dtype=torch.float64)
        yctx = torch.zeros(1, a.M, h, w, dtype=torch.float64)
        masks = [checkerboard(h, w, 0), checkerboard(h, w, 1)]
        for k, (c0, g) in enumerate(zip(a.group_starts(), a.groups)):
            parts = [H]
            if k > 0:
                cc = self.cc[str(k)]
                parts.append(cc[1](cc[0](yctx[:, :c0])))
            anchors = torch.zeros(1, g, h, w, dtype=torch.float64)
            ep = self.ep[str(k)]
            for pass_ in (0, 1):
                S = self.sp[str(k)][0](anchors)
                P = ep[2](ep[1](ep[0](torch.cat(parts + [S], dim=1))))[0]
                mu, sigma = P[:g], P[g:]
                mask = masks[pass_]
                s = symbols_fn(k, c0, g, pass_, mask, mu).clamp(-SYMBOL_LIMIT, SYMBOL_LIMIT)
                v = s * 256.0 + mu
                ctx = torch.floor((v + float(1 << (sh - 1))) / float(1 << sh)).clamp_(-32768.0, 32767.0)
                sel = mask.view(1, h, w)
                yq[0, c0:c0 + g] = torch.where(sel, v, yq[0, c0:c0 + g])
                yctx[0, c0:c0 + g] = torch.where(sel, ctx, yctx[0, c0:c0 + g])
                if pass_ == 0:
                    anchors[0] = torch.where(sel, ctx, anchors[0])
                if record is not None:
                    record.append((k, pass_, mask, mu, self.scale_index(sigma[:, mask]), s))
        return yq

    def encode_latents(self, y, z, record=None):
        """Encoder side of the probability path from float y' and z. Returns (z symbols, y-hat')."""
        zs, zhat = self.quantize_z(z)
        H = self.hyper_synthesis(zhat)
        yfix = to_fixed(y, 8)[0]

        def from_y(k, c0, g, pass_, mask, mu):
            return torch.floor((yfix[c0:c0 + g] - mu + 128.0) / 256.0)

        return zs, self.context_loop(H, from_y, record)

    def decode_latents(self, z_symbols, y_symbols, h, w, record=None):
        """Decoder side: y-hat' from the z symbols ([1, N, h/4, w/4]) and the y symbols in coding
        order (1-D), as an arithmetic decoder would hand them over."""
        H = self.hyper_synthesis(self.dequantize_z(z_symbols.to(torch.float64)))
        ys = torch.as_tensor(y_symbols, dtype=torch.float64).reshape(-1)
        pos = [0]

        def from_stream(k, c0, g, pass_, mask, mu):
            n = g * int(mask.sum())
            if pos[0] + n > ys.numel():
                raise ValueError("too few y symbols")
            out = torch.zeros(g, h, w, dtype=torch.float64)
            out[:, mask] = ys[pos[0]:pos[0] + n].view(g, -1)
            pos[0] += n
            return out

        yq = self.context_loop(H, from_stream, record)
        if pos[0] != ys.numel():
            raise ValueError("too many y symbols")
        return yq

    # ---- decoder: float part ----

    def synthesis(self, yq, q):
        """y-hat = y-hat'/256 * gain_inv(q) (float32, like codec/decoder.c), then g_s. Returns the
        float32 RGB [1, 3, H, W] in ~[0, 1]."""
        s = torch.from_numpy(self.gains(q, inverse=True) * np.float32(1.0 / 256.0)).view(1, -1, 1, 1)
        return self.g_s(yq.to(torch.float32) * s)


# ---------------------------------------------------------------------------------------------
# image helpers and coding-order views

def image_to_tensor(rgb):
    """uint8 [H, W, 3] (or [H, W]) -> float32 [1, 3, PH, PW], padded by edge replication to
    multiples of 64, scaled like codec/encoder.c (value * float32(1/255))."""
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    h, w = rgb.shape[:2]
    ph, pw = -h % PAD_MULTIPLE, -w % PAD_MULTIPLE
    rgb = np.pad(rgb[:, :, :3], ((0, ph), (0, pw), (0, 0)), mode="edge")
    x = rgb.transpose(2, 0, 1).astype(np.float32) * np.float32(1.0 / 255.0)
    return torch.from_numpy(np.ascontiguousarray(x))[None]


def tensor_to_image(x, h, w):
    """float32 [1, 3, PH, PW] -> uint8 [h, w, 3]: x * 255 rounded half-even (lrintf), clamped,
    cropped (codec/decoder.c to_u8)."""
    s = torch.nan_to_num(x[0, :, :h, :w] * 255.0, nan=0.0)
    return torch.round(s).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def coding_order(record):
    """Flattens a context_loop record into 1-D int64 arrays in coding order: for each group and pass,
    (c, y, x) over the pass's positions. Returns dict with y_symbols, means, scale_idx."""
    sym, mu, idx = [], [], []
    for k, pass_, mask, m, i, s in record:
        sym.append(s[:, mask].reshape(-1))
        mu.append(m[:, mask].reshape(-1))
        idx.append(i.reshape(-1))
    cat = lambda xs: torch.cat(xs).to(torch.int64).numpy()
    return {"y_symbols": cat(sym), "means": cat(mu), "scale_idx": cat(idx)}


def stream_hashes(z_symbols, order):
    """The C encoder's stats hashes (codec/engine.c): symbols_hash over z symbols (c, y, x) then y
    symbols in coding order; params_hash over (mean, scale index) pairs in coding order."""
    zs = z_symbols.to(torch.int64).reshape(-1).numpy()
    sym = fnv_mix(fnv_mix(FNV_BASIS, zs), order["y_symbols"])
    pairs = np.stack([order["means"], order["scale_idx"]], axis=1).reshape(-1)
    return sym, fnv_mix(FNV_BASIS, pairs)
