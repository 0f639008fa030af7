/**
 * Regularisers (against the formulas of units.md), the sparsity error, the layer's `regularization`
 * weights inside `fit`'s loss, and the post-step constraints applied by `ConstrainUnits`.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ConstrainUnits,
  NAC,
  NAU,
  NMU,
  NSR,
  applyUnitConstraints,
  initBackend,
  modelSparsityError,
  nauDef,
  nmuDef,
  nsrDef,
  sparsityErrorOf,
} from '../src/index.js';
import type { Mat } from './helpers.js';

const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 100) };

beforeAll(async () => {
  await initBackend('cpu');
});

const mean = (m: Mat, f: (v: number) => number) => m.flat().reduce((s, v) => s + f(v), 0) / m.flat().length;
const relu = (v: number) => Math.max(0, v);

/** Raw weights, float32-representable, including out-of-bound values. */
const weights = fc
  .record({ I: fc.integer({ min: 1, max: 6 }), O: fc.integer({ min: 1, max: 4 }) })
  .chain(({ I, O }) =>
    fc.array(
      fc.array(
        fc.double({ min: -2, max: 2, noNaN: true }).map((v) => Math.fround(v)),
        { minLength: O, maxLength: O },
      ),
      { minLength: I, maxLength: I },
    ),
  );

// Float32 evaluation of a mean of ≤ 24 terms (each ≤ 36 for |W| ≤ 2): a few ulps per operation plus
// ≤ 24 rounded additions, i.e. relative error ≲ 24·6e−8 ≈ 1.5e−6; allow 4e−6·max(1, |value|).
const close = (got: number, want: number) =>
  expect(Math.abs(got - want)).toBeLessThanOrEqual(4e-6 * Math.max(1, Math.abs(want)));

