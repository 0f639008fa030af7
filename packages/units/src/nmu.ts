/**
 * NMU — Neural Multiplication Unit (Madsen & Johansen 2020): z_o = Π_i (W_io · x_i + 1 − W_io).
 * Gradients come from autodiff of the product reduction, which never divides by a factor.
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef } from './unit.js';
import { checkInput, uniformValues, sizeOf, weightMean } from './unit.js';
import type { NauOptions } from './nau.js';
import { validateRegOptions } from './nau.js';

export type NmuOptions = NauOptions;

/** Π_i (W_io x_i + 1 − W_io) for x [.., B, I] and W [.., I, O] → [.., B, O]. */
export function nmuProduct(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const xe = tf.expandDims(x, x.rank); // [.., B, I, 1]
  const we = tf.expandDims(w, w.rank - 2); // [.., 1, I, O]
  return tf.prod(tf.add(tf.mul(we, xe), tf.sub(1, we)), x.rank - 1);
}

export const nmuDef: UnitDef<NmuOptions> = {
  name: 'nmu',
  className: 'NMU',
  defaults: { regularizer: 'linear', oobMode: 'clip' },
  validateOptions: (o) => validateRegOptions('NMU', o),
  params: ({ inputSize, units }) => [{ name: 'W', shape: [inputSize, units] }],
  // U[0.25, 0.75]: what the reference code runs (the paper's text states a larger variance).
  init: (param, _shape, _opts, rng) => uniformValues(sizeOf(param.shape), 0.25, 0.75, rng),
  forward(p: Params, x: tf.Tensor) {
    checkInput('NMU', x, p.W!);
    return nmuProduct(x, p.W!);
  },
  constrain: (p, opts): Record<string, tf.Tensor> =>
    opts.oobMode === 'clip' ? { W: tf.clipByValue(p.W!, 0, 1) } : {},
  regularizers(p, opts) {
    const w = p.W!;
    const sparsity =
      opts.regularizer === 'linear'
        ? weightMean(tf.minimum(w, tf.sub(1, w)))
        : weightMean(tf.mul(tf.square(w), tf.square(tf.sub(1, w))));
    const oob =
      opts.oobMode === 'regularized'
        ? weightMean(tf.relu(tf.sub(tf.abs(tf.sub(w, 0.5)), 0.5)))
        : tf.zerosLike(sparsity);
    return { sparsity, oob };
  },
  effectiveWeights: (p) => ({ W: tf.clipByValue(p.W!, 0, 1) }),
};

/** The NMU as a tfjs layer. */
export class NMU extends UnitLayer<NmuOptions> {
  static className = 'NMU';
  constructor(args: UnitLayerArgs<NmuOptions> = {}) {
    super(nmuDef, args);
  }
}
tf.serialization.registerClass(NMU);
