/**
 * The wider NALM family (units.md "Further units"): iNALU, G-NALU, NMRU and sNMU. The same kinds of
 * test as the core units: exact-weights properties and float64 references, central finite
 * differences, initial values, the replica axis, save → load and bad input.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ForwardContext, UnitDef, UnitLayer } from '../src/index.js';
import {
  ConstrainUnits,
  Rng,
  initBackend,
  initParams,
  nacInitRange,
  nacWeight,
  naluDef,
  nmuDef,
  resolveOptions,
  unitLayers,
  xavierUniformRange,
} from '../src/index.js';
import { INALU, INALU_INIT, inaluDef } from '../src/inalu.js';
import { GNALU, LN_PHI, PHI, gnaluAsNaluParams, gnaluDef, sigmoidPhi, tanhPhi } from '../src/gnalu.js';
import { NMRU, nmruDef } from '../src/nmru.js';
import { SNMU, SNMU_NOISE, snmuDef, snmuNoisyProduct } from '../src/snmu.js';
import { loadModel, saveModel } from '../src/node.js';
import type { Mat } from './helpers.js';
import { checkGradients as sharedCheckGradients, moments, signed, uniform } from './helpers.js';
import { bits, maxRelErr, params, stackParams, toMat } from './helpers.js';

const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 100) };
type AnyDef = UnitDef<never>;

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
});

// ---------------------------------------------------------------------------------------------
// Float64 references, written from units.md.

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const tanhPhiRef = (v: number) => (PHI ** (2 * v) - 1) / (PHI ** (2 * v) + 1);
const sigmoidPhiRef = (v: number) => 1 / (1 + PHI ** -v);
const mm = (a: Mat, b: Mat): Mat =>
  a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
const map2 = (a: Mat, f: (v: number, i: number, j: number) => number): Mat =>
  a.map((r, i) => r.map((v, j) => f(v, i, j)));

/** iNALU reference: z and, per entry, the scale |g·a| + (1 − g)·m of its terms before cancellation. */
function inaluRef(
  p: Record<string, Mat>,
  g: number[],
  x: Mat,
  eps = 1e-7,
  omega = 20,
): { z: Mat; scale: Mat } {
  const wa = map2(p.W_hat_a!, (v, i, j) => Math.tanh(v) * sigmoid(p.M_hat_a![i]![j]!));
  const wm = map2(p.W_hat_m!, (v, i, j) => Math.tanh(v) * sigmoid(p.M_hat_m![i]![j]!));
  const a = mm(x, wa);
  const logs = mm(
    map2(x, (v) => Math.log(Math.max(Math.abs(v), eps))),
    wm,
  );
  const m = map2(logs, (v) => Math.exp(Math.min(v, omega)));
  const z = map2(a, (av, b, o) => {
    const s = x[b]!.reduce((prod, xi, i) => {
      const w = Math.abs(wm[i]![o]!);
      return prod * (Math.sign(xi) * w + 1 - w);
    }, 1);
    const gate = sigmoid(g[o]!);
    return gate * av + (1 - gate) * m[b]![o]! * s;
  });
  const scale = map2(a, (av, b, o) => {
    const gate = sigmoid(g[o]!);
    return Math.abs(gate * av) + (1 - gate) * m[b]![o]!;
  });
  return { z, scale };
}

/** G-NALU reference from the base-φ definitions: z and the scale |g·a| + (1 − g)·m of its terms. */
function gnaluRef(
  p: Record<string, Mat>,
  bias: number[] | null,
  x: Mat,
  separate: boolean,
  eps = 1e-7,
): { z: Mat; scale: Mat } {
  const w = (wh: Mat, mh: Mat) => map2(wh, (v, i, j) => tanhPhiRef(v) * sigmoidPhiRef(mh[i]![j]!));
  const wa = w(p.W_hat!, p.M_hat!);
  const wm = separate ? w(p.W_hat_m!, p.M_hat_m!) : wa;
  const a = mm(x, wa);
  const logs = mm(
    map2(x, (v) => Math.log(Math.abs(v) + eps)),
    wm,
  );
  const logits = mm(x, p.G!);
  const gate = (b: number, o: number) => sigmoidPhiRef(logits[b]![o]! + (bias ? bias[o]! : 0));
  return {
    z: map2(a, (av, b, o) => gate(b, o) * av + (1 - gate(b, o)) * Math.exp(logs[b]![o]!)),
    scale: map2(a, (av, b, o) => Math.abs(gate(b, o) * av) + (1 - gate(b, o)) * Math.exp(logs[b]![o]!)),
  };
}

const nmuRef = (W: Mat, x: Mat): Mat =>
  x.map((row) =>
    W[0]!.map((_, o) => row.reduce((prod, xi, i) => prod * (W[i]![o]! * xi + 1 - W[i]![o]!), 1)),
  );

// ---------------------------------------------------------------------------------------------
// Arbitraries. Values k/1024 are exact in float32, so float64 references see the same inputs.

