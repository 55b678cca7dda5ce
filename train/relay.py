"""The training relay: legs of training, on a GPU or on the CPU, each continuing the checkpoint that
lives in the repository (train/relay/ckpt.pt). docs/MODEL.md §9 is the runbook.

    /usr/bin/python3 train/relay.py leg --minutes 11 --out OUT [--packs P.npz ...] [--device auto]
    /usr/bin/python3 train/relay.py leg --bench 50 [--device cuda]         # steps/s, samples/s, TFLOP/s
    /usr/bin/python3 train/relay.py land OUT [--codec build-b/bin]        # back into the repository
    /usr/bin/python3 train/relay.py init --from ../shared/warmstart/default-preset-32k.pt
    /usr/bin/python3 train/relay.py next-pack                             # the pack the next leg carries

Relay checkpoint (format "lic-relay-1", torch.save of plain tensors and JSON-able values): the model's
fp32 weights, its Config, and `state`: the global step, the seed, the likelihood, the history of
legs, and the position of the current leg (its start step, lr, decay step, re-warm start, data
packs, batch, crop). No optimizer moments (they would triple the file): a leg that starts from it
ramps the lr linearly over --rewarm steps while Adam's moments fill again. The leg also writes a
local full checkpoint (with the optimizer) to WORK/full.pt every --ckpt-every seconds; resuming
from that one continues bit for bit (on the CPU) — `leg --resume-full`.

Data order: the batch of global step s (tile indices, crop offsets, flips, quality index j) is drawn
from numpy's generator seeded with (seed, s) over the tiles of the leg's packs, so it depends only on
s and the pack list; it is cut on the training device by one gather from the uint8 bank.
"""

import argparse
import glob
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from lic_model import LAMBDAS, Config, LicCtx1 as TrainModel, rd_terms  # noqa: E402
import packs as P  # noqa: E402

FORMAT = "lic-relay-1"
RELAY_CKPT = os.path.join(ROOT, "train", "relay", "ckpt.pt")
T_START = time.time()  # --minutes counts from here: start-up and compilation are part of the budget
TRACE = None  # a list: run_leg appends (step, lr, lr without re-warm, j, batch-plan checksum) (tests)
PRESETS = {
    "default": dict(N=128, M=192, groups=[16, 16, 32, 64, 64], C_h=192, C_cc=64, C_sp=32, C_ep=128),
    "small": dict(N=64, M=128, groups=[16, 16, 32, 64], C_h=128, C_cc=64, C_sp=32, C_ep=96),
    "tiny": dict(N=16, M=32, groups=[8, 8, 16], C_h=16, C_cc=8, C_sp=8, C_ep=16),
}


def log(fh, msg):
    line = time.strftime("%Y-%m-%d %H:%M:%S ", time.gmtime()) + msg
    print(line, flush=True)
    if fh is not None:
        fh.write(line + "\n")
        fh.flush()


# ------------------------------------------------------------------------------------------------
# checkpoint

def new_state(seed=1, lik_beta=None):
    return dict(format=FORMAT, step=0, seed=seed, lik_beta=lik_beta, legs=[], leg=None)


