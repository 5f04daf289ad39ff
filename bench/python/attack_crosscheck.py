"""PyTorch side of `rfl bench attack-crosscheck`: PGD and APGD-CE (L-infinity) on the same CNNMnist weights and
the same test images as the TF.js run, written for this project from the papers (Madry et al. 2018; Croce & Hein,
ICML 2020, Algorithm 1), not from any attack library.

Input (argv[1], JSON): {"dir": folder holding weights.f32, layout.json, images.f32 (NHWC, [0, 1]), labels.u8,
"eps", "pgd": {"alpha", "steps"}, "apgd": {"steps", "rho", "momentum", "initialStep"}, "randomStart": bool,
"seed"}. Output: one JSON line on stdout with the robust accuracy and the per-example robust flags of each attack.
"""
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

args = json.loads(sys.argv[1])
folder = args["dir"]
torch.manual_seed(int(args.get("seed", 0)))
torch.set_num_threads(int(args.get("threads", 1)))

layout = json.load(open(f"{folder}/layout.json"))
flat = np.fromfile(f"{folder}/weights.f32", dtype="<f4")
labels = torch.from_numpy(np.fromfile(f"{folder}/labels.u8", dtype=np.uint8).astype(np.int64))
n = labels.shape[0]
h, w, c = layout["inputShape"]
images = torch.from_numpy(np.fromfile(f"{folder}/images.f32", dtype="<f4").reshape(n, h, w, c)).permute(0, 3, 1, 2).contiguous()


def param(name):
    e = next(e for e in layout["params"] if e["name"] == name)
    return torch.from_numpy(flat[e["offset"] : e["offset"] + e["size"]].copy()).reshape(e["shape"])


# TF.js layouts: conv kernels [kh, kw, in, out] -> PyTorch [out, in, kh, kw]; dense kernels [in, out] -> [out, in].
k0, b0 = param("layer0/kernel").permute(3, 2, 0, 1).contiguous(), param("layer0/bias")
k3, b3 = param("layer3/kernel").permute(3, 2, 0, 1).contiguous(), param("layer3/bias")
k8, b8 = param("layer8/kernel").t().contiguous(), param("layer8/bias")
k10, b10 = param("layer10/kernel").t().contiguous(), param("layer10/bias")


def logits(x):
    """CNNMnist in inference mode: conv 10@5x5, maxpool 2, ReLU, conv 20@5x5, maxpool 2, ReLU, dense 50 ReLU, dense."""
    a = F.relu(F.max_pool2d(F.conv2d(x, k0, b0), 2))
    a = F.relu(F.max_pool2d(F.conv2d(a, k3, b3), 2))
    # TF.js flattens channels-last (h, w, c): flatten in the same order.
    a = a.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
    a = F.relu(F.linear(a, k8, b8))
    return F.linear(a, k10, b10)


def ce_and_grad(x, y):
    x = x.clone().requires_grad_(True)
    z = logits(x)
    loss = F.cross_entropy(z, y, reduction="none")
    (g,) = torch.autograd.grad(loss.sum(), x)
    return loss.detach(), g, z.detach().argmax(1)


def project(x_adv, lo, hi):
    return torch.max(torch.min(x_adv, hi), lo)


def start_point(x, eps, random_start, seed):
    if not random_start:
        return x.clone()
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(x.shape, generator=gen) * 2 - 1
    scale = u.abs().flatten(1).max(1).values.view(-1, 1, 1, 1)
    return (x + eps * u / scale).clamp(0, 1)


def pgd(x, y, eps, alpha, steps, random_start, seed):
    lo, hi = (x - eps).clamp(min=0), (x + eps).clamp(max=1)
    if random_start:
        gen = torch.Generator().manual_seed(seed)
        x_adv = (x + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps).clamp(0, 1)
    else:
        x_adv = x.clone()
    for _ in range(steps):
        _, g, _ = ce_and_grad(x_adv, y)
        x_adv = project(x_adv + alpha * g.sign(), lo, hi)
    with torch.no_grad():
        return logits(x_adv).argmax(1) == y