const matrix = (rows: number, cols: number, arb: fc.Arbitrary<number>) =>
  fc.array(fc.array(arb, { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows });
const vector = (n: number, arb: fc.Arbitrary<number>) => fc.array(arb, { minLength: n, maxLength: n });
const dyadic = (lo: number, hi: number) =>
  fc.integer({ min: Math.round(lo * 1024), max: Math.round(hi * 1024) }).map((k) => k / 1024);
const nonzeroInt = (max: number) => fc.integer({ min: 1, max }).chain((v) => fc.constantFrom(v, -v));
const dims = (maxI: number, maxO: number) =>
  fc.record({
    I: fc.integer({ min: 1, max: maxI }),
    O: fc.integer({ min: 1, max: maxO }),
    B: fc.integer({ min: 1, max: 5 }),
  });
const t2 = (m: Mat) => tf.tensor2d(m);

/** Relative error that fails loudly on NaN. */
function relErr(a: Mat, b: Mat): number {
  const e = maxRelErr(a, b);
  return Number.isNaN(e) ? Infinity : e;
}

// ---------------------------------------------------------------------------------------------

describe('iNALU', () => {
  it('with a saturated open gate (ĝ = 30) is bitwise its additive path x · W_a', () => {
    const arb = dims(6, 3).chain(({ I, O, B }) =>
      fc.record({
        Wa: matrix(I, O, dyadic(-3, 3)),
        Ma: matrix(I, O, dyadic(-3, 3)),
        Wm: matrix(I, O, dyadic(-3, 3)),
        Mm: matrix(I, O, dyadic(-3, 3)),
        x: matrix(B, I, dyadic(-50, 50)),
        O: fc.constant(O),
      }),
    );
    fc.assert(
      fc.property(arb, ({ Wa, Ma, Wm, Mm, x, O }) => {
        tf.tidy(() => {
          const p = {
            W_hat_a: t2(Wa),
            M_hat_a: t2(Ma),
            W_hat_m: t2(Wm),
            M_hat_m: t2(Mm),
            g_hat: tf.fill([O], 30),
          };
          const z = inaluDef.forward(p, t2(x), inaluDef.defaults);
          const a = tf.matMul(t2(x), nacWeight(p.W_hat_a, p.M_hat_a));
          expect(bits(z)).toEqual(bits(a));
        });
      }),
      RUNS,
    );
  });

  it('with a closed gate (ĝ = −30) and W_m ∈ {−1, 0, 1} multiplies and divides exactly, sign included', () => {
    // Ŵ ∈ {−20, 0, 20}, M̂ = 20 give W_m ∈ {−1, 0, 1} exactly in float32 (tanh(20), σ(20) round to
    // 1). Then z = Π_{W=1} x_i / Π_{W=−1} x_i for x ≠ 0, with the sign: this is the true product,
    // not a reimplementation. |Σ W log|x|| ≤ 6·log 9 < ω, so the cap is not involved.
    const arb = dims(6, 3).chain(({ I, O, B }) =>
      fc.record({
        Wm: matrix(I, O, fc.constantFrom(-1, 0, 1)),
        Wa: matrix(I, O, dyadic(-3, 3)),
        x: matrix(B, I, nonzeroInt(9)),
        O: fc.constant(O),
      }),
    );
    fc.assert(
      fc.property(arb, ({ Wm, Wa, x, O }) => {
        const got = tf.tidy(() => {
          const p = {
            W_hat_a: t2(Wa),
            M_hat_a: t2(Wa),
            W_hat_m: t2(Wm.map((r) => r.map((w) => 20 * w))),
            M_hat_m: tf.fill([Wm.length, O], 20),
            g_hat: tf.fill([O], -30),
          };
          return toMat(inaluDef.forward(p, t2(x), inaluDef.defaults));
        });
        const want = x.map((row) =>
          Wm[0]!.map((_, o) => row.reduce((acc, xi, i) => acc * xi ** Wm[i]![o]!, 1)),
        );
        got.forEach((row, b) =>
          row.forEach((v, o) => {
            const w = want[b]![o]!;
            expect(Math.sign(v), `sign [${b}, ${o}]`).toBe(Math.sign(w));
            expect(Math.abs(v - w) / Math.abs(w), `[${b}, ${o}]: ${v} vs ${w}`).toBeLessThan(1e-5);
          }),
        );
      }),
      RUNS,
    );
  });

  it('agrees with a float64 reference of units.md for random parameters and inputs (zeros included)', () => {
    const arb = dims(5, 3).chain(({ I, O, B }) =>
      fc.record({
        W_hat_a: matrix(I, O, dyadic(-3, 3)),
        M_hat_a: matrix(I, O, dyadic(-3, 3)),
        W_hat_m: matrix(I, O, dyadic(-3, 3)),
        M_hat_m: matrix(I, O, dyadic(-3, 3)),
        g: vector(O, dyadic(-3, 3)),
        x: matrix(B, I, fc.oneof(fc.constant(0), dyadic(-4, 4))),
      }),
    );
    fc.assert(
      fc.property(arb, ({ g, x, ...w }) => {
        const got = tf.tidy(() => {
          const p: Record<string, tf.Tensor> = { g_hat: tf.tensor1d(g) };
          for (const [k, v] of Object.entries(w)) p[k] = t2(v);
          return toMat(inaluDef.forward(p, t2(x), inaluDef.defaults));
        });
        // Float32 rounding is relative to the size of the terms, not of z: the sign factors
        // sign(x)·|w| + 1 − |w| cancel for x < 0, |w| ≈ 0.5, so |z| can be far below m. Zeros give
        // log(ε) ≈ −16.1: up to 5 exponent terms of magnitude ≤ 16 rounded to a few ulps each leave
        // ~2.4e−5 relative error in m. Hence |Δz| ≤ 1e−4 · max(1, |g·a| + (1 − g)·m); a wrong
        // formula is off by O(1) of that scale.
        const { z: want, scale } = inaluRef(w, g, x);
        got.forEach((row, b) =>
          row.forEach((v, o) => {
            const err = Math.abs(v - want[b]![o]!) / Math.max(1, scale[b]![o]!);
            expect(err, `[${b}, ${o}]: ${v} vs ${want[b]![o]!}`).toBeLessThan(1e-4);
          }),
        );
      }),
      RUNS,
    );
  });

  it('caps the log-space sum at ω and floors |x| at ε', () => {
    tf.tidy(() => {
      const one = { W_hat_m: tf.fill([1, 1], 20), M_hat_m: tf.fill([1, 1], 20) }; // W_m = 1
      const p = { W_hat_a: tf.zeros([1, 1]), M_hat_a: tf.zeros([1, 1]), ...one, g_hat: tf.fill([1], -200) };
      const z = inaluDef.forward(p, tf.tensor2d([[1e12], [-1e12], [0], [3]]), inaluDef.defaults).dataSync();
      expect(z[0]).toBeCloseTo(Math.fround(Math.exp(20)), -2); // exp(min(27.6, 20))
      expect(z[1]).toBeCloseTo(-Math.fround(Math.exp(20)), -2); // sign survives the cap
      expect(z[2]).toBe(0); // sign(0)·1 + 1 − 1 = 0
      expect(z[3]).toBeCloseTo(3, 5);
      const capped = inaluDef.forward(p, tf.tensor2d([[1e12]]), { epsilon: 1e-7, omega: 5 }).dataSync();
      expect(capped[0]).toBeCloseTo(Math.exp(5), 3);
      // W_m = −1 divides: 1/max(|x|, ε) with x = 1e−9 is 1/ε, not 1/x.
      const inv = { ...p, W_hat_m: tf.fill([1, 1], -20) };
      const d = inaluDef.forward(inv, tf.tensor2d([[1e-9]]), inaluDef.defaults).dataSync();
      expect(d[0]! / 1e7).toBeCloseTo(1, 4);
    });
  });

  it("regulariser 'reg' is Σ over raw parameters of mean(max(20 − |v|, 0))", () => {
    tf.tidy(() => {
      const p = {
        W_hat_a: tf.tensor2d([
          [1, -25],
          [0.5, 19],
        ]),
        M_hat_a: tf.tensor2d([
          [30, 2],
          [-2, 0],
        ]),
        W_hat_m: tf.tensor2d([
          [0, 0],
          [0, 0],
        ]),
        M_hat_m: tf.tensor2d([
          [-21, 21],
          [20, -20],
        ]),
        g_hat: tf.tensor1d([3, -40]),
      };
      const want = (19 + 0 + 19.5 + 1) / 4 + (0 + 18 + 18 + 20) / 4 + 20 + 0 + 17 / 2;
      const regs = inaluDef.regularizers!(p, inaluDef.defaults);
      expect(Object.keys(regs)).toEqual(['reg']);
      expect(regs.reg!.shape).toEqual([]);
      expect(regs.reg!.dataSync()[0]).toBeCloseTo(want, 5);
    });
  });
});

describe('G-NALU', () => {
  it('tanh_φ and σ_φ match their definitions (φ^{2x} − 1)/(φ^{2x} + 1) and 1/(1 + φ^{−x})', () => {
    fc.assert(
      fc.property(vector(16, dyadic(-30, 30)), (v) => {
        const [t, s] = tf.tidy(() => [
          tanhPhi(tf.tensor1d(v)).arraySync(),
          sigmoidPhi(tf.tensor1d(v)).arraySync(),
        ]);
        v.forEach((x, i) => {
          expect(Math.abs((t as number[])[i]! - tanhPhiRef(x))).toBeLessThan(1e-6);
          expect(Math.abs((s as number[])[i]! - sigmoidPhiRef(x))).toBeLessThan(1e-6);
        });
      }),
      RUNS,
    );
    expect(LN_PHI).toBeCloseTo(0.48121182505960347, 15);
  });

  for (const [label, separate, gateBias] of [
    ['shared weights', false, false],
    ['separate weights + gate bias', true, true],
  ] as const) {
    it(`${label}: agrees with a float64 reference written with base φ, and is the NALU on ln φ·params`, () => {
      const opts = { ...gnaluDef.defaults, separateWeights: separate, gateBias };
      const arb = dims(5, 3).chain(({ I, O, B }) =>
        fc.record({
          W_hat: matrix(I, O, dyadic(-4, 4)),
          M_hat: matrix(I, O, dyadic(-4, 4)),
          W_hat_m: matrix(I, O, dyadic(-4, 4)),
          M_hat_m: matrix(I, O, dyadic(-4, 4)),
          G: matrix(I, O, dyadic(-3, 3)),
          bias: vector(O, dyadic(-3, 3)),
          x: matrix(B, I, dyadic(-3, 3)),
        }),
      );
      fc.assert(
        fc.property(arb, ({ bias, x, W_hat_m, M_hat_m, ...w }) => {
          const mats: Record<string, Mat> = separate ? { ...w, W_hat_m, M_hat_m } : w;
          const [got, viaNalu] = tf.tidy(() => {
            const p: Record<string, tf.Tensor> = {};
            for (const [k, v] of Object.entries(mats)) p[k] = t2(v);
            if (gateBias) p.gate_bias = tf.tensor1d(bias);
            const z = gnaluDef.forward(p, t2(x), opts);
            const n = naluDef.forward(gnaluAsNaluParams(p), t2(x), opts);
            return [toMat(z), toMat(n)];
          });
          expect(got).toEqual(viaNalu);
          // As for the iNALU: x = 0 gives log ε ≈ −16.1 in the exponent, whose float32 rounding is
          // relative to the size of the terms g·a and (1 − g)·m, which may cancel in z.
          const { z: want, scale } = gnaluRef(mats, gateBias ? bias : null, x, separate);
          got.forEach((row, b) =>
            row.forEach((v, o) => {
              const err = Math.abs(v - want[b]![o]!) / Math.max(1, scale[b]![o]!);
              expect(err, `[${b}, ${o}]: ${v} vs ${want[b]![o]!}`).toBeLessThan(1e-4);
            }),
          );
        }),
        RUNS,
      );
    });
  }

  it('differs from the NALU with the same raw parameters (φ really is the base)', () => {
    tf.tidy(() => {
      const p = params(gnaluDef as AnyDef, 3, 2, gnaluDef.defaults, 5);
      const x = tf.tensor2d([[1, -2, 0.5]]);
      expect(bits(gnaluDef.forward(p, x, gnaluDef.defaults))).not.toEqual(
        bits(naluDef.forward(p, x, naluDef.defaults)),
      );
      const w = gnaluDef.effectiveWeights(p, gnaluDef.defaults).W!.dataSync();
      const wh = p.W_hat!.dataSync();
      const mh = p.M_hat!.dataSync();
      w.forEach((v, i) => expect(v).toBeCloseTo(tanhPhiRef(wh[i]!) * sigmoidPhiRef(mh[i]!), 6));
    });
  });
});

describe('NMRU', () => {
  it('with 0/1 weights multiplies and divides integer inputs exactly (within float32 rounding)', () => {
    const arb = dims(4, 3).chain(({ I, O, B }) =>
      fc.record({ W: matrix(2 * I, O, fc.constantFrom(0, 1)), x: matrix(B, I, nonzeroInt(12)) }),
    );
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        const got = tf.tidy(() => toMat(nmruDef.forward({ W: t2(W) }, t2(x), nmruDef.defaults)));
        const I = x[0]!.length;
        const want = x.map((row) =>
          W[0]!.map((_, o) =>
            row.reduce((acc, xi, i) => acc * (W[i]![o] ? xi : 1) * (W[I + i]![o] ? 1 / xi : 1), 1),
          ),
        );
        // 1/(x + 1e−7) is 1/x to ≤ 1.2e−7 relative; ≤ 8 factors.
        expect(relErr(got, want)).toBeLessThan(2e-6);
        got.forEach((row, b) => row.forEach((v, o) => expect(Math.sign(v)).toBe(Math.sign(want[b]![o]!))));
      }),
      RUNS,
    );
  });

  it('agrees with a float64 NMU over [x, 1/(x + ε)] for random weights, with the ε option', () => {
    const arb = dims(4, 3).chain(({ I, O, B }) =>
      fc.record({
        W: matrix(2 * I, O, dyadic(0, 1)),
        x: matrix(
          B,
          I,
          dyadic(0.25, 4).chain((v) => fc.constantFrom(v, -v)),
        ),
        eps: fc.constantFrom(1e-7, 1e-3, 0.1),
      }),
    );
    fc.assert(
      fc.property(arb, ({ W, x, eps }) => {
        const opts = { ...nmruDef.defaults, epsilon: eps };
        const got = tf.tidy(() => toMat(nmruDef.forward({ W: t2(W) }, t2(x), opts)));
        const xe = x.map((r) => [...r, ...r.map((v) => 1 / (Math.fround(v + eps) as number))]);
        expect(relErr(got, nmuRef(W, xe))).toBeLessThan(2e-5);
      }),
      RUNS,
    );
  });

  it('clamps, regularises and reports weights as the NMU does', () => {
    tf.tidy(() => {
      const W = tf.tensor2d([
        [1.3, -0.2],
        [0.4, 0.7],
        [0.9, 0.1],
        [-1, 2],
      ]);
      const opts = { ...nmruDef.defaults, regularizer: 'squared' as const, oobMode: 'regularized' as const };
      expect(nmruDef.constrain!({ W }, nmruDef.defaults).W!.arraySync()).toEqual(
        nmuDef.constrain!({ W }, nmuDef.defaults).W!.arraySync(),
      );
      const r = nmruDef.regularizers!({ W }, opts);
      const n = nmuDef.regularizers!({ W }, opts);
      expect(Object.keys(r)).toEqual(['sparsity', 'oob']);
      for (const k of Object.keys(n)) expect(bits(r[k]!)).toEqual(bits(n[k]!));
      expect(bits(nmruDef.effectiveWeights({ W }, opts).W!)).toEqual(bits(tf.clipByValue(W, 0, 1)));
    });
  });
});

