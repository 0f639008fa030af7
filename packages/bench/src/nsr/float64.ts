/**
 * A float64 plain-JS trainer for the comparison task: the three gates (NSR, MLP, NAU gate) with
 * hand-written gradients, full-batch MAE and Adam exactly as tfjs computes them (Adam's bias
 * correction, |x|' = 1 for x > 0 else −1, the NAU's clamp and sparsity regulariser). It exists
 * because tfjs has no float64: in float32 a difference of 1 is lost beyond about 2·10^6, in float64
 * only beyond about 10^15 (resolution.ts). It is a second implementation of the units' maths, held
 * to the tfjs definitions by `nsr-float64.test.ts` (outputs, gradients, training trajectories);
 * initial values come from the units' own seeded initialisers.
 */
import { Rng } from '@nalm/units';
import type { NsrPointResult, NsrRecord, NsrRunConfig } from './config.js';
import { NSR_RECORD_VERSION, nsrConfigKey } from './config.js';
import type { LayerSpec } from './models.js';
import { BASELINE_HIDDEN, modelLayers } from './models.js';
import { maxResolvedValue } from './resolution.js';
import type { NsrData } from './tasks.js';
import { testData, testPoints, trainingData } from './tasks.js';
import type { NsrReplica, NsrTrainOptions } from './trainer.js';
import { nsrBatchKey } from './trainer.js';
import { nextTick } from '../tick.js';

/** Parameters by `layer/param`, row-major as the unit's shapes. */
export type Float64Params = Record<string, Float64Array>;

/** Initial values of one seed: the units' initialisers with the tfjs trainer's seed streams. */
export function initFloat64Params(layers: readonly LayerSpec[], seed: number): Float64Params {
  const out: Float64Params = {};
  for (const l of layers) {
    for (const spec of l.def.params(l.shape, l.options)) {
      const rng = new Rng(seed, 'nsr-task', l.name, l.def.name, spec.name);
      out[`${l.name}/${spec.name}`] = Float64Array.from(l.def.init(spec, l.shape, l.options, rng));
    }
  }
  return out;
}

const sigmoid = (u: number) => 1 / (1 + Math.exp(-u));
const clamp1 = (w: number) => (w < -1 ? -1 : w > 1 ? 1 : w);

/** One gate: y for (a, b) and, given dL/dy, the accumulated parameter gradients. */
interface Gate {
  forward(p: Float64Params, a: number, b: number): number;
  /**
   * One forward and backward pass: y, then dL/dθ for dL/dy = dyOf(y) added to `g`. Returns y.
   */
  backward(p: Float64Params, a: number, b: number, dyOf: (y: number) => number, g: Float64Params): number;
}

function softmax2(v: Float64Array): [number, number] {
  const m = Math.max(v[0]!, v[1]!);
  const e0 = Math.exp(v[0]! - m);
  const e1 = Math.exp(v[1]! - m);
  return [e0 / (e0 + e1), e1 / (e0 + e1)];
}

function nsrGate(zeta: number): Gate {
  const parts = (p: Float64Params, a: number, b: number) => {
    const p1 = softmax2(p['gate.nsr/V1']!);
    const p2 = softmax2(p['gate.nsr/V2']!);
    const d = a * p1[0] + b * p1[1] - (a * p2[0] + b * p2[1]);
    const t = Math.tanh(zeta * d);
    const q = 1 - 2 * t * t;
    const ws = p['gate.nsr/W_sign']![0]!;
    const wz = p['gate.nsr/W_zero']![0]!;
    const y = sigmoid(p['gate.nsr/b']![0]! + t * ws + q * wz);
    return { p1, p2, t, q, ws, wz, y };
  };
  return {
    forward: (p, a, b) => parts(p, a, b).y,
    backward(p, a, b, dyOf, g) {
      const { p1, p2, t, q, ws, wz, y } = parts(p, a, b);
      const du = dyOf(y) * y * (1 - y);
      g['gate.nsr/b']![0]! += du;
      g['gate.nsr/W_sign']![0]! += du * t;
      g['gate.nsr/W_zero']![0]! += du * q;
      const dt = du * ws + du * wz * -4 * t;
      const dd = dt * zeta * (1 - t * t);
      // o1 = x·p1 (dL/do1 = dd), o2 = x·p2 (dL/do2 = −dd); softmax: dv_i = p_i (dp_i − Σ p_j dp_j).
      for (const [name, pr, s] of [
        ['gate.nsr/V1', p1, dd],
        ['gate.nsr/V2', p2, -dd],
      ] as const) {
        const dp0 = s * a;
        const dp1 = s * b;
        const dot = pr[0] * dp0 + pr[1] * dp1;
        g[name]![0]! += pr[0] * (dp0 - dot);
        g[name]![1]! += pr[1] * (dp1 - dot);
      }
      return y;
    },
  };
}

