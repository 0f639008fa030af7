/**
 * The NPU, RealNPU and NRU (units.md "Further units"): exact products/quotients with discrete
 * weights, agreement with a float64 reference of units.md, gradients against central finite
 * differences, initial values, the replica axis, save → load and shape errors.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConstrainUnits, type UnitLayer, unitLayers } from '../src/layer.js';
import { initBackend } from '../src/backend.js';
import { loadModel, saveModel } from '../src/node.js';
import { NPU, RealNPU, npuDef, realNpuDef } from '../src/npu.js';
import { NRU, nruDef } from '../src/nru.js';
import { Rng } from '../src/rng.js';
import type { ForwardContext, UnitDef } from '../src/unit.js';
import { initParams, unitSparsityError } from '../src/unit.js';
import { nauInitRange } from '../src/nau.js';
import { xavierUniformRange } from '../src/nalu.js';
import type { Mat } from './helpers.js';
import { checkGradients as sharedCheckGradients } from './helpers.js';
import { bits, f32, maxRelErr, stackParams, toMat } from './helpers.js';

const RUNS = { numRuns: Math.max(100, Number(process.env.FC_RUNS ?? 100)) };
type AnyDef = UnitDef<never>;
const EPS = 1.19e-7;

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
});

// ---------------------------------------------------------------------------------------------
// Float64 references, written from units.md.

/** NPU (W_im omitted = RealNPU). g is a vector [I]. */
function refNpu(x: Mat, wRe: Mat, wIm: Mat | null, g: number[]): Mat {
  const O = wRe[0]!.length;
  return x.map((row) =>
    Array.from({ length: O }, (_, o) => {
      let mag = 0;
      let phase = 0;
      row.forEach((xi, i) => {
        const gh = Math.min(1, Math.max(0, g[i]!));
        const logR = Math.log(gh * (Math.abs(xi) + EPS) + 1 - gh);
        const k = xi < 0 ? gh * Math.PI : 0;
        const im = wIm ? wIm[i]![o]! : 0;
        mag += logR * wRe[i]![o]! - k * im;
        phase += logR * im + k * wRe[i]![o]!;
      });
      return Math.exp(mag) * Math.cos(phase);
    }),
  );
}

function refNru(x: Mat, w: Mat, training: boolean): Mat {
  const O = w[0]!.length;
  return x.map((row) =>
    Array.from({ length: O }, (_, o) =>
      row.reduce((prod, xi, i) => {
        const wi = Math.min(1, Math.max(-1, w[i]![o]!));
        const a = training ? Math.tanh(1000 * wi) ** 2 : Math.abs(wi);
        return prod * (Math.sign(xi) * Math.abs(xi) ** wi * a + 1 - a);
      }, 1),
    ),
  );
}

/** Π_i x_i^{W_io} (signed), the exact product/quotient that weights in {−1, 0, 1} select. */
function signedPowerProduct(x: Mat, w: Mat): Mat {
  return x.map((row) =>
    w[0]!.map((_, o) => row.reduce((p, xi, i) => p * (w[i]![o]! === 0 ? 1 : xi ** w[i]![o]!), 1)),
  );
}

function relErr(got: Mat, want: Mat): number {
  let worst = 0;
  got.forEach((r, i) =>
    r.forEach((v, j) => {
      const w = want[i]![j]!;
      worst = Math.max(worst, Math.abs(v - w) / Math.abs(w));
    }),
  );
  return worst;
}

// ---------------------------------------------------------------------------------------------
// Generators.

