/**
 * NPU — Neural Power Unit (Heim et al. 2020) and RealNPU (the NPU without the imaginary weights).
 *
 * With the relevance gate ĝ = clamp(g, 0, 1) ∈ R^I, r = ĝ ⊙ (|x| + ε) + (1 − ĝ) and
 * k = ĝ ⊙ π·[x < 0]:
 *   z = exp(log(r)·W_re − k·W_im) ⊙ cos(log(r)·W_im + k·W_re),   ε = 1.19e−7.
 * This is the real part of exp(log(x)·W) for complex W = W_re + i·W_im with the principal complex
 * log of x (log|x| + iπ for x < 0), so W_re ∈ {−1, 0, 1} computes signed products and quotients;
 * a closed gate (ĝ = 0) turns an input into the neutral factor 1. The RealNPU fixes W_im ≡ 0:
 *   z = exp(log(r)·W_re) ⊙ cos(k·W_re).
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { ParamSpec, Params, UnitDef } from './unit.js';
import { broadcastRow, checkInput, meanSparsityErrorOf, sizeOf, uniformValues } from './unit.js';
import { xavierUniformRange } from './nalu.js';

export interface NpuOptions {
  /** ε added to |x| inside the log (the reference uses float32 machine epsilon, 1.19e−7). */
  epsilon: number;
}

/**
 * Clamped gate ĝ broadcast against x ([I] with [B, I]; [R, I] → [R, 1, I] with [R, B, I]). The clamp
 * is in the forward pass only, as the NALM benchmark ran (`npu_clip` unset): the stored g may leave
 * [0, 1], where the loss's gradient with respect to it is 0 (torch.clamp's and tfjs's clipByValue's).
 */
function gate(g: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return broadcastRow(tf.clipByValue(g, 0, 1), x);
}

/**
 * log(r) and k of the NPU for x [.., B, I] and gate g [.., I] → both [.., B, I].
 * [x < 0] is `step(−x)` (1 for x < 0, 0 for x ≥ 0, NaN for NaN), whose gradient is 0: a comparison
 * op would have no registered gradient and break autodiff with respect to x.
 */
export function npuLogAndPhase(
  x: tf.Tensor,
  g: tf.Tensor,
  epsilon: number,
): { logR: tf.Tensor; k: tf.Tensor } {
  const gh = gate(g, x);
  const r = tf.add(tf.mul(gh, tf.add(tf.abs(x), epsilon)), tf.sub(1, gh));
  const k = tf.mul(tf.mul(gh, Math.PI), tf.step(tf.neg(x)));
  return { logR: tf.log(r), k };
}

function validateNpuOptions(className: string, o: NpuOptions): void {
  if (!(o.epsilon > 0) || !Number.isFinite(o.epsilon)) {
    throw new Error(`${className}: option 'epsilon' must be a finite number > 0, got ${o.epsilon}.`);
  }
}

/** Σ|v| over one model's entries of a parameter ([.., I, O] or the gate [.., I]). */
function absSum(t: tf.Tensor, paramRank: number): tf.Tensor {
  const axes = Array.from({ length: paramRank }, (_, i) => t.rank - paramRank + i);
  return tf.sum(tf.abs(t), axes);
}

/**
 * L1 regulariser: mean |v| over every entry of every parameter of one model (W_re, W_im and g
 * pooled), a scalar — or [R] with a replica axis. The trainer weights it with the β schedule.
 */
function npuL1(p: Params, names: readonly string[]): tf.Tensor {
  const g = p.g!;
  let total = absSum(g, 1);
  let count = g.shape[g.rank - 1] as number;
  for (const n of names) {
    const w = p[n]!;
    total = tf.add(total, absSum(w, 2));
    count += (w.shape[w.rank - 2] as number) * (w.shape[w.rank - 1] as number);
  }
  return tf.div(total, count);
}

