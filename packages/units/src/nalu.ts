/**
 * NALU (Trask et al. 2018): z = g ⊙ a + (1 − g) ⊙ m with a = NAC+(x), m = exp(NAC+'(log(|x| + ε))),
 * g = σ(x · G [+ b]). By default the multiplicative path shares the NAC+ weights of the additive path
 * (as the reference does); `separateWeights` gives it its own.
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { ParamSpec, Params, UnitDef } from './unit.js';
import { broadcastRow, checkInput, sizeOf, uniformValues } from './unit.js';
import { nacInit, nacWeight } from './nac.js';
import { logSpaceProduct } from './mul-nac.js';

export interface NaluOptions {
  separateWeights: boolean;
  gateBias: boolean;
  epsilon: number;
}

/** Xavier-uniform with gain 1: U[±√(6 / (I + O))]. */
export function xavierUniformRange(fanIn: number, fanOut: number): number {
  return Math.sqrt(6 / (fanIn + fanOut));
}

export const naluDef: UnitDef<NaluOptions> = {
  name: 'nalu',
  className: 'NALU',
  defaults: { separateWeights: false, gateBias: false, epsilon: 1e-7 },
  validateOptions(o) {
    if (!(o.epsilon > 0)) throw new Error(`NALU: option 'epsilon' must be > 0, got ${o.epsilon}.`);
  },
  params({ inputSize, units }, opts) {
    const specs: ParamSpec[] = [
      { name: 'W_hat', shape: [inputSize, units] },
      { name: 'M_hat', shape: [inputSize, units] },
    ];
    if (opts.separateWeights) {
      specs.push(
        { name: 'W_hat_m', shape: [inputSize, units] },
        { name: 'M_hat_m', shape: [inputSize, units] },
      );
    }
    specs.push({ name: 'G', shape: [inputSize, units] });
    if (opts.gateBias) specs.push({ name: 'gate_bias', shape: [units] });
    return specs;
  },
  init(param, shape, _opts, rng) {
    if (param.name === 'G') {
      const r = xavierUniformRange(shape.inputSize, shape.units);
      return uniformValues(sizeOf(param.shape), -r, r, rng);
    }
    if (param.name === 'gate_bias') return new Float32Array(sizeOf(param.shape));
    return nacInit(param.shape, shape, rng);
  },
  forward(p: Params, x: tf.Tensor, opts) {
    checkInput('NALU', x, p.W_hat!);
    const w = nacWeight(p.W_hat!, p.M_hat!);
    const wm = opts.separateWeights ? nacWeight(p.W_hat_m!, p.M_hat_m!) : w;
    const a = tf.matMul(x, w);
    const m = logSpaceProduct(x, wm, opts.epsilon);
    let logits = tf.matMul(x, p.G!);
    if (p.gate_bias) logits = tf.add(logits, broadcastRow(p.gate_bias, x));
    const g = tf.sigmoid(logits);
    return tf.add(tf.mul(g, a), tf.mul(tf.sub(1, g), m));
  },
  effectiveWeights(p, opts) {
    const out: Record<string, tf.Tensor> = { W: nacWeight(p.W_hat!, p.M_hat!) };
    if (opts.separateWeights) out.W_m = nacWeight(p.W_hat_m!, p.M_hat_m!);
    return out;
  },
};

/** The NALU as a tfjs layer. */
export class NALU extends UnitLayer<NaluOptions> {
  static className = 'NALU';
  constructor(args: UnitLayerArgs<NaluOptions> = {}) {
    super(naluDef, args);
  }
}
tf.serialization.registerClass(NALU);
