/**
 * Dense layer with bias (the Linear and ReLU baselines): z = act(x · W + b). Init as PyTorch's
 * nn.Linear, which the reference baselines use: W, b ~ U[±1/√I].
 */
import * as tf from '@tensorflow/tfjs';
import type { Params, UnitDef } from '@nalm/units';
import { checkInput } from '@nalm/units';

export interface DenseOptions {
  activation: 'linear' | 'relu';
}

export const denseDef: UnitDef<DenseOptions> = {
  name: 'dense',
  className: 'NalmDense',
  defaults: { activation: 'linear' },
  validateOptions(o) {
    if (o.activation !== 'linear' && o.activation !== 'relu') {
      throw new Error(`NalmDense: option 'activation' must be 'linear' or 'relu', got '${o.activation}'.`);
    }
  },
  params: ({ inputSize, units }) => [
    { name: 'W', shape: [inputSize, units] },
    { name: 'b', shape: [units] },
  ],
  init(param, { inputSize }, _opts, rng) {
    const r = 1 / Math.sqrt(inputSize);
    return rng.fillUniform(new Float32Array(param.shape.reduce((a, b) => a * b, 1)), -r, r) as Float32Array;
  },
  forward(p: Params, x: tf.Tensor, opts) {
    checkInput('NalmDense', x, p.W!);
    const b = x.rank === 3 ? tf.expandDims(p.b!, 1) : p.b!;
    const z = tf.add(tf.matMul(x, p.W!), b);
    return opts.activation === 'relu' ? tf.relu(z) : z;
  },
  effectiveWeights: (p) => ({ W: p.W! }),
};
