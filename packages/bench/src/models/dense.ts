/**
 * Dense layer with bias (the Linear, ReLU and ReLU6 baselines): z = act(x · W + b). Init
 * `stable-nalu` (the default) as stable-nalu's `layer/basic.py` (BasicLayer.reset_parameters): W
 * Xavier-uniform with gain 1 for a linear layer, U[±sqrt(6/(I+O))]; Kaiming-uniform (fan-in, ReLU
 * gain √2) for a ReLU or ReLU6 layer, U[±sqrt(6/I)]; the bias zero. Init `torch-linear` as PyTorch's
 * `nn.Linear` default, which the NSR reference's TwoNN keeps: W and b both U[±1/sqrt(I)].
 */
import * as tf from '@tensorflow/tfjs';
import type { Params, UnitDef } from '@nalm/units';
import { checkInput } from '@nalm/units';

export type DenseActivation = 'linear' | 'relu' | 'relu6';
export type DenseInit = 'stable-nalu' | 'torch-linear';

export interface DenseOptions {
  activation: DenseActivation;
  init: DenseInit;
}

const ACTIVATIONS: readonly DenseActivation[] = ['linear', 'relu', 'relu6'];
const INITS: readonly DenseInit[] = ['stable-nalu', 'torch-linear'];

/** Half-width of the uniform weight init of stable-nalu's BasicLayer for an activation. */
export function denseInitRange(activation: DenseActivation, inputSize: number, units: number): number {
  return activation === 'linear' ? Math.sqrt(6 / (inputSize + units)) : Math.sqrt(6 / inputSize);
}

export const denseDef: UnitDef<DenseOptions> = {
  name: 'dense',
  className: 'NalmDense',
  defaults: { activation: 'linear', init: 'stable-nalu' },
  validateOptions(o) {
    if (!ACTIVATIONS.includes(o.activation)) {
      throw new Error(
        `NalmDense: option 'activation' must be one of ${ACTIVATIONS.join(', ')}, got '${o.activation}'.`,
      );
    }
    if (!INITS.includes(o.init)) {
      throw new Error(`NalmDense: option 'init' must be one of ${INITS.join(', ')}, got '${o.init}'.`);
    }
  },
  params: ({ inputSize, units }) => [
    { name: 'W', shape: [inputSize, units] },
    { name: 'b', shape: [units] },
  ],
  init(param, { inputSize, units }, opts, rng) {
    const n = param.shape.reduce((a, b) => a * b, 1);
    if (opts.init === 'torch-linear') {
      const r = 1 / Math.sqrt(inputSize);
      return rng.fillUniform(new Float32Array(n), -r, r) as Float32Array;
    }
    if (param.name === 'b') return new Float32Array(n);
    const r = denseInitRange(opts.activation, inputSize, units);
    return rng.fillUniform(new Float32Array(n), -r, r) as Float32Array;
  },
  forward(p: Params, x: tf.Tensor, opts) {
    checkInput('NalmDense', x, p.W!);
    const b = x.rank === 3 ? tf.expandDims(p.b!, 1) : p.b!;
    const z = tf.add(tf.matMul(x, p.W!), b);
    if (opts.activation === 'relu') return tf.relu(z);
    return opts.activation === 'relu6' ? tf.relu6(z) : z;
  },
  effectiveWeights: (p) => ({ W: p.W! }),
};
