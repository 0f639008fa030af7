/**
 * What each unit computes (issue 2): exact sums/products with discrete weights, saturated NAC and
 * NALU, the NSR comparisons, and agreement of every forward with a float64 reference of units.md.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Rng,
  initBackend,
  mulNacDef,
  nacDef,
  nacWeight,
  naluDef,
  nauDef,
  nmuDef,
  nsrDef,
  statusBits,
} from '../src/index.js';
import type { Mat } from './helpers.js';
import { f32, maxRelErr, paramsToMats, params, randMat, ref, toMat } from './helpers.js';

const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 100) };

beforeAll(async () => {
  await initBackend('cpu');
});

/** A [rows, cols] matrix of values drawn from `arb`. */
const matrix = (rows: number, cols: number, arb: fc.Arbitrary<number>) =>
  fc.array(fc.array(arb, { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows });

const dims = (maxI: number, maxO: number) =>
  fc.record({
    I: fc.integer({ min: 1, max: maxI }),
    O: fc.integer({ min: 1, max: maxO }),
    B: fc.integer({ min: 1, max: 5 }),
  });

describe('NAU', () => {
  it('with ±1/0 weights computes the exact signed subset sums', () => {
    // Inputs are dyadic k/256 with |k| ≤ 2^20, at most 8 of them: every partial sum of ±x_i is a
    // multiple of 2^-8 below 2^23 · 2^-8 in magnitude, i.e. an exact float32 value whatever order
    // the matMul kernel sums in. So float32 must equal the float64 recomputation exactly.
    const arb = dims(8, 4).chain(({ I, O, B }) =>
      fc.record({
        W: matrix(I, O, fc.constantFrom(-1, 0, 1)),
        x: matrix(
          B,
          I,
          fc.integer({ min: -(2 ** 20), max: 2 ** 20 }).map((k) => k / 256),
        ),
      }),
    );
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        const got = tf.tidy(() =>
          toMat(nauDef.forward({ W: tf.tensor2d(W) }, tf.tensor2d(x), nauDef.defaults)),
        );
        const want = x.map((row) => W[0]!.map((_, o) => row.reduce((s, xi, i) => s + W[i]![o]! * xi, 0)));
        expect(got).toEqual(want);
      }),
      RUNS,
    );
  });

  it('clamps the raw weight to [−1, 1] inside the forward pass', () => {
    // Raw weights beyond ±1 must act as ±1 (same exactness argument as above).
    const arb = dims(6, 3).chain(({ I, O, B }) =>
      fc.record({
        W: matrix(I, O, fc.constantFrom(-3, -1.5, -1, 0, 1, 1.5, 3)),
        x: matrix(B, I, fc.integer({ min: -1000, max: 1000 })),
      }),
    );
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        const got = tf.tidy(() =>
          toMat(nauDef.forward({ W: tf.tensor2d(W) }, tf.tensor2d(x), nauDef.defaults)),
        );
        const clamped = W.map((r) => r.map((v) => Math.max(-1, Math.min(1, v))));
        const want = x.map((row) =>
          clamped[0]!.map((_, o) => row.reduce((s, xi, i) => s + clamped[i]![o]! * xi, 0)),
        );
        expect(got).toEqual(want);
      }),
      RUNS,
    );
  });
});

describe('NMU', () => {
  it('with 0/1 weights computes the exact products of the selected inputs', () => {
    // Integers |x| ≤ 15, at most 6 factors: every partial product is an integer of magnitude
    // ≤ 15^6 ≈ 1.1e7 < 2^24, hence exact in float32; a factor with W = 0 is exactly 1 and one with
    // W = 1 exactly x. Zero and negative inputs are included (the NMU handles both).
    const arb = dims(6, 4).chain(({ I, O, B }) =>
      fc.record({
        W: matrix(I, O, fc.constantFrom(0, 1)),
        x: matrix(B, I, fc.integer({ min: -15, max: 15 })),
      }),
    );
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        const got = tf.tidy(() =>
          toMat(nmuDef.forward({ W: tf.tensor2d(W) }, tf.tensor2d(x), nmuDef.defaults)),
        );
        const want = x.map((row) =>
          W[0]!.map((_, o) => row.reduce((p, xi, i) => (W[i]![o] === 1 ? p * xi : p), 1)),
        );
        // toEqual would tell −0 from 0 (a product with a negative factor and a zero); compare values.
        expect(got.map((r) => r.map((v) => v + 0))).toEqual(want.map((r) => r.map((v) => v + 0)));
      }),
      RUNS,
    );
  });
});