function mlpGate(): Gate {
  const H = BASELINE_HIDDEN;
  const h = new Float64Array(H);
  const forward = (p: Float64Params, a: number, b: number) => {
    const W1 = p['gate.l1/W']!;
    const b1 = p['gate.l1/b']!;
    const W2 = p['gate.l2/W']!;
    let u = p['gate.l2/b']![0]!;
    for (let j = 0; j < H; j++) {
      h[j] = sigmoid(a * W1[j]! + b * W1[H + j]! + b1[j]!);
      u += h[j]! * W2[j]!;
    }
    return sigmoid(u);
  };
  return {
    forward,
    backward(p, a, b, dyOf, g) {
      const y = forward(p, a, b);
      const du = dyOf(y) * y * (1 - y);
      const W2 = p['gate.l2/W']!;
      g['gate.l2/b']![0]! += du;
      const gW1 = g['gate.l1/W']!;
      const gb1 = g['gate.l1/b']!;
      const gW2 = g['gate.l2/W']!;
      for (let j = 0; j < H; j++) {
        gW2[j]! += du * h[j]!;
        const dz = du * W2[j]! * h[j]! * (1 - h[j]!);
        gW1[j]! += dz * a;
        gW1[H + j]! += dz * b;
        gb1[j]! += dz;
      }
      return y;
    },
  };
}

function nauGate(): Gate {
  const H = BASELINE_HIDDEN;
  const h = new Float64Array(H);
  const forward = (p: Float64Params, a: number, b: number) => {
    const W1 = p['gate.w1/W']!;
    const W2 = p['gate.w2/W']!;
    let u = 0;
    for (let j = 0; j < H; j++) {
      h[j] = a * clamp1(W1[j]!) + b * clamp1(W1[H + j]!);
      u += h[j]! * clamp1(W2[j]!);
    }
    return sigmoid(u + p['gate.b/b']![0]!);
  };
  // clipByValue passes the gradient where min ≤ w ≤ max (tfjs).
  const pass = (w: number) => (w >= -1 && w <= 1 ? 1 : 0);
  return {
    forward,
    backward(p, a, b, dyOf, g) {
      const y = forward(p, a, b);
      const du = dyOf(y) * y * (1 - y);
      const W1 = p['gate.w1/W']!;
      const W2 = p['gate.w2/W']!;
      g['gate.b/b']![0]! += du;
      for (let j = 0; j < H; j++) {
        g['gate.w2/W']![j]! += du * h[j]! * pass(W2[j]!);
        const dh = du * clamp1(W2[j]!);
        g['gate.w1/W']![j]! += dh * a * pass(W1[j]!);
        g['gate.w1/W']![H + j]! += dh * b * pass(W1[H + j]!);
      }
      return y;
    },
  };
}

function gateOf(c: NsrRunConfig): Gate {
  if (c.task.kind !== 'compare')
    throw new Error(
      `the float64 trainer covers the compare task only, got '${c.task.kind}'; use numeric 'float32'.`,
    );
  return c.model === 'nsr' ? nsrGate(c.zeta) : c.model === 'mlp' ? mlpGate() : nauGate();
}

/** NAU sparsity regulariser mean(min(|W|, 1 − |W|)) of each NAU layer, and its tfjs gradient. */
function addSparsity(p: Float64Params, g: Float64Params | null): number {
  let total = 0;
  for (const name of ['gate.w1/W', 'gate.w2/W']) {
    const W = p[name];
    if (!W) continue;
    let s = 0;
    for (let i = 0; i < W.length; i++) {
      const w = W[i]!;
      const a = Math.abs(w);
      s += Math.min(a, 1 - a);
      if (g) {
        // minimum → the first argument where a ≤ 1 − a; |w|' = 1 for w > 0 else −1 (tfjs).
        const sg = w > 0 ? 1 : -1;
        g[name]![i]! += (a <= 1 - a ? sg : -sg) / W.length;
      }
    }
    total += s / W.length;
  }
  return total;
}

/** Full-batch MAE of one replica and (optionally) its gradient. */
export function float64LossAndGrad(
  c: NsrRunConfig,
  p: Float64Params,
  data: NsrData,
  withReg: boolean,
  g: Float64Params | null,
): number {
  const gate = gateOf(c);
  let loss = 0;
  // d|e|/de = 1 for e > 0, else −1 (tfjs's Abs gradient), over n examples.
  const pos = 1 / data.n;
  const neg = -1 / data.n;
  for (let i = 0; i < data.n; i++) {
    const a = data.x[2 * i]!;
    const b = data.x[2 * i + 1]!;
    const label = data.y[i]!;
    const y = g ? gate.backward(p, a, b, (v) => (v - label > 0 ? pos : neg), g) : gate.forward(p, a, b);
    loss += Math.abs(y - label);
  }
  loss /= data.n;
  if (withReg) loss += addSparsity(p, g);
  return loss;
}

