"""PyTorch side of `npm run bench:compute`: the same model (CNNMnist), batch, operations and timing rule
as bench/compute.ts, on one CPU thread or on CUDA (`device`: "cuda", synchronised after every operation).
Prints one JSON object on stdout.

CNNMnist as in junwu6/FedBVA models/networks.py (docs/spec/decent-bva.md §8)."""
import json, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
reps = int(args.get("reps", 30))
warmup = int(args.get("warmup", 5))
batch = int(args.get("batch", 64))
infer_n = int(args.get("inferCount", 1000))
torch.set_num_threads(int(args.get("threads", 1)))
torch.manual_seed(0)
device = args.get("device", "cpu")
if device == "cuda" and not torch.cuda.is_available():
    raise SystemExit("CUDA requested but torch.cuda.is_available() is False")
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)


class CNNMnist(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.drop2d = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.drop2d(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        return self.fc2(x)


model = CNNMnist().to(device)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = torch.rand(batch, 1, 28, 28, device=device)
y = torch.randint(0, 10, (batch,), device=device)
xs = torch.rand(infer_n, 1, 28, 28, device=device)


def train_step():
    model.train()
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


def fgsm_grad():
    model.eval()
    xx = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(xx), y, reduction="sum"), xx)
    return torch.clamp(x + 0.3 * g.sign(), 0, 1)


def infer():
    model.eval()
    with torch.no_grad():
        return model(xs).argmax(1)


def median_ms(f):
    for _ in range(warmup):
        f()
    sync()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        sync()
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    n = len(ts)
    return ts[n // 2] if n % 2 else (ts[n // 2 - 1] + ts[n // 2]) / 2


out = {
    "version": torch.__version__,
    "threads": torch.get_num_threads(),
    "device": device,
    "trainStepMs": median_ms(train_step),
    "fgsmMs": median_ms(fgsm_grad),
    "infer1000Ms": median_ms(infer),
}
print(json.dumps(out))
