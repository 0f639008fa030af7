/**
 * The second layers of the ICLR 2020 appendix's NAC• variants (stable-nalu, `--nac-mul normal`):
 * both compute z = exp(log(|h| + ε) · W), ε = 1e−7, with a different weight W.
 * - NAC•,σ (`PosNAC`, `posNacMulDef`): W = σ(Ŵ), Ŵ Xavier-normal (std sqrt(2/(I+O))); no regulariser.
 * - NAC•,NMU (`ReRegualizedLinearPosNAC`, `nmuLogDef`): the NMU's weight — init U[0.25, 0.75], clamped
 *   to [0, 1] after every step, the NMU's sparsity regulariser — used as exponents.
 * Built from `logSpaceProduct` and `nmuDef`, so the formulas stay where they live.
 */
import * as tf from '@tensorflow/tfjs';
import type { MulNacOptions, NmuOptions, UnitDef } from '@nalm/units';
import { checkInput, logSpaceProduct, mulNacDef, nmuDef } from '@nalm/units';

export const posNacMulDef: UnitDef<MulNacOptions> = {
  name: 'pos-nac-mul',
  className: 'PosNACMul',
  defaults: mulNacDef.defaults,
  validateOptions: (o) => mulNacDef.validateOptions?.(o),
  params: ({ inputSize, units }) => [{ name: 'W_hat', shape: [inputSize, units] }],
  init(param, { inputSize, units }, _opts, rng) {
    const std = Math.sqrt(2 / (inputSize + units));
    return rng.fillNormal(new Float32Array(inputSize * units), 0, std) as Float32Array;
  },
  forward(p, x, opts) {
    checkInput('PosNACMul', x, p.W_hat!);
    return logSpaceProduct(x, tf.sigmoid(p.W_hat!), opts.epsilon);
  },
  effectiveWeights: (p) => ({ W: tf.sigmoid(p.W_hat!) }),
};

export interface NmuLogOptions extends NmuOptions {
  /** ε inside log(|x| + ε). */
  epsilon: number;
}

export const nmuLogDef: UnitDef<NmuLogOptions> = {
  name: 'nmu-log',
  className: 'NMULog',
  defaults: { ...nmuDef.defaults, epsilon: 1e-7 },
  validateOptions(o) {
    nmuDef.validateOptions?.(o);
    if (!(o.epsilon > 0)) throw new Error(`NMULog: option 'epsilon' must be > 0, got ${o.epsilon}.`);
  },
  params: (shape, opts) => nmuDef.params(shape, opts),
  init: (param, shape, opts, rng) => nmuDef.init(param, shape, opts, rng),
  forward(p, x, opts) {
    checkInput('NMULog', x, p.W!);
    // The stored W as is, as the NMU's forward (in clip mode it is clamped after every step).
    return logSpaceProduct(x, p.W!, opts.epsilon);
  },
  constrain: (p, opts) => nmuDef.constrain!(p, opts),
  regularizers: (p, opts) => nmuDef.regularizers!(p, opts),
  effectiveWeights: (p, opts) => nmuDef.effectiveWeights(p, opts),
};
