"""Exports a training checkpoint (train/train.py) to a .licw (docs/FORMAT.md §1.2) of its
architecture (train/lic_model.py: lic-ctx1, or lic-hp1), by walking the model's layer table.

    /usr/bin/python3 train/export.py --ckpt train/work/ckpt.pt --data train/work/data -o train/work/model.licw

* float transforms (g_a, h_a, g_s): float32 as trained; GDN/IGDN as effective beta, gamma.
* gains: exp of the learned log-gains, [n_gains, M].
* probability path (h_s, cc, sp, ep) in integer form. Activation formats are powers of two, one per
  tensor: an activation v is stored as round(v * 2^a). The boundaries are fixed by the format
  (z-hat: a = z_frac_bits; y-hat context: a = yctx_frac_bits; ep.k.2 outputs: a = 8, 1/256 units);
  every hidden exponent is chosen by calibration: the float network runs on training crops at every
  gain index, and a is the largest value with max|v| * 2^a * HEADROOM <= 32767. A layer with input
  exponents a_in (per input channel; the ep input concatenates three tensors) and output exponent
  a_out gets W' = W * 2^-a_in (folded per input channel), per output channel c an exponent e_c =
  floor(log2(32767 / max|W'_c|)) (lowered if the bias would leave int32 or the shift exceed 62),
  weight round(W'_c * 2^e_c) (int16), bias round(b_c * 2^e_c) (int32), shift e_c - a_out (>= 1).
* entropy tables: y: 64 Gaussian rows, scales log-spaced 0.11..256, thresholds round(256 * scale_i)
  for i < 63 (tools/cdf_build.c, reimplemented below and checked equal to lic-mkmodel's table);
  z: one row per channel from the learned factorized density, centred on the median rounded to
  2^-z_frac_bits, over the [tail, 1 - tail] quantile range, plus the escape mass.
"""

import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lic_model as LM  # noqa: E402

CDF_TOTAL = 65536
GAUSS_TAIL_MULT = 6.109
N_SCALES, Y_SMIN, Y_SMAX = 64, 0.11, 256.0
Z_FRAC_BITS = 4
HEADROOM = 2.0        # calibrated max |activation| maps to at most half the int16 range
INT16_MAX = 32767


# ---------------------------------------------------------------------------------------------
# CDF construction (tools/cdf_build.c rules)

def cdf_from_pmf(pmf, tail):
    """lic_cdf_from_pmf: n values + escape -> n + 2 entry CDF (0 .. 65536)."""
    p = [float(v) for v in pmf] + [float(tail)]
    ns = len(p)
    if ns > CDF_TOTAL or any((not math.isfinite(v)) or v < 0 for v in p):
        raise ValueError("bad pmf")
    total = sum(p)  # left-to-right double sum, as the C loop
    freq, rem = [], []
    s = 0
    for i, v in enumerate(p):
        q = v / total * CDF_TOTAL if total > 0 else CDF_TOTAL / ns
        f = math.floor(q)
        freq.append(int(f))
        rem.append((q - f, i))
        s += int(f)
    rem.sort(key=lambda t: (-t[0], t[1]))
    deficit = CDF_TOTAL - s
    for k in range(max(deficit, 0)):
        freq[rem[k % ns][1]] += 1
    # donors: the currently largest count, ties to the lowest index (the C heap order)
    import heapq
    heap = [(-freq[i], i) for i in range(ns) if freq[i] > 0]
    heapq.heapify(heap)

    def take_one():
        while True:
            nf, i = heapq.heappop(heap)
            if -nf == freq[i]:
                freq[i] -= 1
                heapq.heappush(heap, (-freq[i], i))
                return
    for _ in range(max(-deficit, 0)):
        take_one()
    for i in range(ns):
        if freq[i] == 0:
            take_one()
            freq[i] = 1
    cdf = [0]
    for f in freq:
        cdf.append(cdf[-1] + f)
    assert cdf[-1] == CDF_TOTAL
    return cdf


def std_normal_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def gaussian_row(scale):
    center = int(math.ceil(scale * GAUSS_TAIL_MULT))
    n = 2 * center + 1
    pmf = []
    for i in range(n):
        k = abs(float(i - center))
        pmf.append(std_normal_cdf((0.5 - k) / scale) - std_normal_cdf((-0.5 - k) / scale))
    tail = 2.0 * std_normal_cdf(-(center + 0.5) / scale)
    return cdf_from_pmf(pmf, tail), -center


