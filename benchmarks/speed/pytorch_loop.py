"""The reference training loop in PyTorch, for measuring nalm's speed against it in the same run.

    /usr/bin/python3 benchmarks/speed/pytorch_loop.py --model nmu --iterations 3000 [--threads 1] [--json]

Written from a description of what stable-nalu's `experiments/simple_function_static.py` does per
step with its default flags (Madsen & Johansen, ICLR 2020; nalm's shared/spec/benchmark.md and
units.md), not from its code. The task and models:
- x ~ U[1, 2]^100 (numpy's MT19937 float64 generator), subsets of 25 overlapping by 12 at an offset
  drawn once per seed, target a · b (mul) or a + b (add); a fresh batch of 128 every iteration;
- NAU 100→2 then NMU 2→1 (`nmu`), NAU then NAU (`nau`), NALU then NALU (`nalu`), weights stored
  out × in and applied with `linear`;
- MSE loss, Adam (lr 1e−3); evaluation every 1,000 iterations (from 0) on 10,000 interpolation and
  10,000 extrapolation items (U[2, 6]) without gradients.

Per-step work mirrored from the reference (so that its it/s can stand in for stable-nalu's; the
bench divides nalm's speed by it):
- the batch comes from a generator over a dataset object indexed by a slice: the batch size from
  the slice, a draw of 128 × 100 doubles, a Python list of subset sums, the operation applied to that
  list (np.prod / np.sum over it), a new axis, and two `torch.tensor` float32 conversions;
- a summary logger with namespaces (one per module, chained to its parent) and an iteration
  counter set every step; its calls are no-ops except at every 1,000th iteration, where they check
  the namespace chain and hand scalars to a sink that discards them (as stable-nalu does with a
  tensorboardX writer that discards);
- every step, a walk over the modules to set a `tau` parameter (none of these models has one);
- each layer's forward, besides its arithmetic: a NaN check (`isnan(…).any()`) on the weight it
  uses (and, in the NALU, on the gate, the additive and the multiplicative paths), the weight's
  sparsity error (max of min(|W|, |1 − |W||)) computed with autograd on, a logged mean of the
  NALU gate, and the network's summary calls on x, z₁ and z₂;
- the NAU applies clamp(W, −1, 1); the NMU ("clip" mode) multiplies with W itself,
  prod(x·W + 1 − W) over broadcast views; the NALU's NAC weight tanh(Ŵ)σ(M̂) is an autograd Function
  with a hand-written backward, computed anew for the additive and for the multiplicative path (they
  share Ŵ, M̂) and once more by the regulariser walk;
- every step, a walk over the modules collecting a dict of four regulariser terms (sparsity 'W',
  gate 'g', 'z', out-of-bound 'W-OOB'; here 'z' and 'W-OOB' are off and so the number 0, and the
  NALU has only 'z'), summed into a defaultdict level by level, each term offered to the logger;
  loss = MSE + 10·scale·W + g + 0·z + 1·W-OOB with the linear warm-up scale (1M to 2M iterations);
- backward and Adam only if the loss requires a gradient; then a walk over the modules that resets
  the (unused) z-regulariser input stores and clamps the NAU/NMU weights to their range;
- at each evaluation: a scope that turns module logging off and one that walks the modules to turn
  sampling off and on again; the three loss scalars offered to the logger and a progress line
  formatted (not printed: stdout carries the JSON).
Deliberately different: where the reference stops at a NaN, this script notes the first one and goes
on, so that a diverging seed cannot stop a bench run.
Prints iterations per second of the loop (imports and data set-up excluded).

`--threads 1` (the default) keeps PyTorch on one core, as nalm's one-core figure is.
"""

import argparse
import collections
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
SPARSITY = 10.0  # λ of the sparsity term
Z_WEIGHT = 0.0  # λ of the z term (off by default, so the term is the number 0)
OOB_WEIGHT = 1.0  # λ of the out-of-bound term (0 in "clip" mode)
WARMUP = (1_000_000, 2_000_000)
ENDLESS = 2 ** 32 - 1


# ---- data: a dataset object sliced by a generator, numpy then torch ------------------------------

class Task:
    """The subsets (two ranges of the input) and the generator that draws the offset and fork seeds."""

    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)
        self.combine = np.sum if OP == 'add' else np.prod
        if args.simple:
            self.ranges = [(0, 4), (0, 2)]
        else:
            size = math.floor(0.25 * INPUT)
            overlap = math.floor(0.5 * size)
            first = (0, size)
            second = (size - overlap, 2 * size - overlap)
            shift = self.rng.randint(0, INPUT - second[1] + 1)
            self.ranges = [(lo + shift, hi + shift) for lo, hi in (first, second)]

    def split(self, lo, hi, seed=None):
        return Split(self, lo, hi, np.random.RandomState(self.rng.randint(0, ENDLESS) if seed is None else seed))