const matrix = (rows: number, cols: number, arb: fc.Arbitrary<number>) =>
  fc.array(fc.array(arb, { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows });

const dims = fc.record({
  I: fc.integer({ min: 1, max: 6 }),
  O: fc.integer({ min: 1, max: 4 }),
  B: fc.integer({ min: 1, max: 5 }),
});

const magnitude = fc.double({ min: 0.5, max: 4, noNaN: true });
const signedValue = fc.tuple(fc.boolean(), magnitude).map(([neg, v]) => (neg ? -v : v));
const ternary = fc.constantFrom(-1, 0, 1);

/** Columns that are one-hot ±1 (one selected input), or general {−1, 0, 1} columns. */
const discreteWeights = (I: number, O: number) =>
  fc.oneof(
    fc
      .array(fc.tuple(fc.integer({ min: 0, max: I - 1 }), fc.constantFrom(-1, 1)), {
        minLength: O,
        maxLength: O,
      })
      .map((cols) => Array.from({ length: I }, (_, i) => cols.map(([at, s]) => (at === i ? s : 0)))),
    matrix(I, O, ternary),
  );

const fwd = (def: AnyDef, p: Record<string, tf.Tensor>, x: Mat, ctx?: ForwardContext) =>
  tf.tidy(() => toMat(def.forward(p, tf.tensor2d(x), def.defaults, ctx)));

// ---------------------------------------------------------------------------------------------

describe('exact weights compute products and quotients', () => {
  it('RealNPU with one-hot ±1 / {−1,0,1} W_re columns and g = 1: Π x^W of positive x within 1e−5', () => {
    const arb = dims.chain(({ I, O, B }) =>
      fc.record({ W: discreteWeights(I, O), x: matrix(B, I, magnitude) }),
    );
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        const I = x[0]!.length;
        const got = fwd(realNpuDef as AnyDef, { W_re: tf.tensor2d(W), g: tf.ones([I]) }, x);
        expect(relErr(got, signedPowerProduct(f32(x), W))).toBeLessThan(1e-5);
      }),
      RUNS,
    );
  });

  it('NPU with W_im = 0 and g = 1 on signed x gets the sign from cos(π·k)', () => {
    const arb = dims.chain(({ I, O, B }) =>
      fc.record({
        W: discreteWeights(I, O),
        x: matrix(B, I, signedValue),
      }),
    );
    let negativeOutputs = 0;
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        const I = x[0]!.length;
        const O = W[0]!.length;
        const p = { W_re: tf.tensor2d(W), W_im: tf.zeros([I, O]), g: tf.ones([I]) };
        const got = fwd(npuDef as AnyDef, p, x);
        tf.dispose(Object.values(p));
        const want = signedPowerProduct(f32(x), W);
        expect(relErr(got, want)).toBeLessThan(1e-5);
        got.forEach((r, b) => r.forEach((v, o) => expect(Math.sign(v)).toBe(Math.sign(want[b]![o]!))));
        negativeOutputs += want.flat().filter((v) => v < 0).length;
      }),
      RUNS,
    );
    expect(negativeOutputs).toBeGreaterThan(0); // the sign path was exercised
  });

  it('NPU: a closed gate (g = 0) ignores its input, whatever its weight', () => {
    const x = [
      [-3, 2],
      [0.5, -0.25],
    ];
    const p = { W_re: tf.tensor2d([[1], [-1]]), W_im: tf.tensor2d([[0.7], [0]]), g: tf.tensor1d([0, 1]) };
    expect(relErr(fwd(npuDef as AnyDef, p, x), [[0.5], [-4]])).toBeLessThan(1e-6);
  });

  it('NRU with W ∈ {−1, 0, 1} at evaluation computes signed products/quotients', () => {
    const arb = dims.chain(({ I, O, B }) =>
      fc.record({ W: discreteWeights(I, O), x: matrix(B, I, signedValue) }),
    );
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        const got = fwd(nruDef as AnyDef, { W: tf.tensor2d(W) }, x, { training: false });
        expect(relErr(got, signedPowerProduct(f32(x), W))).toBeLessThan(1e-5);
        // While training, a(±1) = tanh(1000)² = 1 and a(0) = 0: the same values.
        const train = fwd(nruDef as AnyDef, { W: tf.tensor2d(W) }, x, { training: true });
        expect(relErr(train, signedPowerProduct(f32(x), W))).toBeLessThan(1e-5);
      }),
      RUNS,
    );
  });
});

