/**
 * The baselines' initialisation as stable-nalu's `layer/basic.py` (Xavier-uniform for a linear layer,
 * Kaiming-uniform for ReLU/ReLU6, zero bias), the ICLR 2020 appendix models (NAC•,σ, NAC•,NMU,
 * ReLU6, the gate experiment's NAC+/NAU-first models) and the presets that reproduce published
 * tables and figures (issue 15).
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { initParams, resolveOptions } from '@nalm/units';
import type { UnitDef } from '@nalm/units';
import { beforeAll, describe, expect, it } from 'vitest';
import { denseDef, denseInitRange } from '../src/models/dense.js';
import { nmuLogDef, posNacMulDef } from '../src/models/log-space.js';
import { getModel } from '../src/models/registry.js';
import { PRESETS, expandPreset, getPreset } from '../src/presets.js';
import { defaultStaticTask } from '../src/tasks/static.js';
import { singleModuleTask, SINGLE_MODULE_RANGES } from '../src/tasks/single-module.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function moments(v: ArrayLike<number>) {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  const mean = s / v.length;
  let ss = 0;
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    ss += (v[i]! - mean) ** 2;
    max = Math.max(max, Math.abs(v[i]!));
  }
  return { mean, variance: ss / (v.length - 1), max };
}

describe('dense init (stable-nalu BasicLayer.reset_parameters)', () => {
  // Var of U[±r] is r²/3: Xavier-uniform 2/(I+O), Kaiming-uniform (ReLU gain √2, fan-in) 2/I.
  const cases = [
    { activation: 'linear', want: (I: number, O: number) => 2 / (I + O) },
    { activation: 'relu', want: (I: number) => 2 / I },
    { activation: 'relu6', want: (I: number) => 2 / I },
  ] as const;
  for (const { activation, want } of cases) {
    it(`${activation}: weight variance, support and mean; bias exactly 0`, () => {
      const I = 300;
      const O = 200;
      const opts = resolveOptions(denseDef, { activation });
      const p = initParams(denseDef, { inputSize: I, units: O }, opts, 7);
      const m = moments(p.W!.dataSync());
      const n = I * O;
      const v = want(I, O);
      // Sample variance of U[±r]: sd of the estimate ≈ v·sqrt(0.8/n); 6 sd.
      expect(Math.abs(m.variance - v)).toBeLessThan(6 * v * Math.sqrt(0.8 / n));
      expect(Math.abs(m.mean)).toBeLessThan(6 * Math.sqrt(v / n));
      expect(m.max).toBeLessThanOrEqual(denseInitRange(activation, I, O));
      expect(m.max).toBeGreaterThan(0.99 * denseInitRange(activation, I, O));
      expect([...p.b!.dataSync()].every((b) => b === 0)).toBe(true);
    });
  }

  it('the ReLU model: Kaiming for its ReLU layer, Xavier for its linear output layer', () => {
    const [l1, l2] = getModel('relu').layers(100, 2);
    expect((l1!.options as { activation: string }).activation).toBe('relu');
    expect((l2!.options as { activation: string }).activation).toBe('linear');
    expect(denseInitRange('relu', 100, 2)).toBeCloseTo(Math.sqrt(6 / 100), 12);
    expect(denseInitRange('linear', 2, 1)).toBeCloseTo(Math.sqrt(2), 12);
  });

  it('rejects an unknown activation or init, naming the choices', () => {
    expect(() => resolveOptions(denseDef, { activation: 'tanh' as never })).toThrow(/linear, relu, relu6/);
    expect(() => resolveOptions(denseDef, { init: 'he' as never })).toThrow(/stable-nalu, torch-linear/);
  });

  it("torch-linear (nn.Linear's default, the NSR reference's TwoNN): W and b both U[±1/√I]", () => {
    const I = 300;
    const O = 200;
    const opts = resolveOptions(denseDef, { init: 'torch-linear' });
    const p = initParams(denseDef, { inputSize: I, units: O }, opts, 7);
    const r = 1 / Math.sqrt(I);
    for (const [v, n] of [
      [p.W!.dataSync(), I * O],
      [p.b!.dataSync(), O],
    ] as const) {
      const m = moments(v);
      const want = (r * r) / 3;
      expect(Math.abs(m.variance - want)).toBeLessThan(6 * want * Math.sqrt(0.8 / n));
      expect(m.max).toBeLessThanOrEqual(Math.fround(r));
      expect(m.max).toBeGreaterThan(0.97 * r);
    }
    // The activation does not change it (nn.Linear knows none).
    const relu = initParams(
      denseDef,
      { inputSize: I, units: O },
      resolveOptions(denseDef, { activation: 'relu', init: 'torch-linear' }),
      7,
    );
    expect([...relu.W!.dataSync()]).toEqual([...p.W!.dataSync()]);
  });
});

describe('the NAC• variants of the appendix table', () => {
  it('NAC•,NMU: exact weights compute the product of the selected |h| (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.5, max: 8, noNaN: true }), { minLength: 3, maxLength: 3 }),
        (h) => {
          const W = tf.tensor2d([[1], [0], [1]]);
          const z = nmuLogDef.forward({ W }, tf.tensor2d([h]), nmuLogDef.defaults).dataSync()[0]!;
          expect(Math.abs(z - h[0]! * h[2]!)).toBeLessThanOrEqual(1e-4 * h[0]! * h[2]!);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('NAC•,NMU: the NMU init, clamp and regulariser', () => {
    const p = initParams(nmuLogDef, { inputSize: 50, units: 40 }, nmuLogDef.defaults, 1);
    const m = moments(p.W!.dataSync());
    expect(Math.abs(m.mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(m.variance - 0.25 ** 2 / 3)).toBeLessThan(0.002);
    expect(
      nmuLogDef.constrain!({ W: tf.tensor2d([[1.2], [-0.1]]) }, nmuLogDef.defaults).W!.dataSync(),
    ).toEqual(new Float32Array([1, 0]));
    expect(
      nmuLogDef.regularizers!({ W: tf.tensor2d([[0.2], [0.6]]) }, nmuLogDef.defaults).sparsity!.dataSync()[0],
    ).toBeCloseTo(0.3, 6);
  });

  it('NAC•,σ: W = σ(Ŵ), Ŵ Xavier-normal; exp of the σ-weighted log sum', () => {
    const I = 200;
    const O = 150;
    const p = initParams(posNacMulDef, { inputSize: I, units: O }, posNacMulDef.defaults, 2);
    const m = moments(p.W_hat!.dataSync());
    const v = 2 / (I + O);
    expect(Math.abs(m.variance - v)).toBeLessThan(6 * v * Math.sqrt(2 / (I * O)));
    const W_hat = tf.tensor2d([[30], [-30]]); // σ ≈ 1 and 0
    const z = posNacMulDef.forward({ W_hat }, tf.tensor2d([[3, 5]]), posNacMulDef.defaults).dataSync()[0]!;
    expect(z).toBeCloseTo(3, 4);
    expect(posNacMulDef.effectiveWeights({ W_hat }, posNacMulDef.defaults).W!.dataSync()[1]).toBeLessThan(
      1e-12,
    );
  });

  it('the models are the reference architectures (first layer, second layer, schedule)', () => {
    const names = (m: string) =>
      getModel(m)
        .layers(100, 2)
        .map((l) => (l.def as UnitDef<never>).name);
    expect(names('nac-mul-sigma')).toEqual(['nac', 'pos-nac-mul']);
    expect(names('nac-mul-nmu')).toEqual(['nau', 'nmu-log']);
    expect(names('relu6')).toEqual(['dense', 'dense']);
    expect(names('nac-nalu')).toEqual(['nac', 'nalu']);
    expect(names('nac-nalu-separate')).toEqual(['nac', 'nalu']);
    expect(
      (getModel('nac-nalu-separate').layers(100, 2)[1]!.options as { separateWeights: boolean })
        .separateWeights,
    ).toBe(true);
    expect(names('nau-gated')).toEqual(['nau', 'gated-nau-nmu']);
    expect(getModel('nac-mul-nmu').schedule).toEqual(getModel('nmu').schedule);
    expect(getModel('single-nmru').layers(2, 1)[0]!.def.name).toBe('sign-nmru');
  });
});

describe('presets that reproduce published results', () => {
  it('each new preset names the table or figure it reproduces and expands to valid configurations', () => {
    const want: Record<string, RegExp> = {
      quick: /very-simple-function-results/,
      'iclr2020-all': /function-task-static-defaults-all/,
      'iclr2020-gate': /nalu-gate-table/,
      simple: /very-simple-function-results/,
      'primer-inalu-i10': /Figure 18/,
      'primer-nau-i10': /Figure 19/,
      'primer-nau-i100': /input size 100/,
    };
    for (const [name, re] of Object.entries(want)) {
      const p = getPreset(name);
      expect(p.description, name).toMatch(re);
      const configs = expandPreset(p);
      expect(configs.length).toBeGreaterThan(0);
      for (const c of configs) expect(() => getModel(c.model)).not.toThrow();
    }
    expect(PRESETS.map((p) => p.name)).toEqual(expect.arrayContaining(Object.keys(want)));
  });

  it('iclr2020-all covers the 11 models of the appendix table on six operations', () => {
    const p = getPreset('iclr2020-all');
    expect(p.models).toHaveLength(11);
    expect(expandPreset(p)).toHaveLength(66);
  });

  it("the Primer's NAU figures use their own schedule (50k → 75k of 100k)", () => {
    for (const c of expandPreset(getPreset('primer-nau-i100'))) {
      expect(c.schedule).toEqual({ lambda: 0.01, start: 50_000, end: 75_000 });
      expect(c.task.inputSize).toBe(100);
    }
  });

  it('the single-module task takes I > 2 with one-element subsets, and says how to fix a bad layout', () => {
    const t = singleModuleTask('sub', SINGLE_MODULE_RANGES[6]!, 10);
    expect(t.inputSize).toBe(10);
    expect(t.subsetRatio).toBeCloseTo(0.1, 12);
    expect(() =>
      defaultStaticTask({
        op: 'add',
        inputSize: 10,
        subsetRatio: 0.2,
        overlapRatio: 0,
        numSubsets: 2,
        singleModule: true,
      }),
    ).toThrow(/one-element subsets.*subsetRatio 1\/inputSize/);
  });
});