describe('sNMU', () => {
  it('at evaluation is bitwise the NMU (training unset or false)', () => {
    const arb = dims(6, 3).chain(({ I, O, B }) =>
      fc.record({ W: matrix(I, O, dyadic(-0.5, 1.5)), x: matrix(B, I, dyadic(-5, 5)) }),
    );
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        tf.tidy(() => {
          const want = bits(nmuDef.forward({ W: t2(W) }, t2(x), nmuDef.defaults));
          expect(bits(snmuDef.forward({ W: t2(W) }, t2(x), snmuDef.defaults))).toEqual(want);
          expect(bits(snmuDef.forward({ W: t2(W) }, t2(x), snmuDef.defaults, { training: false }))).toEqual(
            want,
          );
        });
      }),
      RUNS,
    );
  });

  it('in training with 0/1 weights still computes the exact product: the noise cancels', () => {
    const arb = dims(5, 3).chain(({ I, O, B }) =>
      fc.record({ W: matrix(I, O, fc.constantFrom(0, 1)), x: matrix(B, I, fc.integer({ min: -9, max: 9 })) }),
    );
    fc.assert(
      fc.property(arb, ({ W, x }) => {
        const got = tf.tidy(() =>
          toMat(snmuDef.forward({ W: t2(W) }, t2(x), snmuDef.defaults, { training: true })),
        );
        const want = nmuRef(W, x);
        // Numerator and denominator are products of ≤ 5 float32 factors (≤ 45 each): ~1e−6 relative.
        expect(relErr(got, want)).toBeLessThan(1e-5);
      }),
      RUNS,
    );
  });

  it('in training draws n ~ U[1, 5] shaped like x (recovered from z = (0.5·0·n + 0.5)/(0.5·n + 0.5))', () => {
    tf.tidy(() => {
      const B = 4000;
      const z = snmuDef
        .forward({ W: tf.fill([1, 1], 0.5) }, tf.zeros([B, 1]), snmuDef.defaults, { training: true })
        .dataSync();
      const n = Array.from(z, (v) => 1 / v - 1);
      const lo = Math.min(...n);
      const hi = Math.max(...n);
      expect(lo).toBeGreaterThanOrEqual(SNMU_NOISE.lo - 1e-4);
      expect(hi).toBeLessThanOrEqual(SNMU_NOISE.hi + 1e-4);
      expect(lo).toBeLessThan(1.05);
      expect(hi).toBeGreaterThan(4.95);
      const mean = n.reduce((a, b) => a + b, 0) / B;
      // U[1, 5]: mean 3, sd 4/√12 ≈ 1.155, SE ≈ 0.018.
      expect(Math.abs(mean - 3)).toBeLessThan(0.08);
      // Every row gets its own noise.
      expect(new Set(n.map((v) => v.toFixed(4))).size).toBeGreaterThan(B / 2);
    });
  });

  it('unseeded noise differs between calls; a noiseSeed repeats it and is NMU(x ⊙ n)/NMU(n)', () => {
    tf.tidy(() => {
      const W = tf.tensor2d([
        [0.3, 0.8],
        [0.6, 0.2],
        [0.5, 0.9],
      ]);
      const x = tf.tensor2d([
        [1.5, -2, 0.5],
        [3, 0.25, -1],
      ]);
      const train = { training: true };
      const a = snmuDef.forward({ W }, x, snmuDef.defaults, train);
      const b = snmuDef.forward({ W }, x, snmuDef.defaults, train);
      expect(bits(a)).not.toEqual(bits(b));
      expect(bits(a)).not.toEqual(bits(nmuDef.forward({ W }, x, nmuDef.defaults)));
      const seeded = { ...snmuDef.defaults, noiseSeed: 42 };
      const s1 = snmuDef.forward({ W }, x, seeded, train);
      const s2 = snmuDef.forward({ W }, x, seeded, train);
      expect(bits(s1)).toEqual(bits(s2));
      const n = tf.randomUniform(x.shape, 1, 5, 'float32', 42);
      expect(bits(s1)).toEqual(bits(snmuNoisyProduct(x, W, n)));
      const nv = toMat(n);
      const xe = toMat(x).map((r, i) => r.map((v, j) => v * nv[i]![j]!));
      const Wm = toMat(W);
      const want = map2(nmuRef(Wm, xe), (v, i, j) => v / nmuRef(Wm, nv)[i]![j]!);
      expect(relErr(toMat(s1), want)).toBeLessThan(1e-5);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Finite differences (cpu).

/** The shared finite-difference check (helpers.ts); returns how many partials it compared. */
function checkGradients(
  def: AnyDef,
  p: Record<string, tf.Tensor>,
  x: tf.Tensor,
  opts: object,
  withRegularizers = false,
  ctx?: ForwardContext,
): number {
  return sharedCheckGradients(def, p, x, opts, withRegularizers, ctx).checked;
}

describe('gradients match central finite differences (parameters and input, cpu)', () => {
  const B = 4;
  const I = 3;
  const O = 2;

  it('iNALU (with its regulariser)', () => {
    // |Ŵ_m| ≥ 0.2 keeps |W_m| away from its kink at 0; |v| ≤ 1.5 keeps every |v| kink of the
    // regulariser away; |x| ∈ [0.5, 2] keeps sign(x), |x| and the ε floor constant; no cap at ω.
    const rng = new Rng(11);
    const p = {
      W_hat_a: signed(rng, [I, O], 0.2, 1.5),
      M_hat_a: signed(rng, [I, O], 0.2, 1.5),
      W_hat_m: signed(rng, [I, O], 0.2, 1.5),
      M_hat_m: signed(rng, [I, O], 0.2, 1.5),
      g_hat: signed(rng, [O], 0.2, 1.5),
    };
    const n = checkGradients(inaluDef as AnyDef, p, signed(rng, [B, I], 0.5, 2), inaluDef.defaults, true);
    expect(n).toBe(4 * I * O + O + B * I);
  });

  it('iNALU with the ω cap active: the capped outputs pass no gradient through the log-space sum', () => {
    const rng = new Rng(12);
    const p = {
      W_hat_a: signed(rng, [I, O], 0.2, 1.5),
      M_hat_a: signed(rng, [I, O], 0.2, 1.5),
      W_hat_m: uniform(rng, [I, O], 2, 3),
      M_hat_m: uniform(rng, [I, O], 2, 3),
      g_hat: tf.tensor1d([0.5, -0.5]),
    };
    // ω = 2 with |x| ∈ [3, 5] and W_m ≈ 0.9: the sums (≥ 3) are well above the cap.
    checkGradients(inaluDef as AnyDef, p, signed(rng, [B, I], 3, 5), { epsilon: 1e-7, omega: 2 });
  });

  it('G-NALU (separate weights, gate bias)', () => {
    const rng = new Rng(13);
    const opts = { ...gnaluDef.defaults, separateWeights: true, gateBias: true };
    const p = {
      W_hat: uniform(rng, [I, O], -2, 2),
      M_hat: uniform(rng, [I, O], -2, 2),
      W_hat_m: uniform(rng, [I, O], -2, 2),
      M_hat_m: uniform(rng, [I, O], -2, 2),
      G: uniform(rng, [I, O], -1, 1),
      gate_bias: uniform(rng, [O], -1, 1),
    };
    const n = checkGradients(gnaluDef as AnyDef, p, signed(rng, [B, I], 0.5, 2), opts);
    expect(n).toBe(5 * I * O + O + B * I);
  });

  it('NMRU (linear regulariser, clip) and (squared, regularized) with regularisers', () => {
    const rng = new Rng(14);
    // W away from 0.5 (the kink of the linear regulariser) and x ∈ ±[1, 3] (1/x is smooth there).
    const W = tf.tensor(
      Array.from({ length: 2 * I * O }, () =>
        rng.next() < 0.5 ? rng.uniform(0.1, 0.4) : rng.uniform(0.6, 0.9),
      ),
      [2 * I, O],
    );
    const x = signed(rng, [B, I], 1, 3);
    expect(checkGradients(nmruDef as AnyDef, { W }, x, nmruDef.defaults, true)).toBe(2 * I * O + B * I);
    checkGradients(
      nmruDef as AnyDef,
      { W },
      x,
      { ...nmruDef.defaults, regularizer: 'squared', oobMode: 'regularized' },
      true,
    );
  });

  it('sNMU at evaluation and in training (seeded noise, so every evaluation sees the same n)', () => {
    const rng = new Rng(15);
    const W = uniform(rng, [I, O], 0.1, 0.9);
    const x = uniform(rng, [B, I], -2, 2);
    checkGradients(snmuDef as AnyDef, { W }, x, snmuDef.defaults);
    const n = checkGradients(snmuDef as AnyDef, { W }, x, { ...snmuDef.defaults, noiseSeed: 3 }, false, {
      training: true,
    });
    expect(n).toBe(I * O + B * I);
  });
});

// ---------------------------------------------------------------------------------------------

/** Sample moments of a Float32Array. */

describe('initial values', () => {
  it('iNALU: Ŵ ~ N(0.88, 0.2), M̂ ~ N(0.5, 0.2), ĝ ~ N(0, 0.2); seeded and independent per parameter', () => {
    const I = 40;
    const O = 1500;
    const p = initParams(inaluDef, { inputSize: I, units: O }, inaluDef.defaults, 7);
    const want: Record<string, { mean: number; std: number }> = {
      W_hat_a: INALU_INIT.W_hat,
      W_hat_m: INALU_INIT.W_hat,
      M_hat_a: INALU_INIT.M_hat,
      M_hat_m: INALU_INIT.M_hat,
      g_hat: INALU_INIT.g_hat,
    };
    expect(INALU_INIT).toEqual({
      W_hat: { mean: 0.88, std: 0.2 },
      M_hat: { mean: 0.5, std: 0.2 },
      g_hat: { mean: 0, std: 0.2 },
    });
    expect(Object.keys(p).sort()).toEqual(Object.keys(want).sort());
    for (const [k, { mean, std }] of Object.entries(want)) {
      const v = p[k]!.dataSync();
      const m = moments(v);
      const n = v.length;
      // 60 000 draws (1500 for ĝ): mean within 5 SE, std within 5 SE of the sample sd (≈ 1/√(2n)).
      expect(Math.abs(m.mean - mean), k).toBeLessThan((5 * std) / Math.sqrt(n));
      expect(Math.abs(m.std / std - 1), k).toBeLessThan(5 / Math.sqrt(2 * n));
      // Normal, not uniform: the tails reach beyond ±3 sd for 60 000 draws.
      if (n > 10_000) expect(Math.max(m.max - mean, mean - m.min), k).toBeGreaterThan(3.5 * std);
    }
    expect(p.g_hat!.shape).toEqual([O]);
    expect(bits(p.W_hat_a!)).not.toEqual(bits(p.W_hat_m!));
    const again = initParams(inaluDef, { inputSize: I, units: O }, inaluDef.defaults, 7);
    for (const k of Object.keys(p)) expect(bits(again[k]!)).toEqual(bits(p[k]!));
    const other = initParams(inaluDef, { inputSize: I, units: O }, inaluDef.defaults, 8);
    expect(bits(other.W_hat_a!)).not.toEqual(bits(p.W_hat_a!));
    tf.dispose([...Object.values(p), ...Object.values(again), ...Object.values(other)]);
  });

  it('G-NALU: the NALU initialisation (NAC ranges, Xavier-uniform gate, zero bias)', () => {
    const I = 30;
    const O = 20;
    const opts = { ...gnaluDef.defaults, separateWeights: true, gateBias: true };
    const p = initParams(gnaluDef, { inputSize: I, units: O }, opts, 3);
    expect(Object.keys(p)).toEqual(['W_hat', 'M_hat', 'W_hat_m', 'M_hat_m', 'G', 'gate_bias']);
    const r = nacInitRange(I, O);
    for (const k of ['W_hat', 'M_hat', 'W_hat_m', 'M_hat_m']) {
      const m = moments(p[k]!.dataSync());
      expect(m.min).toBeGreaterThanOrEqual(-r);
      expect(m.max).toBeLessThanOrEqual(r);
      expect(m.max - m.min).toBeGreaterThan(1.9 * r);
    }
    const g = xavierUniformRange(I, O);
    const mg = moments(p.G!.dataSync());
    expect(mg.min).toBeGreaterThanOrEqual(-g);
    expect(mg.max).toBeLessThanOrEqual(g);
    expect(mg.max - mg.min).toBeGreaterThan(1.9 * g);
    expect(Array.from(p.gate_bias!.dataSync())).toEqual(new Array(O).fill(0));
    tf.dispose(Object.values(p));
  });

  for (const def of [nmruDef, snmuDef] as AnyDef[]) {
    it(`${def.className}: NMU initialisation U[0.25, 0.75]${def === nmruDef ? ' over 2I rows' : ''}`, () => {
      const I = 50;
      const O = 40;
      const p = initParams(def, { inputSize: I, units: O }, def.defaults, 4);
      const rows = def === nmruDef ? 2 * I : I;
      expect(p.W!.shape).toEqual([rows, O]);
      const m = moments(p.W!.dataSync());
      expect(m.min).toBeGreaterThanOrEqual(0.25);
      expect(m.max).toBeLessThan(0.75);
      expect(m.max - m.min).toBeGreaterThan(0.49);
      expect(Math.abs(m.mean - 0.5)).toBeLessThan((5 * (0.5 / Math.sqrt(12))) / Math.sqrt(rows * O));
      tf.dispose(Object.values(p));
    });
  }
});

// ---------------------------------------------------------------------------------------------

const replicaCases: [string, AnyDef, object][] = [
  ['iNALU', inaluDef as AnyDef, inaluDef.defaults],
  ['iNALU ω = 3 (cap active)', inaluDef as AnyDef, { epsilon: 1e-7, omega: 3 }],
  ['G-NALU', gnaluDef as AnyDef, gnaluDef.defaults],
  [
    'G-NALU separate + gate bias',
    gnaluDef as AnyDef,
    { ...gnaluDef.defaults, separateWeights: true, gateBias: true },
  ],
  ['NMRU', nmruDef as AnyDef, nmruDef.defaults],
  [
    'NMRU squared/regularized',
    nmruDef as AnyDef,
    { ...nmruDef.defaults, regularizer: 'squared', oobMode: 'regularized' },
  ],
  ['sNMU (evaluation)', snmuDef as AnyDef, snmuDef.defaults],
];

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`replica axis on the ${backend} backend`, () => {
    const R = 3;
    const B = 5;
    const I = 4;
    const O = 3;
    beforeAll(async () => {
      expect(await initBackend(backend)).toBe(backend);
    });
    afterAll(async () => {
      await initBackend('cpu');
    });

    const replicaParams = (def: AnyDef, opts: object) =>
      Array.from({ length: R }, (_, r) =>
        tf.tidy(() => {
          const p = params(def, I, O, opts, 100 + r);
          const rng = new Rng(200 + r);
          for (const [k, t] of Object.entries(p)) {
            const noise = tf.tensor(
              Array.from({ length: t.size }, () => rng.uniform(-0.8, 0.8)),
              t.shape,
            );
            p[k] = tf.keep(tf.add(t, noise));
          }
          return p;
        }),
      );
    const replicaInputs = () => {
      const rng = new Rng(300);
      return tf.tensor(
        Array.from({ length: R * B * I }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.2, 3)),
        [R, B, I],
      );
    };

    for (const [name, def, opts] of replicaCases) {
      it(`${name}: each replica is bitwise the single-model forward; regularisers, constraints, weights`, () => {
        const sets = replicaParams(def, opts);
        const x = replicaInputs();
        tf.tidy(() => {
          const stacked = stackParams(sets);
          const z = def.forward(stacked, x, opts as never);
          expect(z.shape).toEqual([R, B, O]);
          const zs = tf.unstack(z);
          const xs = tf.unstack(x);
          for (let r = 0; r < R; r++) {
            expect(bits(zs[r]!), `replica ${r}`).toEqual(bits(def.forward(sets[r]!, xs[r]!, opts as never)));
          }
          expect(bits(zs[1]!)).not.toEqual(bits(zs[0]!));

          const regs = def.regularizers?.(stacked, opts as never) ?? {};
          for (const [k, v] of Object.entries(regs)) {
            expect(v.shape, k).toEqual([R]);
            const per = v.dataSync();
            for (let r = 0; r < R; r++) {
              const single = def.regularizers!(sets[r]!, opts as never)[k]!;
              expect(single.shape).toEqual([]);
              expect(per[r]).toBeCloseTo(single.dataSync()[0]!, 5);
            }
          }
          for (const [k, v] of Object.entries(def.constrain?.(stacked, opts as never) ?? {})) {
            const vs = tf.unstack(v);
            for (let r = 0; r < R; r++) {
              expect(bits(vs[r]!)).toEqual(bits(def.constrain!(sets[r]!, opts as never)[k]!));
            }
          }
          for (const [k, v] of Object.entries(def.effectiveWeights(stacked, opts as never))) {
            const vs = tf.unstack(v);
            for (let r = 0; r < R; r++) {
              expect(bits(vs[r]!)).toEqual(bits(def.effectiveWeights(sets[r]!, opts as never)[k]!));
            }
          }
        });
        tf.dispose([x, ...sets.flatMap((s) => Object.values(s))]);
      });
    }

    it('sNMU in training with 0/1 weights: [R, B, O] and each replica the exact product', () => {
      tf.tidy(() => {
        const rng = new Rng(5);
        const W = Array.from({ length: R }, () =>
          tf.tensor(
            Array.from({ length: I * O }, () => (rng.next() < 0.5 ? 0 : 1)),
            [I, O],
          ),
        );
        const x = tf.tensor(
          Array.from({ length: R * B * I }, () => Math.round(rng.uniform(-5, 5))),
          [R, B, I],
        );
        const z = snmuDef.forward({ W: tf.stack(W) }, x, snmuDef.defaults, { training: true });
        expect(z.shape).toEqual([R, B, O]);
        const zs = tf.unstack(z);
        const xs = tf.unstack(x);
        for (let r = 0; r < R; r++) {
          expect(relErr(toMat(zs[r]!), nmuRef(toMat(W[r]!), toMat(xs[r]!)))).toBeLessThan(1e-5);
        }
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('saveModel → loadModel', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nalm-family-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips predictions (bitwise), weights, classes and options, and trains on', async () => {
    const input = tf.input({ shape: [4] });
    const layers = [
      new INALU({ units: 2, seed: 1, omega: 15, regularization: { reg: 0.05 }, name: 'inalu' }),
      new GNALU({ units: 2, seed: 2, separateWeights: true, gateBias: true, name: 'gnalu' }),
      new NMRU({ units: 2, seed: 3, epsilon: 1e-6, regularizer: 'squared', name: 'nmru' }),
      new SNMU({ units: 2, seed: 4, noiseSeed: 9, regularization: { sparsity: 0.1 }, name: 'snmu' }),
    ];
    const out = tf.layers.concatenate().apply(layers.map((l) => l.apply(input) as tf.SymbolicTensor));
    const model = tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
    const rng = new Rng(1);
    const x = tf.tensor2d(
      Array.from({ length: 64 }, () => rng.uniform(0.5, 2)),
      [16, 4],
    );
    const y = tf.tensor2d(
      Array.from({ length: 128 }, () => rng.uniform(0, 2)),
      [16, 8],
    );
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [new ConstrainUnits()] });

    const path = join(dir, 'family');
    await saveModel(model, path);
    const loaded = await loadModel(path);
    expect(bits(loaded.predict(x) as tf.Tensor)).toEqual(bits(model.predict(x) as tf.Tensor));
    loaded.getWeights().forEach((w, i) => expect(bits(w)).toEqual(bits(model.getWeights()[i]!)));

    const before = Object.fromEntries(unitLayers(model).map((l) => [l.name, l]));
    const after = Object.fromEntries(unitLayers(loaded).map((l) => [l.name, l as UnitLayer]));
    expect(Object.keys(after).sort()).toEqual(['gnalu', 'inalu', 'nmru', 'snmu']);
    for (const [name, l] of Object.entries(before)) {
      expect(after[name]!.constructor, name).toBe(l.constructor);
      expect(after[name]!.getConfig(), name).toEqual(l.getConfig());
    }
    expect(after.inalu!.constructor).toBe(INALU);
    expect(after.inalu!.options).toEqual({ epsilon: 1e-7, omega: 15 });
    expect(after.inalu!.regularization).toEqual({ reg: 0.05 });
    expect(after.gnalu!.options).toEqual({ separateWeights: true, gateBias: true, epsilon: 1e-7 });
    expect(after.nmru!.options).toEqual({ regularizer: 'squared', oobMode: 'clip', epsilon: 1e-6 });
    expect(after.snmu!.options).toEqual({ regularizer: 'linear', oobMode: 'clip', noiseSeed: 9 });
    expect(after.nmru!.params().W!.shape).toEqual([8, 2]);

    // Trains on, and the NMRU/sNMU clamps still apply after a step.
    after.nmru!.setWeights([
      tf.tensor2d(
        Array.from({ length: 16 }, (_, i) => (i % 2 ? 1.4 : -0.3)),
        [8, 2],
      ),
    ]);
    loaded.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    const h = await loaded.fit(x, y, {
      epochs: 2,
      batchSize: 16,
      verbose: 0,
      callbacks: [new ConstrainUnits()],
    });
    expect((h.history.loss as number[]).every(Number.isFinite)).toBe(true);
    const w = after.nmru!.params().W!.dataSync();
    expect(Math.min(...w)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...w)).toBeLessThanOrEqual(1);
    tf.dispose([x, y]);
  });
});

// ---------------------------------------------------------------------------------------------

const lit = (s: string) => s.replace(/[[\]().*+?^$|\\]/g, '\\$&');

describe('bad input and options', () => {
  const makers: [string, (a: object) => tf.layers.Layer][] = [
    ['INALU', (a) => new INALU({ units: 2, ...a })],
    ['GNALU', (a) => new GNALU({ units: 2, ...a })],
    ['NMRU', (a) => new NMRU({ units: 2, ...a })],
    ['SNMU', (a) => new SNMU({ units: 2, ...a })],
  ];
  for (const [name, make] of makers) {
    it(`${name}: wrong rank at build and wrong width at call name the unit and both shapes`, () => {
      expect(() => tf.sequential().add(make({ inputShape: [2, 3] }))).toThrow(
        new RegExp(`^${name}: expected input of shape \\[batch, features\\], received \\[null, 2, 3\\]`),
      );
      const layer = make({});
      tf.dispose(layer.apply(tf.ones([2, 3])) as tf.Tensor);
      expect(() => layer.apply(tf.ones([2, 5]))).toThrow(
        new RegExp(`^${name}: expected input of shape ${lit('[batch, 3]')}, received ${lit('[2, 5]')}`),
      );
      expect(() => layer.apply(tf.ones([3]))).toThrow(
        new RegExp(
          `^${name}: expected input of shape ${lit('[batch, 3]')}, received ${lit('[3]')} \\(rank 1\\)`,
        ),
      );
    });
  }

  for (const def of [inaluDef, gnaluDef, nmruDef, snmuDef] as AnyDef[]) {
    it(`${def.className}: forward with replicated parameters checks rank, width and replica count`, () => {
      tf.tidy(() => {
        const p = stackParams([params(def, 3, 2, def.defaults, 1), params(def, 3, 2, def.defaults, 2)]);
        expect(() => def.forward(p, tf.ones([2, 4, 5]), def.defaults)).toThrow(
          new RegExp(
            `^${def.className}: expected input of shape ${lit('[2, batch, 3]')}, received ${lit('[2, 4, 5]')}`,
          ),
        );
        expect(() => def.forward(p, tf.ones([3, 4, 3]), def.defaults)).toThrow(
          new RegExp(`^${def.className}: .*first axis 2 replicas`),
        );
        expect(() => def.forward(p, tf.ones([4, 3]), def.defaults)).toThrow(
          new RegExp(
            `^${def.className}: expected input of shape ${lit('[2, batch, 3]')}, received ${lit('[4, 3]')} \\(rank 2\\)`,
          ),
        );
        expect(def.forward(p, tf.ones([2, 4, 3]), def.defaults).shape).toEqual([2, 4, 2]);
      });
    });
  }

  it('invalid options name the unit and the option', () => {
    expect(() => resolveOptions(inaluDef, { epsilon: 0 })).toThrow(/^INALU: option 'epsilon' must be > 0/);
    expect(() => resolveOptions(inaluDef, { omega: NaN })).toThrow(/^INALU: option 'omega'/);
    expect(() => resolveOptions(gnaluDef, { epsilon: -1 })).toThrow(/^GNALU: option 'epsilon'/);
    expect(() => resolveOptions(nmruDef, { epsilon: 0 })).toThrow(/^NMRU: option 'epsilon'/);
    expect(() => resolveOptions(nmruDef, { regularizer: 'cubic' as never })).toThrow(
      /^NMRU: option 'regularizer'/,
    );
    expect(() => resolveOptions(snmuDef, { noiseSeed: 1.5 })).toThrow(/^SNMU: option 'noiseSeed'/);
    expect(() => resolveOptions(snmuDef, { oobMode: 'wrap' as never })).toThrow(/^SNMU: option 'oobMode'/);
    expect(() => new INALU({ units: 2, gateBias: true } as never)).toThrow(
      /^INALU: unknown option 'gateBias'/,
    );
    expect(() => new SNMU({ units: 1, regularization: { reg: 1 } }).apply(tf.ones([1, 2]))).toThrow(
      /^SNMU: no regulariser named 'reg'/,
    );
  });
});
