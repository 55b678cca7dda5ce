"""The model, once: each architecture is one class that trains (float forward, rate proxies) and
runs the exported integer path bit-exactly (as the C codec does), and whose layer table the export
(train/export.py) and the tests walk. Architectures: lic-ctx1 (docs/FORMAT.md §1.2-1.3) and lic-hp1
(§1.2b: lic-ctx1 without the channel context).

Two halves, as in the C codec (codec/arch_ctx.c builds the same layers as op lists):

* float transforms g_a, h_a, g_s: ordinary nn.Modules (float32). Their parameter names are the
  .licw tensor names (g_a.0.weight, g_a.gdn0.*, g_s.igdn2.*, ...). GDN/IGDN store beta and gamma
  reparametrized while training (beta_p, gamma_p) and as the effective values when a model is read
  from a .licw; effective() gives the stored values either way.
* the probability path (h_s, channel context cc, spatial context sp, parameter networks ep), listed
  once in layer_table(). Training runs it in float (modules h_s, cc.k, sp.k, ep.k: Conv2d /
  ConvTranspose2d, named like the tensors); the export integerizes each table entry into an IConv
  (self.iconv[name]) and the integer path runs those exactly. Tensors there are float64 holding
  integers. |w|, |x| <= 2^15 and a fan-in of at most 4096 * 7 * 7 (the limits of
  lic_iconv_validate) keep |acc| < 2^48 plus a bias below 2^31, so every product and partial sum is
  an exactly representable integer: conv2d and conv_transpose2d in float64 are exact whatever the
  summation order, BLAS or thread count. The rounding shift floor((acc + 2^(s-1)) / 2^s) is exact
  as well (for s > 53 both it and the integer result are 0). The C side computes the same integers
  in int64 (transforms/ilayers.h), so means, scale indexes and symbols agree bit for bit given the
  same z and y'.

Training quantization proxies (one forward):
  * y' = g_a(x) * gain[j]; rate term on y' + U(-1/2, 1/2) under N(mu, sigma) (or a generalized
    Gaussian, lik_beta) convolved with the unit box; the synthesis and the context networks see the
    straight-through rounding round(y' - mu) + mu, as the codec does (symbols are coded relative to
    the mean).
  * z: rate term on z + U(-1/2, 1/2) under the factorized density (EntropyBottleneck below); h_s sees
    round(z - median) + median (straight-through), as in FORMAT.md §1.3 step 2.
  * sigma = max(raw ep output, 0.11) with a gradient-passing lower bound: the integer export keeps
    the raw output linear in sigma and compares it against the scale thresholds (index 0 <=> 0.11).
  * checkerboard context: pass 1 (anchors) gets sp(0), pass 2 gets sp(anchors' y-hat, zeros at the
    non-anchors) — both computed densely, then merged by the mask.

Tensor layout is NCHW; the integer path works on one image (N = 1).
"""

import collections
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from . import licw as licw_io
except ImportError:  # run as a plain module from train/ or with train/ on sys.path
    import licw as licw_io

ARCH = "lic-ctx1"           # the default architecture
SYMBOL_LIMIT = 1 << 22      # |symbol| bound of the coder (keeps s * 256 + mean inside int32)
PAD_MULTIPLE = 64           # the image is padded so that z has an integer size (16 * 4)
FNV_BASIS = licw_io.FNV_BASIS
LAMBDAS = [0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800]  # CompressAI mse q1..8
SCALE_MIN = 0.11
LIK_MIN = 1e-9


# ---------------------------------------------------------------------------------------------
# configuration: the training Config and the file keys (Arch)

class Config:
    """The shape of a model (what training needs); Arch adds the formats fixed at export."""

    def __init__(self, N=64, M=128, groups=(16, 16, 32, 64), C_h=128, C_cc=64, C_sp=32, C_ep=96, gs_up=1,
                 relu_slope_q8=26, n_gains=8):
        assert sum(groups) == M
        self.N, self.M, self.groups, self.C_h, self.C_cc, self.C_sp, self.C_ep = N, M, list(groups), C_h, C_cc, C_sp, C_ep
        self.gs_up, self.relu_slope_q8, self.n_gains = gs_up, relu_slope_q8, n_gains

    def as_dict(self):
        return dict(N=self.N, M=self.M, groups=list(self.groups), C_h=self.C_h, C_cc=self.C_cc, C_sp=self.C_sp,
                    C_ep=self.C_ep, gs_up=self.gs_up, relu_slope_q8=self.relu_slope_q8, n_gains=self.n_gains)

    def group_starts(self):
        return [sum(self.groups[:k]) for k in range(len(self.groups))]