class Split:
    """An endless data set over U[lo, hi]; split[a:b] draws b − a fresh items."""

    def __init__(self, task, lo, hi, rng):
        self.task, self.bounds, self.rng = task, [(lo, hi)], rng

    def __len__(self):
        return ENDLESS

    def _draw(self, n):
        if len(self.bounds) != 1:
            raise NotImplementedError('only one sampling interval')
        lo, hi = self.bounds[0]
        return self.rng.uniform(low=lo, high=hi, size=(n, INPUT))

    def __getitem__(self, items):
        n = items.stop - items.start
        x = self._draw(n)
        sums = [np.sum(x[..., lo:hi], axis=(1,)) for lo, hi in self.task.ranges]
        t = self.task.combine(sums, axis=0)[:, np.newaxis]
        return torch.tensor(x, dtype=torch.float32), torch.tensor(t, dtype=torch.float32)

    def batches(self, size):
        for i in range(len(self) // size):
            yield self[i * size:min(len(self), (i + 1) * size)]


# ---- a summary logger that discards, with the reference's checks ----------------------------------

class Sink:
    def scalar(self, name, value, iteration):
        pass


class Log:
    """A namespace of the logger: acts at every `every`-th iteration, when enabled up its chain."""

    def __init__(self, prefix='', every=1, verbose=True, root=None, parent=None):
        self.prefix, self.every, self.verbose = prefix, every, verbose
        self.root = self if root is None else root
        self.parent = parent
        self.enabled = True
        self.iteration = 0
        self.first_nan = None
        self.sink = Sink()

    def child(self, name=None, every=None, verbose=None):
        return Log(self.prefix if name is None else f'{self.prefix}/{name}',
                   self.every if every is None else every,
                   self.verbose if verbose is None else verbose, self.root, self)

    def _due(self, verbose_only):
        if self.root.iteration % self.every != 0:
            return False
        node = self
        while node is not None:
            if not node.enabled:
                return False
            node = node.parent
        return self.verbose or not verbose_only

    def scalar(self, name, value, verbose_only=True):
        if self._due(verbose_only):
            self.root.sink.scalar(f'{self.prefix}/{name}', value, self.root.iteration)

    def summary(self, name, tensor, verbose_only=True):
        if self._due(verbose_only):
            self.root.sink.scalar(f'{self.prefix}/{name}/mean', torch.mean(tensor), self.root.iteration)
            self.root.sink.scalar(f'{self.prefix}/{name}/var', torch.var(tensor), self.root.iteration)

    def histogram(self, name, tensor, verbose_only=True):
        # The reference stops at a NaN here; this script notes the first one and carries on, so that a
        # diverging seed does not stop a bench run (the check costs the same either way).
        if torch.isnan(tensor).any() and self.root.first_nan is None:
            self.root.first_nan = (f'{self.prefix}/{name}', self.root.iteration)
        if self._due(verbose_only):
            self.root.sink.scalar(f'{self.prefix}/{name}/histogram', tensor, self.root.iteration)

    def matrix(self, name, tensor, verbose_only=True):
        if self._due(verbose_only):
            self.root.sink.scalar(f'{self.prefix}/{name}/text', tensor.detach().numpy(), self.root.iteration)


class Scope:
    def __init__(self, enter, leave):
        self.enter, self.leave = enter, leave

    def __enter__(self):
        self.enter()

    def __exit__(self, *exc):
        self.leave()
        return False


def logging_off(log):
    def off():
        log.enabled = False

    def on():
        log.enabled = True
    return Scope(off, on)


# ---- modules that walk their children for parameters, regularisers and post-step work -----------

class Unit(torch.nn.Module):
    def __init__(self, log, name):
        super().__init__()
        self.log = log.child(name)
        self.sampling = True

    def units(self):
        return (m for m in self.children() if isinstance(m, Unit))

    def set_everywhere(self, name, value):
        p = getattr(self, name, None)
        if isinstance(p, torch.nn.Parameter):
            p.fill_(value)
        for m in self.units():
            m.set_everywhere(name, value)

    def penalties(self, own=None):
        total = collections.defaultdict(int)
        for key, value in (own or {}).items():
            self.log.scalar(f'regualizer/{key}', value)
            total[key] += value
        for m in self.units():
            for key, value in m.penalties().items():
                total[key] += value
        return total

    def after_step(self, loss):
        for m in self.units():
            m.after_step(loss)

    def set_sampling(self, on):
        self.sampling = on
        for m in self.units():
            m.set_sampling(on)

    def no_sampling(self):
        return Scope(lambda: self.set_sampling(False), lambda: self.set_sampling(True))


class ZPenalty:
    """The z regulariser's input store; off by default (λ_z = 0), so it stores nothing and is 0."""

    def __init__(self, off=Z_WEIGHT == 0):
        self.off, self.inputs = off, []

    def record(self, x):
        if not self.off:
            self.inputs.append(x)

    def clear(self):
        if not self.off:
            self.inputs = []

    def __call__(self, W):
        if self.off:
            return 0
        raise NotImplementedError('the z regulariser is not part of the default loop')


def sparsity_error(W):
    """max of min(|W|, |1 − |W||), taking |W| twice as the reference's description does."""
    return torch.max(torch.min(torch.abs(W), torch.abs(1 - torch.abs(W))))


class NAU(Unit):
    """z = x Wᵀ with W clamped to [−1, 1]; sparsity mean(min(|W|, |1 − |W||))."""

    def __init__(self, i, o, log):
        super().__init__(log, 'nac')
        self.i, self.o = i, o
        self.W = torch.nn.Parameter(torch.empty(o, i))
        self.z = ZPenalty()
        r = min(0.5, math.sqrt(3) * math.sqrt(2 / (i + o)))
        torch.nn.init.uniform_(self.W, -r, r)

    def forward(self, x):
        if self.sampling:
            self.z.record(x)
        W = torch.clamp(self.W, -1.0, 1.0)
        self.log.histogram('W', W)
        self.log.matrix('W', W)
        self.log.scalar('W/sparsity_error', sparsity_error(W), verbose_only=False)
        return torch.nn.functional.linear(x, W)

    def penalties(self):
        a = torch.abs(self.W)
        return super().penalties({
            'W': torch.mean(torch.min(a, torch.abs(1 - a))),
            'z': self.z(self.W),
            'W-OOB': 0,  # "clip" mode: the bound is kept by clamping, the term is off
        })

    def after_step(self, loss):
        self.z.clear()
        self.W.data.clamp_(-1.0, 1.0)


class NMU(Unit):
    """z_o = Π_i (W_oi x_i + 1 − W_oi), W kept in [0, 1] by clamping after the step."""

    def __init__(self, i, o, log):
        super().__init__(log, 'nac')
        self.i, self.o = i, o
        self.W = torch.nn.Parameter(torch.empty(o, i))
        self.z = ZPenalty()
        torch.nn.init.uniform_(self.W, 0.25, 0.75)

    def forward(self, x):
        if self.sampling:
            self.z.record(x)
        W = self.W  # "clip" mode multiplies with the stored weight
        self.log.histogram('W', W)
        self.log.matrix('W', W)
        self.log.scalar('W/sparsity_error', sparsity_error(W), verbose_only=False)
        xs = x.view(x.size(0), self.i, 1)
        Ws = W.t().view(1, self.i, self.o)
        return torch.prod(xs * Ws + 1 - Ws, -2)

    def penalties(self):
        return super().penalties({
            'W': torch.mean(torch.min(torch.abs(self.W - 0), torch.abs(1 - self.W))),
            'z': self.z(self.W),
            'W-OOB': 0,
        })

    def after_step(self, loss):
        self.z.clear()
        self.W.data.clamp_(0.0, 1.0)


class NacWeight(torch.autograd.Function):
    """W = tanh(Ŵ) σ(M̂), with its two partial derivatives written out."""

    @staticmethod
    def forward(ctx, w_hat, m_hat):
        t, s = torch.tanh(w_hat), torch.sigmoid(m_hat)
        ctx.save_for_backward(t, s)
        return t * s

    @staticmethod
    def backward(ctx, g):
        t, s = ctx.saved_tensors
        return g * (1 - t * t) * s, g * t * s * (1 - s)


def nac_range(i, o):
    """r with fan · Var[tanh(u)σ(v)] = 2 for u, v ~ U[−r, r], fan = max(i + o, 5), by bisection."""
    fan = max(i + o, 5)

    def f(r):
        var = 0 if r == 0 else (1 - math.tanh(r) / r) * (r - math.tanh(r / 2)) / (2 * r)
        return fan * var - 2

    lo, hi = 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if (f(lo) < 0) == (f(mid) < 0):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


class NAC(Unit):
    """z = x Wᵀ with W = tanh(Ŵ)σ(M̂) recomputed at every call."""

    def __init__(self, i, o, log):
        super().__init__(log, 'nac')
        self.W_hat = torch.nn.Parameter(torch.empty(o, i))
        self.M_hat = torch.nn.Parameter(torch.empty(o, i))
        self.z = ZPenalty()
        r = nac_range(i, o)
        torch.nn.init.uniform_(self.W_hat, -r, r)
        torch.nn.init.uniform_(self.M_hat, -r, r)

    def forward(self, x):
        if self.sampling:
            self.z.record(x)
        W = NacWeight.apply(self.W_hat, self.M_hat)
        self.log.histogram('W', W)
        self.log.matrix('W', W)
        self.log.scalar('W/sparsity_error', sparsity_error(W), verbose_only=False)
        return torch.nn.functional.linear(x, W)

    def penalties(self):
        W = NacWeight.apply(self.W_hat, self.M_hat)
        return super().penalties({'z': self.z(W)})

    def after_step(self, loss):
        self.z.clear()


class NALU(Unit):
    """g = σ(x Gᵀ), a = NAC(x), m = exp(NAC(log(|x| + ε))) with the same NAC, z = g a + (1 − g) m."""

    def __init__(self, i, o, log):
        super().__init__(log, 'nalu')
        self.nac = NAC(i, o, self.log)
        self.G = torch.nn.Parameter(torch.empty(o, i))
        torch.nn.init.xavier_uniform_(self.G, gain=torch.nn.init.calculate_gain('sigmoid'))
        self.last_input = self.last_gate = None

    def forward(self, x):
        self.last_input = x
        g = torch.sigmoid(torch.nn.functional.linear(x, self.G))
        self.last_gate = g
        g_mul = 1 - g
        self.log.histogram('gate', g)
        self.log.scalar('gate/mean', torch.mean(g), verbose_only=False)
        a = self.nac(x)
        m = torch.exp(self.nac(torch.log(torch.abs(x) + EPS)))
        self.log.histogram('add', a)
        self.log.histogram('mul', m)
        return g * a + g_mul * m

    def penalties(self):
        return super().penalties({})  # ungated by a regulariser by default; the NAC's terms follow


class Slot(Unit):
    """A named place for one layer (the reference wraps every layer once)."""

    def __init__(self, make, i, o, log, name):
        super().__init__(log, name)
        self.layer = make(i, o, self.log)

    def forward(self, x):
        return self.layer(x)


class Network(Unit):
    def __init__(self, first, second, log):
        super().__init__(log, 'network')
        self.layer_1 = Slot(first, INPUT, HIDDEN, self.log, 'layer_1')
        self.layer_2 = Slot(second, HIDDEN, 1, self.log, 'layer_2')
        self.z_1 = None

    def forward(self, x):
        self.log.summary('x', x)
        z_1 = self.layer_1(x)
        self.z_1 = z_1
        self.log.summary('z_1', z_1)
        z_2 = self.layer_2(z_1)
        self.log.summary('z_2', z_2)
        return z_2

    def penalties(self):
        return super().penalties()


task = Task(args.seed)
train = iter(task.split(1.0, 2.0).batches(BATCH))
# Fixed seeds for the evaluation sets, as the reference's; one slice of 10,000 each.
interpolation = next(iter(task.split(1.0, 2.0, seed=43953907).batches(EVAL_SIZE)))
extrapolation = next(iter(task.split(2.0, 6.0, seed=8689336).batches(EVAL_SIZE)))

log = Log()
layers = {'nmu': (NAU, NMU), 'nau': (NAU, NAU), 'nalu': (NALU, NALU)}[args.model]
# The model's loggers: every 1,000th iteration, not verbose (per-layer histograms and tensors off).
model = Network(layers[0], layers[1], log.child(every=EVAL_EVERY).child(verbose=False))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = torch.nn.MSELoss()


def evaluate(data):
    with torch.no_grad(), logging_off(model.log), model.no_sampling():
        x, t = data
        return criterion(model(x), t)


curve = []
progress = []
start = time.perf_counter()
cpu_start = time.process_time()
for step in range(args.iterations + 1):
    log.iteration = step
    model.set_everywhere('tau', max(0.5, math.exp(-1e-5 * step)))
    optimizer.zero_grad()
    if step % EVAL_EVERY == 0:
        inter, extra = evaluate(interpolation), evaluate(extrapolation)
        log.scalar('metric/valid/interpolation', inter)
        log.scalar('metric/test/extrapolation', extra)
        curve.append((step, float(inter), float(extra)))
    if step == args.iterations:
        break
    x, t = next(train)
    y = model(x)
    terms = model.penalties()
    scale = max(0, min(1, (step - WARMUP[0]) / (WARMUP[1] - WARMUP[0])))
    fit = criterion(y, t)
    penalty = SPARSITY * scale * terms['W'] + terms['g'] + Z_WEIGHT * terms['z'] + OOB_WEIGHT * terms['W-OOB']
    loss = fit + penalty
    if step % EVAL_EVERY == 0:
        log.scalar('loss/train/critation', fit)
        log.scalar('loss/train/regualizer', penalty)
        log.scalar('loss/train/total', loss)
        progress.append('train %d: %.5f, inter: %.5f, extra: %.5f' % (step, fit, inter, extra))
    if loss.requires_grad:
        loss.backward()
        optimizer.step()
    model.after_step(fit)
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
