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
 * |x|^W is computed as exp(W·log|x|). At x_i = 0, log|x_i| = −∞, so:
 *  - W_io > 0: |x_i|^W = 0 and the factor is 1 − a(W_io) (exact: 0^W = 0);
 *  - W_io < 0: |x_i|^W = +∞ and sign(0)·∞ = NaN: a division by zero propagates NaN, not "fixed";
 *  - W_io = 0 exactly: 0·(−∞) = NaN, so the output is NaN although a(0) = 0 should ignore x_i.
 * The gradient with respect to x at x_i = 0 is not finite either. Inputs are expected away from 0.
 */
export function nruProduct(x: tf.Tensor, w: tf.Tensor, training: boolean): tf.Tensor {
  const xe = tf.expandDims(x, x.rank); // [.., B, I, 1]
  const we = tf.expandDims(w, w.rank - 2); // [.., 1, I, O]
  const a = training ? tf.square(tf.tanh(tf.mul(we, 1000))) : tf.abs(we);
  const power = tf.exp(tf.mul(we, tf.log(tf.abs(xe))));
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