class Arch(Config):
    """The architecture keys of a .licw, range-checked like the C builders (codec/arch_ctx.c).
    lic-hp1 has no C_cc key (C_cc reads as 0)."""

    INT_KEYS = {  # key: (lo, hi)
        "N": (1, 1024), "M": (1, 1024), "C_h": (1, 1024), "C_cc": (1, 1024), "C_sp": (1, 1024),
        "C_ep": (1, 1024), "gs_up": (0, 1), "relu_slope_q8": (0, 255), "z_frac_bits": (0, 8),
        "yctx_frac_bits": (0, 7), "n_gains": (1, 64),
    }

    def __init__(self, kv):
        self.name = kv.get("arch")
        if self.name not in MODELS:
            raise ValueError("arch is %r, expected one of %s" % (self.name, sorted(MODELS)))
        self.C_cc = 0
        for key, (lo, hi) in self.INT_KEYS.items():
            if key == "C_cc" and not MODELS[self.name].WITH_CC:
                continue
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

    @classmethod
    def of(cls, name, cfg, z_frac_bits, yctx_frac_bits, description=None):
        """The keys of a model of Config cfg exported with the given formats."""
        kv = dict(cfg.as_dict(), arch=name, groups=",".join(str(g) for g in cfg.groups),
                  z_frac_bits=z_frac_bits, yctx_frac_bits=yctx_frac_bits, description=description)
        return cls(kv)

    def kv(self):
        out = {"arch": self.name}
        if self.description is not None:
            out["description"] = self.description
        for key in ("N", "M", "C_h", "C_cc", "C_sp", "C_ep"):
            if key != "C_cc" or MODELS[self.name].WITH_CC:
                out[key] = getattr(self, key)
        out["groups"] = ",".join(str(g) for g in self.groups)
        for key in ("gs_up", "relu_slope_q8", "z_frac_bits", "yctx_frac_bits", "n_gains"):
            out[key] = getattr(self, key)
        return out


# ---------------------------------------------------------------------------------------------
# training helpers: bounds, rounding, likelihoods, the factorized density

