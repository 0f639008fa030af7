/**
 * Behaviour pinned to the reference implementations the published numbers came from (issue 15):
 * - NPU / RealNPU: the gate is clamped in the forward pass only (nalm-benchmark, `npu_clip` unset),
 *   so a stored gate outside [0, 1] stays there and gets zero gradient from the output;
 * - sign-NMRU (nalm-division's ConcatReciprocalNMUSignRetrievalLayer): magnitudes from |x'|, the
 *   sign from cos(π·[x' < 0] · W), so exact weights give signed products and quotients;
 * - sparsity error: iNALU averages the errors of W_a and W_m, the NPU those of W_re and W_im, and
 *   the gate is not scored (the reference's export); other units keep the max over their weights.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { inaluDef } from '../src/inalu.js';
import { SignNMRU, nmruDef, signNmruDef } from '../src/nmru.js';
import { npuDef, realNpuDef } from '../src/npu.js';
import { nmuDef } from '../src/nmu.js';
import type { UnitDef } from '../src/unit.js';
import { meanSparsityErrorOf, sparsityErrorOf, unitSparsityError } from '../src/unit.js';
import { checkGradients } from './helpers.js';

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
});

const one = (t: tf.Tensor) => t.dataSync()[0]!;

describe('NPU gate: clamped in the forward only', () => {
  for (const def of [npuDef, realNpuDef] as UnitDef<never>[]) {
    it(`${def.className}: no post-step clamp; zero output gradient where g ∉ [0, 1], non-zero inside`, () => {
      expect(def.constrain).toBeUndefined();
      const I = 4;
      const p: Record<string, tf.Tensor> = {
        W_re: tf.tensor2d([[0.9], [-0.7], [0.4], [1.1]]),
        g: tf.tensor1d([1.3, -0.2, 0.5, 0.8]),
      };
      if (def === npuDef) p.W_im = tf.tensor2d([[0.2], [0.1], [-0.3], [0.05]]);
      const x = tf.tensor2d([
        [1.5, -2, 3, -0.5],
        [-1, 2.5, -1.5, 2],
      ]);
      const names = Object.keys(p);
      const grads = tf.grads((...vals: tf.Tensor[]) => {
        const pp = Object.fromEntries(names.map((n, i) => [n, vals[i]!]));
        return tf.sum(def.forward(pp, x, def.defaults)) as tf.Scalar;
      })(names.map((n) => p[n]!));
      const dg = grads[names.indexOf('g')]!.dataSync();
      expect(dg[0]).toBe(0); // g = 1.3 > 1: torch.clamp's and tfjs's clipByValue's gradient is 0
      expect(dg[1]).toBe(0); // g = −0.2 < 0
      expect(Math.abs(dg[2]!)).toBeGreaterThan(1e-3);
      expect(Math.abs(dg[3]!)).toBeGreaterThan(1e-3);
      expect(I).toBe(dg.length);
      // The forward treats 1.3 as 1 and −0.2 as 0: the same output as the clamped gate.
      const clamped = { ...p, g: tf.tensor1d([1, 0, 0.5, 0.8]) };
      expect(def.forward(p, x, def.defaults).arraySync()).toEqual(
        def.forward(clamped, x, def.defaults).arraySync(),
      );
    });
  }
});

/** float64 reference of the sign-NMRU (eval: 1/x; training: 1/(x + ε)). */
function refSignNmru(x: number[], w: number[], eps: number | null): number {
  const xr = [...x, ...x.map((v) => 1 / (eps === null ? v : v + eps))];
  let mag = 1;
  let phase = 0;
  xr.forEach((v, i) => {
    mag *= w[i]! * Math.abs(v) + 1 - w[i]!;
    if (v < 0) phase += Math.PI * w[i]!;
  });
  return mag * Math.cos(phase);
}

