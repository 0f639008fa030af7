/**
 * NAU — Neural Addition Unit (Madsen & Johansen 2020): z = x · clamp(W, −1, 1).
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef } from './unit.js';
import { checkInput, uniformValues, sizeOf, weightMean } from './unit.js';

export type RegularizerShape = 'linear' | 'squared';
export type OobMode = 'clip' | 'regularized';

export interface NauOptions {
  /** Shape of the sparsity regulariser: linear mean(min(|W|, 1−|W|)) or squared mean(W²(1−|W|)²). */
  regularizer: RegularizerShape;
  /** 'clip': clamp W to [−1, 1] after every step; 'regularized': no clamp, an OOB penalty instead. */
  oobMode: OobMode;
}

export function validateRegOptions(className: string, o: NauOptions): void {
  if (o.regularizer !== 'linear' && o.regularizer !== 'squared') {
    throw new Error(
      `${className}: option 'regularizer' must be 'linear' or 'squared', got '${o.regularizer}'.`,
    );
  }
  if (o.oobMode !== 'clip' && o.oobMode !== 'regularized') {
    throw new Error(`${className}: option 'oobMode' must be 'clip' or 'regularized', got '${o.oobMode}'.`);
  }
}

/** NAU init range r = min(0.5, √3 · √(2 / (I + O))): 0.5 for (2,1), 0.242536 for (100,2). */
export function nauInitRange(inputSize: number, units: number): number {
  return Math.min(0.5, Math.sqrt(3) * Math.sqrt(2 / (inputSize + units)));
}

export const nauDef: UnitDef<NauOptions> = {
  name: 'nau',
  className: 'NAU',
  defaults: { regularizer: 'linear', oobMode: 'clip' },
  validateOptions: (o) => validateRegOptions('NAU', o),
  params: ({ inputSize, units }) => [{ name: 'W', shape: [inputSize, units] }],
  init(param, { inputSize, units }, _opts, rng) {
    const r = nauInitRange(inputSize, units);
    return uniformValues(sizeOf(param.shape), -r, r, rng);
  },
  forward(p: Params, x: tf.Tensor) {
    checkInput('NAU', x, p.W!);
    return tf.matMul(x, tf.clipByValue(p.W!, -1, 1));
  },
  constrain: (p, opts): Record<string, tf.Tensor> =>
    opts.oobMode === 'clip' ? { W: tf.clipByValue(p.W!, -1, 1) } : {},
  regularizers(p, opts) {
    const a = tf.abs(p.W!);
    const sparsity =
      opts.regularizer === 'linear'
        ? weightMean(tf.minimum(a, tf.sub(1, a)))
        : weightMean(tf.mul(tf.square(a), tf.square(tf.sub(1, a))));
    const oob = opts.oobMode === 'regularized' ? weightMean(tf.relu(tf.sub(a, 1))) : tf.zerosLike(sparsity);
    return { sparsity, oob };
  },
  effectiveWeights: (p) => ({ W: tf.clipByValue(p.W!, -1, 1) }),
};

/** The NAU as a tfjs layer. */
export class NAU extends UnitLayer<NauOptions> {
  static className = 'NAU';
  constructor(args: UnitLayerArgs<NauOptions> = {}) {
    super(nauDef, args);
  }
}
tf.serialization.registerClass(NAU);