class _LowerBound(torch.autograd.Function):
    """max(x, bound) whose gradient still flows where it pushes x up (CompressAI's LowerBound)."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x)
        ctx.bound = bound
        return torch.clamp_min(x, bound)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        pass_through = (x >= ctx.bound) | (g < 0)
        return g * pass_through.to(g.dtype), None


def lower_bound(x, bound):
    return _LowerBound.apply(x, bound)


def ste_round(x):
    return x + (torch.round(x) - x).detach()


class EntropyBottleneck(nn.Module):
    """Factorized (per-channel, non-parametric) density of Ballé et al. 2018, appendix 6.1: a
    monotone per-channel MLP gives the cumulative logits; the likelihood of an interval is the
    difference of two sigmoids. `quantiles` [C, 1, 3] are trained by the auxiliary loss to the
    tail_mass/2, median and 1 - tail_mass/2 points; the median sets the quantization offset."""

    def __init__(self, c, filters=(3, 3, 3), init_scale=10.0, tail_mass=1e-9):
        super().__init__()
        self.c = c
        self.tail_mass = tail_mass
        f = (1,) + tuple(filters) + (1,)
        scale = init_scale ** (1.0 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1.0 / scale / f[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((c, f[i + 1], f[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(c, f[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(c, f[i + 1], 1)))
        self.quantiles = nn.Parameter(torch.tensor([-init_scale, 0.0, init_scale]).repeat(c, 1, 1))
        t = math.log(2.0 / tail_mass - 1.0)
        self.register_buffer("target", torch.tensor([-t, 0.0, t]))

    def logits_cumulative(self, x, stop_gradient=False):
        """x: [C, 1, B] -> cumulative logits [C, 1, B]."""
        for i in range(len(self.matrices)):
            m, b = self.matrices[i], self.biases[i]
            if stop_gradient:
                m, b = m.detach(), b.detach()
            x = torch.matmul(F.softplus(m), x) + b
            if i < len(self.factors):
                fac = self.factors[i].detach() if stop_gradient else self.factors[i]
                x = x + torch.tanh(fac) * torch.tanh(x)
        return x

    def medians(self):
        return self.quantiles[:, 0, 1].detach()

    def aux_loss(self):
        return torch.abs(self.logits_cumulative(self.quantiles, stop_gradient=True) - self.target).sum()

    def likelihood(self, v):
        """Probability of the unit interval around v ([B, C, H, W])."""
        B, C, H, W = v.shape
        x = v.permute(1, 0, 2, 3).reshape(C, 1, -1)
        lo = self.logits_cumulative(x - 0.5)
        up = self.logits_cumulative(x + 0.5)
        sign = -torch.sign(lo + up).detach()
        lik = torch.abs(torch.sigmoid(sign * up) - torch.sigmoid(sign * lo))
        return lik.reshape(C, B, H, W).permute(1, 0, 2, 3)


def gaussian_likelihood(v, sigma):
    """P(|v| within the unit box) for v = value - mean under N(0, sigma)."""
    v = torch.abs(v)
    k = -1.0 / math.sqrt(2.0)
    upper = 0.5 * torch.erfc(k * (0.5 - v) / sigma)
    lower = 0.5 * torch.erfc(k * (-0.5 - v) / sigma)
    return upper - lower


def gg_likelihood(v, sigma, beta):
    """As gaussian_likelihood, under a generalized Gaussian of shape beta whose standard deviation
    is sigma (beta = 2 is the Gaussian). The mass beyond |t| is Q(t) = gammaincc(1/beta,
    (|t|/alpha)^beta) / 2 with alpha = sigma * sqrt(G(1/beta) / G(3/beta)); tails are taken as
    differences of Q (never 1 - CDF) so small probabilities keep their precision."""
    a = 1.0 / beta
    alpha = sigma * math.sqrt(math.exp(math.lgamma(a) - math.lgamma(3.0 * a)))
    av = torch.as_tensor(a, dtype=v.dtype, device=v.device)
    v = torch.abs(v)

    def q(t):
        # |t| >= 1e-6: the derivative of gammaincc(a, x) in x is -x^(a-1) e^-x / G(a), infinite at x = 0
        # for a < 1, and 0 * inf = NaN where t = 0 exactly (v = 1/2, which fp32 noise does hit)
        return 0.5 * torch.special.gammaincc(av, (torch.abs(t).clamp_min(1e-6) / alpha) ** beta)

    t_up, t_lo = 0.5 - v, -0.5 - v  # t_lo < 0 always
    q_up, q_lo = q(t_up), q(t_lo)
    return torch.where(t_up < 0, q_up - q_lo, 1.0 - q_up - q_lo)


def likelihood(v, sigma, beta=None):
    """The y likelihood of the model: Gaussian (beta None or 2) or generalized Gaussian."""
    if beta is None or beta == 2.0:
        return gaussian_likelihood(v, sigma)
    return gg_likelihood(v, sigma, beta)


# ---------------------------------------------------------------------------------------------
# integer layers

def rshift_round(acc, shift_pow, shift_half):
    """floor((acc + 2^(s-1)) / 2^s) given 2^s and 2^(s-1) (tensors per channel, or floats); exact in
    float64 (see module doc). The one rounding shift of the integer path."""
    return torch.floor((acc + shift_half) / shift_pow)


def floor_shift(v, s):
    """rshift_round by a constant s >= 0 (s = 0: floor(v))."""
    return rshift_round(v, float(1 << s), float(1 << (s - 1)) if s else 0.0)


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
        self.register_buffer("weight", torch.zeros(shape, dtype=torch.float64), persistent=False)
        self.register_buffer("bias", torch.zeros(cout, dtype=torch.float64), persistent=False)
        self.register_buffer("shift", torch.ones(cout, dtype=torch.float64), persistent=False)

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
            v = torch.where(v < 0, floor_shift(v * self.slope_q8, 8), v)
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
    return licw_io.fnv_mix(h, (np.asarray(values, dtype=np.int64) & 0xFFFFFFFF).tolist())


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
# float transforms

def _use_mkldnn(x):
    """oneDNN fast path for float32 CPU inference (no autograd through it)."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and hasattr(torch, "mkldnn_convolution") and torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled)


