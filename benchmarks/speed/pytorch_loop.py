"""The reference training loop in PyTorch, for measuring nalm's speed against it in the same run.

    /usr/bin/python3 benchmarks/speed/pytorch_loop.py --model nmu --iterations 3000 [--threads 1] [--json]

Written from the published description of the NAU/NMU paper's static arithmetic task (Madsen &
Johansen, ICLR 2020, and nalm's shared/spec/benchmark.md and units.md), not from its code. One seed,
the loop stable-nalu's `simple_function_static.py` runs by default:
- the default task: x ~ U[1, 2]^100 (numpy's float64 generator, as the reference's data sets use), subsets of 25 overlapping by 12 at an offset drawn once per
  seed, target a · b (mul) or a + b (add); a fresh batch of 128 every iteration;
- models: NAU 100→2 then NMU 2→1 (`nmu`), NAU then NAU (`nau`), NALU then NALU (`nalu`);
- MSE loss plus the NAU/NMU sparsity regulariser with its linear warm-up from 1M to 2M iterations
  (computed every step, as the reference does), Adam (lr 1e−3);
- NAU/NMU weights clamped to their range after every step ("clip" mode: no out-of-bound term);
- evaluation every 1,000 iterations (from 0) on 10,000 interpolation and 10,000 extrapolation items
  (U[2, 6]), without gradients.
Prints iterations per second of the loop (imports and data set-up excluded).

`--threads 1` (the default) keeps PyTorch on one core, as nalm's one-core figure is.
"""

import argparse
import json
import math
import time

import numpy as np
import torch

parser = argparse.ArgumentParser()
parser.add_argument('--model', choices=['nmu', 'nau', 'nalu'], default='nmu')
parser.add_argument('--iterations', type=int, default=3000)
parser.add_argument('--seed', type=int, default=0)
parser.add_argument('--threads', type=int, default=1)
parser.add_argument('--simple', action='store_true', help='the simple task: I = 4, a = x1+…+x4, b = x1+x2')
parser.add_argument('--json', action='store_true')
args = parser.parse_args()

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)

INPUT = 4 if args.simple else 100
HIDDEN = 2
BATCH = 128
EVAL_EVERY = 1000
EVAL_SIZE = 10000
OP = 'add' if args.model == 'nau' else 'mul'
EPS = 1e-7
SPARSITY = 10.0
WARMUP = (1_000_000, 2_000_000)

# Data as the reference's stack draws it: numpy's generator (MT19937, float64), subset sums in numpy,
# then tensors of float32.
rng = np.random.RandomState(args.seed)
if args.simple:
    a_slice, b_slice = slice(0, 4), slice(0, 2)
else:
    subset = int(0.25 * INPUT)
    overlap = int(0.5 * subset)
    last_end = 2 * subset - overlap
    offset = int(rng.randint(0, INPUT - last_end + 1))
    a_slice = slice(offset, offset + subset)
    b_slice = slice(offset + subset - overlap, offset + 2 * subset - overlap)


def sample(n, lo, hi, g):
    x = g.uniform(lo, hi, size=(n, INPUT))
    a = np.sum(x[:, a_slice], axis=1, keepdims=True)
    b = np.sum(x[:, b_slice], axis=1, keepdims=True)
    t = a + b if OP == 'add' else a * b
    return torch.tensor(x, dtype=torch.float32), torch.tensor(t, dtype=torch.float32)


class NAU(torch.nn.Module):
    """z = x · W, W clamped to [−1, 1]; sparsity mean(min(|W|, 1 − |W|))."""

    def __init__(self, i, o):
        super().__init__()
        r = min(0.5, math.sqrt(3) * math.sqrt(2 / (i + o)))
        self.W = torch.nn.Parameter(torch.empty(i, o).uniform_(-r, r))

    def forward(self, x):
        return x @ torch.clamp(self.W, -1, 1)

    def regularizer(self):
        a = self.W.abs()
        return torch.minimum(a, 1 - a).mean()

    def clamp_(self):
        self.W.data.clamp_(-1, 1)