describe('regulariser formulas', () => {
  it('NAU: linear mean(min(|W|, 1 − |W|)), squared mean(W²(1 − |W|)²), oob mean(relu(|W| − 1))', () => {
    fc.assert(
      fc.property(
        weights,
        fc.constantFrom('linear', 'squared'),
        fc.constantFrom('clip', 'regularized'),
        (W, shape, mode) => {
          const regs = tf.tidy(() => {
            const r = nauDef.regularizers!({ W: tf.tensor2d(W) }, { regularizer: shape, oobMode: mode });
            return { sparsity: r.sparsity!.dataSync()[0]!, oob: r.oob!.dataSync()[0]! };
          });
          const want =
            shape === 'linear'
              ? mean(W, (v) => Math.min(Math.abs(v), 1 - Math.abs(v)))
              : mean(W, (v) => v * v * (1 - Math.abs(v)) ** 2);
          close(regs.sparsity, want);
          close(regs.oob, mode === 'regularized' ? mean(W, (v) => relu(Math.abs(v) - 1)) : 0);
        },
      ),
      RUNS,
    );
  });

  it('NMU: linear mean(min(W, 1 − W)), squared mean(W²(1 − W)²), oob mean(relu(|W − 0.5| − 0.5))', () => {
    fc.assert(
      fc.property(
        weights,
        fc.constantFrom('linear', 'squared'),
        fc.constantFrom('clip', 'regularized'),
        (W, shape, mode) => {
          const regs = tf.tidy(() => {
            const r = nmuDef.regularizers!({ W: tf.tensor2d(W) }, { regularizer: shape, oobMode: mode });
            return { sparsity: r.sparsity!.dataSync()[0]!, oob: r.oob!.dataSync()[0]! };
          });
          const want =
            shape === 'linear' ? mean(W, (v) => Math.min(v, 1 - v)) : mean(W, (v) => v * v * (1 - v) ** 2);
          close(regs.sparsity, want);
          close(regs.oob, mode === 'regularized' ? mean(W, (v) => relu(Math.abs(v - 0.5) - 0.5)) : 0);
        },
      ),
      RUNS,
    );
  });

  it('sparsity regularisers vanish exactly on discrete weights', () => {
    tf.tidy(() => {
      const nau = nauDef.regularizers!({ W: tf.tensor2d([[1, -1, 0]]) }, nauDef.defaults);
      const nmu = nmuDef.regularizers!({ W: tf.tensor2d([[1, 0, 1]]) }, nmuDef.defaults);
      expect(nau.sparsity!.dataSync()[0]).toBe(0);
      expect(nmu.sparsity!.dataSync()[0]).toBe(0);
    });
  });

  it('NSR selection: the mean entropy of the 2R softmax columns (log S uniform, → 0 one-hot), per replica', () => {
    const entropy = (col: number[]) => {
      const e = col.map(Math.exp);
      const s = e.reduce((a, b) => a + b, 0);
      return -e.reduce((h, v) => h + (v / s) * Math.log(v / s), 0);
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }).chain((S) =>
          fc.integer({ min: 1, max: 3 }).chain((R) =>
            (() => {
              const matrix = fc.array(
                fc.array(fc.double({ min: -30, max: 30, noNaN: true }).map(Math.fround), {
                  minLength: R,
                  maxLength: R,
                }),
                { minLength: S, maxLength: S },
              );
              return fc.tuple(matrix, matrix);
            })(),
          ),
        ),
        ([V1, V2]) => {
          const R = V1[0]!.length;
          const cols = (V: number[][]) => Array.from({ length: R }, (_, r) => V.map((row) => row[r]!));
          const want = [...cols(V1), ...cols(V2)].map(entropy).reduce((a, b) => a + b, 0) / (2 * R);
          const got = tf.tidy(
            () =>
              nsrDef.regularizers!(
                { V1: tf.tensor2d(V1), V2: tf.tensor2d(V2) },
                nsrDef.defaults,
              ).selection!.dataSync()[0]!,
          );
          expect(Number.isFinite(got)).toBe(true);
          expect(Math.abs(got - want)).toBeLessThan(1e-4 + 1e-4 * want);
        },
      ),
      RUNS,
    );
    tf.tidy(() => {
      const uniform = nsrDef.regularizers!({ V1: tf.zeros([5, 2]), V2: tf.zeros([5, 2]) }, nsrDef.defaults);
      expect(uniform.selection!.dataSync()[0]).toBeCloseTo(Math.log(5), 5);
      // One-hot to float32 precision: softmax of a logit 100 above the rest; no NaN from 0·log 0.
      const hot = tf.tensor2d([[100], [0], [0]]);
      expect(
        nsrDef.regularizers!({ V1: hot, V2: hot }, nsrDef.defaults).selection!.dataSync()[0],
      ).toBeLessThan(1e-30);
      // With a replica axis [replicas, S, R]: one value per replica.
      const two = nsrDef.regularizers!(
        { V1: tf.stack([tf.zeros([3, 1]), hot]), V2: tf.stack([tf.zeros([3, 1]), hot]) },
        nsrDef.defaults,
      );
      expect(two.selection!.shape).toEqual([2]);
      expect(Array.from(two.selection!.dataSync())[0]).toBeCloseTo(Math.log(3), 5);
    });
  });

  it("the NSR layer's `regularization: { selection: λ }` is accepted and adds λ·selection as a layer loss", () => {
    const nsr = new NSR({ seed: 3, redundancy: 2, regularization: { selection: 0.5 } });
    tf.dispose(nsr.apply(tf.ones([1, 4])) as tf.Tensor);
    const [V1, V2] = nsr.getWeights();
    const want = tf.tidy(
      () => nsrDef.regularizers!({ V1: V1!, V2: V2! }, nsrDef.defaults).selection!.dataSync()[0]!,
    );
    expect(nsr.regularizationLoss().dataSync()[0]).toBeCloseTo(0.5 * want, 5);
    expect(() => new NSR({ regularization: { sparsity: 1 } }).apply(tf.ones([1, 2]))).toThrow(
      /no regulariser named 'sparsity'.*selection/,
    );
  });
});

