/**
 * NSR — Neural Status Register (Faber & Wattenhofer). Selects two operands from S candidates by
 * softmax, takes d = o1 − o2 and turns it into relaxed status bits: sign s = tanh(ζd) and zero
 * q = 1 − 2·tanh²(ζd); then y = σ(b + s·W± + q·W0) and the layer returns [y, 1 − y].
 * ζ is a fixed scale (not learned): it sets how small a difference the register resolves.
 *
 * Regulariser `selection`: the mean entropy of the 2R operand selections (nats; 0 when each picks
 * one candidate, log S when uniform). Not in the NSR paper. Why it exists: a comparison of x0 and x1
 * reads (d0 + d1)·x1 as well as d0·(x0 − x1), where d = softmax(V1) − softmax(V2); the leftover mass
 * on the other candidates makes d0 + d1 ≠ 0, harmless on small training values, and flips the
 * status bits once x1 reaches about |d0| / |d0 + d1|. Driving the selections to one-hot removes it.
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitLayerArgs } from './layer.js';
import { UnitLayer } from './layer.js';
import type { Params, UnitDef } from './unit.js';
import { broadcastRow, checkInput, sizeOf } from './unit.js';

export interface NsrOptions {
  /** Scale ζ of the status bits: tanh(ζd) resolves differences down to about 1/ζ. */
  zeta: number;
  /** Redundancy R: how many operand pairs are compared in parallel. */
  redundancy: number;
}

/** Softmax over the candidate axis S of V [.., S, R]. */
function softmaxOverCandidates(v: tf.Tensor): tf.Tensor {
  const axis = v.rank - 2;
  const e = tf.exp(tf.sub(v, tf.max(v, axis, true)));
  return tf.div(e, tf.sum(e, axis, true));
}

/** Entropy −Σ p log p of each softmax column of V [.., S, R] over S, from log-softmax (no 0·log 0). */
function selectionEntropy(v: tf.Tensor): tf.Tensor {
  const axis = v.rank - 2;
  const shifted = tf.sub(v, tf.max(v, axis, true)); // tf.logSoftmax works on the last axis only
  const logP = tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), axis, true)));
  return tf.neg(tf.sum(tf.mul(tf.exp(logP), logP), axis));
}

/** The relaxed status bits of a difference d: sign s = tanh(ζd), zero q = 1 − 2 tanh²(ζd). */
export function statusBits(d: tf.Tensor, zeta: number): { sign: tf.Tensor; zero: tf.Tensor } {
  const s = tf.tanh(tf.mul(d, zeta));
  return { sign: s, zero: tf.sub(1, tf.mul(2, tf.square(s))) };
}

export const nsrDef: UnitDef<NsrOptions> = {
  name: 'nsr',
  className: 'NSR',
  defaults: { zeta: 1, redundancy: 1 },
  validateOptions(o) {
    if (!(o.zeta > 0) || !Number.isFinite(o.zeta)) {
      throw new Error(`NSR: option 'zeta' must be a finite number > 0, got ${o.zeta}.`);
    }
    if (!Number.isInteger(o.redundancy) || o.redundancy < 1) {
      throw new Error(`NSR: option 'redundancy' must be an integer >= 1, got ${o.redundancy}.`);
    }
  },
  outputSize: () => 2,
  params: ({ inputSize }, { redundancy }) => [
    { name: 'V1', shape: [inputSize, redundancy] },
    { name: 'V2', shape: [inputSize, redundancy] },
    { name: 'W_sign', shape: [redundancy, 1] },
    { name: 'W_zero', shape: [redundancy, 1] },
    { name: 'b', shape: [1] },
  ],
  init(param, _shape, _opts, rng) {
    const n = sizeOf(param.shape);
    if (param.name === 'b') return new Float32Array(n);
    // Xavier-normal: std = √(2 / (fan_in + fan_out)).
    const [fanIn, fanOut] = param.shape as [number, number];
    return rng.fillNormal(new Float32Array(n), 0, Math.sqrt(2 / (fanIn + fanOut))) as Float32Array;
  },
  forward(p: Params, x: tf.Tensor, opts) {
    checkInput('NSR', x, p.V1!);
    const o1 = tf.matMul(x, softmaxOverCandidates(p.V1!));
    const o2 = tf.matMul(x, softmaxOverCandidates(p.V2!));
    const { sign, zero } = statusBits(tf.sub(o1, o2), opts.zeta);
    const u = tf.add(tf.add(tf.matMul(sign, p.W_sign!), tf.matMul(zero, p.W_zero!)), broadcastRow(p.b!, x));
    const y = tf.sigmoid(u);
    return tf.concat([y, tf.sub(1, y)], -1);
  },
  regularizers: (p) => ({
    // Mean over the 2R columns: a scalar, or [replicas] with a leading replica axis.
    selection: tf.div(tf.add(tf.mean(selectionEntropy(p.V1!), -1), tf.mean(selectionEntropy(p.V2!), -1)), 2),
  }),
  effectiveWeights: (p) => ({
    P1: softmaxOverCandidates(p.V1!),
    P2: softmaxOverCandidates(p.V2!),
  }),
};

/** The NSR as a tfjs layer. */
export class NSR extends UnitLayer<NsrOptions> {
  static className = 'NSR';
  constructor(args: UnitLayerArgs<NsrOptions> = {}) {
    super(nsrDef, args);
  }
}
tf.serialization.registerClass(NSR);
