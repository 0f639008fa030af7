/**
 * Shared test helpers: plain float64 reference implementations of every unit (written from
 * shared/spec/units.md, independently of src/), tensor ↔ nested-array conversion and parameter
 * stacking for the replica axis.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import type { ForwardContext, Params, UnitDef } from '../src/index.js';
import { Rng } from '../src/index.js';
import { initParams } from '../src/index.js';

export type Mat = number[][];

/** Values of a rank-2 tensor as nested float64 arrays. */
export function toMat(t: tf.Tensor): Mat {
  return t.arraySync() as Mat;
}

/** A seeded [rows, cols] matrix with entries U[lo, hi). */
export function randMat(rng: Rng, rows: number, cols: number, lo: number, hi: number): Mat {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.uniform(lo, hi)));
}

/** Round a nested array to float32 so a float64 reference sees exactly the values tfjs sees. */
export function f32(m: Mat): Mat {
  return m.map((r) => r.map((v) => Math.fround(v)));
}

export function matMul(a: Mat, b: Mat): Mat {
  const inner = b.length;
  const cols = b[0]!.length;
  return a.map((row) => {
    if (row.length !== inner) throw new Error('matMul: shape mismatch');
    return Array.from({ length: cols }, (_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0));
  });
}

const map2 = (a: Mat, f: (v: number, i: number, j: number) => number): Mat =>
  a.map((r, i) => r.map((v, j) => f(v, i, j)));
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Float64 references of the forward formulas in units.md. */
export const ref = {
  nacW: (wHat: Mat, mHat: Mat): Mat => map2(wHat, (v, i, j) => Math.tanh(v) * sigmoid(mHat[i]![j]!)),
  nac: (p: Record<string, Mat>, x: Mat): Mat => matMul(x, ref.nacW(p.W_hat!, p.M_hat!)),
  mulNac: (p: Record<string, Mat>, x: Mat, eps = 1e-7): Mat =>
    map2(
      matMul(
        map2(x, (v) => Math.log(Math.abs(v) + eps)),
        ref.nacW(p.W_hat!, p.M_hat!),
      ),
      Math.exp,
    ),
  nalu: (p: Record<string, Mat>, x: Mat, separate: boolean, eps = 1e-7): Mat => {
    const a = ref.nac(p, x);
    const m = ref.mulNac(separate ? { W_hat: p.W_hat_m!, M_hat: p.M_hat_m! } : p, x, eps);
    const logits = matMul(x, p.G!);
    const bias = p.gate_bias?.[0];
    return map2(a, (av, b, o) => {
      const g = sigmoid(logits[b]![o]! + (bias ? bias[o]! : 0));
      return g * av + (1 - g) * m[b]![o]!;
    });
  },
  nau: (p: Record<string, Mat>, x: Mat): Mat =>
    matMul(
      x,
      map2(p.W!, (v) => Math.min(1, Math.max(-1, v))),
    ),
  nmu: (p: Record<string, Mat>, x: Mat): Mat =>
    x.map((row) =>
      p.W![0]!.map((_, o) => row.reduce((prod, xi, i) => prod * (p.W![i]![o]! * xi + 1 - p.W![i]![o]!), 1)),
    ),
  /** NSR: returns [y, 1 − y] per row. */
  nsr: (p: Record<string, Mat>, x: Mat, zeta = 1): Mat => {
    const softmaxCols = (v: Mat): Mat => {
      const cols = v[0]!.length;
      const out = v.map((r) => r.slice());
      for (let c = 0; c < cols; c++) {
        const mx = Math.max(...v.map((r) => r[c]!));
        const e = v.map((r) => Math.exp(r[c]! - mx));
        const s = e.reduce((a, b) => a + b, 0);
        e.forEach((ev, i) => (out[i]![c] = ev / s));
      }
      return out;
    };
    const o1 = matMul(x, softmaxCols(p.V1!));
    const o2 = matMul(x, softmaxCols(p.V2!));
    return o1.map((row, b) => {
      let u = p.b![0]![0]!;
      row.forEach((v, r) => {
        const s = Math.tanh(zeta * (v - o2[b]![r]!));
        const q = 1 - 2 * s * s;
        u += s * p.W_sign![r]![0]! + q * p.W_zero![r]![0]!;
      });
      const y = sigmoid(u);
      return [y, 1 - y];
    });
  },
};

/** Parameters as nested arrays; rank-1 parameters become a single row. */
export function paramsToMats(p: Params): Record<string, Mat> {
  const out: Record<string, Mat> = {};
  for (const [k, t] of Object.entries(p)) out[k] = t.rank === 1 ? [t.arraySync() as number[]] : toMat(t);
  return out;
}

/** Stack several parameter sets along a new leading replica axis. */
export function stackParams(sets: readonly Params[]): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const k of Object.keys(sets[0]!)) out[k] = tf.stack(sets.map((s) => s[k]!));
  return out;
}