describe('sparsity error', () => {
  it('is max over all effective weights (all tensors) of min(|w|, |1 − |w||)', () => {
    fc.assert(
      fc.property(fc.array(weights, { minLength: 1, maxLength: 3 }), (ws) => {
        const got = tf.tidy(() => sparsityErrorOf(ws.map((w) => tf.tensor2d(w))).dataSync()[0]!);
        const want = Math.max(...ws.flat(2).map((v) => Math.min(Math.abs(v), Math.abs(1 - Math.abs(v)))));
        expect(got).toBe(Math.fround(want));
      }),
      RUNS,
    );
  });

  it('a layer and a model measure it on effective (clamped/squashed) weights', () => {
    const nau = new NAU({ units: 2, inputShape: [2], seed: 1 });
    const nmu = new NMU({ units: 1, seed: 2 });
    const model = tf.sequential({ layers: [nau, nmu] });
    // NAU raw W has 1.3 (clamped to 1: error 0) and 0.1; NMU W 0.8 → 0.2 and 1.4 (→ 1: 0).
    nau.setWeights([
      tf.tensor2d([
        [1.3, 0.1],
        [-1, 0],
      ]),
    ]);
    nmu.setWeights([tf.tensor2d([[0.8], [1.4]])]);
    expect(nau.sparsityError()).toBeCloseTo(0.1, 6);
    expect(nmu.sparsityError()).toBeCloseTo(0.2, 6);
    expect(modelSparsityError(model)).toBeCloseTo(0.2, 6);
    // Measuring it leaves no tensor behind (it is called after every evaluation).
    const live = tf.memory().numTensors;
    nau.sparsityError();
    modelSparsityError(model);
    expect(tf.memory().numTensors).toBe(live);
    // NAC: effective W = tanh(Ŵ)σ(M̂) — with Ŵ = M̂ = 0 it is 0 (error 0); with Ŵ = atanh(0.6),
    // M̂ = 0 it is 0.3 (error 0.3).
    const nac = new NAC({ units: 1, seed: 3 });
    tf.dispose(nac.apply(tf.ones([1, 1])) as tf.Tensor);
    nac.setWeights([tf.tensor2d([[Math.atanh(0.6)]]), tf.tensor2d([[0]])]);
    expect(nac.sparsityError()).toBeCloseTo(0.3, 6);
    // NSR: the selection probabilities; a uniform softmax over 2 gives 0.5.
    const nsr = new NSR({ seed: 4 });
    tf.dispose(nsr.apply(tf.ones([1, 2])) as tf.Tensor);
    const w = nsr.getWeights();
    nsr.setWeights([tf.zeros([2, 1]), tf.tensor2d([[20], [-20]]), ...w.slice(2)]);
    expect(nsr.sparsityError()).toBeCloseTo(0.5, 6);
  });
});

describe('regularization weights in fit', () => {
  it("the layer's `regularization: { sparsity: λ }` adds λ·sparsity to fit's loss", async () => {
    const lambda = 0.37;
    const x = tf.tensor2d([
      [1, 2, 3],
      [-1, 0.5, 2],
      [0.25, -2, 1],
      [3, 1, -1],
    ]);
    const y = tf.tensor2d([[1], [0], [2], [-1]]);
    const make = (reg: Record<string, number>) => {
      const nau = new NAU({ units: 2, inputShape: [3], seed: 5, regularization: reg });
      const nmu = new NMU({ units: 1, seed: 6, regularization: reg, regularizer: 'squared' });
      const m = tf.sequential({ layers: [nau, nmu] });
      // sgd(0): the loss fit reports is that of the unchanged weights.
      m.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
      return { m, nau, nmu };
    };
    const fitLoss = async (m: tf.LayersModel) =>
      (await m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 })).history.loss![0] as number;

    const plain = make({});
    const reg = make({ sparsity: lambda });
    const W1 = reg.nau.getWeights()[0]!.arraySync() as Mat;
    const W2 = reg.nmu.getWeights()[0]!.arraySync() as Mat;
    const pred = (reg.m.predict(x) as tf.Tensor).dataSync();
    const yv = y.dataSync();
    const mse = Array.from(pred).reduce((s, p, i) => s + (p - yv[i]!) ** 2, 0) / pred.length;
    const sparsity =
      mean(W1, (v) => Math.min(Math.abs(v), 1 - Math.abs(v))) + mean(W2, (v) => v * v * (1 - v) ** 2);
    expect(sparsity).toBeGreaterThan(0.05);
    expect(await fitLoss(plain.m)).toBeCloseTo(mse, 5);
    expect(await fitLoss(reg.m)).toBeCloseTo(mse + lambda * sparsity, 5);
  });
});

