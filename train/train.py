"""Trains a model of train/lic_model.py (--arch: lic-ctx1, the default, class LicCtx1; or lic-hp1,
LicHp1) from a crop cache (train/dataset.py). The checkpoint records the architecture, and
train/export.py writes the file of that architecture.

    env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 \
      LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 \
      /usr/bin/python3 train/train.py --data train/work/data --work train/work

or, from a folder of images in one go: train/run_train.sh IMAGE_DIR.

Loss per batch: bpp + lambda_j * 255^2 * MSE with the gain index j drawn uniformly from 0..7 and
lambda_j = CompressAI's j-th MSE lambda (0.0018 .. 0.18); the auxiliary loss of the z density's
quantiles has its own Adam. Deterministic: the batch, crop offsets, flips, j and the noise of step s
come from generators seeded with (seed, s), so a resumed run continues the same sequence (up to
the thread-order noise of float sums). Checkpoints (atomic rename) every --ckpt-every seconds and at
the end go to WORK/ckpt.pt; an existing checkpoint is resumed automatically. The log (WORK/train.log)
has a line every --log-every steps and a held-out evaluation (hard rounding, estimated bpp, PSNR at
gain indexes 0, 3, 7) every --val-every steps.

The learning rate drops by 10x for the rest of the run at step --decay-step or at wall-clock time
--decay-at (unix seconds), whichever comes first; the step where it happened is in the checkpoint.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lic_model import ARCH, LAMBDAS, MODELS, Config, model_class, rd_terms  # noqa: E402


def log(fh, msg):
    line = time.strftime("%Y-%m-%d %H:%M:%S ", time.gmtime()) + msg
    print(line, flush=True)
    fh.write(line + "\n")
    fh.flush()


def batch_at(data, step, seed, batch, crop):
    rng = np.random.default_rng([seed, step])
    idx = rng.integers(0, data.shape[0], size=batch)
    T = data.shape[1]
    out = np.empty((batch, crop, crop, 3), np.uint8)
    for b, i in enumerate(idx):
        oy, ox = rng.integers(0, T - crop + 1, size=2)
        t = data[i, oy:oy + crop, ox:ox + crop]
        if rng.integers(2):
            t = t[:, ::-1]
        out[b] = t
    j = int(rng.integers(0, len(LAMBDAS)))
    x = torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last), j


@torch.no_grad()
def evaluate(model, val, js=(0, 3, 7), bs=10):
    model.eval()
    res = {}
    for j in js:
        bits, mse_sum, n_pix, loss = 0.0, 0.0, 0, 0.0
        psnrs = []
        for s in range(0, val.shape[0], bs):
            x = torch.from_numpy(val[s:s + bs]).permute(0, 3, 1, 2).float().div_(255.0)
            x = x.contiguous(memory_format=torch.channels_last)
            out = model(x, j, noise=False)
            bpp, mse = rd_terms(out, x)
            B, _, H, W = x.shape
            bits += float(bpp) * B * H * W
            n_pix += B * H * W
            xh = out["x_hat"].clamp(0, 1).mul(255).round().div(255)
            per = ((xh - x) ** 2).mean(dim=(1, 2, 3))
            psnrs += (-10 * torch.log10(per.clamp_min(1e-10))).tolist()
            mse_sum += float(mse) * B
        bpp = bits / n_pix
        res[j] = dict(bpp=bpp, psnr=float(np.mean(psnrs)),
                      loss=bpp + LAMBDAS[j] * 255 ** 2 * mse_sum / val.shape[0])
    model.train()
    return res


def save_ckpt(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="train/work/data")
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--work", default="train/work")
    ap.add_argument("--arch", choices=sorted(MODELS), default=None,
                    help="architecture to train (default %s; a resumed run keeps its checkpoint's)" % ARCH)
    ap.add_argument("--config", default='{}', help="JSON overrides of lic_model.Config")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--aux-lr", type=float, default=1e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--lambda-weight-exp", type=float, default=0.85,
                    help="the loss of gain j is weighted by (lambda_0/lambda_j)^e for the gradient: the "
                         "losses grow ~lambda^0.86, so without it the high-rate batches dominate Adam's "
                         "statistics and the low-rate gains barely train")
    ap.add_argument("--steps", type=int, default=1000000)
    ap.add_argument("--stop-at", type=float, default=0, help="unix time to stop (0: never)")
    ap.add_argument("--decay-step", type=int, default=0)
    ap.add_argument("--decay-at", type=float, default=0, help="unix time of the 10x lr drop")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every", type=float, default=300)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--val-every", type=int, default=2000)
    ap.add_argument("--val-n", type=int, default=50, help="held-out tiles used per evaluation")
    ap.add_argument("--adapt-threads", type=int, default=1000,
                    help="every this many steps, time 3 steps at 1 thread and keep the faster count "
                         "(2 OpenMP threads lose badly when another process holds a core); 0: off")
    ap.add_argument("--bench", type=int, default=0, help="time this many steps and exit")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    os.makedirs(args.work, exist_ok=True)
    ckpt_path = os.path.join(args.work, "ckpt.pt")
    data = np.load(os.path.join(args.data, "train_%d.npy" % args.tile), mmap_mode="r")
    data = np.ascontiguousarray(data)
    val = np.load(os.path.join(args.data, "val_%d.npy" % args.tile))[:args.val_n]

    resume = os.path.exists(ckpt_path) and not args.bench
    state = torch.load(ckpt_path) if resume else None
    cfg = Config(**(state["config"] if resume else json.loads(args.config)))
    # checkpoints from before --arch existed are lic-ctx1
    arch = state.get("arch", ARCH) if resume else (args.arch or ARCH)
    if resume and args.arch and args.arch != arch:
        ap.error("--arch %s, but the checkpoint %s to resume is %s" % (args.arch, ckpt_path, arch))
    torch.manual_seed(args.seed)
    model = model_class(arch)(cfg).to(memory_format=torch.channels_last)
    aux_params = [model.eb.quantiles]
    main_params = [p for n, p in model.named_parameters() if n != "eb.quantiles"]
    opt = torch.optim.Adam(main_params, lr=args.lr)
    aux_opt = torch.optim.Adam(aux_params, lr=args.aux_lr)
    step, decayed_at = 0, None
    if resume:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        aux_opt.load_state_dict(state["aux_opt"])
        step, decayed_at = state["step"], state.get("decayed_at")
    lr = args.lr * (0.1 if decayed_at is not None else 1.0)
    for gr in opt.param_groups:
        gr["lr"] = lr

    fh = open(os.path.join(args.work, "train.log"), "a")
    nparam = sum(p.numel() for p in model.parameters())
    log(fh, "%s %s at step %d: config %s, %d params, %d train tiles, %d val tiles, batch %d crop %d lr %g%s"
        % ("resume" if resume else "start", arch, step, json.dumps(cfg.as_dict()), nparam, data.shape[0],
           val.shape[0], args.batch, args.crop, lr, "" if decayed_at is None else " (decayed at %d)" % decayed_at))
    model.train()
    t_ckpt = time.time()
    acc = dict(loss=0.0, bpp=0.0, mse=0.0, aux=0.0, n=0)
    t_log = time.time()
    t_bench = None
    t_two = t_one = time.time()
    two = one = 0.0
    n_thr_last = args.threads

    def checkpoint():
        save_ckpt(ckpt_path, dict(model=model.state_dict(), opt=opt.state_dict(), aux_opt=aux_opt.state_dict(),
                                  step=step, decayed_at=decayed_at, config=cfg.as_dict(), arch=arch, args=vars(args)))

    while step < args.steps:
        now = time.time()
        if args.stop_at and now >= args.stop_at:
            log(fh, "stop time reached")
            break
        if decayed_at is None and ((args.decay_step and step >= args.decay_step) or
                                   (args.decay_at and now >= args.decay_at)):
            decayed_at = step
            for gr in opt.param_groups:
                gr["lr"] = args.lr * 0.1
            log(fh, "lr -> %g at step %d" % (args.lr * 0.1, step))
        if args.adapt_threads and not args.bench:
            # probe: 4 steps at the full thread count (the first one not timed), 3 at 1 thread; keep the
            # faster count until the next probe
            ph = step % args.adapt_threads
            if ph == 0:
                torch.set_num_threads(args.threads)
            elif ph == 1:
                t_two = time.time()
            elif ph == 4:
                two = (time.time() - t_two) / 3
                torch.set_num_threads(1)
                t_one = time.time()
            elif ph == 7:
                one = (time.time() - t_one) / 3
                n_thr = 1 if one < two else args.threads
                torch.set_num_threads(n_thr)
                if n_thr != n_thr_last:
                    log(fh, "threads: %d (%.3f s/step at %d, %.3f at 1)" % (n_thr, two, args.threads, one))
                n_thr_last = n_thr
        if args.bench and step == 3:
            t_bench = time.time()
        x, j = batch_at(data, step, args.seed, args.batch, args.crop)
        torch.manual_seed(args.seed * 1000003 + step)
        out = model(x, j)
        bpp, mse = rd_terms(out, x)
        loss = bpp + LAMBDAS[j] * 255 ** 2 * mse
        opt.zero_grad(set_to_none=True)
        (loss * (LAMBDAS[0] / LAMBDAS[j]) ** args.lambda_weight_exp).backward()
        torch.nn.utils.clip_grad_norm_(main_params, args.clip)
        opt.step()
        aux = model.eb.aux_loss()
        aux_opt.zero_grad(set_to_none=True)
        aux.backward()
        aux_opt.step()
        step += 1
        if not math.isfinite(float(loss)):
            log(fh, "non-finite loss at step %d; stopping without checkpoint" % step)
            return 1
        acc["loss"] += float(loss)
        acc["bpp"] += float(bpp)
        acc["mse"] += float(mse)
        acc["aux"] += float(aux)
        acc["n"] += 1
        if args.bench and step == 3 + args.bench:
            dt = (time.time() - t_bench) / args.bench
            print("bench: %.3f s/step (batch %d crop %d, %d params)" % (dt, args.batch, args.crop, nparam))
            return 0
        if step % args.log_every == 0:
            n = acc["n"]
            dt = (time.time() - t_log) / n
            log(fh, "step %d loss %.4f bpp %.4f psnr %.2f aux %.1f lr %g %.3f s/step"
                % (step, acc["loss"] / n, acc["bpp"] / n, -10 * math.log10(max(acc["mse"] / n, 1e-10)),
                   acc["aux"] / n, opt.param_groups[0]["lr"], dt))
            acc = dict(loss=0.0, bpp=0.0, mse=0.0, aux=0.0, n=0)
            t_log = time.time()
        if step % args.val_every == 0:
            t0 = time.time()
            r = evaluate(model, val)
            log(fh, "val step %d: " % step + "  ".join(
                "j%d bpp %.4f psnr %.2f loss %.4f" % (j_, v["bpp"], v["psnr"], v["loss"]) for j_, v in r.items())
                + " (%.1f s)" % (time.time() - t0))
            t_log += time.time() - t0
        if time.time() - t_ckpt >= args.ckpt_every:
            checkpoint()
            t_ckpt = time.time()
    if not args.bench:
        checkpoint()
        r = evaluate(model, val)
        log(fh, "final val step %d: " % step + "  ".join(
            "j%d bpp %.4f psnr %.2f loss %.4f" % (j_, v["bpp"], v["psnr"], v["loss"]) for j_, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