def scale_table(n=N_SCALES, smin=Y_SMIN, smax=Y_SMAX):
    a, b = math.log(smin), math.log(smax)
    s = [math.exp(a + (b - a) * i / (n - 1)) for i in range(n)]
    s[0], s[-1] = smin, smax
    return s


def pack_rows(rows):
    stride = max(len(r) for r in rows)
    cdf = np.zeros((len(rows), stride), np.int32)
    for i, r in enumerate(rows):
        cdf[i, :len(r)] = r
    return cdf, np.array([len(r) for r in rows], np.int32)


def gg_row(scale, beta, max_length=4095):
    """A row of the generalized Gaussian of shape beta and standard deviation `scale`, by the rules of
    gaussian_row: the same tail mass as the Gaussian rows (2 * Phi(-6.109)) beyond the centre,
    except that the row is cut at max_length entries (the C coder's limit, LIC_CDF_MAX_LENGTH 4096
    incl. the escape); the mass beyond goes to the escape symbol either way."""
    a = 1.0 / beta
    alpha = scale * math.sqrt(math.exp(math.lgamma(a) - math.lgamma(3.0 * a)))
    at = torch.tensor(a, dtype=torch.float64)

    def q(t):  # mass beyond |t|, one side
        return 0.5 * float(torch.special.gammaincc(at, torch.tensor((abs(t) / alpha) ** beta, dtype=torch.float64)))

    tail_target = 2.0 * std_normal_cdf(-GAUSS_TAIL_MULT)
    lo, hi = 0.0, scale * 64.0
    for _ in range(60):  # the t with 2 q(t) = tail_target
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if 2.0 * q(mid) > tail_target else (lo, mid)
    center = min(int(math.ceil(hi)), (max_length - 2) // 2)
    n = 2 * center + 1
    pmf = []
    for i in range(n):
        k = abs(float(i - center))
        pmf.append(1.0 - q(0.5 - k) - q(-0.5 - k) if k < 0.5 else q(k - 0.5) - q(k + 0.5))
    return cdf_from_pmf(pmf, 2.0 * q(center + 0.5)), -center


def y_tables(smax=Y_SMAX, beta=None):
    """The y CDF rows (Gaussian, or generalized Gaussian of shape beta), offsets and thresholds."""
    scales = scale_table(smax=smax)
    rows, offs = [], []
    for s in scales:
        r, o = gaussian_row(s) if beta is None or beta == 2.0 else gg_row(s, beta)
        rows.append(r)
        offs.append(o)
    cdf, length = pack_rows(rows)
    thr = np.array([int(math.floor(256.0 * s + 0.5)) for s in scales[:-1]], np.int32)  # lround, s > 0
    return cdf, length, np.array(offs, np.int32), thr


@torch.no_grad()
def z_tables(eb, zf=Z_FRAC_BITS):
    q = eb.quantiles.detach().double().clone()
    # The tail quantiles are solved here by bisection on the (monotone) cumulative rather than taken
    # from the aux-trained parameters, which lag the density when the main learning rate is high.
    # The median stays the trained one: it is the quantization offset h_s was trained with.
    t = math.log(2.0 / eb.tail_mass - 1.0)
    for c in range(q.shape[0]):
        for col, target in ((0, -t), (2, t)):
            lo, hi = -4096.0, 4096.0
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                if float(_eb_logits(eb, c, torch.tensor([mid], dtype=torch.float64))[0]) < target:
                    lo = mid
                else:
                    hi = mid
            q[c, 0, col] = 0.5 * (lo + hi)
    med = q[:, 0, 1]
    med_q = torch.round(med * (1 << zf))          # int16 units of 2^-zf
    m = med_q / (1 << zf)
    lo = torch.clamp(torch.ceil(m - q[:, 0, 0]), min=0)
    hi = torch.clamp(torch.ceil(q[:, 0, 2] - m), min=0)
    rows, offs = [], []
    C = q.shape[0]
    for c in range(C):
        n_lo, n_hi = int(lo[c]), int(hi[c])
        n_lo, n_hi = min(n_lo, 2000), min(n_hi, 2000)
        v = torch.arange(-n_lo, n_hi + 1, dtype=torch.float64) + m[c]
        x = v.float().view(1, 1, -1)
        # per-channel density: run channel c's MLP only (slice the parameters)
        lik = _eb_channel_lik(eb, c, v)
        first = float(v[0]) - 0.5
        last = float(v[-1]) + 0.5
        tail = _eb_channel_cum(eb, c, first) + (1.0 - _eb_channel_cum(eb, c, last))
        rows.append(cdf_from_pmf(lik.tolist(), max(tail, 0.0)))
        offs.append(-n_lo)
        del x
    cdf, length = pack_rows(rows)
    return cdf, length, np.array(offs, np.int32), med_q.numpy().astype(np.int32)


def _eb_logits(eb, c, x):
    """Cumulative logits of channel c at float64 points x (1-D)."""
    x = x.view(1, -1)
    for i in range(len(eb.matrices)):
        mtx = F.softplus(eb.matrices[i][c].double())
        x = mtx @ x + eb.biases[i][c].double()
        if i < len(eb.factors):
            x = x + torch.tanh(eb.factors[i][c].double()) * torch.tanh(x)
    return x.view(-1)


def _eb_channel_cum(eb, c, t):
    return float(torch.sigmoid(_eb_logits(eb, c, torch.tensor([t], dtype=torch.float64)))[0])


def _eb_channel_lik(eb, c, v):
    lo = _eb_logits(eb, c, v - 0.5)
    up = _eb_logits(eb, c, v + 0.5)
    sign = -torch.sign(lo + up)
    return torch.abs(torch.sigmoid(sign * up) - torch.sigmoid(sign * lo))


# ---------------------------------------------------------------------------------------------
# calibration

class Recorder:
    """Forward hooks on the probability-path layers (the model's layer table): running max
    |post-activation output| per layer name."""

    def __init__(self, model):
        self.max = {}
        self.handles = []
        for s in model.layer_table():
            L, seq = model.float_layer(s.name)
            self.handles.append(L.register_forward_hook(self._hook(s.name, s.act, seq.slope)))

    def _hook(self, name, act, slope):
        def f(mod, inp, out):
            v = F.leaky_relu(out, slope) if act == "lrelu" else out
            m = float(v.abs().max())
            self.max[name] = max(self.max.get(name, 0.0), m)
        return f

    def close(self):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def calibrate(model, crops, bs=8):
    """Max |activation| per integer layer and max |y-hat| over crops at every gain index."""
    rec = Recorder(model)
    ymax = 0.0
    zmax = 0.0
    model.eval()
    for j in range(model.cfg.n_gains):
        for s in range(0, crops.shape[0], bs):
            x = torch.from_numpy(crops[s:s + bs]).permute(0, 3, 1, 2).float().div_(255.0)
            out = model(x, j, noise=False)
            ymax = max(ymax, float(out["y"].abs().max()))
            zmax = max(zmax, float(out["z"].abs().max()))
    rec.close()
    return rec.max, ymax, zmax


def exponent_for(maxabs, headroom=HEADROOM):
    if maxabs <= 0:
        return 8
    return int(math.floor(math.log2(INT16_MAX / (maxabs * headroom))))


# ---------------------------------------------------------------------------------------------
# integer layer quantization

def quantize_layer(L, a_in, a_out, transposed, out_bits=16, fixed_out=False):
    """Float conv L (nn.Conv2d / ConvTranspose2d) -> (int16 weight, int32 bias, int32 shift).
    a_in: per-input-channel exponents (np array), a_out: output exponent (int)."""
    W = L.weight.detach().double().numpy()
    b = L.bias.detach().double().numpy()
    a_in = np.asarray(a_in, np.float64)
    if transposed:  # [cin, cout, k, k]
        Wf = W * np.power(2.0, -a_in).reshape(-1, 1, 1, 1)
        Wc = np.transpose(Wf, (1, 0, 2, 3))
    else:           # [cout, cin, k, k]
        Wf = W * np.power(2.0, -a_in).reshape(1, -1, 1, 1)
        Wc = Wf
    cout = Wc.shape[0]
    wq = np.zeros_like(Wc)
    bq = np.zeros(cout, np.int64)
    sh = np.zeros(cout, np.int64)
    for c in range(cout):
        m = np.abs(Wc[c]).max()
        e = int(math.floor(math.log2(INT16_MAX / m))) if m > 0 else 40
        e = min(e, 62 + a_out)
        while e > -64:
            w_i = np.round(Wc[c] * 2.0 ** e)
            b_i = round(b[c] * 2.0 ** e)
            if np.abs(w_i).max() <= INT16_MAX and abs(b_i) < 2 ** 31 - 1:
                break
            e -= 1
        wq[c], bq[c], sh[c] = w_i, b_i, e
    sh = sh - a_out
    if sh.min() < 1:
        if fixed_out:
            raise ValueError("layer needs shift %d < 1 (output exponent %d too fine)" % (sh.min(), a_out))
        # output format finer than the weights allow: coarsen this layer's output exponent
        d = 1 - int(sh.min())
        return quantize_layer(L, a_in, a_out - d, transposed, out_bits, fixed_out)
    if transposed:
        wq = np.transpose(wq, (1, 0, 2, 3))
    return (wq.astype(np.int16), bq.astype(np.int32), sh.astype(np.int32)), a_out


# ---------------------------------------------------------------------------------------------
# export

def load_ckpt(path):
    """A training checkpoint (train/train.py, train/relay.py) as its model class (lic-ctx1 unless
    the checkpoint names another "arch")."""
    st = torch.load(path, map_location="cpu")
    model = LM.model_class(st.get("arch", LM.ARCH))(LM.Config(**st["config"]))
    model.load_state_dict(st["model"])
    model.eval()
    return model, st


def export(model, crops, description="", yf=None, log=print):
    """Integerizes `model` (an lic_model.LicModel in training form) by walking its layer table:
    fills model.arch, model.iconv and model.tables and returns the .licw bytes."""
    cfg = model.cfg
    maxes, ymax, zmax = calibrate(model, crops)
    if yf is None:
        yf = max(0, min(7, exponent_for(ymax, 1.5)))
    a = {name: exponent_for(m) for name, m in maxes.items()}
    log("calibration: max|y'| %.1f -> yctx_frac_bits %d, max|z| %.1f; hidden exponents %s"
        % (ymax, yf, zmax, " ".join("%s:%d(%.0f)" % (n, a[n], maxes[n]) for n in sorted(a))))
    arch = LM.Arch.of(model.ARCH, cfg, Z_FRAC_BITS, yf, description)
    model.make_iconv()
    # integer layers: the output exponent of every layer (and of the two inputs, z-hat and the y-hat
    # context) as used, so that each layer folds its inputs' formats into its weights
    used = {"zhat": Z_FRAC_BITS, "yctx": yf}
    for s in model.layer_table():
        a_in = np.concatenate([np.full(ch, used[src], np.float64) for src, ch in s.inputs])
        fixed = s.out_exp is not None
        L, _ = model.float_layer(s.name)
        arrays, used[s.name] = quantize_layer(L, a_in, s.out_exp if fixed else a[s.name], s.transposed,
                                              fixed_out=fixed)
        model.iconv[s.name].load(*arrays)
    ycdf, ylen, yoff, thr = y_tables(beta=getattr(model, "lik_beta", None))
    zcdf, zlen, zoff, zmed = z_tables(model.eb)
    model.arch = arch
    model.set_tables({
        "entropy.z.cdf": zcdf, "entropy.z.length": zlen, "entropy.z.offset": zoff, "entropy.z.median": zmed,
        "entropy.y.cdf": ycdf, "entropy.y.length": ylen, "entropy.y.offset": yoff,
        "entropy.y.scale_thresholds": thr,
        "gain.y": torch.exp(model.gain_log).detach().cpu().numpy().astype(np.float32),
        "gain.y_inv": torch.exp(model.gain_inv_log).detach().cpu().numpy().astype(np.float32),
    })
    log("z table: rows %d, max length %d; y table: %d rows, stride %d" % (zcdf.shape[0], zcdf.shape[1],
                                                                        ycdf.shape[0], ycdf.shape[1]))
    return model.to_licw_bytes()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default="train/work/ckpt.pt")
    ap.add_argument("--data", default="train/work/data")
    ap.add_argument("--tile", type=int, default=256, help="tile side of the crop cache (DATA/train_TILE.npy)")
    ap.add_argument("--calib", type=int, default=32, help="training tiles used for calibration")
    ap.add_argument("--description", default="")
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, st = load_ckpt(args.ckpt)
    data = np.load(os.path.join(args.data, "train_%d.npy" % args.tile), mmap_mode="r")
    idx = np.random.default_rng(7).choice(data.shape[0], size=min(args.calib, data.shape[0]), replace=False)
    crops = np.ascontiguousarray(data[np.sort(idx)])
    desc = args.description or ("%s trained by train/train.py, step %d" % (model.ARCH, st["step"]))
    blob = export(model, crops, desc)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, args.out)
    print("wrote %s (%d bytes)" % (args.out, len(blob)))


if __name__ == "__main__":
    main()