class GDN(nn.Module):
    """GDN / IGDN: y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2) (IGDN multiplies); gamma is
    [out i][in j] like a 1x1 conv. reparam (training): beta and gamma are stored as beta_p, gamma_p
    with value = max(p, bound)^2 - pedestal, so that beta > 0 and gamma >= 0 (Ballé et al. 2016);
    otherwise (a model read from a .licw) the effective values are the parameters beta, gamma.
    effective() gives the values the .licw stores either way."""

    PED = 2.0 ** -36

    def __init__(self, c, inverse=False, reparam=True):
        super().__init__()
        self.inverse, self.reparam = inverse, reparam
        if reparam:
            self.beta_p = nn.Parameter(torch.sqrt(torch.ones(c) + self.PED))
            self.gamma_p = nn.Parameter(torch.sqrt(0.1 * torch.eye(c) + self.PED))
        else:
            self.beta = nn.Parameter(torch.ones(c))
            self.gamma = nn.Parameter(0.1 * torch.eye(c))

    def effective(self):
        if not self.reparam:
            return self.beta, self.gamma
        beta = lower_bound(self.beta_p, math.sqrt(1e-6 + self.PED)) ** 2 - self.PED
        gamma = lower_bound(self.gamma_p, math.sqrt(self.PED)) ** 2 - self.PED
        return beta, gamma

    def forward(self, x):
        beta, gamma = self.effective()
        c = beta.shape[0]
        w = gamma.view(c, c, 1, 1)
        x2 = x * x
        if not self.reparam and _use_mkldnn(x2):
            # PyTorch 1.13 sends 1x1 convs to its im2col+BLAS path when single-threaded; with
            # Debian's reference BLAS that is ~15x slower than oneDNN here. Same math, inference only
            # (the training graph, and so the export's calibration, keeps F.conv2d).
            s = torch.mkldnn_convolution(x2, w.contiguous(), beta, [0, 0], [1, 1], [1, 1], 1)
        else:
            s = F.conv2d(x2, w, beta)
        norm = torch.sqrt(s)
        return x * norm if self.inverse else x / norm


class Seq(nn.Module):
    """Children named "0", "1", ... with an activation list (None or 'lrelu') per layer."""

    def __init__(self, layers, acts, slope):
        super().__init__()
        for i, L in enumerate(layers):
            self.add_module(str(i), L)
        self.acts, self.slope = list(acts), slope

    def layers(self):
        return [getattr(self, str(i)) for i in range(len(self.acts))]

    def forward(self, x):
        for L, a in zip(self.layers(), self.acts):
            x = L(x)
            if a == "lrelu":
                x = F.leaky_relu(x, self.slope)
        return x


class GAnalysis(nn.Module):
    """g_a: four 5x5 stride-2 convs 3->N->N->N->M, GDN after the first three."""

    def __init__(self, N, M, reparam=True):
        super().__init__()
        chans = [3, N, N, N, M]
        for i in range(4):
            self.add_module(str(i), nn.Conv2d(chans[i], chans[i + 1], 5, 2, 2))
        for i in range(3):
            self.add_module("gdn%d" % i, GDN(N, reparam=reparam))
        self.convs = [getattr(self, str(i)) for i in range(4)]
        self.gdns = [getattr(self, "gdn%d" % i) for i in range(3)]

    def forward(self, x):
        for i in range(4):
            x = self.convs[i](x)
            if i < 3:
                x = self.gdns[i](x)
        return x


class GSynthesis(nn.Module):
    """g_s: M->N->N->N->3, IGDN after the first three. gs_up 0: 5x5 stride-2 transposed convs
    (padding 2, output_padding 1); gs_up 1: 3x3 conv to 4*C_out, then PixelShuffle(2)."""

    def __init__(self, N, M, gs_up, reparam=True):
        super().__init__()
        self.gs_up = gs_up
        chans = [M, N, N, N, 3]
        for i in range(4):
            if gs_up == 0:
                conv = nn.ConvTranspose2d(chans[i], chans[i + 1], 5, 2, 2, output_padding=1)
            else:
                conv = nn.Conv2d(chans[i], 4 * chans[i + 1], 3, 1, 1)
            self.add_module(str(i), conv)
        for i in range(3):
            self.add_module("igdn%d" % i, GDN(N, inverse=True, reparam=reparam))
        self.convs = [getattr(self, str(i)) for i in range(4)]
        self.igdns = [getattr(self, "igdn%d" % i) for i in range(3)]

    def forward(self, x):
        for i in range(4):
            x = self.convs[i](x)
            if self.gs_up == 1:
                x = F.pixel_shuffle(x, 2)
            if i < 3:
                x = self.igdns[i](x)
        return x


# ---------------------------------------------------------------------------------------------
# the layer table of the probability path

# One layer: its .licw prefix, shape, activation ("lrelu" or None), integer output width, the
# tensors it reads (source, channels; concatenated in this order: "zhat" is z-hat, "yctx" the y-hat
# context, any other source a layer's output) and the fixed output exponent, if any (the ep outputs,
# in 1/256 units; other hidden exponents are calibrated by the export).
LayerSpec = collections.namedtuple("LayerSpec", "name cin cout k stride transposed act out_bits inputs out_exp")


def _spec(name, cin, cout, k, inputs, stride=1, transposed=False, act=None, out_bits=16, out_exp=None):
    assert sum(c for _, c in inputs) == cin
    return LayerSpec(name, cin, cout, k, stride, transposed, act, out_bits, tuple(inputs), out_exp)


