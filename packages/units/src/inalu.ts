/**
 * iNALU (Schlör et al. 2020), units.md "Further units": independent NAC weights for the additive and
 * the multiplicative path, an input-independent gate and an explicit sign for the product.
 *
 *   W_a = tanh(Ŵ_a) ⊙ σ(M̂_a),  W_m = tanh(Ŵ_m) ⊙ σ(M̂_m),  g = σ(ĝ) ∈ R^O
 *   a = x · W_a
 *   m = exp(min(log(max(|x|, ε)) · W_m, ω))                     (ε = 1e−7, ω = 20)
 *   s_o = Π_i (sign(x_i) · |W_m,io| + 1 − |W_m,io|)
 *   z = g ⊙ a + (1 − g) ⊙ m ⊙ s
 *
 * The sign s is an NMU product over sign(x) with weights |W_m| (`nmuProduct`). sign(x) has zero
 * gradient, so s only trains through |W_m|.
 *
 * The regulariser `reg` is the paper's Σ over all raw parameters of mean(max(20 − |v|, 0)), returned
 * unweighted and unconditionally. The paper applies it with weight 0.05 and only once the loss < 1
 * and t > 10,000 steps; that weight and condition, and the training tricks (gradient-value clip
 * ±0.1, re-initialisation on a stalled loss), are the trainer's job (benchmark.md), not this file's.
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef } from './unit.js';
import { broadcastRow, checkInput, meanSparsityErrorOf, sizeOf, weightMean } from './unit.js';
import { nacWeight } from './nac.js';
import { nmuProduct } from './nmu.js';

export interface InaluOptions {
  /** ε in log(max(|x|, ε)). */
  epsilon: number;
  /** ω: the log-space sum is capped at ω before the exp (exp(20) ≈ 4.9e8). */
  omega: number;
}

/** Means and standard deviations of the normal initialisers (units.md). */
export const INALU_INIT = {
  W_hat: { mean: 0.88, std: 0.2 },
  M_hat: { mean: 0.5, std: 0.2 },
  g_hat: { mean: 0, std: 0.2 },
} as const;

/** The raw-parameter names, in order. */
const WEIGHT_PARAMS = ['W_hat_a', 'M_hat_a', 'W_hat_m', 'M_hat_m'] as const;

/** exp(min(log(max(|x|, ε)) · W, ω)): iNALU's clipped multiplicative path. */
export function inaluMagnitude(x: tf.Tensor, w: tf.Tensor, epsilon: number, omega: number): tf.Tensor {
  const logx = tf.log(tf.maximum(tf.abs(x), epsilon));
  return tf.exp(tf.minimum(tf.matMul(logx, w), omega));
}

/** s_o = Π_i (sign(x_i)·|W_io| + 1 − |W_io|): the sign of the product, an NMU over sign(x). */
export function inaluSign(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  return nmuProduct(tf.sign(x), tf.abs(w));
}

export const inaluDef: UnitDef<InaluOptions> = {
  name: 'inalu',
  className: 'INALU',
  defaults: { epsilon: 1e-7, omega: 20 },
  validateOptions(o) {
    if (!(o.epsilon > 0)) throw new Error(`INALU: option 'epsilon' must be > 0, got ${o.epsilon}.`);
    if (!Number.isFinite(o.omega)) {
      throw new Error(`INALU: option 'omega' must be a finite number, got ${o.omega}.`);
    }
  },
  params: ({ inputSize, units }) => [
    ...WEIGHT_PARAMS.map((name) => ({ name, shape: [inputSize, units] })),
    { name: 'g_hat', shape: [units] },
  ],
  init(param, _shape, _opts, rng) {
    const out = new Float32Array(sizeOf(param.shape));
    const { mean, std } =
      param.name === 'g_hat'
        ? INALU_INIT.g_hat
        : param.name.startsWith('W_hat')
          ? INALU_INIT.W_hat
          : INALU_INIT.M_hat;
    return rng.fillNormal(out, mean, std) as Float32Array;
  },
  forward(p: Params, x: tf.Tensor, opts) {
    checkInput('INALU', x, p.W_hat_a!);
    const wa = nacWeight(p.W_hat_a!, p.M_hat_a!);
    const wm = nacWeight(p.W_hat_m!, p.M_hat_m!);
    const a = tf.matMul(x, wa);
    const m = tf.mul(inaluMagnitude(x, wm, opts.epsilon, opts.omega), inaluSign(x, wm));
    const g = broadcastRow(tf.sigmoid(p.g_hat!), x);
    return tf.add(tf.mul(g, a), tf.mul(tf.sub(1, g), m));
  },
  regularizers(p) {
    const term = (v: tf.Tensor) => tf.relu(tf.sub(20, tf.abs(v)));
    let reg = tf.mean(term(p.g_hat!), p.g_hat!.rank - 1);
    for (const name of WEIGHT_PARAMS) reg = tf.add(reg, weightMean(term(p[name]!)));
    return { reg };
  },
  // The gate g = σ(ĝ) is a per-output vector, not a weight matrix, so it is not listed here (the
  // sparsity error reduces over the last two axes of [I, O] weights).
  effectiveWeights: (p) => ({
    W_a: nacWeight(p.W_hat_a!, p.M_hat_a!),
    W_m: nacWeight(p.W_hat_m!, p.M_hat_m!),
  }),
  // nalm-benchmark's iNALU logs 'W/sparsity_error' = (error(W_a) + error(W_m)) / 2, each a max.
  sparsityError: (p) =>
    meanSparsityErrorOf([nacWeight(p.W_hat_a!, p.M_hat_a!), nacWeight(p.W_hat_m!, p.M_hat_m!)]),
};

/** The iNALU as a tfjs layer. */
export class INALU extends UnitLayer<InaluOptions> {
  static className = 'INALU';
  constructor(args: UnitLayerArgs<InaluOptions> = {}) {
    super(inaluDef, args);
  }
}
tf.serialization.registerClass(INALU);