def checkpoints(n_iter):
    p = [0.0, 0.22]
    while True:
        nxt = p[-1] + max(p[-1] - p[-2] - 0.03, 0.06)
        if nxt > 1:
            break
        p.append(nxt)
    out = []
    for v in p:
        wj = math.ceil(round(v * n_iter, 6))
        if wj <= n_iter and wj not in out:
            out.append(wj)
    return out


def apgd_ce(x, y, eps, n_iter, rho, momentum, initial_step, random_start, seed):
    """Algorithm 1 of Croce & Hein (2020) with per-example step sizes; returns the per-example robust flags."""
    b = x.shape[0]
    lo, hi = (x - eps).clamp(min=0), (x + eps).clamp(max=1)
    cps = checkpoints(n_iter)
    eta = torch.full((b, 1, 1, 1), initial_step * eps)
    x_cur = project(start_point(x, eps, random_start, seed), lo, hi)
    f_cur, g_cur, pred = ce_and_grad(x_cur, y)
    broken = pred != y
    x_best, g_best, f_best = x_cur.clone(), g_cur.clone(), f_cur.clone()
    x_prev = x_cur.clone()
    f_last = f_cur.clone()
    increases = torch.zeros(b)
    f_best_at_cp = f_best.clone()
    reduced_at_cp = torch.zeros(b, dtype=torch.bool)
    j, last_cp = 1, 0
    for k in range(n_iter):
        z = project(x_cur + eta * g_cur.sign(), lo, hi)
        if k == 0:
            x_next = z
        else:
            x_next = project(x_cur + momentum * (z - x_cur) + (1 - momentum) * (x_cur - x_prev), lo, hi)
        x_prev, x_cur = x_cur, x_next
        f_cur, g_cur, pred = ce_and_grad(x_cur, y)
        broken |= pred != y
        increases += (f_cur > f_last).float()
        f_last = f_cur
        better = f_cur > f_best
        x_best[better], g_best[better], f_best[better] = x_cur[better], g_cur[better], f_cur[better]
        if j < len(cps) and k + 1 == cps[j]:
            span = cps[j] - last_cp
            cond1 = increases < rho * span
            cond2 = (~reduced_at_cp) & (f_best_at_cp >= f_best)
            reduce = cond1 | cond2
            reduced_at_cp = reduce.clone()
            f_best_at_cp = f_best.clone()
            increases.zero_()
            eta[reduce] /= 2
            x_cur = torch.where(reduce.view(-1, 1, 1, 1), x_best, x_cur)
            g_cur = torch.where(reduce.view(-1, 1, 1, 1), g_best, g_cur)
            last_cp = cps[j]
            j += 1
    return ~broken


eps = float(args["eps"])
rs = bool(args.get("randomStart", False))
seed = int(args.get("seed", 0))
clean = (logits(images).argmax(1) == labels).detach()
p = args["pgd"]
a = args["apgd"]
batch = int(args.get("batch", 500))
pgd_flags, apgd_flags = [], []
for s in range(0, n, batch):
    xb, yb = images[s : s + batch], labels[s : s + batch]
    pgd_flags.append(pgd(xb, yb, eps, float(p["alpha"]), int(p["steps"]), rs, seed + s) & clean[s : s + batch])
    apgd_flags.append(apgd_ce(xb, yb, eps, int(a["steps"]), float(a["rho"]), float(a["momentum"]), float(a["initialStep"]), rs, seed + s) & clean[s : s + batch])
pgd_r = torch.cat(pgd_flags)
apgd_r = torch.cat(apgd_flags)
print(
    json.dumps(
        {
            "version": torch.__version__,
            "threads": torch.get_num_threads(),
            "count": n,
            "clean": clean.float().mean().item(),
            "pgd": pgd_r.float().mean().item(),
            "apgdCe": apgd_r.float().mean().item(),
            "pgdRobust": pgd_r.int().tolist(),
            "apgdRobust": apgd_r.int().tolist(),
        }
    )
)
