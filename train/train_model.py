"""Float training graph of lic-ctx1 (docs/FORMAT.md §1.2-1.3), layer for layer.

The float transforms (g_a, h_a, g_s) are the ones the C codec runs in float; the probability path
(h_s, cc, sp, ep) is trained here in float and integerized by train/export.py. Module names follow
the .licw tensor names (g_a.0, h_s.1, cc.2.0, ep.3.2, ...), so export is a renaming-free walk.

Quantization proxies (one forward):
  * y' = g_a(x) * gain[j]; rate term on y' + U(-1/2, 1/2) under N(mu, sigma) convolved with the unit
    box; the synthesis and the context networks see the straight-through rounding round(y' - mu) + mu,
    as the codec does (symbols are coded relative to the mean).
  * z: rate term on z + U(-1/2, 1/2) under the factorized density (EntropyBottleneck below); h_s sees
    round(z - median) + median (straight-through), as in FORMAT.md §1.3 step 2.
  * sigma = max(raw ep output, 0.11) with a gradient-passing lower bound: the integer export keeps
    the raw output linear in sigma and compares it against the scale thresholds (index 0 <=> 0.11).
  * checkerboard context: pass 1 (anchors) gets sp(0), pass 2 gets sp(anchors' y-hat, zeros at the
    non-anchors) — both computed densely, then merged by the mask.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LAMBDAS = [0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800]  # CompressAI mse q1..8
SCALE_MIN = 0.11
LIK_MIN = 1e-9


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


class GDN(nn.Module):
    """GDN / IGDN, reparametrized so that beta > 0 and gamma >= 0 (Ballé et al. 2016):
    p = sqrt(value + pedestal), value = max(p, bound)^2 - pedestal. effective() gives the values the
    .licw stores (y = x / sqrt(beta + gamma * x^2); IGDN multiplies)."""

    PED = 2.0 ** -36

    def __init__(self, c, inverse=False):
        super().__init__()
        self.inverse = inverse
        self.beta_p = nn.Parameter(torch.sqrt(torch.ones(c) + self.PED))
        self.gamma_p = nn.Parameter(torch.sqrt(0.1 * torch.eye(c) + self.PED))

    def effective(self):
        beta = lower_bound(self.beta_p, math.sqrt(1e-6 + self.PED)) ** 2 - self.PED
        gamma = lower_bound(self.gamma_p, math.sqrt(self.PED)) ** 2 - self.PED
        return beta, gamma

    def forward(self, x):
        beta, gamma = self.effective()
        c = beta.shape[0]
        norm = torch.sqrt(F.conv2d(x * x, gamma.view(c, c, 1, 1), beta))
        return x * norm if self.inverse else x / norm


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


class Config:
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


class Seq(nn.Module):
    """Children named "0", "1", ... with an activation list (None or 'lrelu') per layer."""

    def __init__(self, layers, acts, slope):
        super().__init__()
        for i, L in enumerate(layers):
            self.add_module(str(i), L)
        self.acts, self.slope = acts, slope

    def layers(self):
        return [getattr(self, str(i)) for i in range(len(self.acts))]

    def forward(self, x):
        for L, a in zip(self.layers(), self.acts):
            x = L(x)
            if a == "lrelu":
                x = F.leaky_relu(x, self.slope)
        return x


class TrainModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = c = cfg
        slope = c.relu_slope_q8 / 256.0
        self.slope = slope
        N, M = c.N, c.M
        # g_a
        self.g_a = nn.Module()
        ch = [3, N, N, N, M]
        for i in range(4):
            self.g_a.add_module(str(i), nn.Conv2d(ch[i], ch[i + 1], 5, 2, 2))
        for i in range(3):
            self.g_a.add_module("gdn%d" % i, GDN(N))
        # h_a
        self.h_a = Seq([nn.Conv2d(M, N, 3, 1, 1), nn.Conv2d(N, N, 5, 2, 2), nn.Conv2d(N, N, 5, 2, 2)],
                       ["lrelu", "lrelu", None], slope)
        # g_s
        self.g_s = nn.Module()
        ch = [M, N, N, N, 3]
        for i in range(4):
            if c.gs_up == 0:
                conv = nn.ConvTranspose2d(ch[i], ch[i + 1], 5, 2, 2, output_padding=1)
            else:
                conv = nn.Conv2d(ch[i], 4 * ch[i + 1], 3, 1, 1)
            self.g_s.add_module(str(i), conv)
        for i in range(3):
            self.g_s.add_module("igdn%d" % i, GDN(N, inverse=True))
        # probability path (integerized at export)
        self.h_s = Seq([nn.ConvTranspose2d(N, N, 5, 2, 2, output_padding=1),
                        nn.ConvTranspose2d(N, c.C_h, 5, 2, 2, output_padding=1),
                        nn.Conv2d(c.C_h, c.C_h, 3, 1, 1)], ["lrelu", "lrelu", None], slope)
        self.cc, self.sp, self.ep = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        for k, (c0, g) in enumerate(zip(c.group_starts(), c.groups)):
            if k > 0:
                self.cc[str(k)] = Seq([nn.Conv2d(c0, c.C_cc, 3, 1, 1), nn.Conv2d(c.C_cc, c.C_cc, 3, 1, 1)],
                                      ["lrelu", "lrelu"], slope)
            self.sp[str(k)] = Seq([nn.Conv2d(g, c.C_sp, 5, 1, 2)], [None], slope)
            cin = c.C_h + (c.C_cc if k > 0 else 0) + c.C_sp
            ep = Seq([nn.Conv2d(cin, c.C_ep, 1), nn.Conv2d(c.C_ep, c.C_ep, 1), nn.Conv2d(c.C_ep, 2 * g, 1)],
                     ["lrelu", "lrelu", None], slope)
            with torch.no_grad():  # start with sigma ~ 1 rather than at the bound
                ep.layers()[2].bias[g:] += 1.0
            self.ep[str(k)] = ep
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

    # ---- pieces ----

    def _t(self, fn, x):
        """Runs one transform under bf16 autocast when self.amp is set; returns fp32."""
        if not self.amp:
            return fn(x)
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16):
            out = fn(x)
        return out.float()

    def analysis(self, x):
        for i in range(4):
            x = getattr(self.g_a, str(i))(x)
            if i < 3:
                x = getattr(self.g_a, "gdn%d" % i)(x)
        return x

    def synthesis(self, y):
        for i in range(4):
            y = getattr(self.g_s, str(i))(y)
            if self.cfg.gs_up == 1:
                y = F.pixel_shuffle(y, 2)
            if i < 3:
                y = getattr(self.g_s, "igdn%d" % i)(y)
        return y

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
            if k > 0:
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
        y = self._t(self.analysis, x) * gain
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
        x_hat = self._t(self.synthesis, yhat * gain_inv)
        return dict(x_hat=x_hat, lik_y=lik_y, lik_z=lik_z, y=y, z=z)


def rd_terms(out, x):
    """(bpp, mse) of a forward pass; mse on the [0, 1] scale."""
    B, _, H, W = x.shape
    bits = -(torch.log(out["lik_y"]).sum() + torch.log(out["lik_z"]).sum()) / math.log(2.0)
    bpp = bits / (B * H * W)
    mse = F.mse_loss(out["x_hat"], x)
    return bpp, mse