def float_conv(s):
    """The float (training) layer of a table entry."""
    if s.transposed:
        return nn.ConvTranspose2d(s.cin, s.cout, s.k, s.stride, s.k // 2, output_padding=s.stride - 1)
    return nn.Conv2d(s.cin, s.cout, s.k, s.stride, s.k // 2)


def integer_conv(s, slope_q8):
    """The integer layer of a table entry (constants loaded later)."""
    return IConv(s.cin, s.cout, s.k, s.stride, transposed=s.transposed, relu=s.act == "lrelu",
                 slope_q8=slope_q8, out_bits=s.out_bits)


# ---------------------------------------------------------------------------------------------
# the models

class LicModel(nn.Module):
    """The base of the architectures: hyperprior (g_a, h_a, h_s, g_s, factorized z) with a grouped
    checkerboard context model. A subclass sets ARCH and WITH_CC (the channel context cc.k over the
    previous groups' y-hat); everything else follows from layer_table().

    Built from a Config for training (GDNs reparametrized; integer path empty until export fills
    it); LicModel.from_licw(file) builds the subclass the file's arch key names, with effective GDN
    parameters, the integer layers and the entropy tables loaded."""

    ARCH = None
    WITH_CC = None

    def __init__(self, cfg, trainable=True):
        super().__init__()
        self.cfg = c = cfg
        slope = c.relu_slope_q8 / 256.0
        self.slope = slope
        N, M = c.N, c.M
        self.g_a = GAnalysis(N, M, reparam=trainable)
        self.h_a = Seq([nn.Conv2d(M, N, 3, 1, 1), nn.Conv2d(N, N, 5, 2, 2), nn.Conv2d(N, N, 5, 2, 2)],
                       ["lrelu", "lrelu", None], slope)
        self.g_s = GSynthesis(N, M, c.gs_up, reparam=trainable)
        # the float probability path, one Seq per prefix of the table (h_s, cc.k, sp.k, ep.k)
        seqs = collections.OrderedDict()
        for s in self.layer_table():
            prefix = s.name.rsplit(".", 1)[0]
            seqs.setdefault(prefix, ([], []))
            seqs[prefix][0].append(float_conv(s))
            seqs[prefix][1].append(s.act)
        self.h_s = Seq(*seqs.pop("h_s"), slope)
        self.cc, self.sp, self.ep = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        for prefix, (layers, acts) in seqs.items():
            kind, k = prefix.split(".")
            getattr(self, kind)[k] = Seq(layers, acts, slope)
        with torch.no_grad():  # start with sigma ~ 1 rather than at the bound
            for k, g in enumerate(c.groups):
                self.ep[str(k)].layers()[-1].bias[g:] += 1.0
        self.eb = EntropyBottleneck(N)
        # training options that do not change the exported graph: the y likelihood's shape (None:
        # Gaussian) and bf16 autocast of the transforms g_a, h_a, h_s, g_s (the context model, the
        # likelihoods, their logs and the z density stay in fp32)
        self.lik_beta = None
        self.amp = False
        # per-quality gains, initialized to follow sqrt(lambda) (quantizer step ~ 1/sqrt(lambda))
        lg = torch.tensor([0.5 * math.log(l / math.sqrt(LAMBDAS[0] * LAMBDAS[-1])) for l in LAMBDAS[:c.n_gains]])
        self.gain_log = nn.Parameter(lg.view(-1, 1).repeat(1, M))
        self.gain_inv_log = nn.Parameter(-lg.view(-1, 1).repeat(1, M))
        # the exported form (from_licw or train/export.py): file keys, integer layers, tables. Plain
        # attributes, outside the state dict (a training checkpoint holds the float model only).
        self.arch = None
        self.iconv = collections.OrderedDict()
        self.tables = {}
        self.z_median = torch.zeros(N, dtype=torch.float64)
        self.y_thresholds = torch.zeros(1, dtype=torch.int64)

    # ---- the architecture ----

    def layer_table(self):
        """The probability path in the canonical (file and coding) order: h_s; then per channel
        group k: the channel context cc.k (k > 0, with WITH_CC), the spatial context sp.k and the
        parameter network ep.k (means then scales, 1/256 units)."""
        c = self.cfg
        N, C_h, C_sp, C_ep = c.N, c.C_h, c.C_sp, c.C_ep
        out = [_spec("h_s.0", N, N, 5, [("zhat", N)], 2, True, "lrelu"),
               _spec("h_s.1", N, C_h, 5, [("h_s.0", N)], 2, True, "lrelu"),
               _spec("h_s.2", C_h, C_h, 3, [("h_s.1", C_h)])]
        for k, (c0, g) in enumerate(zip(c.group_starts(), c.groups)):
            ep_in = [("h_s.2", C_h)]
            if self.WITH_CC and k > 0:
                out += [_spec("cc.%d.0" % k, c0, c.C_cc, 3, [("yctx", c0)], act="lrelu"),
                        _spec("cc.%d.1" % k, c.C_cc, c.C_cc, 3, [("cc.%d.0" % k, c.C_cc)], act="lrelu")]
                ep_in.append(("cc.%d.1" % k, c.C_cc))
            out.append(_spec("sp.%d.0" % k, g, C_sp, 5, [("yctx", g)]))
            ep_in.append(("sp.%d.0" % k, C_sp))
            out += [_spec("ep.%d.0" % k, C_h + sum(ch for _, ch in ep_in[1:]), C_ep, 1, ep_in, act="lrelu"),
                    _spec("ep.%d.1" % k, C_ep, C_ep, 1, [("ep.%d.0" % k, C_ep)], act="lrelu"),
                    _spec("ep.%d.2" % k, C_ep, 2 * g, 1, [("ep.%d.1" % k, C_ep)], out_bits=24, out_exp=8)]
        return out

    def float_layer(self, name):
        """The float (training) layer of a table entry, and its Seq."""
        prefix, i = name.rsplit(".", 1)
        seq = self.h_s if prefix == "h_s" else getattr(self, prefix.split(".")[0])[prefix.split(".")[1]]
        return seq.layers()[int(i)], seq

    def make_iconv(self):
        """Fresh integer layers for every table entry (self.iconv)."""
        self.iconv = collections.OrderedDict(
            (s.name, integer_conv(s, self.cfg.relu_slope_q8)) for s in self.layer_table())
        return self.iconv

    def _iseq(self, prefix, x):
        """Runs the integer layers prefix.0, prefix.1, ... in order."""
        i = 0
        while "%s.%d" % (prefix, i) in self.iconv:
            x = self.iconv["%s.%d" % (prefix, i)](x)
            i += 1
        return x

    # ---- training forward ----

    def _t(self, fn, x):
        """Runs one transform under bf16 autocast when self.amp is set; returns fp32."""
        if not self.amp:
            return fn(x)
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            out = fn(x)
        return out.float()

    def ep_params(self, k, parts):
        P = self.ep[str(k)](torch.cat(parts, dim=1))
        g = self.cfg.groups[k]
        return P[:, :g], P[:, g:]

    def context(self, y, H, noise, record=None):
        """Runs the grouped checkerboard context model over y' (float). Returns (y-hat (STE),
        likelihoods of y). noise: True adds U(-1/2,1/2) for the rate term, False rounds (eval)."""
        c = self.cfg
        B, _, h, w = y.shape
        yy = torch.arange(h, device=y.device).view(-1, 1)
        xx = torch.arange(w, device=y.device).view(1, -1)
        anchor = ((yy + xx) % 2 == 0).to(y.dtype).view(1, 1, h, w)
        yhat_parts, lik_parts = [], []
        for k, (c0, g) in enumerate(zip(c.group_starts(), c.groups)):
            yk = y[:, c0:c0 + g]
            parts = [H]
            if self.WITH_CC and k > 0:
                parts.append(self.cc[str(k)](torch.cat(yhat_parts, dim=1)))
            sp = self.sp[str(k)]
            zeros = torch.zeros_like(yk)
            mu1, s1 = self.ep_params(k, parts + [sp(zeros)])
            ya = (ste_round(yk - mu1) + mu1) * anchor
            mu2, s2 = self.ep_params(k, parts + [sp(ya)])
            mu = mu1 * anchor + mu2 * (1 - anchor)
            sraw = s1 * anchor + s2 * (1 - anchor)
            sigma = lower_bound(sraw, SCALE_MIN)
            yhat = ste_round(yk - mu) + mu
            if noise:
                v = yk + torch.empty_like(yk).uniform_(-0.5, 0.5) - mu
            else:
                v = torch.round(yk - mu)
            lik_parts.append(lower_bound(likelihood(v, sigma, self.lik_beta), LIK_MIN))
            yhat_parts.append(yhat)
            if record is not None:
                record.append((k, mu.detach(), sraw.detach()))
        return torch.cat(yhat_parts, dim=1), torch.cat(lik_parts, dim=1)

    def forward(self, x, j, noise=True):
        """x: [B, 3, H, W] in [0, 1] (H, W multiples of 64); j: gain index (int or 0-d long tensor,
        so that one traced or captured graph serves every quality).
        Returns dict(x_hat, lik_y, lik_z, y, z)."""
        gain = torch.exp(self.gain_log[j]).view(1, -1, 1, 1)
        gain_inv = torch.exp(self.gain_inv_log[j]).view(1, -1, 1, 1)
        y = self._t(self.g_a, x) * gain
        z = self._t(self.h_a, y)
        med = self.eb.medians().view(1, -1, 1, 1)
        if noise:
            z_t = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        else:
            z_t = torch.round(z - med) + med
        lik_z = lower_bound(self.eb.likelihood(z_t), LIK_MIN)
        zhat = ste_round(z - med) + med
        H = self._t(self.h_s, zhat)
        yhat, lik_y = self.context(y, H, noise)
        x_hat = self._t(self.g_s, yhat * gain_inv)
        return dict(x_hat=x_hat, lik_y=lik_y, lik_z=lik_z, y=y, z=z)

    # ---- the file ----

    def int_layers(self):
        """(file prefix, IConv) for every integer layer, in the canonical file order."""
        return [(s.name, self.iconv[s.name]) for s in self.layer_table()]

    def float_params(self):
        """(file name, tensor) of the float transforms in the canonical file order (GDN: the
        effective values)."""
        out = []
        for i in range(4):
            out += [("g_a.%d.weight" % i, self.g_a.convs[i].weight), ("g_a.%d.bias" % i, self.g_a.convs[i].bias)]
        for i in range(3):
            beta, gamma = self.g_a.gdns[i].effective()
            out += [("g_a.gdn%d.beta" % i, beta), ("g_a.gdn%d.gamma" % i, gamma)]
        for i, L in enumerate(self.h_a.layers()):
            out += [("h_a.%d.weight" % i, L.weight), ("h_a.%d.bias" % i, L.bias)]
        for i in range(4):
            out += [("g_s.%d.weight" % i, self.g_s.convs[i].weight), ("g_s.%d.bias" % i, self.g_s.convs[i].bias)]
        for i in range(3):
            beta, gamma = self.g_s.igdns[i].effective()
            out += [("g_s.igdn%d.beta" % i, beta), ("g_s.igdn%d.gamma" % i, gamma)]
        return out

    TABLE_NAMES = ["entropy.z.cdf", "entropy.z.length", "entropy.z.offset", "entropy.z.median",
                   "entropy.y.cdf", "entropy.y.length", "entropy.y.offset", "entropy.y.scale_thresholds",
                   "gain.y", "gain.y_inv"]

    @classmethod
    def from_licw(cls, src):
        """Builds the model from a path, bytes or a licw.Licw: the class its arch key names (a
        subclass asked for another architecture raises). Checks every tensor's presence, dtype and
        shape; raises ValueError (or licw.LicwError) on any mismatch."""
        f = src if isinstance(src, licw_io.Licw) else (
            licw_io.parse(src) if isinstance(src, (bytes, bytearray)) else licw_io.read(src))
        a = Arch(f.kv)
        model_cls = MODELS[a.name]
        if cls.ARCH is not None and cls is not model_cls:
            raise ValueError("file is %s, not %s" % (a.name, cls.ARCH))
        m = model_cls(a, trainable=False)
        m.arch = a
        m.make_iconv()

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
        tables = {}
        for name in cls.TABLE_NAMES:
            dt = np.float32 if name.startswith("gain.") else np.int32
            tables[name] = np.array(get(name, dt, shapes[name]))
        m.set_tables(tables)
        m.source = f  # keeps the file (and its fingerprint(), computed on request)
        m.eval()
        return m

    def set_tables(self, tables):
        """Sets the entropy tables and gains (numpy, as stored in the file) after checking them."""
        thr = tables["entropy.y.scale_thresholds"]
        if thr.size > 1 and np.any(np.diff(thr) <= 0):
            raise ValueError("scale thresholds are not ascending")
        if np.any(tables["gain.y"] <= 0) or np.any(tables["gain.y_inv"] <= 0):
            raise ValueError("gains must be > 0")
        self.tables = dict(tables)
        self.z_median = torch.from_numpy(tables["entropy.z.median"].astype(np.float64))
        self.y_thresholds = torch.from_numpy(thr.astype(np.int64))

    def to_licw_bytes(self):
        """Serializes the exported model in the canonical order (that of tools/lic_mkmodel.c, so an
        untrained model read and written back is byte-identical)."""
        if self.arch is None:
            raise ValueError("no exported form: read a .licw or run train/export.py")
        tensors = {}
        with torch.no_grad():
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
        med = self.z_median.view(1, -1, 1, 1)
        s = floor_shift(to_fixed(z, zf) - med, zf).clamp_(-SYMBOL_LIMIT, SYMBOL_LIMIT)
        return s, self.dequantize_z(s)

    def dequantize_z(self, s):
        zf = self.arch.z_frac_bits
        return (s * float(1 << zf) + self.z_median.view(1, -1, 1, 1)).clamp_(-32768.0, 32767.0)

    def hyper_synthesis(self, zhat):
        return self._iseq("h_s", zhat)

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
            if self.WITH_CC and k > 0:
                parts.append(self._iseq("cc.%d" % k, yctx[:, :c0]))
            anchors = torch.zeros(1, g, h, w, dtype=torch.float64)
            for pass_ in (0, 1):
                S = self._iseq("sp.%d" % k, anchors)
                P = self._iseq("ep.%d" % k, torch.cat(parts + [S], dim=1))[0]
                mu, sigma = P[:g], P[g:]
                mask = masks[pass_]
                s = symbols_fn(k, c0, g, pass_, mask, mu).clamp(-SYMBOL_LIMIT, SYMBOL_LIMIT)
                v = s * 256.0 + mu
                ctx = floor_shift(v, sh).clamp_(-32768.0, 32767.0)
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
            return floor_shift(yfix[c0:c0 + g] - mu, 8)

        return zs, self.context_loop(H, from_y, record)

    def encode_latents_tiled(self, y, z, tile_log2):
        """The encoder side of FORMAT.md §3.2: after z, the latent in tiles of T = 2^tile_log2
        positions (raster order, the last row and column smaller), each coded by context_loop as a
        whole image of the tile's size on the tile's window of the whole image's H (the context
        networks then zero-pad at the tile's edges). Returns (z symbols, y-hat', per-tile coding
        orders, symbols_hash, params_hash) with the C coder's hashes for several tiles
        (codec/engine.h): tile k's symbol hash continues the z symbols' hash, its parameter hash
        starts at the FNV basis; tile 0's are the totals' start, later tiles' are folded in as two
        32-bit words, low first."""
        zs, zhat = self.quantize_z(z)
        H = self.hyper_synthesis(zhat)
        yfix = to_fixed(y, 8)[0]
        _, _, lh, lw = H.shape
        T = 1 << tile_log2
        yq = torch.zeros(1, self.arch.M, lh, lw, dtype=torch.float64)
        z_hash = fnv_mix(FNV_BASIS, zs.to(torch.int64).reshape(-1).numpy())
        orders, hs, hp = [], None, None
        for ty in range(0, lh, T):
            for tx in range(0, lw, T):
                yt = yfix[:, ty:ty + T, tx:tx + T]

                def from_y(k, c0, g, pass_, mask, mu, yt=yt):
                    return floor_shift(yt[c0:c0 + g] - mu, 8)

                record = []
                yq[:, :, ty:ty + T, tx:tx + T] = self.context_loop(H[:, :, ty:ty + T, tx:tx + T], from_y, record)
                order = coding_order(record)
                orders.append(order)
                th = fnv_mix(z_hash, order["y_symbols"])
                pairs = np.stack([order["means"], order["scale_idx"]], axis=1).reshape(-1)
                tp = fnv_mix(FNV_BASIS, pairs)
                if hs is None:
                    hs, hp = th, tp
                else:
                    hs = fnv_mix(hs, [th & 0xFFFFFFFF, th >> 32])
                    hp = fnv_mix(hp, [tp & 0xFFFFFFFF, tp >> 32])
        return zs, yq, orders, hs, hp

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


class LicCtx1(LicModel):
    """lic-ctx1 (docs/FORMAT.md §1.2): with the channel context."""
    ARCH = "lic-ctx1"
    WITH_CC = True


class LicHp1(LicModel):
    """lic-hp1 (docs/FORMAT.md §1.2b): lic-ctx1 without the channel context (no C_cc key, no cc.*
    tensors); a group's parameters depend on h_s and its own anchors only."""
    ARCH = "lic-hp1"
    WITH_CC = False


MODELS = {m.ARCH: m for m in (LicCtx1, LicHp1)}


def model_class(arch=ARCH):
    if arch not in MODELS:
        raise ValueError("unknown architecture %r (known: %s)" % (arch, ", ".join(sorted(MODELS))))
    return MODELS[arch]
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


def rd_terms(out, x):
    """(bpp, mse) of a forward pass; mse on the [0, 1] scale."""
    B, _, H, W = x.shape
    bits = -(torch.log(out["lik_y"]).sum() + torch.log(out["lik_z"]).sum()) / math.log(2.0)
    bpp = bits / (B * H * W)
    mse = F.mse_loss(out["x_hat"], x)
    return bpp, mse