describe('NAC+', () => {
  it('with saturated Ŵ, M̂ has effective weights within 1e−6 of ±1/0 and sums accordingly', () => {
    const arb = dims(6, 4).chain(({ I, O, B }) =>
      fc.record({
        target: matrix(I, O, fc.constantFrom(-1, 0, 1)),
        mag: fc.double({ min: 20, max: 40, noNaN: true }),
        zeroSign: matrix(I, O, fc.constantFrom(-1, 1)),
        x: matrix(B, I, fc.integer({ min: -100, max: 100 })),
      }),
    );
    fc.assert(
      fc.property(arb, ({ target, mag, zeroSign, x }) => {
        // W = 1: Ŵ = M̂ = +mag; W = −1: Ŵ = −mag, M̂ = +mag; W = 0: M̂ = −mag (Ŵ of either sign).
        const wHat = target.map((r, i) => r.map((t, o) => (t === 0 ? zeroSign[i]![o]! : t) * mag));
        const mHat = target.map((r) => r.map((t) => (t === 0 ? -mag : mag)));
        const [w, z] = tf.tidy(() => {
          const p = { W_hat: tf.tensor2d(wHat), M_hat: tf.tensor2d(mHat) };
          return [toMat(nacWeight(p.W_hat, p.M_hat)), toMat(nacDef.forward(p, tf.tensor2d(x), {}))];
        });
        w.forEach((r, i) =>
          r.forEach((v, o) => expect(Math.abs(v - target[i]![o]!)).toBeLessThanOrEqual(1e-6)),
        );
        // |z − x·W*| ≤ Σ|x_i|·1e−6 ≤ 6·100·1e−6: the sum follows the saturated weights.
        const want = x.map((row) =>
          target[0]!.map((_, o) => row.reduce((s, xi, i) => s + target[i]![o]! * xi, 0)),
        );
        expect(maxRelErr(z, want)).toBeLessThanOrEqual(1e-3);
      }),
      RUNS,
    );
  });
});

describe('NALU', () => {
  it('with the gate saturated equals its additive or its multiplicative path', () => {
    // Gate logits ±30 per output via the gate bias (G = 0): σ(30) is exactly 1 in float32, so the
    // additive outputs must equal NAC+(x) bitwise; σ(−30) ≈ 9e−14, so the multiplicative outputs
    // equal NAC•(x) up to 9e−14·|a| (relative 1e−6 is ample).
    const arb = fc
      .record({
        I: fc.integer({ min: 1, max: 5 }),
        O: fc.integer({ min: 1, max: 4 }),
        B: fc.integer({ min: 1, max: 5 }),
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        separateWeights: fc.boolean(),
      })
      .chain((d) =>
        fc.record({
          d: fc.constant(d),
          gate: fc.array(fc.constantFrom(-30, 30), { minLength: d.O, maxLength: d.O }),
          x: matrix(d.B, d.I, fc.double({ min: -4, max: 4, noNaN: true })),
        }),
      );
    fc.assert(
      fc.property(arb, ({ d, gate, x }) => {
        const opts = { ...naluDef.defaults, separateWeights: d.separateWeights, gateBias: true };
        tf.tidy(() => {
          const p = params(naluDef as never, d.I, d.O, opts, d.seed);
          p.G = tf.zerosLike(p.G!);
          p.gate_bias = tf.tensor1d(gate);
          const xt = tf.tensor2d(x);
          const z = toMat(naluDef.forward(p, xt, opts));
          const add = toMat(nacDef.forward({ W_hat: p.W_hat!, M_hat: p.M_hat! }, xt, {}));
          const mulP = d.separateWeights ? { W_hat: p.W_hat_m!, M_hat: p.M_hat_m! } : p;
          const mul = toMat(mulNacDef.forward(mulP, xt, mulNacDef.defaults));
          z.forEach((row, b) =>
            row.forEach((v, o) => {
              // + 0: a −0 of NAC+ comes out as +0 after adding (1 − g)·m = +0.
              if (gate[o]! > 0) expect(v + 0).toBe(add[b]![o]! + 0);
              else
                expect(Math.abs(v - mul[b]![o]!)).toBeLessThanOrEqual(
                  1e-6 * Math.max(1, Math.abs(mul[b]![o]!)),
                );
            }),
          );
        });
      }),
      RUNS,
    );
  });
});