/** initParams with a default shape and seed, typed loosely for tables of units. */
export function params(
  def: UnitDef<never>,
  inputSize: number,
  units: number,
  opts: object,
  seed: number,
): Record<string, tf.Tensor> {
  return initParams(def, { inputSize, units }, opts as never, seed);
}

/** Bit patterns of float32 data, so that `toEqual` means bitwise equality (NaN and −0 included). */
export function bits(t: tf.Tensor): Uint32Array {
  const d = t.dataSync() as Float32Array;
  return new Uint32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
}

/** Max |a − b| / max(1, |b|) over two equally shaped nested arrays. */
export function maxRelErr(a: Mat, b: Mat): number {
  let worst = 0;
  a.forEach((row, i) =>
    row.forEach((v, j) => {
      const w = b[i]![j]!;
      worst = Math.max(worst, Math.abs(v - w) / Math.max(1, Math.abs(w)));
    }),
  );
  return worst;
}

// ---- finite-difference gradient check, shared by the unit test files ----

export const H = 1e-2;
export const ATOL = 1e-3;
export const RTOL = 5e-3;

/**
 * Autodiff vs central differences of L = Σ c ⊙ z (+ Σ regularisers) for every parameter and the
 * input (cpu backend; tolerances explained in gradients.test.ts).
 */
export function checkGradients(
  def: UnitDef<never>,
  p: Record<string, tf.Tensor>,
  x: tf.Tensor,
  opts: object,
  withRegularizers = false,
  ctx?: ForwardContext,
): { checked: number; worst: number } {
  const names = Object.keys(p);
  const outShape = tf.tidy(() => def.forward(p, x, opts as never, ctx).shape);
  const rng = new Rng(99, 'c');
  const c = tf.tensor(
    Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)),
    outShape,
  );
  const loss = (vals: tf.Tensor[]): tf.Scalar => {
    const pp: Record<string, tf.Tensor> = {};
    names.forEach((n, i) => (pp[n] = vals[i]!));
    let l = tf.sum(tf.mul(c, def.forward(pp, vals[names.length]!, opts as never, ctx)));
    if (withRegularizers) {
      for (const r of Object.values(def.regularizers!(pp, opts as never))) l = tf.add(l, r);
    }
    return l as tf.Scalar;
  };
  const inputs = [...names.map((n) => p[n]!), x];
  const analytic = tf.tidy(() =>
    tf
      .grads((...v: tf.Tensor[]) => loss(v))(inputs)
      .map((g) => g.dataSync()),
  );
  let checked = 0;
  let worst = 0;
  inputs.forEach((t, which) => {
    const base = t.dataSync() as Float32Array;
    for (let k = 0; k < base.length; k++) {
      const at = (delta: number) =>
        tf.tidy(() => {
          const v = base.slice();
          v[k] = v[k]! + delta;
          const vals = inputs.slice();
          vals[which] = tf.tensor(v, t.shape);
          return loss(vals).dataSync()[0]!;
        });
      const fd = (at(H) - at(-H)) / (2 * H);
      const ad = analytic[which]![k]!;
      const label = `${which < names.length ? names[which] : 'x'}[${k}]`;
      expect(Number.isFinite(ad), `${label} autodiff not finite`).toBe(true);
      expect(Math.abs(fd - ad), `${label}: fd ${fd} vs autodiff ${ad}`).toBeLessThanOrEqual(
        ATOL + RTOL * Math.abs(ad),
      );
      worst = Math.max(worst, Math.abs(fd - ad) / (ATOL + RTOL * Math.abs(ad)));
      checked++;
    }
  });
  if (process.env.GRAD_DEBUG) console.log(def.name, 'worst |fd − ad| / tolerance', worst.toFixed(3));
  c.dispose();
  return { checked, worst };
}

/** Values with |v| in [lo, hi] and a random sign, away from kinks at 0. */
export function signed(rng: Rng, shape: number[], lo: number, hi: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(lo, hi)),
    shape,
  );
}

/** U[lo, hi) values of a shape. */
export function uniform(rng: Rng, shape: number[], lo: number, hi: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Array.from({ length: n }, () => rng.uniform(lo, hi)),
    shape,
  );
}

/** Sample mean, variance (n − 1), standard deviation, min and max. */
export function moments(v: ArrayLike<number>): {
  mean: number;
  variance: number;
  std: number;
  min: number;
  max: number;
} {
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) {
    s += v[i]!;
    min = Math.min(min, v[i]!);
    max = Math.max(max, v[i]!);
  }
  const mean = s / v.length;
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += (v[i]! - mean) ** 2;
  const variance = ss / (v.length - 1);
  return { mean, variance, std: Math.sqrt(variance), min, max };
}
