/**
 * Autodiff gradients of every unit, with respect to every parameter and the input, against central
 * finite differences of the same float32 forward (cpu backend: deterministic, plain JS kernels).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { UnitDef } from '../src/index.js';
import { Rng, initBackend, mulNacDef, nacDef, naluDef, nauDef, nmuDef, nsrDef } from '../src/index.js';
import { checkGradients, params, signed, uniform } from './helpers.js';

type AnyDef = UnitDef<never>;

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
});

/*
 * Step and tolerance. The scalar probed is L = Σ c ⊙ z (+ Σ regularisers) with fixed random c; |L|
 * is O(1)–O(10) for these sizes. Float32 evaluates L with a relative error of a few ulps (~3e−7), so
 * the rounding part of a central difference with step h = 1e−2 is ≲ 2·3e−7·|L| / (2h) ≈ 3e−4 for
 * |L| = 10; the truncation part is h²/6·|L'''| ≈ 2e−5·|L'''|, ≲ 1e−4 for the exp/tanh curvatures at
 * these inputs. Hence |fd − autodiff| ≤ 1e−3 + 5e−3·|autodiff| (observed: below 10 % of that). A
 * wrong gradient (a missing factor, a wrong sign, a gradient blocked by a clamp) is off by O(|grad|).
 */