describe('NSR', () => {
  // V1 = [20, −20]ᵀ selects x1, V2 = [−20, 20]ᵀ selects x2: the other operand gets weight
  // e^−40 ≈ 4e−18, far below half an ulp of any integer ≤ 1e6, so o1 = x1, o2 = x2 and d = x1 − x2
  // exactly (integers below 2^24). With ζ = 1 an integer |d| ≥ 1 gives |s| ≥ tanh(1) = 0.76 and
  // q ≤ −0.16, while d = 0 gives s = 0, q = 1.
  const select = { V1: [[20], [-20]], V2: [[-20], [20]] };
  // x1 > x2: u = 10·s ≥ 7.6 (σ ≥ 0.9995) for d ≥ 1 and ≤ −7.6 for d ≤ −1.
  const greater = { ...select, W_sign: [[10]], W_zero: [[0]], b: [0] };
  // x1 = x2: u = −6 + 20·q is 14 at d = 0 and ≤ −9.2 for |d| ≥ 1.
  const equal = { ...select, W_sign: [[0]], W_zero: [[20]], b: [-6] };
  const run = (p: typeof greater, x: Mat) =>
    tf.tidy(() =>
      toMat(
        nsrDef.forward(
          {
            V1: tf.tensor2d(p.V1),
            V2: tf.tensor2d(p.V2),
            W_sign: tf.tensor2d(p.W_sign),
            W_zero: tf.tensor2d(p.W_zero),
            b: tf.tensor1d(p.b),
          },
          tf.tensor2d(x),
          nsrDef.defaults,
        ),
      ),
    );
  const int = fc.integer({ min: -1_000_000, max: 1_000_000 });
  const neighbour = fc
    .tuple(int, fc.constantFrom(-1, 1))
    .map(([v, e]) => [v, Math.max(-1e6, Math.min(1e6, v + e))] as [number, number]);
  // Pairs that differ, often by just 1 (the hardest case for both comparisons).
  const unequal = fc.oneof(fc.tuple(int, int), neighbour).filter(([a, b]) => a !== b);
  // For '=', a third of the pairs are equal.
  const mixed = fc.oneof(
    unequal,
    int.map((v) => [v, v] as [number, number]),
  );
  const batch = (pair: fc.Arbitrary<[number, number]>) => fc.array(pair, { minLength: 1, maxLength: 16 });

  it('realises x1 > x2 vs x1 < x2 for integers up to 1e6', () => {
    fc.assert(
      fc.property(batch(unequal), (x) => {
        const out = run(greater, x);
        x.forEach(([a, b], i) => {
          const [y, notY] = out[i]!;
          if (a > b) expect(y).toBeGreaterThan(0.99);
          else expect(y).toBeLessThan(0.01);
          expect(notY).toBeCloseTo(1 - y!, 6);
        });
      }),
      RUNS,
    );
  });

  it('realises x1 = x2 vs x1 ≠ x2 for integers up to 1e6', () => {
    fc.assert(
      fc.property(batch(mixed), (x) => {
        const out = run(equal, x);
        x.forEach(([a, b], i) => {
          const [y, notY] = out[i]!;
          if (a === b) expect(y).toBeGreaterThan(0.99);
          else expect(y).toBeLessThan(0.01);
          expect(notY).toBeCloseTo(1 - y!, 6);
        });
      }),
      RUNS,
    );
  });

  it('status bits match the check values of units.md (ζ = 1) and scale with ζ', () => {
    const [s, q] = tf.tidy(() => {
      const b = statusBits(tf.tensor1d([0, 1, 2, -1, -2]), 1);
      return [b.sign.arraySync() as number[], b.zero.arraySync() as number[]];
    });
    expect(s[0]).toBe(0);
    expect(q[0]).toBe(1);
    // units.md gives 4 decimals (q(1) = −0.160051… is printed −0.1600): allow 1e−4.
    const table: [number, number, number][] = [
      [1, 0.7616, -0.16],
      [2, 0.964, -0.8586],
      [3, -0.7616, -0.16], // d = −1: the sign bit is odd, the zero bit even
      [4, -0.964, -0.8586],
    ];
    for (const [i, sign, zero] of table) {
      expect(Math.abs(s[i]! - sign)).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(q[i]! - zero)).toBeLessThanOrEqual(1e-4);
    }
    // ζ scales d: ζ = 2 at d = 0.5 is ζ = 1 at d = 1.
    const scaled = tf.tidy(() => statusBits(tf.tensor1d([0.5]), 2).sign.arraySync() as number[]);
    expect(Math.abs(scaled[0]! - 0.7616)).toBeLessThanOrEqual(1e-4);
  });
});

