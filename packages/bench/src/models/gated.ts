/**
 * Gated NAU/NMU: z = g ⊙ NAU(x) + (1 − g) ⊙ NMU(x), g = σ(x · G), with separate NAU and NMU weights.
 * Built from the NAU and NMU definitions, so their formulas stay in one place.
 */
import * as tf from '@tensorflow/tfjs';
import type { NauOptions, Params, UnitDef } from '@nalm/units';
import { checkInput, nauDef, nmuDef, xavierUniformRange } from '@nalm/units';

export type GatedOptions = NauOptions;

const split = (p: Params) => ({ nau: { W: p.W_add! }, nmu: { W: p.W_mul! } });

export const gatedNauNmuDef: UnitDef<GatedOptions> = {
  name: 'gated-nau-nmu',
  className: 'GatedNAUNMU',
  defaults: nauDef.defaults,
  validateOptions: (o) => nauDef.validateOptions?.(o),
  params: ({ inputSize, units }) => [
    { name: 'W_add', shape: [inputSize, units] },
    { name: 'W_mul', shape: [inputSize, units] },
    { name: 'G', shape: [inputSize, units] },
  ],
  init(param, shape, opts, rng) {
    if (param.name === 'W_add') return nauDef.init({ ...param, name: 'W' }, shape, opts, rng);
    if (param.name === 'W_mul') return nmuDef.init({ ...param, name: 'W' }, shape, opts, rng);
    const r = xavierUniformRange(shape.inputSize, shape.units);
    return rng.fillUniform(new Float32Array(shape.inputSize * shape.units), -r, r) as Float32Array;
  },
  forward(p, x, opts) {
    checkInput('GatedNAUNMU', x, p.G!);
    const { nau, nmu } = split(p);
    const g = tf.sigmoid(tf.matMul(x, p.G!));
    return tf.add(
      tf.mul(g, nauDef.forward(nau, x, opts)),
      tf.mul(tf.sub(1, g), nmuDef.forward(nmu, x, opts)),
    );
  },
  constrain(p, opts) {
    const { nau, nmu } = split(p);
    const out: Record<string, tf.Tensor> = {};
    const a = nauDef.constrain?.(nau, opts).W;
    const m = nmuDef.constrain?.(nmu, opts).W;
    if (a) out.W_add = a;
    if (m) out.W_mul = m;
    return out;
  },
  regularizers(p, opts) {
    const { nau, nmu } = split(p);
    const a = nauDef.regularizers!(nau, opts);
    const m = nmuDef.regularizers!(nmu, opts);
    return { sparsity: tf.add(a.sparsity!, m.sparsity!), oob: tf.add(a.oob!, m.oob!) };
  },
  effectiveWeights(p, opts) {
    const { nau, nmu } = split(p);
    return { W_add: nauDef.effectiveWeights(nau, opts).W!, W_mul: nmuDef.effectiveWeights(nmu, opts).W! };
  },
};