def save_relay(path, model, state, split_mb=0):
    """Weights as fp32 tensors (+ the state); atomic. split_mb > 0: as PATH.00, PATH.01, ... of at most
    split_mb MiB each instead (a GPU machine returns files of at most 16 MiB)."""
    sd = {k: v.detach().to("cpu", torch.float32).contiguous() if v.is_floating_point() else v.detach().cpu()
          for k, v in model.state_dict().items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    obj = dict(format=FORMAT, config=model.cfg.as_dict(), model=sd, state=state)
    if not split_mb:
        torch.save(obj, path + ".tmp")
        os.replace(path + ".tmp", path)
        return
    b = io.BytesIO()
    torch.save(obj, b)
    data, n = b.getvalue(), int(split_mb * 2 ** 20)
    for old in glob.glob(glob.escape(path) + ".[0-9][0-9]"):
        os.remove(old)
    for i in range(0, len(data), n):
        with open("%s.%02d.tmp" % (path, i // n), "wb") as f:
            f.write(data[i:i + n])
        os.replace("%s.%02d.tmp" % (path, i // n), "%s.%02d" % (path, i // n))


def read_relay_bytes(path):
    """The checkpoint PATH, or the concatenation of its parts PATH.00, PATH.01, ..."""
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    parts = sorted(glob.glob(glob.escape(path) + ".[0-9][0-9]"))
    if not parts:
        raise SystemExit("no checkpoint %s (nor parts %s.00, ...)" % (path, path))
    return b"".join(open(p, "rb").read() for p in parts)


def load_relay(path):
    ck = torch.load(io.BytesIO(read_relay_bytes(path)), map_location="cpu")
    if ck.get("format") != FORMAT:
        raise SystemExit("%s: not a relay checkpoint (format %r)" % (path, ck.get("format")))
    model = TrainModel(Config(**ck["config"]))
    model.load_state_dict(ck["model"])
    model.lik_beta = ck["state"].get("lik_beta")
    return model, ck["state"]


# ------------------------------------------------------------------------------------------------
# schedule and data order

def lr_at(leg, step, rewarm=True):
    """lr of global step `step` in a leg: base, x0.1 from decay_step on, times the linear re-warm
    ramp over rewarm steps from rewarm_start (a start without optimizer moments)."""
    lr = leg["lr"]
    if leg.get("decay_step") is not None and step >= leg["decay_step"]:
        lr *= 0.1
    r0, R = leg.get("rewarm_start"), leg.get("rewarm", 0)
    if not rewarm:
        return lr
    if r0 is not None and R > 0 and step < r0 + R:
        lr *= (step - r0 + 1) / R
    return lr


def plan_steps(seed, step0, n, n_tiles, tile, batch, crop, n_q=len(LAMBDAS)):
    """Batch plans of global steps step0 .. step0+n-1: int64 [n, batch, 4] (tile, oy, ox, flip) and
    j [n]. Depends only on (seed, step, n_tiles, tile, batch, crop)."""
    out = np.empty((n, batch, 4), np.int64)
    js = np.empty(n, np.int64)
    for k in range(n):
        rng = np.random.default_rng([seed, step0 + k])
        out[k, :, 0] = rng.integers(0, n_tiles, size=batch)
        out[k, :, 1:3] = rng.integers(0, tile - crop + 1, size=(batch, 2))
        out[k, :, 3] = rng.integers(0, 2, size=batch)
        js[k] = rng.integers(0, n_q)
    return out, js


def cut_batch(bank, plan, crop):
    """One gather on bank's device: bank uint8 [n, T, T, 3], plan long [B, 4] -> float [B, 3, crop,
    crop] in [0, 1], channels_last."""
    ar = torch.arange(crop, device=bank.device)
    rows = plan[:, 1:2] + ar.view(1, -1)                                            # [B, crop]
    flip = plan[:, 3:4].bool()
    cols = plan[:, 2:3] + torch.where(flip, crop - 1 - ar.view(1, -1), ar.view(1, -1))  # [B, crop]
    t = bank[plan[:, 0].view(-1, 1, 1), rows.view(-1, crop, 1), cols.view(-1, 1, crop)]  # [B, crop, crop, 3]
    x = t.permute(0, 3, 1, 2).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last)


class Data:
    """The uint8 bank of a leg's packs on the training device, and the plan of the coming steps."""

    def __init__(self, pack_paths, device, batch, crop, seed, chunk=256):
        trains, vals, self.names = [], None, []
        for p in pack_paths:
            tr, va, info = P.load_pack(p)
            trains.append(tr)
            vals = va if vals is None else vals
            self.names.append(os.path.basename(p))
        bank = np.concatenate(trains) if len(trains) > 1 else trains[0]
        self.tile = bank.shape[1]
        self.n = bank.shape[0]
        self.bank = torch.from_numpy(bank).to(device)
        self.val = vals
        self.device, self.batch, self.crop, self.seed, self.chunk = device, batch, crop, seed, chunk
        self._c0, self._plans, self._js = None, None, None

    def at(self, step):
        """(x, j) of global step `step`; j a 0-d long tensor on the device."""
        if self._c0 is None or not (self._c0 <= step < self._c0 + self.chunk):
            p, js = plan_steps(self.seed, step, self.chunk, self.n, self.tile, self.batch, self.crop)
            self._c0, self._np = step, (p, js)
            self._plans = torch.from_numpy(p).to(self.device)
            self._js = torch.from_numpy(js).to(self.device)
        k = step - self._c0
        return cut_batch(self.bank, self._plans[k], self.crop), self._js[k]

    def plan_of(self, step):
        """(checksum of the batch plan, j) of a step inside the current chunk, on the host."""
        p, js = self._np
        k = step - self._c0
        return int((p[k] * np.arange(1, p[k].size + 1).reshape(p[k].shape)).sum()), int(js[k])


# ------------------------------------------------------------------------------------------------
# the training step

def loss_terms(model, x, j, lam, wexp):
    """(gradient loss incl. aux, RD loss, bpp, mse) of one batch; j a 0-d long tensor, lam the
    lambda table on the device, so one traced or captured graph serves every quality."""
    out = model(x, j)
    bpp, mse = rd_terms(out, x)
    lj = lam[j]
    loss = bpp + lj * (255.0 ** 2) * mse
    # aux loss: its gradient reaches only eb.quantiles (stop_gradient inside), and the main loss none
    # of them (medians are detached), so one backward serves both optimizers
    g = loss * (lam[0] / lj) ** wexp + model.eb.aux_loss()
    return g, loss, bpp, mse


def fwd_flops(model, x):
    """Multiply-adds x 2 of the convolutions of one forward at x's shape (eager, hooks)."""
    tot = [0]

    def hook(mod, inp, out):
        k = mod.weight.shape[2] * mod.weight.shape[3]
        if isinstance(mod, torch.nn.ConvTranspose2d):
            tot[0] += 2 * inp[0].numel() * mod.out_channels * k // mod.groups
        else:
            tot[0] += 2 * out.numel() * (mod.in_channels // mod.groups) * k

    hs = [m.register_forward_hook(hook) for m in model.modules()
          if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        model(x, torch.tensor(0, device=x.device))
    for h in hs:
        h.remove()
    return tot[0]


@torch.no_grad()
def evaluate(model, val, device, js=(0, 3, 7), bs=8):
    """Held-out tiles, hard rounding, rate from the likelihoods: {j: (bpp, psnr, loss)}."""
    model.eval()
    res = {}
    for j in js:
        bits, n_pix, psnrs, mse_sum = 0.0, 0, [], 0.0
        for s in range(0, val.shape[0], bs):
            x = torch.from_numpy(val[s:s + bs]).to(device).permute(0, 3, 1, 2).float().div_(255.0)
            out = model(x, j, noise=False)
            bpp, mse = rd_terms(out, x)
            bits += float(bpp) * x.numel() / 3
            n_pix += x.numel() // 3
            xh = out["x_hat"].clamp(0, 1).mul(255).round().div(255)
            psnrs += (-10 * torch.log10(((xh - x) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10))).tolist()
            mse_sum += float(mse) * x.shape[0]
        bpp = bits / n_pix
        res[j] = (bpp, float(np.mean(psnrs)), bpp + LAMBDAS[j] * 255 ** 2 * mse_sum / val.shape[0])
    model.train()
    return res


def fmt_eval(r):
    return "  ".join("j%d bpp %.4f psnr %.2f loss %.4f" % (j, b, p, l) for j, (b, p, l) in r.items())


class Trainer:
    """Model + optimizers + the (maybe compiled) step on one device."""

    def __init__(self, model, device, amp, compile_mode, wexp, clip, aux_lr, fh):
        self.model, self.device, self.wexp, self.clip, self.fh = model, device, wexp, clip, fh
        model.amp = amp
        self.main_params = [p for n, p in model.named_parameters() if n != "eb.quantiles"]
        kw = {}
        if device.type == "cuda":
            kw["fused"] = True
        self.opt = torch.optim.Adam(self.main_params, lr=1e-4, **kw)
        self.aux_opt = torch.optim.Adam([model.eb.quantiles], lr=aux_lr)
        self.lam = torch.tensor(LAMBDAS, device=device)
        self.fn = loss_terms
        self.mode = "eager"
        if compile_mode != "none":
            if not hasattr(torch, "compile"):
                log(fh, "compile: torch %s has no torch.compile; eager" % torch.__version__)
            else:
                try:
                    self.fn = torch.compile(loss_terms, mode=compile_mode)
                    self.mode = "compile:" + compile_mode
                except Exception as e:  # noqa: BLE001
                    log(fh, "compile failed (%s); eager" % e)

    def step(self, x, j, lr):
        for g in self.opt.param_groups:
            g["lr"] = lr
        if self.mode.startswith("compile") and hasattr(torch, "compiler") and \
                hasattr(torch.compiler, "cudagraph_mark_step_begin"):
            torch.compiler.cudagraph_mark_step_begin()
        try:
            g, loss, bpp, mse = self.fn(self.model, x, j, self.lam, self.wexp)
            self.opt.zero_grad(set_to_none=True)
            self.aux_opt.zero_grad(set_to_none=True)
            g.backward()
        except Exception as e:  # noqa: BLE001
            if self.mode == "eager":
                raise
            log(self.fh, "%s failed at run time (%s: %s); falling back to eager"
                % (self.mode, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
            self.fn, self.mode = loss_terms, "eager"
            return self.step(x, j, lr)
        torch.nn.utils.clip_grad_norm_(self.main_params, self.clip)
        self.opt.step()
        self.aux_opt.step()
        return loss.detach(), bpp.detach(), mse.detach()

    def state_dict(self):
        return dict(opt=self.opt.state_dict(), aux_opt=self.aux_opt.state_dict())

    def load_state_dict(self, st):
        self.opt.load_state_dict(st["opt"])
        self.aux_opt.load_state_dict(st["aux_opt"])


def run_leg(model, state, data, args, device, fh, full_path=None, trainer_state=None):
    """Trains from state["step"] until args.steps steps of this leg or args.minutes; returns the
    trainer. state["leg"] must be set (start, lr, decay plan, re-warm)."""
    leg = state["leg"]
    tr = Trainer(model, device, args.amp, args.compile, args.lambda_weight_exp, args.clip, args.aux_lr, fh)
    if trainer_state is not None:
        tr.load_state_dict(trainer_state)
    model.train()
    t0 = time.time()
    seconds0 = leg.get("seconds", 0)  # training time of this leg in earlier runs (resumed)
    end_t = T_START + 60.0 * args.minutes if args.minutes else None
    decay_t = T_START + 60.0 * args.minutes * (1.0 - args.decay_frac) if args.minutes and args.decay_frac else None
    end_step = leg["start"] + args.steps if args.steps else None
    run_start = state["step"]
    stop_step = run_start + args.stop_after if args.stop_after else None
    tr.interrupted = False
    acc = torch.zeros(4, device=device)
    t_log, n_log, t_ck = time.time(), 0, time.time()
    cpu = device.type == "cpu"
    flops = 3 * fwd_flops(model, data.at(state["step"])[0])  # per step, convolutions only
    model.train()
    first = True
    thr = ThreadProbe(args.threads, args.adapt_threads, fh)
    if not cpu:
        torch.manual_seed(state["seed"] * 1000003 + state["step"])
    while True:
        step = state["step"]
        now = time.time()
        if (end_step is not None and step >= end_step) or (end_t is not None and now >= end_t):
            break
        if stop_step is not None and step >= stop_step:
            tr.interrupted = True
            break
        if leg.get("decay_step") is None and decay_t is not None and now >= decay_t:
            leg["decay_step"] = step
            log(fh, "lr x0.1 from step %d" % step)
        if cpu and args.adapt_threads and args.threads > 1:
            thr.probe(step - run_start)  # probes at the start of every run, then every N steps
        x, j = data.at(step)
        if cpu:
            torch.manual_seed(state["seed"] * 1000003 + step)  # the noise of step s, reproducible
        loss, bpp, mse = tr.step(x, j, lr_at(leg, step))
        if first:  # the first step includes compilation / graph capture: say how long it took
            float(loss)
            log(fh, "first step (%s) took %.1f s; %.0f s since the start of the process"
                % (tr.mode, time.time() - now, time.time() - T_START))
            first = False
            t_log, n_log = time.time(), -1  # the speed is timed from the second step on
        if TRACE is not None:
            TRACE.append((step, lr_at(leg, step), lr_at(leg, step, rewarm=False)) + data.plan_of(step))
        state["step"] = step + 1
        acc += torch.stack([loss, bpp, mse, torch.ones((), device=device)])
        n_log += 1
        if state["step"] % args.log_every == 0:
            a = acc.tolist()
            if not math.isfinite(a[0]):
                log(fh, "non-finite loss by step %d: stopping; the last checkpoint stands" % state["step"])
                raise SystemExit(3)
            dt = (time.time() - t_log) / n_log
            log(fh, "step %d loss %.4f bpp %.4f psnr %.2f lr %.3g %.4f s/step %.1f steps/s %.0f samples/s %.3g TFLOP/s (%s)"
                % (state["step"], a[0] / a[3], a[1] / a[3], -10 * math.log10(max(a[2] / a[3], 1e-10)),
                   lr_at(leg, step), dt, 1 / dt, data.batch / dt, flops / dt / 1e12, tr.mode) + rss_note(device))
            acc.zero_()
            t_log, n_log = time.time(), 0
            if full_path and time.time() - t_ck >= args.ckpt_every:
                leg["seconds"] = round(seconds0 + time.time() - t0, 1)
                if not args.no_full:
                    save_full(full_path, model, state, tr)
                # and the relay form, mid-leg (state["leg"] set): `leg` continues this leg from it
                save_relay(os.path.join(args.out, "ckpt.pt"), model, state, args.split_mb)
                t_ck = time.time()
    leg["end"] = state["step"]
    leg["seconds"] = round(seconds0 + time.time() - t0, 1)
    return tr


def rss_note(device):
    """' rss N MB' of this process on the CPU (a leak shows here before the OOM killer acts)."""
    if device.type != "cpu":
        return " peak %.1f GiB" % (torch.cuda.max_memory_allocated() / 2 ** 30)
    try:
        with open("/proc/self/statm") as f:
            return " rss %d MB" % (int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2 ** 20)
    except (OSError, ValueError):
        return ""


class ThreadProbe:
    """On a shared CPU, n OpenMP threads lose badly to 1 when another process holds a core: every
    `every` steps, time 3 steps at n threads and 3 at 1, and keep the faster count until the next
    probe (the results do not depend on the thread count beyond float summation order)."""

    def __init__(self, n, every, fh):
        self.n, self.every, self.fh, self.cur, self.t = n, every, fh, n, 0.0

    def probe(self, k):
        ph = k % self.every
        if ph == 0:
            torch.set_num_threads(self.n)
        elif ph == 1:
            self.t = time.time()
        elif ph == 4:
            self.tn = (time.time() - self.t) / 3
            torch.set_num_threads(1)
            self.t = time.time()
        elif ph == 7:
            t1 = (time.time() - self.t) / 3
            best = 1 if t1 < self.tn else self.n
            torch.set_num_threads(best)
            if best != self.cur:
                log(self.fh, "threads: %d (%.3f s/step at %d, %.3f at 1)" % (best, self.tn, self.n, t1))
            self.cur = best


def save_full(path, model, state, tr):
    tmp = path + ".tmp"
    torch.save(dict(format=FORMAT + "-full", config=model.cfg.as_dict(), model=model.state_dict(),
                    state=state, trainer=tr.state_dict()), tmp)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------
# commands

def where(device, threads):
    """'GPU <name>' or 'CPU <model> x<threads>' for the leg table."""
    if device.type == "cuda":
        return "GPU " + torch.cuda.get_device_name(device)
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "CPU %s x%d" % (model, threads)


def pick_device(name):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def default_packs(pack_dir):
    if not os.path.isdir(pack_dir):
        return []
    return sorted(os.path.join(pack_dir, n) for n in os.listdir(pack_dir) if n.endswith(".npz"))


def cmd_init(args):
    ck = torch.load(args.source, map_location="cpu")
    model = TrainModel(Config(**ck["config"]))
    model.load_state_dict(ck["model"])
    st = new_state(seed=args.seed)
    st["step"] = int(ck.get("step", 0))
    st["legs"].append(dict(leg=0, what="warm start %s" % os.path.basename(args.source), start=0, end=st["step"],
                           where=args.where, started=args.date, seconds=60.0 * args.minutes, packs=[]))
    save_relay(args.out, model, st)
    print("wrote %s at step %d (%d bytes)" % (args.out, st["step"], os.path.getsize(args.out)))


def cmd_leg(args):
    device = pick_device(args.device)
    gpu = device.type == "cuda"
    if gpu:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        torch.set_num_threads(args.threads)
    batch = args.batch or (32 if gpu else 8)
    crop = args.crop or (256 if gpu else 128)
    if args.amp is None:  # bf16 pays on the CPU (1.7x, docs/MODEL.md §9.1); on the GPU TF32 until measured
        args.amp = not gpu
    if args.compile is None:
        args.compile = "reduce-overhead" if gpu else "none"
    out = args.out
    os.makedirs(out, exist_ok=True)
    fh = open(os.path.join(out, "leg.log"), "a")
    try:
        return _leg(args, out, fh, device, gpu, batch, crop)
    finally:
        fh.close()


def _leg(args, out, fh, device, gpu, batch, crop):
    resume_full = args.resume_full and os.path.exists(os.path.join(out, "full.pt"))
    trainer_state = None
    if resume_full:
        ck = torch.load(os.path.join(out, "full.pt"), map_location="cpu")
        model = TrainModel(Config(**ck["config"]))
        model.load_state_dict(ck["model"])
        state, trainer_state = ck["state"], ck["trainer"]
        model.lik_beta = state.get("lik_beta")
    elif args.preset:
        model = TrainModel(Config(**PRESETS[args.preset]))
        state = new_state(args.seed)
    else:
        model, state = load_relay(args.ckpt)
    if args.lik_beta is not None:
        state["lik_beta"] = None if args.lik_beta == 2.0 else args.lik_beta
        model.lik_beta = state["lik_beta"]
    model = model.to(device).to(memory_format=torch.channels_last)
    pack_paths = args.packs or default_packs(args.pack_dir)
    if not pack_paths:
        raise SystemExit("no data packs (build them: train/packs.py build; see train/DATA.md)")
    data = Data(pack_paths, device, batch, crop, state["seed"])
    if state.get("leg") is not None and not resume_full:
        # a checkpoint written in the middle of a leg: continue that leg (same start, lr, decay plan,
        # data), re-warming the lr because the optimizer moments are not in the file
        leg = state["leg"]
        if data.names != leg["packs"] or (batch, crop) != (leg["batch"], leg["crop"]):
            raise SystemExit("continuing leg %d needs packs %s at batch %d x %d" % (leg["leg"], leg["packs"],
                                                                                   leg["batch"], leg["crop"]))
        leg["rewarm_start"] = state["step"]
        log(fh, "continuing leg %d at step %d (re-warm %d steps)" % (leg["leg"], state["step"], leg["rewarm"]))
    elif not resume_full:
        idx = 1 + max([L["leg"] for L in state["legs"]] + [0])
        state["leg"] = dict(leg=idx, device=str(device), where=where(device, args.threads), start=state["step"], lr=args.lr or (2e-4 if gpu else 1e-4),
                            decay_step=(state["step"] + int(args.steps * (1 - args.decay_frac))
                                        if args.steps and args.decay_frac else None),
                            rewarm_start=state["step"], rewarm=args.rewarm or (1000 if gpu else 200), packs=data.names, batch=batch, crop=crop,
                            amp=args.amp, started=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    nparam = sum(p.numel() for p in model.parameters())
    log(fh, "leg %d on %s (%s) from step %d: %d params, %d tiles of %d^2 in %s, batch %d x %d^2, lr %g, "
        "amp %s, likelihood %s, compile %s, torch %s" % (
            state["leg"]["leg"], device, torch.cuda.get_device_name(0) if gpu else "cpu x%d" % args.threads,
            state["step"], nparam, data.n, data.tile, ",".join(data.names), batch, crop, state["leg"]["lr"],
            args.amp, "gaussian" if not state.get("lik_beta") else "gg%.2f" % state["lik_beta"], args.compile,
            torch.__version__))
    if args.bench:
        return bench(model, state, data, args, device, fh)
    if args.eval_first:
        log(fh, "held-out before: " + fmt_eval(evaluate(model, data.val, device)))
    tr = run_leg(model, state, data, args, device, fh, os.path.join(out, "full.pt"), trainer_state)
    if tr.interrupted:  # --stop-after: leave the leg open, as a run cut off mid-leg would
        if args.keep_full:
            save_full(os.path.join(out, "full.pt"), model, state, tr)
        save_relay(os.path.join(out, "ckpt.pt"), model.to("cpu"), state, args.split_mb)
        log(fh, "stopped at step %d with leg %d open" % (state["step"], state["leg"]["leg"]))
        return 0
    r = evaluate(model, data.val, device)
    log(fh, "held-out at step %d: %s" % (state["step"], fmt_eval(r)))
    leg = state["leg"]
    leg["val"] = {str(j): [round(v, 4) for v in vals] for j, vals in r.items()}
    if args.keep_full:  # the leg still open in it: --resume-full continues this leg
        save_full(os.path.join(out, "full.pt"), model, state, tr)
    elif os.path.exists(os.path.join(out, "full.pt")):
        os.remove(os.path.join(out, "full.pt"))
    state["legs"].append({k: leg[k] for k in leg})
    state["leg"] = None
    model = model.to("cpu")
    save_relay(os.path.join(out, "ckpt.pt"), model, state, args.split_mb)
    log(fh, "wrote %s: step %d, leg %d (%d steps, %.1f min)" % (os.path.join(out, "ckpt.pt"), state["step"],
                                                                   leg["leg"], leg["end"] - leg["start"],
                                                                   leg["seconds"] / 60))
    if args.export:
        export_licw(model, data, os.path.join(out, "model.licw"), "relay leg %d, step %d" % (leg["leg"], state["step"]))
    return 0


def bench(model, state, data, args, device, fh):
    """Times args.bench steps after args.bench_warmup (compile/capture) steps; prints steps/s, samples/s
    and TFLOP/s (3 x the forward's conv FLOPs: forward + two backward products)."""
    leg = state["leg"]
    tr = Trainer(model, device, args.amp, args.compile, args.lambda_weight_exp, args.clip, args.aux_lr, fh)
    x, _ = data.at(state["step"])
    fl = fwd_flops(model, x)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    t0 = time.time()
    for k in range(args.bench_warmup):
        tr.step(*data.at(state["step"] + k), lr_at(leg, state["step"]))
    sync()
    tw = time.time() - t0
    t0 = time.time()
    for k in range(args.bench):
        loss, _, _ = tr.step(*data.at(state["step"] + args.bench_warmup + k), lr_at(leg, state["step"]))
    sync()
    dt = (time.time() - t0) / args.bench
    mem = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else 0.0
    log(fh, "bench: %s, batch %d x %d^2, amp %s: warm-up %d steps %.1f s; %.2f steps/s, %.0f samples/s, "
        "%.3g TFLOP/s (%.3g GFLOP per forward), peak mem %.1f GiB, loss %.3f"
        % (tr.mode, data.batch, data.crop, args.amp, args.bench_warmup, tw, 1 / dt, data.batch / dt,
           3 * fl / dt / 1e12, fl / 1e9, mem, float(loss)))
    return 0


def export_licw(model, data, path, desc):
    import export as E
    model = model.to("cpu").eval()
    amp = model.amp
    model.amp = False
    rng = np.random.default_rng(7)
    idx = np.sort(rng.choice(data.n, size=min(32, data.n), replace=False))
    crops = data.bank[torch.from_numpy(idx).to(data.bank.device)].cpu().numpy()[:, :256, :256]
    blob = E.export(model, np.ascontiguousarray(crops), desc)
    model.amp = amp
    with open(path + ".tmp", "wb") as f:
        f.write(blob)
    os.replace(path + ".tmp", path)
    print("wrote %s (%d bytes)" % (path, len(blob)))


def cmd_next_pack(args):
    packs = default_packs(args.pack_dir)
    names = [os.path.basename(p) for p in packs]
    if not names:
        raise SystemExit("no packs in %s" % args.pack_dir)
    _, st = load_relay(args.ckpt) if os.path.exists(args.ckpt) else (None, new_state())
    last = {}
    for i, L in enumerate(st["legs"]):
        for n in L.get("packs", []):
            last[n] = i
    print(os.path.join(os.path.relpath(args.pack_dir, ROOT) if os.path.isabs(args.pack_dir) else args.pack_dir,
                       min(names, key=lambda n: (last.get(n, -1), n))))


def cmd_land(args):
    """Copies OUT/ckpt.pt (or its parts) into the repository, exports, evaluates on Kodak with the C
    round trip, and adds the leg to the table of docs/MODEL.md."""
    src = os.path.join(args.dir, "ckpt.pt")
    blob = read_relay_bytes(src)
    model, st = load_relay(src)
    if st.get("leg") is not None:  # cut off mid-leg: land what it reached (the next leg continues it)
        leg = dict(st["leg"], end=st["step"], open=True)
        print("note: leg %d is still open (cut off at step %d)" % (leg["leg"], st["step"]))
    else:
        leg = st["legs"][-1]
    if os.path.abspath(src) != os.path.abspath(args.ckpt):
        with open(args.ckpt + ".tmp", "wb") as f:
            f.write(blob)
        os.replace(args.ckpt + ".tmp", args.ckpt)
        print("landed leg %d (step %d) in %s (%d bytes)" % (leg["leg"], st["step"], args.ckpt, len(blob)))
    os.makedirs(args.work, exist_ok=True)
    licw = os.path.join(args.work, "leg%d.licw" % leg["leg"])
    data = Data(default_packs(args.pack_dir)[:1], torch.device("cpu"), 1, 128, 1)
    export_licw(model, data, licw, "lic-ctx1, relay leg %d, step %d" % (leg["leg"], st["step"]))
    js = os.path.join(args.work, "leg%d_kodak.json" % leg["leg"])
    cmd = [os.path.join(args.codec, "lic-eval"), args.kodak, "--q", "1,15,29,43,58,72,86,100", "--threads",
           str(args.threads), "--model", licw, "--json", js]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    import relay_rd
    relay_rd.main([js, "--leg", str(leg["leg"])])
    row = leg_row(leg, js, licw)
    add_leg_row(args.model_md, row)
    print("added to %s:\n%s" % (args.model_md, row))


LEG_END = "<!-- end of the leg table: train/relay.py land adds rows above this line -->"


def add_leg_row(md, row):
    with open(md) as f:
        text = f.read()
    if LEG_END not in text:
        raise SystemExit("%s has no leg-table marker %r" % (md, LEG_END))
    with open(md + ".tmp", "w") as f:
        f.write(text.replace(LEG_END, row + "\n" + LEG_END))
    os.replace(md + ".tmp", md)


def leg_row(leg, js, licw):
    """| leg | date | where | steps | total steps | minutes | packs | Kodak q1 .. q100 | BD-rates | .licw |"""
    import relay_rd as R
    pts = R.load_points(js)
    bd = R.bd_vs_refs(pts)
    return "| %d | %s | %s | %d | %d | %.0f | %s | %.2f dB @ %.3f bpp … %.2f dB @ %.3f bpp | %s | %.1f MB |" % (
        leg["leg"], leg.get("started", "?")[:10], leg.get("where", leg.get("device", "?")), leg["end"] - leg["start"],
        leg["end"], leg.get("seconds", 0) / 60, ",".join(leg.get("packs", [])), pts[0][1], pts[0][0], pts[-1][1],
        pts[-1][0], ", ".join("%s %+.1f %%" % (k, v) for k, v in bd.items()), os.path.getsize(licw) / 1e6)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("init", help="a relay checkpoint from a lic_model.py (LicCtx1) weights file")
    a.add_argument("--from", dest="source", required=True)
    a.add_argument("--out", default=RELAY_CKPT)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--where", default="?", help="for the leg table: where the source was trained")
    a.add_argument("--date", default="?")
    a.add_argument("--minutes", type=float, default=0)
    b = sub.add_parser("leg", help="train one leg")
    b.add_argument("--ckpt", default=RELAY_CKPT)
    b.add_argument("--preset", choices=sorted(PRESETS), help="start from scratch at these sizes instead")
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--out", default="train/work/leg")
    b.add_argument("--packs", nargs="*")
    b.add_argument("--pack-dir", default=os.path.join(ROOT, "train", "work", "packs"))
    b.add_argument("--device", default="auto")
    b.add_argument("--minutes", type=float, default=0)
    b.add_argument("--steps", type=int, default=0, help="steps of this leg (0: until --minutes)")
    b.add_argument("--batch", type=int, default=0)
    b.add_argument("--crop", type=int, default=0)
    b.add_argument("--lr", type=float, default=0)
    b.add_argument("--aux-lr", type=float, default=1e-3)
    b.add_argument("--decay-frac", type=float, default=0.15, help="last fraction of the leg at lr x0.1")
    b.add_argument("--rewarm", type=int, default=0,
                   help="steps of linear lr ramp after a start without moments (default: 1000 on a GPU, 200 on the CPU)")
    b.add_argument("--clip", type=float, default=1.0)
    b.add_argument("--lambda-weight-exp", type=float, default=0.85)
    b.add_argument("--amp", type=lambda s: s.lower() in ("1", "true", "bf16", "on"), default=None,
                   help="bf16 autocast of the transforms (default on)")
    b.add_argument("--lik-beta", type=float, default=None, help="generalized-Gaussian shape (2: Gaussian)")
    b.add_argument("--compile", default=None, help="torch.compile mode, or none (default: reduce-overhead on CUDA)")
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--adapt-threads", type=int, default=500, help="CPU: probe 1 thread vs --threads every N steps (0: off)")
    b.add_argument("--log-every", type=int, default=100)
    b.add_argument("--ckpt-every", type=float, default=300)
    b.add_argument("--split-mb", type=float, default=0, help="write the checkpoint as parts of this many MiB")
    b.add_argument("--no-full", action="store_true", help="no periodic full checkpoint (with moments)")
    b.add_argument("--stop-after", type=int, default=0, help="stop after this many steps, leaving the leg open")
    b.add_argument("--resume-full", action="store_true", help="continue OUT/full.pt (same leg, with moments)")
    b.add_argument("--keep-full", action="store_true", help="also write OUT/full.pt at the end")
    b.add_argument("--eval-first", action="store_true")
    b.add_argument("--export", action="store_true", help="also write OUT/model.licw")
    b.add_argument("--bench", type=int, default=0, help="time this many steps and exit")
    b.add_argument("--bench-warmup", type=int, default=10)
    c = sub.add_parser("land", help="bring a leg's OUT back into the repository")
    c.add_argument("dir")
    c.add_argument("--ckpt", default=RELAY_CKPT)
    c.add_argument("--work", default=os.path.join(ROOT, "train", "work"))
    c.add_argument("--pack-dir", default=os.path.join(ROOT, "train", "work", "packs"))
    c.add_argument("--codec", default=os.path.join(ROOT, "build", "bin"))
    c.add_argument("--kodak", default=os.path.join(ROOT, "..", "shared", "kodak"))
    c.add_argument("--threads", type=int, default=2)
    c.add_argument("--model-md", default=os.path.join(ROOT, "docs", "MODEL.md"))
    d = sub.add_parser("next-pack", help="the pack least recently used by a leg")
    d.add_argument("--ckpt", default=RELAY_CKPT)
    d.add_argument("--pack-dir", default=os.path.join("train", "work", "packs"))
    args = ap.parse_args(argv)
    return dict(init=cmd_init, leg=cmd_leg, land=cmd_land)[args.cmd](args) if args.cmd != "next-pack" \
        else cmd_next_pack(args)


if __name__ == "__main__":
    sys.exit(main())