describe('gradients match central finite differences (parameters and input)', () => {
  const B = 4;
  const I = 3;
  const O = 2;

  it('NAC+', () => {
    const rng = new Rng(1);
    const p = { W_hat: uniform(rng, [I, O], -1.5, 1.5), M_hat: uniform(rng, [I, O], -1.5, 1.5) };
    const r = checkGradients(nacDef as AnyDef, p, uniform(rng, [B, I], -2, 2), {});
    expect(r.checked).toBe(2 * I * O + B * I);
  });

  it('NAC•', () => {
    const rng = new Rng(2);
    const p = { W_hat: uniform(rng, [I, O], -1, 1), M_hat: uniform(rng, [I, O], -1, 1) };
    // |x| ∈ [0.5, 2]: log|x| is smooth there (its kink at 0 is the unit's documented limitation).
    const r = checkGradients(mulNacDef as AnyDef, p, signed(rng, [B, I], 0.5, 2), mulNacDef.defaults);
    expect(r.checked).toBe(2 * I * O + B * I);
  });

  it('NALU (shared weights)', () => {
    const rng = new Rng(3);
    const p = {
      W_hat: uniform(rng, [I, O], -1, 1),
      M_hat: uniform(rng, [I, O], -1, 1),
      G: uniform(rng, [I, O], -1, 1),
    };
    const r = checkGradients(naluDef as AnyDef, p, signed(rng, [B, I], 0.5, 2), naluDef.defaults);
    expect(r.checked).toBe(3 * I * O + B * I);
  });

  it('NALU (separate weights and gate bias)', () => {
    const rng = new Rng(4);
    const opts = { ...naluDef.defaults, separateWeights: true, gateBias: true };
    const p = {
      W_hat: uniform(rng, [I, O], -1, 1),
      M_hat: uniform(rng, [I, O], -1, 1),
      W_hat_m: uniform(rng, [I, O], -1, 1),
      M_hat_m: uniform(rng, [I, O], -1, 1),
      G: uniform(rng, [I, O], -1, 1),
      gate_bias: uniform(rng, [O], -1, 1),
    };
    const r = checkGradients(naluDef as AnyDef, p, signed(rng, [B, I], 0.5, 2), opts);
    expect(r.checked).toBe(5 * I * O + O + B * I);
  });

  for (const regularizer of ['linear', 'squared'] as const) {
    it(`NAU (with the ${regularizer} sparsity regulariser)`, () => {
      const rng = new Rng(5);
      // |W| ∈ [0.1, 0.4] ∪ [0.6, 0.9]: away (by more than h) from the kinks of clamp (±1) and of the
      // linear regulariser's min (0, ±0.5).
      const w = tf.tidy(() =>
        tf.mul(signed(rng, [I, O], 0.1, 0.4), tf.tensor([1, 2.25, 1, 1, 2.25, 1], [I, O])),
      );
      const opts = { ...nauDef.defaults, regularizer };
      const r = checkGradients(nauDef as AnyDef, { W: w }, uniform(rng, [B, I], -2, 2), opts, true);
      expect(r.checked).toBe(I * O + B * I);
    });

    it(`NMU (with the ${regularizer} sparsity regulariser)`, () => {
      const rng = new Rng(6);
      const w = uniform(rng, [I, O], 0.55, 0.95);
      const opts = { ...nmuDef.defaults, regularizer };
      const r = checkGradients(nmuDef as AnyDef, { W: w }, uniform(rng, [B, I], -2, 2), opts, true);
      expect(r.checked).toBe(I * O + B * I);
    });
  }

  it('NMU with zero factors (the gradient never divides by a factor)', () => {
    // Row 0 has one zero factor (W = 1, x = 0) in output 0, row 1 has two (x0 = x2 = 0, W = 1) in
    // output 0: a gradient written as z / factor gives 0/0 = NaN there. The product rule gives
    // ∂z/∂W_i0 = (x_i − 1)·Π_{j≠i}(…): nonzero for the single zero factor, 0 when two are zero.
    const w = tf.tensor2d([
      [1, 0.3],
      [0.6, 0.7],
      [1, 0.4],
    ]);
    const x = tf.tensor2d([
      [0, 2, 3],
      [0, -1.5, 0],
      [1.5, 0.5, -2],
    ]);
    checkGradients(nmuDef as AnyDef, { W: w }, x, nmuDef.defaults);
    // And exactly the product rule, evaluated here with explicit Π_{j≠i} (no division), for
    // L = Σ z: ∂L/∂W_io = Σ_b (x_bi − 1)·Π_{j≠i} f_bjo and ∂L/∂x_bi = Σ_o W_io·Π_{j≠i} f_bjo.
    const W = w.arraySync() as number[][];
    const X = x.arraySync() as number[][];
    const f = (b: number, j: number, o: number) => W[j]![o]! * X[b]![j]! + 1 - W[j]![o]!;
    const others = (b: number, i: number, o: number) =>
      W.reduce((prod, _, j) => (j === i ? prod : prod * f(b, j, o)), 1);
    const wantW = W.map((row, i) =>
      row.map((_, o) => X.reduce((s, xb, b) => s + (xb[i]! - 1) * others(b, i, o), 0)),
    );
    const wantX = X.map((row, b) =>
      row.map((_, i) => W[i]!.reduce((s, wio, o) => s + wio * others(b, i, o), 0)),
    );
    const [gW, gX] = tf.tidy(() =>
      tf
        .grads((ww: tf.Tensor, xx: tf.Tensor) => tf.sum(nmuDef.forward({ W: ww }, xx, nmuDef.defaults)))([
          w,
          x,
        ])
        .map((g) => g.arraySync() as number[][]),
    ) as [number[][], number[][]];
    gW.forEach((r, i) => r.forEach((v, o) => expect(v).toBeCloseTo(wantW[i]![o]!, 5)));
    gX.forEach((r, b) => r.forEach((v, i) => expect(v).toBeCloseTo(wantX[b]![i]!, 5)));
    // The zero factors matter: W_00's gradient is nonzero (row 0 has a single zero factor there),
    // and row 1's ∂/∂x_0 through output 0 vanishes (its other zero factor).
    expect(Math.abs(wantW[0]![0]!)).toBeGreaterThan(1);
  });

  it('NSR (redundancy 2, ζ = 1)', () => {
    const rng = new Rng(7);
    const S = 3;
    const R = 2;
    const p = {
      V1: uniform(rng, [S, R], -1, 1),
      V2: uniform(rng, [S, R], -1, 1),
      W_sign: uniform(rng, [R, 1], -1, 1),
      W_zero: uniform(rng, [R, 1], -1, 1),
      b: uniform(rng, [1], -1, 1),
    };
    // |d| = O(1) keeps tanh in its curved, informative range.
    const r = checkGradients(nsrDef as AnyDef, p, uniform(rng, [B, S], -2, 2), { zeta: 1, redundancy: R });
    expect(r.checked).toBe(2 * S * R + 2 * R + 1 + B * S);
  });

  it('initialised parameters of every unit (smoke test at the seeded init point)', () => {
    const rng = new Rng(8);
    const x = signed(rng, [B, I], 0.5, 2);
    for (const def of [nacDef, mulNacDef, naluDef, nsrDef] as AnyDef[]) {
      checkGradients(def, params(def, I, O, def.defaults, 11), x, def.defaults);
    }
  });
});
