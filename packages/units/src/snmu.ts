/**
 * sNMU — stochastic NMU (units.md "Further units"): while training (`ctx.training === true`)
 *
 *   z = NMU(x ⊙ n) / NMU(n),   n ~ U[1, 5] elementwise, shaped like x,
 *
 * and the plain NMU at evaluation (bitwise `nmuDef.forward`). With weights in {0, 1} the noise
 * cancels exactly in real arithmetic (Π x_i n_i / Π n_i); with W ∈ [0, 1] and n ≥ 1 every factor of
 * NMU(n) is ≥ 1, so the division is safe.
 *
 * Training-time noise is random: it is drawn with `tf.randomUniform` in every training call. With
 * the option `noiseSeed` (default null: unseeded) tfjs seeds that draw, which makes every call with
 * the same input shape draw the *same* noise — reproducible (and differentiable by finite
 * differences), but not fresh noise per step; leave it null to train. Initialisation, clamp to
 * [0, 1], regularisers and the remaining options are the NMU's (`nmuDef`).
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef } from './unit.js';
import { checkInput } from './unit.js';
import type { NmuOptions } from './nmu.js';
import { nmuDef, nmuProduct } from './nmu.js';
import { validateRegOptions } from './nau.js';

export interface SnmuOptions extends NmuOptions {
  /** Seed of the training-time noise draw; null (default) draws unseeded noise. */
  noiseSeed: number | null;
}

/** The range of the multiplicative training noise n ~ U[lo, hi). */
export const SNMU_NOISE = { lo: 1, hi: 5 } as const;

/** NMU(x ⊙ n) / NMU(n) for given noise n (shaped like x). */
export function snmuNoisyProduct(x: tf.Tensor, w: tf.Tensor, n: tf.Tensor): tf.Tensor {
  return tf.div(nmuProduct(tf.mul(x, n), w), nmuProduct(n, w));
}

export const snmuDef: UnitDef<SnmuOptions> = {
  name: 'snmu',
  className: 'SNMU',
  defaults: { ...nmuDef.defaults, noiseSeed: null },
  validateOptions(o) {
    validateRegOptions('SNMU', o);
    if (o.noiseSeed !== null && !Number.isInteger(o.noiseSeed)) {
      throw new Error(`SNMU: option 'noiseSeed' must be an integer or null, got ${String(o.noiseSeed)}.`);
    }
  },
  params: (shape, opts) => nmuDef.params(shape, opts),
  init: (param, shape, opts, rng) => nmuDef.init(param, shape, opts, rng),
  forward(p: Params, x: tf.Tensor, opts, ctx) {
    checkInput('SNMU', x, p.W!);
    if (ctx?.training !== true) return nmuProduct(x, p.W!);
    const n = tf.randomUniform(x.shape, SNMU_NOISE.lo, SNMU_NOISE.hi, 'float32', opts.noiseSeed ?? undefined);
    return snmuNoisyProduct(x, p.W!, n);
  },
  constrain: (p, opts) => nmuDef.constrain!(p, opts),
  regularizers: (p, opts) => nmuDef.regularizers!(p, opts),
  effectiveWeights: (p, opts) => nmuDef.effectiveWeights(p, opts),
};

/** The sNMU as a tfjs layer. */
export class SNMU extends UnitLayer<SnmuOptions> {
  static className = 'SNMU';
  constructor(args: UnitLayerArgs<SnmuOptions> = {}) {
    super(snmuDef, args);
  }
}
tf.serialization.registerClass(SNMU);