describe('constraints', () => {
  // Targets that need weights outside the allowed box: NAU y = 3·x0 − 2·x1 (|W| > 1), NMU
  // y = 2·x − 1 (W = 2) and y = 2 − x (W = −1). A large SGD step pushes the weights past the bound.
  const rows = Array.from({ length: 32 }, (_, i) => [((i * 7) % 11) / 5 - 1, ((i * 5) % 13) / 6 - 1]);
  const xNau = rows;
  const yNau = rows.map(([a, b]) => [3 * a! - 2 * b!]);
  const xNmu = rows.map(([a]) => [a! + 2]);
  const yNmu = rows.map(([a]) => [2 * (a! + 2) - 1]);
  const yNmuLow = rows.map(([a]) => [2 - (a! + 2)]);

  const train = async (layer: tf.layers.Layer, xs: Mat, ys: Mat, constrain: boolean) => {
    const [x, y] = [tf.tensor2d(xs), tf.tensor2d(ys)];
    const m = tf.sequential({ layers: [layer] });
    m.compile({ optimizer: tf.train.sgd(0.5), loss: 'meanSquaredError' });
    await m.fit(x, y, {
      epochs: 5,
      batchSize: 8,
      shuffle: false, // deterministic: fit shuffles with Math.random by default
      verbose: 0,
      callbacks: constrain ? [new ConstrainUnits()] : [],
    });
    return Array.from(layer.getWeights()[0]!.dataSync());
  };

  it('ConstrainUnits keeps NAU W in [−1, 1] during fit; without it W leaves the box', async () => {
    const free = await train(new NAU({ units: 1, inputShape: [2], seed: 1 }), xNau, yNau, false);
    expect(Math.max(...free.map(Math.abs))).toBeGreaterThan(1.05);
    const kept = await train(new NAU({ units: 1, inputShape: [2], seed: 1 }), xNau, yNau, true);
    expect(Math.max(...kept.map(Math.abs))).toBeLessThanOrEqual(1);
    // Clamped at the bound the target pushes towards: W = [1, −1].
    expect(kept).toEqual([1, -1]);
  });

  it('ConstrainUnits keeps NMU W in [0, 1] during fit; without it W leaves the box', async () => {
    for (const [y, bound] of [
      [yNmu, 1],
      [yNmuLow, 0],
    ] as const) {
      const free = await train(new NMU({ units: 1, inputShape: [1], seed: 2 }), xNmu, y, false);
      expect(bound === 1 ? free[0]! > 1.05 : free[0]! < -0.05).toBe(true);
      const kept = await train(new NMU({ units: 1, inputShape: [1], seed: 2 }), xNmu, y, true);
      expect(kept[0]).toBe(bound);
    }
  });

  it("oobMode 'regularized' applies no clamp; applyUnitConstraints reaches nested models", () => {
    const nau = new NAU({ units: 1, inputShape: [2], seed: 1, oobMode: 'regularized' });
    const nmu = new NMU({ units: 1, seed: 1 });
    const inner = tf.sequential({ layers: [nau, nmu] });
    const outer = tf.sequential({ layers: [inner] });
    nau.setWeights([tf.tensor2d([[1.5], [-2]])]);
    nmu.setWeights([tf.tensor2d([[1.5]])]);
    applyUnitConstraints(outer);
    expect(Array.from(nau.getWeights()[0]!.dataSync())).toEqual([1.5, -2]);
    expect(Array.from(nmu.getWeights()[0]!.dataSync())).toEqual([1]);
  });
});