function npuParams(
  { inputSize, units }: { inputSize: number; units: number },
  complex: boolean,
): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: 'W_re', shape: [inputSize, units] }];
  if (complex) specs.push({ name: 'W_im', shape: [inputSize, units] });
  specs.push({ name: 'g', shape: [inputSize] });
  return specs;
}

function npuInit(
  param: ParamSpec,
  shape: { inputSize: number; units: number },
  rng: Parameters<UnitDef['init']>[3],
) {
  const n = sizeOf(param.shape);
  if (param.name === 'W_re') {
    const r = xavierUniformRange(shape.inputSize, shape.units);
    return uniformValues(n, -r, r, rng);
  }
  if (param.name === 'g') return new Float32Array(n).fill(0.5);
  return new Float32Array(n); // W_im = 0
}

/** Effective weights for a reader; the clamped gate as a column [.., I, 1] (not scored: see sparsityError). */
function npuEffective(p: Params, names: readonly string[]): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = p[n]!;
  const g = tf.clipByValue(p.g!, 0, 1);
  out.g = tf.expandDims(g, g.rank);
  return out;
}

export const npuDef: UnitDef<NpuOptions> = {
  name: 'npu',
  className: 'NPU',
  defaults: { epsilon: 1.19e-7 },
  validateOptions: (o) => validateNpuOptions('NPU', o),
  params: (shape) => npuParams(shape, true),
  init: (param, shape, _opts, rng) => npuInit(param, shape, rng),
  forward(p: Params, x: tf.Tensor, opts) {
    checkInput('NPU', x, p.W_re!);
    const { logR, k } = npuLogAndPhase(x, p.g!, opts.epsilon);
    const magnitude = tf.exp(tf.sub(tf.matMul(logR, p.W_re!), tf.matMul(k, p.W_im!)));
    const phase = tf.cos(tf.add(tf.matMul(logR, p.W_im!), tf.matMul(k, p.W_re!)));
    return tf.mul(magnitude, phase);
  },
  // No post-step constraint: nalm-benchmark's NPULayer.optimize clamps nothing with npu_clip unset.
  regularizers: (p) => ({ l1: npuL1(p, ['W_re', 'W_im']) }),
  effectiveWeights: (p) => npuEffective(p, ['W_re', 'W_im']),
  // The reference's export averages the W_real and W_im sparsity errors; the gate is not scored.
  sparsityError: (p) => meanSparsityErrorOf([p.W_re!, p.W_im!]),
};

export const realNpuDef: UnitDef<NpuOptions> = {
  name: 'real-npu',
  className: 'RealNPU',
  defaults: { epsilon: 1.19e-7 },
  validateOptions: (o) => validateNpuOptions('RealNPU', o),
  params: (shape) => npuParams(shape, false),
  init: (param, shape, _opts, rng) => npuInit(param, shape, rng),
  forward(p: Params, x: tf.Tensor, opts) {
    checkInput('RealNPU', x, p.W_re!);
    const { logR, k } = npuLogAndPhase(x, p.g!, opts.epsilon);
    return tf.mul(tf.exp(tf.matMul(logR, p.W_re!)), tf.cos(tf.matMul(k, p.W_re!)));
  },
  regularizers: (p) => ({ l1: npuL1(p, ['W_re']) }),
  effectiveWeights: (p) => npuEffective(p, ['W_re']),
  // The RealNPU logs only W_real's sparsity error (and the gate's, which the export ignores).
  sparsityError: (p) => meanSparsityErrorOf([p.W_re!]),
};

/** The NPU as a tfjs layer. */
export class NPU extends UnitLayer<NpuOptions> {
  static className = 'NPU';
  constructor(args: UnitLayerArgs<NpuOptions> = {}) {
    super(npuDef, args);
  }
}
tf.serialization.registerClass(NPU);

/** The RealNPU as a tfjs layer. */
export class RealNPU extends UnitLayer<NpuOptions> {
  static className = 'RealNPU';
  constructor(args: UnitLayerArgs<NpuOptions> = {}) {
    super(realNpuDef, args);
  }
}
tf.serialization.registerClass(RealNPU);
