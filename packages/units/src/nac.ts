/**
 * NAC+ (Trask et al. 2018): z = x · W with W = tanh(Ŵ) ⊙ σ(M̂), recomputed in every call.
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef, UnitShape } from './unit.js';
import { checkInput, uniformValues, sizeOf } from './unit.js';
import type { Rng } from './rng.js';

/** W = tanh(Ŵ) ⊙ σ(M̂): the NAC weight squashing, shared by NAC•, NALU and friends. */
export function nacWeight(wHat: tf.Tensor, mHat: tf.Tensor): tf.Tensor {
  return tf.mul(tf.tanh(wHat), tf.sigmoid(mHat));
}

/** Var(W) for Ŵ, M̂ ~ U[−r, r] (independent): E[tanh²]·E[σ²] since E[tanh] = 0. */
export function nacWeightVariance(r: number): number {
  return ((1 - Math.tanh(r) / r) * (r - Math.tanh(r / 2))) / (2 * r);
}

/**
 * The r for which Var(W) = 2 / max(I + O, 5), by bisection on [0, 10]. Var(W)(r) increases in r,
 * so bisection is exact to float precision.
 */
export function nacInitRange(inputSize: number, units: number): number {
  const target = 2 / Math.max(inputSize + units, 5);
  let lo = 1e-9;
  let hi = 10;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (nacWeightVariance(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Seeded Ŵ or M̂ ~ U[−r, r]. */
export function nacInit(shape: number[], unitShape: UnitShape, rng: Rng): Float32Array {
  const r = nacInitRange(unitShape.inputSize, unitShape.units);
  return uniformValues(sizeOf(shape), -r, r, rng);
}

export type NacOptions = Record<never, never>;

export const nacDef: UnitDef<NacOptions> = {
  name: 'nac',
  className: 'NAC',
  defaults: {},
  params: ({ inputSize, units }) => [
    { name: 'W_hat', shape: [inputSize, units] },
    { name: 'M_hat', shape: [inputSize, units] },
  ],
  init: (param, shape, _opts, rng) => nacInit(param.shape, shape, rng),
  forward(p: Params, x: tf.Tensor) {
    checkInput('NAC', x, p.W_hat!);
    return tf.matMul(x, nacWeight(p.W_hat!, p.M_hat!));
  },
  effectiveWeights: (p) => ({ W: nacWeight(p.W_hat!, p.M_hat!) }),
};

/** The NAC as a tfjs layer. */
export class NAC extends UnitLayer<NacOptions> {
  static className = 'NAC';
  constructor(args: UnitLayerArgs<NacOptions> = {}) {
    super(nacDef, args);
  }
}
tf.serialization.registerClass(NAC);
