/**
 * G-NALU (units.md "Further units"): the NALU with the golden ratio φ = (1 + √5)/2 as the base of the
 * weight squashing and of the gate,
 *
 *   tanh_φ(x) = (φ^{2x} − 1) / (φ^{2x} + 1),   σ_φ(x) = 1 / (1 + φ^{−x}).
 *
 * Since φ^{y} = e^{y·ln φ}, tanh_φ(x) = tanh(x·ln φ) and σ_φ(x) = σ(x·ln φ). The gate logits x·G + b
 * are linear in (G, b), so σ_φ(x·G + b) = σ(x·(ln φ·G) + ln φ·b). The G-NALU is therefore exactly
 * `naluDef.forward` applied to every raw parameter scaled by ln φ, which is how it is implemented:
 * the NALU formula (shared weights, options separateWeights / gateBias / epsilon) stays in nalu.ts.
 * Parameters, initialisation and options are the NALU's.
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef } from './unit.js';
import { checkInput } from './unit.js';
import type { NaluOptions } from './nalu.js';
import { naluDef } from './nalu.js';
import { nacWeight } from './nac.js';

export type GnaluOptions = NaluOptions;

/** The golden ratio φ = (1 + √5)/2. */
export const PHI = (1 + Math.sqrt(5)) / 2;
/** ln φ ≈ 0.4812: tanh_φ(x) = tanh(x·ln φ), σ_φ(x) = σ(x·ln φ). */
export const LN_PHI = Math.log(PHI);

/** tanh_φ(x) = (φ^{2x} − 1)/(φ^{2x} + 1) = tanh(x·ln φ). */
export function tanhPhi(x: tf.Tensor): tf.Tensor {
  return tf.tanh(tf.mul(x, LN_PHI));
}

/** σ_φ(x) = 1/(1 + φ^{−x}) = σ(x·ln φ). */
export function sigmoidPhi(x: tf.Tensor): tf.Tensor {
  return tf.sigmoid(tf.mul(x, LN_PHI));
}

/** Every raw parameter times ln φ: the NALU parameters that compute this G-NALU. */
export function gnaluAsNaluParams(p: Params): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(p)) out[k] = tf.mul(v, LN_PHI);
  return out;
}

/** W = tanh_φ(Ŵ) ⊙ σ_φ(M̂) = nacWeight(ln φ·Ŵ, ln φ·M̂). */
function gnacWeight(wHat: tf.Tensor, mHat: tf.Tensor): tf.Tensor {
  return nacWeight(tf.mul(wHat, LN_PHI), tf.mul(mHat, LN_PHI));
}

export const gnaluDef: UnitDef<GnaluOptions> = {
  name: 'gnalu',
  className: 'GNALU',
  defaults: naluDef.defaults,
  validateOptions(o) {
    if (!(o.epsilon > 0)) throw new Error(`GNALU: option 'epsilon' must be > 0, got ${o.epsilon}.`);
  },
  params: (shape, opts) => naluDef.params(shape, opts),
  init: (param, shape, opts, rng) => naluDef.init(param, shape, opts, rng),
  forward(p: Params, x: tf.Tensor, opts, ctx) {
    // Checked here so the message names the G-NALU rather than the NALU.
    checkInput('GNALU', x, p.W_hat!);
    return naluDef.forward(gnaluAsNaluParams(p), x, opts, ctx);
  },
  effectiveWeights(p, opts) {
    const out: Record<string, tf.Tensor> = { W: gnacWeight(p.W_hat!, p.M_hat!) };
    if (opts.separateWeights) out.W_m = gnacWeight(p.W_hat_m!, p.M_hat_m!);
    return out;
  },
};

/** The G-NALU as a tfjs layer. */
export class GNALU extends UnitLayer<GnaluOptions> {
  static className = 'GNALU';
  constructor(args: UnitLayerArgs<GnaluOptions> = {}) {
    super(gnaluDef, args);
  }
}
tf.serialization.registerClass(GNALU);