class NMU(torch.nn.Module):
    """z_o = Π_i (W_io x_i + 1 − W_io), W clamped to [0, 1]; sparsity mean(min(W, 1 − W))."""

    def __init__(self, i, o):
        super().__init__()
        self.W = torch.nn.Parameter(torch.empty(i, o).uniform_(0.25, 0.75))

    def forward(self, x):
        return torch.prod(x.unsqueeze(2) * self.W + (1 - self.W), dim=1)

    def regularizer(self):
        return torch.minimum(self.W, 1 - self.W).mean()

    def clamp_(self):
        self.W.data.clamp_(0, 1)


class NALU(torch.nn.Module):
    """a = x·W, m = exp(log(|x| + ε)·W), W = tanh(Ŵ)σ(M̂), g = σ(x·G), z = g a + (1 − g) m."""

    def __init__(self, i, o):
        super().__init__()
        r = 0.5  # NAC init range (order of magnitude of units.md's; speed does not depend on it)
        self.W_hat = torch.nn.Parameter(torch.empty(i, o).uniform_(-r, r))
        self.M_hat = torch.nn.Parameter(torch.empty(i, o).uniform_(-r, r))
        g = math.sqrt(6 / (i + o))
        self.G = torch.nn.Parameter(torch.empty(i, o).uniform_(-g, g))

    def forward(self, x):
        W = torch.tanh(self.W_hat) * torch.sigmoid(self.M_hat)
        a = x @ W
        m = torch.exp(torch.log(x.abs() + EPS) @ W)
        g = torch.sigmoid(x @ self.G)
        return g * a + (1 - g) * m

    def regularizer(self):
        return self.W_hat.new_zeros(())  # the NALU has no sparsity regulariser

    def clamp_(self):
        pass


layers = {'nmu': (NAU, NMU), 'nau': (NAU, NAU), 'nalu': (NALU, NALU)}[args.model]
model = torch.nn.Sequential(layers[0](INPUT, HIDDEN), layers[1](HIDDEN, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = torch.nn.MSELoss()
interpolation = sample(EVAL_SIZE, 1.0, 2.0, np.random.RandomState(1))
extrapolation = sample(EVAL_SIZE, 2.0, 6.0, np.random.RandomState(2))


def evaluate(data):
    with torch.no_grad():
        x, t = data
        return float(criterion(model(x), t))


curve = []
start = time.perf_counter()
cpu_start = time.process_time()
for step in range(args.iterations + 1):
    if step % EVAL_EVERY == 0:
        curve.append((step, evaluate(interpolation), evaluate(extrapolation)))
    if step == args.iterations:
        break
    x, t = sample(BATCH, 1.0, 2.0, rng)
    optimizer.zero_grad()
    loss = criterion(model(x), t)
    scale = max(0.0, min(1.0, (step - WARMUP[0]) / (WARMUP[1] - WARMUP[0])))
    for layer in model:
        loss = loss + SPARSITY * scale * layer.regularizer()
    loss.backward()
    optimizer.step()
    for layer in model:
        layer.clamp_()
seconds = time.perf_counter() - start
cpu_seconds = time.process_time() - cpu_start

result = {
    'model': args.model,
    'task': 'simple' if args.simple else 'default',
    'iterations': args.iterations,
    'seconds': seconds,
    'itPerSec': args.iterations / seconds,
    'cpuSeconds': cpu_seconds,
    'itPerCpuSec': args.iterations / cpu_seconds,
    'threads': torch.get_num_threads(),
    'torch': torch.__version__,
    'finalExtrapolationMse': curve[-1][2],
}
print(
    json.dumps(result)
    if args.json
    else f"{args.model}: {result['itPerSec']:.0f} it/s, {result['itPerCpuSec']:.0f} per CPU-second "
    f"({args.iterations} iterations, {seconds:.2f} s, CPU {cpu_seconds:.2f} s)"
)