describe('every forward agrees with a float64 reference of units.md', () => {
  // Random parameters from the unit's own initialiser (float32 values, read back exactly) and inputs
  // away from 0 (NAC•/NALU take log|x|). Float32 evaluation of these short formulas differs from
  // float64 by a few ulps per operation: 1e−4 relative (to max(1, |value|)) is a loose bound, yet
  // any formula slip (a missing σ, a wrong softmax axis, a transposed weight) is off by far more.
  const cases = [
    { name: 'NAC', def: nacDef, opts: {}, ref: (p: Record<string, Mat>, x: Mat) => ref.nac(p, x) },
    {
      name: 'MulNAC',
      def: mulNacDef,
      opts: mulNacDef.defaults,
      ref: (p: Record<string, Mat>, x: Mat) => ref.mulNac(p, x),
    },
    {
      name: 'NALU shared',
      def: naluDef,
      opts: naluDef.defaults,
      ref: (p: Record<string, Mat>, x: Mat) => ref.nalu(p, x, false),
    },
    {
      name: 'NALU separate + gate bias',
      def: naluDef,
      opts: { ...naluDef.defaults, separateWeights: true, gateBias: true },
      ref: (p: Record<string, Mat>, x: Mat) => ref.nalu(p, x, true),
    },
    {
      name: 'NAU',
      def: nauDef,
      opts: nauDef.defaults,
      ref: (p: Record<string, Mat>, x: Mat) => ref.nau(p, x),
    },
    {
      name: 'NMU',
      def: nmuDef,
      opts: nmuDef.defaults,
      ref: (p: Record<string, Mat>, x: Mat) => ref.nmu(p, x),
    },
    {
      name: 'NSR (redundancy 3, ζ 0.5)',
      def: nsrDef,
      opts: { zeta: 0.5, redundancy: 3 },
      ref: (p: Record<string, Mat>, x: Mat) => ref.nsr(p, x, 0.5),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          (I, O, seed) => {
            const rng = new Rng(seed, 'x');
            tf.tidy(() => {
              const p = params(c.def as never, I, O, c.opts, seed);
              // Perturb every parameter: zero-initialised ones (biases) would hide a formula slip, and
              // weights pushed out of their box check that the forward clamps (NAU) or does not (NMU).
              for (const [k, t] of Object.entries(p)) {
                p[k] = tf.add(t, tf.tensor(f32(randMat(rng, 1, t.size, -0.8, 0.8))[0]!, t.shape));
              }
              const sign = () => (rng.next() < 0.5 ? -1 : 1);
              const x = f32(randMat(rng, 4, I, 0.5, 3).map((r) => r.map((v) => v * sign())));
              const got = toMat(c.def.forward(p, tf.tensor2d(x), c.opts as never));
              expect(maxRelErr(got, c.ref(paramsToMats(p), x))).toBeLessThanOrEqual(1e-4);
            });
          },
        ),
        RUNS,
      );
    });
  }
});