describe('forward agrees with a float64 reference of units.md for general parameters', () => {
  const params = (I: number, O: number) =>
    fc.record({
      wRe: matrix(I, O, fc.double({ min: -1.5, max: 1.5, noNaN: true })),
      wIm: matrix(I, O, fc.double({ min: -1.5, max: 1.5, noNaN: true })),
      // Gate values outside [0, 1] exercise the clamp.
      g: fc.array(fc.double({ min: -0.3, max: 1.3, noNaN: true }), { minLength: I, maxLength: I }),
    });

  it('NPU and RealNPU', () => {
    const arb = dims.chain(({ I, O, B }) => fc.record({ p: params(I, O), x: matrix(B, I, signedValue) }));
    fc.assert(
      fc.property(arb, ({ p, x }) => {
        const [wRe, wIm, g] = [f32(p.wRe), f32(p.wIm), f32([p.g])[0]!];
        const xs = f32(x);
        const npu = fwd(
          npuDef as AnyDef,
          { W_re: tf.tensor2d(wRe), W_im: tf.tensor2d(wIm), g: tf.tensor1d(g) },
          xs,
        );
        expect(maxRelErr(npu, refNpu(xs, wRe, wIm, g))).toBeLessThan(1e-4);
        const real = fwd(realNpuDef as AnyDef, { W_re: tf.tensor2d(wRe), g: tf.tensor1d(g) }, xs);
        expect(maxRelErr(real, refNpu(xs, wRe, null, g))).toBeLessThan(1e-4);
      }),
      RUNS,
    );
  });

  it('NRU while training and at evaluation (W beyond ±1 is clamped)', () => {
    const arb = dims.chain(({ I, O, B }) =>
      fc.record({
        W: matrix(I, O, fc.double({ min: -1.3, max: 1.3, noNaN: true })),
        x: matrix(B, I, signedValue),
      }),
    );
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        const [w, xs] = [f32(W), f32(x)];
        for (const training of [false, true]) {
          const got = fwd(nruDef as AnyDef, { W: tf.tensor2d(w) }, xs, { training });
          expect(maxRelErr(got, refNru(xs, w, training)), `training ${training}`).toBeLessThan(1e-4);
        }
      }),
      RUNS,
    );
  });

  it('NRU: a(W) differs between training and evaluation for small weights', () => {
    // x_0 < 0: the factor is 1 − a·(1 + |x_0|^W) ≈ 1 − 2a, far apart for a ≈ 0.58 and a = 0.001.
    const p = { W: tf.tensor2d([[0.001], [1]]) };
    const x = [[-4, 2]];
    const train = fwd(nruDef as AnyDef, p, x, { training: true })[0]![0]!;
    const evalz = fwd(nruDef as AnyDef, p, x, { training: false })[0]![0]!;
    expect(train).toBeCloseTo(refNru(x, [[0.001], [1]], true)[0]![0]!, 5); // a = tanh(1)² ≈ 0.58
    expect(evalz).toBeCloseTo(refNru(x, [[0.001], [1]], false)[0]![0]!, 5); // a = 0.001
    expect(Math.abs(train - evalz)).toBeGreaterThan(0.5);
  });
});

// ---------------------------------------------------------------------------------------------

/*
 * Central differences as in gradients.test.ts: L = Σ c ⊙ z (+ regularisers), step 1e−2,
 * |fd − autodiff| ≤ 1e−3 + 5e−3·|autodiff|. Parameters and inputs are kept away from the kinks
 * (x = 0, the gate clamp at 0/1, the W clamp at ±1, |W| at 0) by more than the step.
 */
/** The shared finite-difference check (helpers.ts) with the unit's default options. */
function checkGradients(
  def: AnyDef,
  p: Record<string, tf.Tensor>,
  x: tf.Tensor,
  ctx: ForwardContext,
  withRegularizers: boolean,
): number {
  return sharedCheckGradients(def, p, x, def.defaults, withRegularizers, ctx).checked;
}

function tensorOf(rng: Rng, shape: number[], draw: (rng: Rng) => number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Array.from({ length: n }, () => draw(rng)),
    shape,
  );
}
const signedIn = (lo: number, hi: number) => (rng: Rng) => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(lo, hi);
const uniformIn = (lo: number, hi: number) => (rng: Rng) => rng.uniform(lo, hi);

