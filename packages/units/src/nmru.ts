/**
 * NMRU (units.md "Further units"): an NMU over the inputs and their reciprocals,
 *
 *   z = NMU([x, 1/(x + ε)])   with W ∈ [0, 1]^{2I × O},
 *
 * so a weight of 1 in the first I rows multiplies by x_i and one in the last I rows divides by it.
 * ε (default 1e−7, option `epsilon`) is added as written in the spec, not sign-aware: 1/(x + ε) is
 * ±Inf at x = −ε and very large near 0, and such values propagate (units.md "Bad input").
 * Initialisation, clamp to [0, 1], regularisers and options are the NMU's (`nmuDef`).
 *
 * Sign-NMRU (`signNmruDef`; nalm-division's ConcatReciprocalNMUSignRetrievalLayer, the module the
 * NALM benchmark's single-module NMRU results come from): with x' = [x, 1/(x + ε)] while training
 * and [x, 1/x] at evaluation (ε = 1.19e−7, float32 machine epsilon, as the reference),
 *
 *   z_o = Π_i (W_io |x'_i| + 1 − W_io) · cos(Σ_i π·[x'_i < 0] · W_io),
 *
 * so the product is of magnitudes and a weight of 1 on a negative input adds π to the phase (a sign
 * flip).
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { ForwardContext, Params, UnitDef } from './unit.js';
import { checkInput } from './unit.js';
import type { NmuOptions } from './nmu.js';
import { nmuDef, nmuProduct } from './nmu.js';
import { validateRegOptions } from './nau.js';

export interface NmruOptions extends NmuOptions {
  /** ε in 1/(x + ε). */
  epsilon: number;
}

/** [x, 1/(x + ε)] along the feature axis: [.., B, I] → [.., B, 2I]. */
export function withReciprocals(x: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.concat([x, tf.div(1, tf.add(x, epsilon))], x.rank - 1);
}

export const nmruDef: UnitDef<NmruOptions> = {
  name: 'nmru',
  className: 'NMRU',
  defaults: { ...nmuDef.defaults, epsilon: 1e-7 },
  validateOptions(o) {
    validateRegOptions('NMRU', o);
    if (!(o.epsilon > 0)) throw new Error(`NMRU: option 'epsilon' must be > 0, got ${o.epsilon}.`);
  },
  params: ({ inputSize, units }) => [{ name: 'W', shape: [2 * inputSize, units] }],
  init: (param, shape, opts, rng) => nmuDef.init(param, shape, opts, rng),
  forward(p: Params, x: tf.Tensor, opts) {
    checkHalfWidth('NMRU', x, p.W!);
    return nmuProduct(withReciprocals(x, opts.epsilon), p.W!);
  },
  constrain: (p, opts) => nmuDef.constrain!(p, opts),
  regularizers: (p, opts) => nmuDef.regularizers!(p, opts),
  effectiveWeights: (p, opts) => nmuDef.effectiveWeights(p, opts),
};

/** Check x against W [.., 2I, O]: the message speaks of the I-wide input the caller passes. */
function checkHalfWidth(className: string, x: tf.Tensor, w: tf.Tensor): void {
  const shape = w.shape.slice();
  shape[w.rank - 2] = (shape[w.rank - 2] as number) / 2;
  checkInput(className, x, { shape, rank: w.rank } as unknown as tf.Tensor);
}

/** The sign-NMRU's output for x [.., B, I]; `training` selects 1/(x + ε) (true) or 1/x. */
export function signNmruProduct(x: tf.Tensor, w: tf.Tensor, epsilon: number, training: boolean): tf.Tensor {
  const xr = tf.concat([x, tf.div(1, training ? tf.add(x, epsilon) : x)], x.rank - 1);
  // π·[x' < 0] as step(−x'): a comparison op has no gradient in tfjs; step's is 0, as torch's sign's.
  const k = tf.mul(tf.step(tf.neg(xr)), Math.PI);
  return tf.mul(nmuProduct(tf.abs(xr), w), tf.cos(tf.matMul(k, w)));
}

export const signNmruDef: UnitDef<NmruOptions> = {
  name: 'sign-nmru',
  className: 'SignNMRU',
  defaults: { ...nmuDef.defaults, epsilon: 1.19e-7 },
  validateOptions(o) {
    validateRegOptions('SignNMRU', o);
    if (!(o.epsilon > 0)) throw new Error(`SignNMRU: option 'epsilon' must be > 0, got ${o.epsilon}.`);
  },
  params: ({ inputSize, units }) => [{ name: 'W', shape: [2 * inputSize, units] }],
  init: (param, shape, opts, rng) => nmuDef.init(param, shape, opts, rng),
  forward(p: Params, x: tf.Tensor, opts, ctx?: ForwardContext) {
    checkHalfWidth('SignNMRU', x, p.W!);
    return signNmruProduct(x, p.W!, opts.epsilon, ctx?.training === true);
  },
  constrain: (p, opts) => nmuDef.constrain!(p, opts),
  regularizers: (p, opts) => nmuDef.regularizers!(p, opts),
  effectiveWeights: (p, opts) => nmuDef.effectiveWeights(p, opts),
};

/** The sign-NMRU as a tfjs layer. */
export class SignNMRU extends UnitLayer<NmruOptions> {
  static className = 'SignNMRU';
  constructor(args: UnitLayerArgs<NmruOptions> = {}) {
    super(signNmruDef, args);
  }
}
tf.serialization.registerClass(SignNMRU);

/** The NMRU as a tfjs layer. */
export class NMRU extends UnitLayer<NmruOptions> {
  static className = 'NMRU';
  constructor(args: UnitLayerArgs<NmruOptions> = {}) {
    super(nmruDef, args);
  }
}
tf.serialization.registerClass(NMRU);