describe('sign-NMRU', () => {
  const nonZero = fc
    .double({ min: 0.1, max: 20, noNaN: true })
    .chain((m) => fc.boolean().map((neg) => (neg ? -m : m)));

  it('exact weights compute signed a·b and a/b on negative and mixed inputs (evaluation: 1/x)', () => {
    fc.assert(
      fc.property(nonZero, nonZero, (a, b) => {
        // W rows: [a, b, 1/a, 1/b]; column 0 = a·b, column 1 = a/b.
        const W = tf.tensor2d([
          [1, 1],
          [1, 0],
          [0, 0],
          [0, 1],
        ]);
        const z = signNmruDef.forward({ W }, tf.tensor2d([[a, b]]), signNmruDef.defaults).dataSync();
        expect(z[0]).toBeCloseTo(a * b, 3);
        expect(Math.sign(z[0]!)).toBe(Math.sign(a * b));
        expect(Math.abs(z[1]! - a / b)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(a / b)));
        expect(Math.sign(z[1]!)).toBe(Math.sign(a / b));
      }),
      { numRuns: 200 },
    );
  });

  it('matches a float64 reference with fractional weights, in training (1/(x + ε)) and evaluation', () => {
    fc.assert(
      fc.property(
        fc.array(nonZero, { minLength: 3, maxLength: 3 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 6, maxLength: 6 }),
        fc.boolean(),
        (x, w, training) => {
          const z = signNmruDef
            .forward({ W: tf.tensor2d(w, [6, 1]) }, tf.tensor2d([x]), signNmruDef.defaults, { training })
            .dataSync()[0]!;
          const ref = refSignNmru(x, w, training ? signNmruDef.defaults.epsilon : null);
          expect(Math.abs(z - ref)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(ref)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('differs from the plain NMRU exactly where inputs are negative', () => {
    const W = tf.tensor2d([[1], [1], [0], [0]]);
    const pos = tf.tensor2d([[2, 3]]);
    const neg = tf.tensor2d([[-2, 3]]);
    const plain = (x: tf.Tensor) => one(nmruDef.forward({ W }, x, nmruDef.defaults));
    const sign = (x: tf.Tensor) => one(signNmruDef.forward({ W }, x, signNmruDef.defaults));
    expect(sign(pos)).toBeCloseTo(plain(pos), 5);
    expect(sign(neg)).toBeCloseTo(-6, 4);
    // Fractional weight on a negative input: magnitude and a partial phase (no real product).
    const half = tf.tensor2d([[0.5], [0], [0], [0]]);
    expect(one(signNmruDef.forward({ W: half }, tf.tensor2d([[-3, 1]]), signNmruDef.defaults))).toBeCloseTo(
      2 * Math.cos(Math.PI / 2),
      5,
    );
  });

  it('gradients agree with central finite differences (training mode)', () => {
    const W = tf.tensor2d([
      [0.3, 0.8],
      [0.6, 0.1],
      [0.45, 0.7],
      [0.2, 0.55],
    ]);
    const x = tf.tensor2d([
      [-1.5, 2.5],
      [1.2, -0.8],
      [-2, -1.1],
    ]);
    const { checked } = checkGradients(signNmruDef as UnitDef<never>, { W }, x, signNmruDef.defaults, true, {
      training: true,
    });
    expect(checked).toBe(8 + 6);
  });

  it('is a layer with the NMU init, clamp and regularisers', () => {
    const layer = new SignNMRU({ units: 1, seed: 3 });
    layer.apply(tf.zeros([1, 2]));
    const w = layer.getWeights()[0]!.dataSync();
    expect(w.length).toBe(4);
    for (const v of w) expect(v >= 0.25 && v < 0.75).toBe(true);
    expect(
      signNmruDef.constrain!(
        { W: tf.tensor2d([[1.5], [-0.5], [0.3], [0.9]]) },
        signNmruDef.defaults,
      ).W!.dataSync(),
    ).toEqual(new Float32Array([1, 0, 0.3, 0.9]));
    const reg = signNmruDef.regularizers!(
      { W: tf.tensor2d([[0.2], [0.9], [0.5], [1]]) },
      signNmruDef.defaults,
    );
    const nmu = nmuDef.regularizers!({ W: tf.tensor2d([[0.2], [0.9], [0.5], [1]]) }, nmuDef.defaults);
    expect(one(reg.sparsity!)).toBe(one(nmu.sparsity!));
  });
});

describe('sparsity error as the reference scores it', () => {
  // nacWeight(Ŵ, M̂) = tanh(Ŵ)σ(M̂); a large M̂ makes σ ≈ 1, so W ≈ tanh(Ŵ).
  const nac = (w: number[][]) => ({
    W_hat: tf.atanh(tf.tensor2d(w)),
    M_hat: tf.fill([w.length, w[0]!.length], 40),
  });

  it('iNALU: the mean of the W_a and W_m errors (each a max), the gate not scored', () => {
    const a = nac([[0.3], [0.99]]); // error 0.3
    const m = nac([[0.9], [0.05]]); // error 0.1
    const p = {
      W_hat_a: a.W_hat,
      M_hat_a: a.M_hat,
      W_hat_m: m.W_hat,
      M_hat_m: m.M_hat,
      g_hat: tf.tensor1d([0]),
    };
    expect(one(unitSparsityError(inaluDef as UnitDef<never>, p, inaluDef.defaults as never))).toBeCloseTo(
      0.2,
      5,
    );
    // The plain rule (max over both) would give 0.3.
    expect(one(sparsityErrorOf(Object.values(inaluDef.effectiveWeights(p, inaluDef.defaults))))).toBeCloseTo(
      0.3,
      5,
    );
  });

  it('NPU: the mean of the W_re and W_im errors; RealNPU: W_re; the gate (here at 0.5) not scored', () => {
    const W_re = tf.tensor2d([[0.6], [-1]]); // error 0.4
    const W_im = tf.tensor2d([[0], [1]]); // error 0
    const g = tf.tensor1d([0.5, 1]); // would score 0.5
    expect(
      one(unitSparsityError(npuDef as UnitDef<never>, { W_re, W_im, g }, npuDef.defaults as never)),
    ).toBeCloseTo(0.2, 6);
    expect(
      one(unitSparsityError(realNpuDef as UnitDef<never>, { W_re, g }, realNpuDef.defaults as never)),
    ).toBeCloseTo(0.4, 6);
  });

  it('with a replica axis: per-replica means (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1.5, max: 1.5, noNaN: true }), { minLength: 12, maxLength: 12 }),
        (v) => {
          const a = tf.tensor3d(v.slice(0, 6), [3, 2, 1]);
          const b = tf.tensor3d(v.slice(6), [3, 2, 1]);
          const got = meanSparsityErrorOf([a, b]).dataSync();
          for (let r = 0; r < 3; r++) {
            const err = (xs: number[]) =>
              Math.max(...xs.map((w) => Math.min(Math.abs(w), Math.abs(1 - Math.abs(w)))));
            const want = (err(v.slice(2 * r, 2 * r + 2)) + err(v.slice(6 + 2 * r, 6 + 2 * r + 2))) / 2;
            expect(Math.abs(got[r]! - want)).toBeLessThanOrEqual(1e-6);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a unit without its own rule keeps the max over its effective weights', () => {
    const W = tf.tensor2d([[0.1], [0.7]]);
    expect(one(unitSparsityError(nmuDef as UnitDef<never>, { W }, nmuDef.defaults as never))).toBeCloseTo(
      0.3,
      6,
    );
  });
});