describe('gradients match central finite differences (cpu; parameters and input)', () => {
  const B = 4;
  const I = 3;
  const O = 2;

  for (const withRegularizers of [false, true]) {
    const tag = withRegularizers ? ' + regularisers' : '';
    it(`NPU${tag}`, () => {
      const rng = new Rng(1);
      const p = {
        W_re: tensorOf(rng, [I, O], uniformIn(-1, 1)),
        W_im: tensorOf(rng, [I, O], uniformIn(-0.5, 0.5)),
        g: tensorOf(rng, [I], uniformIn(0.2, 0.8)),
      };
      const x = tensorOf(rng, [B, I], signedIn(0.5, 2));
      const n = checkGradients(npuDef as AnyDef, p, x, {}, withRegularizers);
      expect(n).toBe(2 * I * O + I + B * I);
    });

    it(`RealNPU${tag}`, () => {
      const rng = new Rng(2);
      const p = { W_re: tensorOf(rng, [I, O], uniformIn(-1, 1)), g: tensorOf(rng, [I], uniformIn(0.2, 0.8)) };
      const x = tensorOf(rng, [B, I], signedIn(0.5, 2));
      expect(checkGradients(realNpuDef as AnyDef, p, x, {}, withRegularizers)).toBe(I * O + I + B * I);
    });

    for (const training of [false, true]) {
      it(`NRU (${training ? 'training' : 'evaluation'})${tag}`, () => {
        const rng = new Rng(3);
        // |W| in [0.1, 0.45] ∪ [0.55, 0.9]: away from the kinks of |W| at 0 (tanh(1000W)² saturates
        // beyond ~0.005), of the clamp at ±1 and of the sparsity regulariser at |W| = 0.5.
        const awayFromKinks = (r: Rng) => {
          const u = r.uniform(0.1, 0.8);
          return (r.next() < 0.5 ? -1 : 1) * (u > 0.45 ? u + 0.1 : u);
        };
        const p = { W: tensorOf(rng, [I, O], awayFromKinks) };
        const x = tensorOf(rng, [B, I], signedIn(0.5, 2));
        expect(checkGradients(nruDef as AnyDef, p, x, { training }, withRegularizers)).toBe(I * O + B * I);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------

describe('initialisers', () => {
  const moments = (v: ArrayLike<number>) => {
    const a = Array.from(v);
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    return {
      min: Math.min(...a),
      max: Math.max(...a),
      mean,
      variance: a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length,
    };
  };

  for (const def of [npuDef, realNpuDef] as AnyDef[]) {
    it(`${def.className}: W_re Xavier-uniform U[±√(6/(I+O))], W_im = 0, g = 0.5`, () => {
      const [I, O] = [400, 300];
      const p = initParams(def, { inputSize: I, units: O }, def.defaults, 7);
      const expected = def === (npuDef as AnyDef) ? ['W_re', 'W_im', 'g'] : ['W_re', 'g'];
      expect(Object.keys(p)).toEqual(expected);
      expect(p.W_re!.shape).toEqual([I, O]);
      expect(p.g!.shape).toEqual([I]);
      const r = xavierUniformRange(I, O);
      const m = moments(p.W_re!.dataSync());
      expect(m.min).toBeGreaterThanOrEqual(-r);
      expect(m.max).toBeLessThanOrEqual(r);
      expect(m.max).toBeGreaterThan(0.999 * r);
      expect(m.min).toBeLessThan(-0.999 * r);
      expect(Math.abs(m.variance / ((r * r) / 3) - 1)).toBeLessThan(0.02);
      expect(new Set(p.g!.dataSync())).toEqual(new Set([0.5]));
      if (p.W_im) {
        expect(p.W_im.shape).toEqual([I, O]);
        expect(new Set(p.W_im.dataSync())).toEqual(new Set([0]));
      }
      // Seeded: the same seed gives the same values, another seed others.
      const again = initParams(def, { inputSize: I, units: O }, def.defaults, 7);
      const other = initParams(def, { inputSize: I, units: O }, def.defaults, 8);
      expect(bits(again.W_re!)).toEqual(bits(p.W_re!));
      expect(bits(other.W_re!)).not.toEqual(bits(p.W_re!));
      tf.dispose([...Object.values(p), ...Object.values(again), ...Object.values(other)]);
    });
  }

  it('NRU: NAU-type U[±min(0.5, √3·√(2/(I+O)))]', () => {
    for (const [I, O] of [
      [2, 1],
      [100, 2],
      [400, 300],
    ] as const) {
      const r = nauInitRange(I, O);
      const p = initParams(nruDef, { inputSize: I, units: O }, nruDef.defaults, 9);
      const m = moments(p.W!.dataSync());
      expect(m.min).toBeGreaterThanOrEqual(-r);
      expect(m.max).toBeLessThanOrEqual(r);
      if (I * O > 1000) {
        expect(m.max).toBeGreaterThan(0.999 * r);
        expect(m.min).toBeLessThan(-0.999 * r);
        expect(Math.abs(m.variance / ((r * r) / 3) - 1)).toBeLessThan(0.02);
      }
      tf.dispose(Object.values(p));
    }
    expect(nauInitRange(2, 1)).toBe(0.5);
  });
});

describe('regularisers, constraints and effective weights', () => {
  it('NPU/RealNPU l1 = mean |v| over all entries of all parameters; no post-step clamp; the gate is not scored', () => {
    const W_re = tf.tensor2d([
      [1, -2],
      [0.5, 0],
    ]);
    const W_im = tf.tensor2d([
      [0, 0.25],
      [-0.75, 0],
    ]);
    const g = tf.tensor1d([-0.5, 1.5]);
    const npuL1 = npuDef.regularizers!({ W_re, W_im, g }, npuDef.defaults).l1!;
    expect(npuL1.shape).toEqual([]);
    expect(npuL1.dataSync()[0]).toBeCloseTo((3.5 + 1 + 2) / 10, 6);
    const realL1 = realNpuDef.regularizers!({ W_re, g }, realNpuDef.defaults).l1!;
    expect(realL1.dataSync()[0]).toBeCloseTo((3.5 + 2) / 6, 6);
    for (const def of [npuDef, realNpuDef]) {
      expect(def.constrain).toBeUndefined();
      const eff = def.effectiveWeights({ W_re, W_im, g }, def.defaults);
      expect(eff.g!.shape).toEqual([2, 1]);
      expect(Array.from(eff.g!.dataSync())).toEqual([0, 1]);
    }
    // The sparsity error does not read the gate (the reference's export): a half-open gate scores 0.
    const discrete = { W_re: tf.tensor2d([[1], [-1]]), W_im: tf.zeros([2, 1]), g: tf.tensor1d([1, 0.5]) };
    for (const def of [npuDef, realNpuDef]) {
      expect(unitSparsityError(def as AnyDef, discrete, def.defaults as never).dataSync()[0]).toBe(0);
    }
  });

  it('NRU: NAU-type sparsity mean(min(|W|, 1 − |W|)), clamp to [−1, 1]', () => {
    const W = tf.tensor2d([
      [0.25, -0.9],
      [1.5, -0.5],
    ]);
    const regs = nruDef.regularizers!({ W }, nruDef.defaults);
    expect(regs.sparsity!.dataSync()[0]).toBeCloseTo((0.25 + 0.1 + -0.5 + 0.5) / 4, 6);
    expect(regs.oob!.dataSync()[0]).toBe(0);
    const sq = nruDef.regularizers!({ W }, { regularizer: 'squared', oobMode: 'regularized' });
    expect(sq.oob!.dataSync()[0]).toBeCloseTo(0.5 / 4, 6);
    expect(Array.from(nruDef.constrain!({ W }, nruDef.defaults).W!.dataSync())).toEqual([
      0.25,
      Math.fround(-0.9),
      1,
      -0.5,
    ]);
    expect(nruDef.constrain!({ W }, { regularizer: 'linear', oobMode: 'regularized' })).toEqual({});
  });
});

// ---------------------------------------------------------------------------------------------

const cases: [string, AnyDef, ForwardContext][] = [
  ['NPU', npuDef as AnyDef, {}],
  ['RealNPU', realNpuDef as AnyDef, {}],
  ['NRU evaluation', nruDef as AnyDef, { training: false }],
  ['NRU training', nruDef as AnyDef, { training: true }],
];

describe.each(['cpu', 'wasm'] as const)('replica axis on the %s backend', (backend) => {
  const [R, B, I, O] = [3, 5, 4, 3];
  beforeAll(async () => {
    expect(await initBackend(backend)).toBe(backend);
  });
  afterAll(async () => {
    await initBackend('cpu');
  });

  /** Per-replica parameters, perturbed so that zero/constant inits and clamps differ per replica. */
  const replicaParams = (def: AnyDef) =>
    Array.from({ length: R }, (_, r) =>
      tf.tidy(() => {
        const p = initParams(def, { inputSize: I, units: O }, def.defaults, 100 + r);
        const rng = new Rng(200 + r);
        for (const [k, t] of Object.entries(p)) {
          p[k] = tf.keep(tf.add(t, tensorOf(rng, t.shape, uniformIn(-0.8, 0.8))));
        }
        return p;
      }),
    );

  for (const [name, def, ctx] of cases) {
    it(`${name}: each replica's forward is bitwise the single-model forward`, () => {
      const sets = replicaParams(def);
      const x = tensorOf(new Rng(300), [R, B, I], signedIn(0.2, 3));
      tf.tidy(() => {
        const z = def.forward(stackParams(sets), x, def.defaults, ctx);
        expect(z.shape).toEqual([R, B, O]);
        const slices = tf.unstack(z);
        const xs = tf.unstack(x);
        for (let r = 0; r < R; r++) {
          expect(bits(slices[r]!), `replica ${r}`).toEqual(
            bits(def.forward(sets[r]!, xs[r]!, def.defaults, ctx)),
          );
        }
        expect(bits(slices[1]!)).not.toEqual(bits(slices[0]!));
      });
      tf.dispose([x, ...sets.flatMap((s) => Object.values(s))]);
    });

    it(`${name}: regularisers, constraints and effective weights per replica`, () => {
      const sets = replicaParams(def);
      tf.tidy(() => {
        const stacked = stackParams(sets);
        const regs = def.regularizers!(stacked, def.defaults);
        expect(Object.keys(regs).length).toBeGreaterThan(0);
        for (const [k, v] of Object.entries(regs)) {
          expect(v.shape, k).toEqual([R]);
          for (let r = 0; r < R; r++) {
            const single = def.regularizers!(sets[r]!, def.defaults)[k]!;
            expect(single.shape).toEqual([]);
            expect(v.dataSync()[r]).toBeCloseTo(single.dataSync()[0]!, 6);
          }
        }
        for (const [k, v] of Object.entries(def.constrain?.(stacked, def.defaults) ?? {})) {
          const slices = tf.unstack(v);
          for (let r = 0; r < R; r++) {
            expect(bits(slices[r]!), k).toEqual(bits(def.constrain!(sets[r]!, def.defaults)[k]!));
          }
        }
        for (const [k, v] of Object.entries(def.effectiveWeights(stacked, def.defaults))) {
          const slices = tf.unstack(v);
          for (let r = 0; r < R; r++) {
            expect(bits(slices[r]!), k).toEqual(bits(def.effectiveWeights(sets[r]!, def.defaults)[k]!));
          }
        }
      });
      tf.dispose(sets.flatMap((s) => Object.values(s)));
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('saveModel → loadModel', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nalm-npu-nru-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips predictions (bitwise), weights, classes and configuration, and trains on', async () => {
    const input = tf.input({ shape: [3] });
    const npu = new NPU({ units: 2, seed: 1, regularization: { l1: 1e-3 }, name: 'npu' }).apply(input);
    const real = new RealNPU({ units: 2, seed: 2, epsilon: 1e-6, name: 'real' }).apply(input);
    const nru = new NRU({
      units: 2,
      seed: 3,
      regularizer: 'squared',
      regularization: { sparsity: 0.1 },
      name: 'nru',
    }).apply(input);
    const out = tf.layers.concatenate().apply([npu, real, nru] as tf.SymbolicTensor[]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const rng = new Rng(5);
    const x = tensorOf(rng, [16, 3], uniformIn(0.5, 2)) as tf.Tensor2D;
    const y = tensorOf(rng, [16, 6], uniformIn(0, 2)) as tf.Tensor2D;
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, callbacks: [new ConstrainUnits()] });

    const path = join(dir, 'family');
    await saveModel(model, path);
    const loaded = await loadModel(path);
    expect(bits(loaded.predict(x) as tf.Tensor)).toEqual(bits(model.predict(x) as tf.Tensor));
    const a = model.getWeights();
    const b = loaded.getWeights();
    expect(b.map((w) => w.shape)).toEqual(a.map((w) => w.shape));
    b.forEach((w, i) => expect(bits(w)).toEqual(bits(a[i]!)));

    const byName = (m: tf.LayersModel) => Object.fromEntries(unitLayers(m).map((l) => [l.name, l]));
    const before = byName(model);
    const after = byName(loaded);
    expect(Object.keys(after).sort()).toEqual(['npu', 'nru', 'real']);
    for (const [name, l] of Object.entries(before)) {
      const m = after[name]! as UnitLayer;
      expect(m.constructor, name).toBe(l.constructor);
      expect(m.getConfig(), name).toEqual(l.getConfig());
    }
    expect(after.npu).toBeInstanceOf(NPU);
    expect(after.real).toBeInstanceOf(RealNPU);
    expect(after.nru).toBeInstanceOf(NRU);
    expect(after.real!.options).toEqual({ epsilon: 1e-6 });
    expect(after.nru!.options).toEqual({ regularizer: 'squared', oobMode: 'clip' });
    expect(after.npu!.regularization).toEqual({ l1: 1e-3 });

    // Trains on; a gate pushed out of [0, 1] stays out (no post-step clamp, as the reference).
    after.npu!.setWeights([
      after.npu!.getWeights()[0]!,
      after.npu!.getWeights()[1]!,
      tf.tensor1d([1.7, -0.4, 0.5]),
    ]);
    loaded.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    // One step: outside [0, 1] the output's gradient is 0, so only the L1 term moves the gate, by at
    // most about the learning rate (Adam's first step), towards 0.
    const h = await loaded.fit(x, y, {
      epochs: 1,
      batchSize: 16,
      verbose: 0,
      callbacks: [new ConstrainUnits()],
    });
    expect((h.history.loss as number[]).every(Number.isFinite)).toBe(true);
    const gate = Array.from(after.npu!.getWeights()[2]!.dataSync());
    expect(gate[0]).toBeGreaterThan(1.7 - 0.0101);
    expect(gate[0]).toBeLessThan(1.7);
    expect(gate[1]).toBeGreaterThan(-0.4);
    expect(gate[1]).toBeLessThan(-0.4 + 0.0101);
  });
});

// ---------------------------------------------------------------------------------------------

const lit = (s: string) => s.replace(/[[\]().*+?^$|\\]/g, '\\$&');

describe('wrong input rank or width', () => {
  const makers: [string, (args: object) => tf.layers.Layer][] = [
    ['NPU', (a) => new NPU({ units: 2, ...a })],
    ['RealNPU', (a) => new RealNPU({ units: 2, ...a })],
    ['NRU', (a) => new NRU({ units: 2, ...a })],
  ];
  for (const [name, make] of makers) {
    it(`${name} layer: wrong rank at build, wrong width at call`, () => {
      const model = tf.sequential();
      expect(() => model.add(make({ inputShape: [2, 3] }))).toThrow(
        new RegExp(`^${name}: expected input of shape \\[batch, features\\], received \\[null, 2, 3\\]`),
      );
      const layer = make({});
      tf.dispose(layer.apply(tf.ones([2, 3])) as tf.Tensor);
      expect(() => layer.apply(tf.ones([2, 5]))).toThrow(
        new RegExp(`^${name}: expected input of shape ${lit('[batch, 3]')}, received ${lit('[2, 5]')}`),
      );
    });

    it(`${name} layer: unknown option and bad option values are named`, () => {
      expect(() => make({ epsilonn: 1 })).toThrow(new RegExp(`^${name}: unknown option 'epsilonn'`));
    });
  }
  it('bad option values', () => {
    expect(() => new NPU({ units: 1, epsilon: 0 })).toThrow(
      "NPU: option 'epsilon' must be a finite number > 0",
    );
    expect(() => new RealNPU({ units: 1, epsilon: -1 })).toThrow("RealNPU: option 'epsilon'");
    expect(() => new NRU({ units: 1, oobMode: 'x' as never })).toThrow("NRU: option 'oobMode'");
  });

  for (const def of [npuDef, realNpuDef, nruDef] as AnyDef[]) {
    it(`${def.className} pure forward: wrong width, wrong rank, wrong replica count`, () => {
      tf.tidy(() => {
        const p = initParams(def, { inputSize: 3, units: 2 }, def.defaults, 1);
        const call = (pp: object, x: tf.Tensor) => () => def.forward(pp as never, x, def.defaults);
        expect(call(p, tf.ones([4, 5]))).toThrow(
          `${def.className}: expected input of shape [batch, 3], received [4, 5]`,
        );
        expect(call(p, tf.ones([2, 4, 3]))).toThrow(
          `${def.className}: expected input of shape [batch, 3], received [2, 4, 3] (rank 3)`,
        );
        const stacked = stackParams([p, p, p]);
        expect(call(stacked, tf.ones([2, 4, 3]))).toThrow(/first axis 3 replicas/);
        expect(call(stacked, tf.ones([3, 4, 5]))).toThrow(
          `${def.className}: expected input of shape [3, batch, 3], received [3, 4, 5]`,
        );
        expect(call(stacked, tf.ones([4, 3]))).toThrow(
          `${def.className}: expected input of shape [3, batch, 3], received [4, 3] (rank 2)`,
        );
        expect(def.forward(stacked, tf.ones([3, 4, 3]), def.defaults).shape).toEqual([3, 4, 2]);
      });
    });
  }
});
