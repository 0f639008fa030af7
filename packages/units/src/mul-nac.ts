/**
 * NAC• (multiplicative NAC): z = exp(NAC+(log(|x| + ε))). Expresses division with weight −1; blows up
 * near x = 0 and loses the sign of x — documented limitations of the unit, not bugs.
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef } from './unit.js';
import { checkInput } from './unit.js';
import { nacDef, nacWeight } from './nac.js';

export interface MulNacOptions {
  /** ε inside log(|x| + ε). */
  epsilon: number;
}

/** exp(log(|x| + ε) · W): the multiplicative path, shared with NALU. */
export function logSpaceProduct(x: tf.Tensor, w: tf.Tensor, epsilon: number): tf.Tensor {
  return tf.exp(tf.matMul(tf.log(tf.add(tf.abs(x), epsilon)), w));
}

export const mulNacDef: UnitDef<MulNacOptions> = {
  name: 'nac-mul',
  className: 'MulNAC',
  defaults: { epsilon: 1e-7 },
  validateOptions(o) {
    if (!(o.epsilon > 0)) throw new Error(`MulNAC: option 'epsilon' must be > 0, got ${o.epsilon}.`);
  },
  params: (shape) => nacDef.params(shape, {}),
  init: (param, shape, _opts, rng) => nacDef.init(param, shape, {}, rng),
  forward(p: Params, x: tf.Tensor, opts) {
    checkInput('MulNAC', x, p.W_hat!);
    return logSpaceProduct(x, nacWeight(p.W_hat!, p.M_hat!), opts.epsilon);
  },
  effectiveWeights: (p) => ({ W: nacWeight(p.W_hat!, p.M_hat!) }),
};

/** The MulNAC as a tfjs layer. */
export class MulNAC extends UnitLayer<MulNacOptions> {
  static className = 'MulNAC';
  constructor(args: UnitLayerArgs<MulNacOptions> = {}) {
    super(mulNacDef, args);
  }
}
tf.serialization.registerClass(MulNAC);
