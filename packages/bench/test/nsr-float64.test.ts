import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import type { NsrRunConfig } from '../src/nsr/config.js';
import { validateNsrRun } from '../src/nsr/config.js';
import type { Float64Params } from '../src/nsr/float64.js';
import { float64LossAndGrad, initFloat64Params, trainFloat64Replica } from '../src/nsr/float64.js';
import type { NsrModelName } from '../src/nsr/models.js';
import { architectureOutput, createVars, modelLayers } from '../src/nsr/models.js';
import { trainNsrModel } from '../src/nsr/trainer.js';
import { testData, testPoints, trainingData } from '../src/nsr/tasks.js';
import type { CompareOp } from '../src/nsr/tasks.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const cfg = (
  op: CompareOp,
  model: NsrModelName,
  epochs = 60,
  numeric: 'float32' | 'float64' = 'float32',
): NsrRunConfig => ({
  task: { kind: 'compare', op, exponents: [1, 3], lengths: [], draws: 2, allowBeyondPrecision: false },
  model,
  epochs,
  lr: 1e-3,
  zeta: 1,
  regularizeFrom: 0.5,
  numeric,
});

const MODELS: NsrModelName[] = ['nsr', 'mlp', 'nau-gate'];

/** tfjs loss and gradients of one replica at its initial parameters (the definition). */
function tfjsLossAndGrad(c: NsrRunConfig, seed: number, withReg: boolean) {
  const layers = modelLayers('compare', c.model, { zeta: c.zeta });
  const vars = createVars(layers, [seed]);
  const d = trainingData(c.task, seed);
  const x = tf.tensor3d(Float32Array.from(d.x), [1, d.n, 2]);
  const y = tf.tensor3d(Float32Array.from(d.y), [1, d.n, 1]);
  const names: [string, tf.Variable][] = Object.entries(vars).flatMap(([l, ps]) =>
    Object.entries(ps).map(([k, v]) => [`${l}/${k}`, v] as [string, tf.Variable]),
  );
  const { value, grads } = tf.variableGrads(
    () => {
      let loss = tf.mean(tf.abs(tf.sub(architectureOutput('compare', c.model, layers, vars, x).pred, y)));
      if (withReg)
        for (const l of layers) {
          const r = l.def.regularizers?.(vars[l.name]!, l.options);
          if (r?.sparsity) loss = tf.add(loss, tf.sum(r.sparsity));
        }
      return loss as tf.Scalar;
    },
    names.map(([, v]) => v),
  );
  const out = {
    loss: value.dataSync()[0]!,
    grads: Object.fromEntries(names.map(([n, v]) => [n, Array.from(grads[v.name]!.dataSync())])),
  };
  tf.dispose([x, y, value, ...Object.values(grads), ...names.map(([, v]) => v)]);
  return out;
}

describe('float64 trainer vs the tfjs units', () => {
  it('starts from the same initial values', () => {
    for (const model of MODELS) {
      const layers = modelLayers('compare', model, { zeta: 1 });
      const vars = createVars(layers, [5]);
      const p = initFloat64Params(layers, 5);
      for (const [l, ps] of Object.entries(vars))
        for (const [k, v] of Object.entries(ps))
          expect(Array.from(p[`${l}/${k}`]!)).toEqual(Array.from(v.dataSync()));
      tf.dispose(Object.values(vars).flatMap((v) => Object.values(v)));
    }
  });

  it('has the same loss and gradients (with and without the NAU regulariser)', () => {
    for (const model of MODELS)
      for (const op of ['gt', 'eq'] as const)
        for (const withReg of [false, true]) {
          const c = cfg(op, model);
          const want = tfjsLossAndGrad(c, 3, withReg);
          const layers = modelLayers('compare', model, { zeta: 1 });
          const p = initFloat64Params(layers, 3);
          const g: Float64Params = Object.fromEntries(
            Object.entries(p).map(([k, v]) => [k, new Float64Array(v.length)]),
          );
          const loss = float64LossAndGrad(c, p, trainingData(c.task, 3), withReg, g);
          expect(loss).toBeCloseTo(want.loss, 5);
          for (const [k, gw] of Object.entries(want.grads)) {
            const scale = Math.max(1e-3, ...gw.map(Math.abs));
            Array.from(g[k]!).forEach((v, i) => expect(Math.abs(v - gw[i]!) / scale).toBeLessThan(2e-4));
          }
        }
  });

  it('follows the same training trajectory', async () => {
    for (const model of MODELS) {
      const c = cfg('gt', model, 60);
      const tfjs = await trainNsrModel({ replicas: [{ config: c, seed: 2 }] });
      const want = tfjs!.params(0);
      tfjs!.dispose();
      const got = trainFloat64Replica({ config: { ...c, numeric: 'float64' }, seed: 2 })!;
      for (const [l, ps] of Object.entries(want))
        for (const [k, w] of Object.entries(ps))
          Array.from(got.params[`${l}/${k}`]!).forEach((v, i) =>
            expect(Math.abs(v - w[i]!)).toBeLessThan(2e-4),
          );
      expect(got.record.trainLoss).toBeCloseTo(tfjs!.records[0]!.trainLoss, 4);
    }
  });
});

describe('float64 range', () => {
  it('an exact NSR decides > at 10^13 in float64 while float32 loses 10^8 + 1', () => {
    const c = cfg('gt', 'nsr', 1, 'float64');
    c.task.exponents = [13];
    validateNsrRun(c);
    const p = initFloat64Params(modelLayers('compare', 'nsr', { zeta: 1 }), 0);
    p['gate.nsr/V1']!.set([30, -30]);
    p['gate.nsr/V2']!.set([-30, 30]);
    p['gate.nsr/W_sign']![0] = 20;
    p['gate.nsr/W_zero']![0] = 0;
    p['gate.nsr/b']![0] = -5;
    const d = testData(c.task, testPoints(c.task)[0]!, 1);
    expect(float64LossAndGrad(c, p, d, false, null)).toBeLessThan(0.05);
    expect(Math.fround(1e8 + 1)).toBe(Math.fround(1e8));
  });

  it('refuses float64 for tasks it does not cover, and magnitudes beyond 10^13', () => {
    const c = cfg('gt', 'nsr', 1, 'float64');
    expect(() => validateNsrRun({ ...c, task: { ...c.task, exponents: [14] } })).toThrow(/float64/);
    expect(() =>
      validateNsrRun({
        ...c,
        task: { kind: 'min', op: null, exponents: [1], lengths: [5], draws: 1, allowBeyondPrecision: false },
      }),
    ).toThrow(/compare task only/);
  });
});
