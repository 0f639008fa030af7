/**
 * NMRU (units.md "Further units"): an NMU over the inputs and their reciprocals,
 *
 *   z = NMU([x, 1/(x + ε)])   with W ∈ [0, 1]^{2I × O},
 *
 * so a weight of 1 in the first I rows multiplies by x_i and one in the last I rows divides by it.
 * ε (default 1e−7, option `epsilon`) is added as written in the spec, not sign-aware: 1/(x + ε) is
 * ±Inf at x = −ε and very large near 0, and such values propagate (units.md "Bad input").
 * Initialisation, clamp to [0, 1], regularisers and options are the NMU's (`nmuDef`).
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef } from './unit.js';
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
    // The layer's input width is half of W's rows; check against that shape (checkInput only reads
    // `shape` and `rank`), so the message speaks of the input the caller passes.
    const w = p.W!;
    const shape = w.shape.slice();
    shape[w.rank - 2] = (shape[w.rank - 2] as number) / 2;
    checkInput('NMRU', x, { shape, rank: w.rank } as unknown as tf.Tensor);
    return nmuProduct(withReciprocals(x, opts.epsilon), w);
  },
  constrain: (p, opts) => nmuDef.constrain!(p, opts),
  regularizers: (p, opts) => nmuDef.regularizers!(p, opts),
  effectiveWeights: (p, opts) => nmuDef.effectiveWeights(p, opts),
};

/** The NMRU as a tfjs layer. */
export class NMRU extends UnitLayer<NmruOptions> {
  static className = 'NMRU';
  constructor(args: UnitLayerArgs<NmruOptions> = {}) {
    super(nmruDef, args);
  }
}
tf.serialization.registerClass(NMRU);