function zerosLike(p: Float64Params): Float64Params {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, new Float64Array(v.length)]));
}

/** Train one replica; `onEpoch` sees the parameters after every step (for parity tests). */
export function trainFloat64Replica(
  replica: NsrReplica,
  hooks: { onEpoch?: (epoch: number, p: Float64Params) => void; shouldStop?: () => boolean } = {},
): { params: Float64Params; record: NsrRecord } | null {
  const c = replica.config;
  const layers = modelLayers(c.task.kind, c.model, { zeta: c.zeta });
  const p = initFloat64Params(layers, replica.seed);
  const m = zerosLike(p);
  const v = zerosLike(p);
  const g = zerosLike(p);
  const train = trainingData(c.task, replica.seed);
  const regularizeAt = Math.floor(c.regularizeFrom * c.epochs);
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  let acc1 = beta1;
  let acc2 = beta2;
  let diverged: NsrRecord['diverged'] = null;
  for (let epoch = 1; epoch <= c.epochs; epoch++) {
    for (const k in g) g[k]!.fill(0);
    const loss = float64LossAndGrad(c, p, train, epoch > regularizeAt && c.regularizeFrom < 1, g);
    if (!Number.isFinite(loss) && diverged === null)
      diverged = { epoch, reason: `non-finite training loss (${loss}) at epoch ${epoch}` };
    for (const k in p) {
      const w = p[k]!;
      const gk = g[k]!;
      const mk = m[k]!;
      const vk = v[k]!;
      for (let i = 0; i < w.length; i++) {
        mk[i] = mk[i]! * beta1 + gk[i]! * (1 - beta1);
        vk[i] = vk[i]! * beta2 + gk[i]! * gk[i]! * (1 - beta2);
        w[i] = (-c.lr * (mk[i]! / (1 - acc1))) / (Math.sqrt(vk[i]! / (1 - acc2)) + eps) + w[i]!;
      }
    }
    acc1 *= beta1;
    acc2 *= beta2;
    if (c.model === 'nau-gate')
      for (const k of ['gate.w1/W', 'gate.w2/W']) p[k]!.forEach((w, i, a) => (a[i] = clamp1(w)));
    hooks.onEpoch?.(epoch, p);
    if (epoch % 1000 === 0 && hooks.shouldStop?.()) return null;
  }
  const gate = gateOf(c);
  const scoreSet = (d: NsrData) => {
    let correct = 0;
    let sum = 0;
    let max = 0;
    for (let i = 0; i < d.n; i++) {
      const e = Math.abs(gate.forward(p, d.x[2 * i]!, d.x[2 * i + 1]!) - d.y[i]!);
      if (e < 0.5) correct++;
      sum += e;
      if (!(e <= max)) max = e;
    }
    return { correct, success: correct === d.n, meanError: sum / d.n, maxError: max, gateSuccess: null };
  };
  const limit = maxResolvedValue(c.numeric);
  const points: NsrPointResult[] = testPoints(c.task).map((pt) => {
    const d = testData(c.task, pt, replica.seed);
    return {
      exponent: pt.exponent,
      length: pt.length,
      label: pt.label,
      items: d.n,
      ...scoreSet(d),
      beyondPrecision: pt.maxValue > limit,
    };
  });
  const record: NsrRecord = {
    v: NSR_RECORD_VERSION,
    key: nsrConfigKey(c),
    config: c,
    seed: replica.seed,
    trainLoss: float64LossAndGrad(c, p, train, false, null),
    trainSolved: scoreSet(train).success,
    diverged,
    points,
  };
  return { params: p, record };
}

/** The float64 counterpart of `trainNsrReplicas` (replicas are independent loops here). */
export async function trainNsrFloat64(opts: NsrTrainOptions): Promise<NsrRecord[] | null> {
  const specs = opts.replicas;
  if (specs.length === 0) return [];
  const key0 = nsrBatchKey(specs[0]!.config);
  for (const s of specs)
    if (nsrBatchKey(s.config) !== key0)
      throw new Error(`trainNsrFloat64: replicas of one batch must share ${key0}.`);
  const records: NsrRecord[] = [];
  for (const [r, s] of specs.entries()) {
    const out = trainFloat64Replica(s, { shouldStop: opts.shouldStop });
    if (out === null) return null;
    records.push(out.record);
    opts.onProgress?.({
      epoch: Math.round(((r + 1) / specs.length) * s.config.epochs),
      epochs: s.config.epochs,
      replicas: specs.length,
      meanLoss: records.reduce((a, x) => a + x.trainLoss, 0) / records.length,
    });
    await nextTick();
  }
  return records;
}

/** Predictions of a float64-trained comparison gate for rows [a, b]. */
export function float64Predict(
  c: NsrRunConfig,
  p: Float64Params,
  rows: readonly (readonly number[])[],
): number[] {
  const gate = gateOf(c);
  return rows.map((r) => gate.forward(p, r[0]!, r[1]!));
}
