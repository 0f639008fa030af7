/**
 * NRU — Neural Reciprocal Unit (division): z_o = Π_i (sign(x_i)·|x_i|^{W_io}·a(W_io) + 1 − a(W_io)),
 * W clamped to [−1, 1], with the selection a(W) = tanh(1000·W)² while training (a smooth |W| that
 * is ≈ 1 for |W| ≳ 0.005) and a(W) = |W| at evaluation. W_io = 1 multiplies by x_i, W_io = −1
 * divides by x_i (keeping its sign), W_io = 0 ignores it. NAU-type initialiser and regulariser.
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef } from './unit.js';
import { checkInput, sizeOf, uniformValues } from './unit.js';
import type { NauOptions } from './nau.js';
import { nauDef, nauInitRange, validateRegOptions } from './nau.js';

export type NruOptions = NauOptions;

/**
 * Π_i (sign(x_i)·|x_i|^{W_io}·a(W_io) + 1 − a(W_io)) for x [.., B, I] and W [.., I, O] → [.., B, O]
 * (W already clamped).
 *
 * |x|^W is tf.pow(|x|, W), so x_i = 0 follows the maths (0^W with 0^0 = 1) rather than going through
 * exp(W·log 0) = exp(0·(−∞)) = NaN:
 *  - W_io = 0: |x_i|^0 = 1 and a(0) = 0, so the factor is exactly 1 (x_i is ignored, as it should be);
 *  - W_io > 0: |x_i|^W = 0 and the factor is 1 − a(W_io);
 *  - W_io < 0: |x_i|^W = +∞ and sign(0)·∞ = NaN: a division by zero propagates NaN, not "fixed".
 * tfjs's pow gradient with respect to W is 0 where |x_i| = 0 (it guards log 0); the gradient with
 * respect to x at x_i = 0 is not finite.
 */
export function nruProduct(x: tf.Tensor, w: tf.Tensor, training: boolean): tf.Tensor {
  const xe = tf.expandDims(x, x.rank); // [.., B, I, 1]
  const we = tf.expandDims(w, w.rank - 2); // [.., 1, I, O]
  const a = training ? tf.square(tf.tanh(tf.mul(we, 1000))) : tf.abs(we);
  const power = tf.pow(tf.abs(xe), we);
  const term = tf.add(tf.mul(tf.mul(tf.sign(xe), power), a), tf.sub(1, a));
  return tf.prod(term, x.rank - 1);
}

export const nruDef: UnitDef<NruOptions> = {
  name: 'nru',
  className: 'NRU',
  defaults: { regularizer: 'linear', oobMode: 'clip' },
  validateOptions: (o) => validateRegOptions('NRU', o),
  params: ({ inputSize, units }) => [{ name: 'W', shape: [inputSize, units] }],
  init(param, { inputSize, units }, _opts, rng) {
    const r = nauInitRange(inputSize, units);
    return uniformValues(sizeOf(param.shape), -r, r, rng);
  },
  forward(p: Params, x: tf.Tensor, _opts, ctx) {
    checkInput('NRU', x, p.W!);
    return nruProduct(x, tf.clipByValue(p.W!, -1, 1), ctx?.training === true);
  },
  // W lives in [−1, 1] like the NAU's: same clamp, regularisers and effective weights.
  constrain: nauDef.constrain!,
  regularizers: nauDef.regularizers!,
  effectiveWeights: nauDef.effectiveWeights,
};

/** The NRU as a tfjs layer. */
export class NRU extends UnitLayer<NruOptions> {
  static className = 'NRU';
  constructor(args: UnitLayerArgs<NruOptions> = {}) {
    super(nruDef, args);
  }
}
tf.serialization.registerClass(NRU);
