/**
 * Initialisers: the check values of units.md, the distributions they promise, and reproducibility
 * from a seed (through `initParams` and through the layers' `seed` argument).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { UnitDef } from '../src/index.js';
import {
  MulNAC,
  NAC,
  NALU,
  NAU,
  NMU,
  NSR,
  Rng,
  builtinUnits,
  initBackend,
  initParams,
  nacDef,
  nacInitRange,
  nacWeight,
  nacWeightVariance,
  naluDef,
  nauDef,
  nauInitRange,
  nmuDef,
  nsrDef,
  xavierUniformRange,
} from '../src/index.js';
import { bits, moments } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Values of one parameter of `def` for a layer of shape (I, O), drawn by the unit's initialiser. */
function initValues(
  def: UnitDef<never>,
  name: string,
  I: number,
  O: number,
  opts: object = def.defaults,
  seed = 1,
) {
  const p = initParams(def, { inputSize: I, units: O }, opts as never, seed);
  const out = p[name]!.dataSync() as Float32Array;
  tf.dispose(Object.values(p));
  return out;
}

describe('NAC+ initialiser', () => {
  it('nacInitRange reproduces the check values of units.md', () => {
    for (const [I, O] of [
      [1, 1],
      [2, 1],
      [2, 3],
      [4, 1],
    ] as const) {
      expect(Math.abs(nacInitRange(I, O) - 9.471406)).toBeLessThan(5e-7); // fan = max(I + O, 5) = 5
    }
    expect(Math.abs(nacInitRange(10, 1) - 2.260468)).toBeLessThan(5e-7);
    expect(Math.abs(nacInitRange(100, 2) - 0.503909)).toBeLessThan(5e-7);
  });

  it('the closed-form Var(W)(r) matches a Monte Carlo estimate of Var(tanh(a)·σ(b)), a, b ~ U[−r, r]', () => {
    const rng = new Rng(5, 'mc');
    for (const r of [0.5, 2.26, 9.47]) {
      const n = 400_000;
      const w = new Float64Array(n);
      for (let i = 0; i < n; i++) w[i] = Math.tanh(rng.uniform(-r, r)) / (1 + Math.exp(-rng.uniform(-r, r)));
      // Relative standard error of a variance from 4e5 samples is below 0.5 %: 2 % is > 4σ.
      expect(Math.abs(moments(w).variance / nacWeightVariance(r) - 1)).toBeLessThan(0.02);
    }
  });

  it('generated NAC weights have Var(W) ≈ 2 / fan (empirically, through the real init path)', () => {
    // (I, O) = (300, 200): 60 000 effective weights W = tanh(Ŵ)·σ(M̂), fan = 500. The relative
    // standard error of the sample variance is about √(2/6e4) ≈ 0.6 % (W is close to uniform-ish,
    // lighter-tailed than Gaussian): 4 % is > 6σ, while an r off by 10 % moves Var by ~20 %.
    for (const [I, O] of [
      [300, 200],
      [100, 2],
    ] as const) {
      const p = initParams(nacDef, { inputSize: I, units: O }, {}, 3);
      const r = nacInitRange(I, O);
      const wHat = moments(p.W_hat!.dataSync());
      expect(wHat.min).toBeGreaterThanOrEqual(-r);
      expect(wHat.max).toBeLessThanOrEqual(r);
      const w = moments(tf.tidy(() => nacWeight(p.W_hat!, p.M_hat!).dataSync()));
      const tol = I * O > 1000 ? 0.04 : 0.25; // (100, 2) has only 200 weights: a coarse check
      expect(Math.abs(w.variance / (2 / (I + O)) - 1)).toBeLessThan(tol);
      expect(Math.abs(w.mean)).toBeLessThan(4 * Math.sqrt(2 / (I + O) / (I * O)));
      tf.dispose(Object.values(p));
    }
  });

  it('small layers (fan ≤ 5) get r = 9.47 and Var(W) ≈ 2/5', () => {
    // A (2, 1) layer has 2 weights; collect them over many seeds through the layer path.
    const w: number[] = [];
    for (let seed = 0; seed < 5000; seed++) {
      tf.tidy(() => {
        const p = initParams(nacDef, { inputSize: 2, units: 1 }, {}, seed);
        w.push(...nacWeight(p.W_hat!, p.M_hat!).dataSync());
        const ranges = [...p.W_hat!.dataSync(), ...p.M_hat!.dataSync()];
        for (const v of ranges) expect(Math.abs(v)).toBeLessThanOrEqual(9.471407);
      });
    }
    // 10 000 weights: the variance's standard error is ≈ 1 %; 5 % is 5σ.
    expect(Math.abs(moments(w).variance / 0.4 - 1)).toBeLessThan(0.05);
  });
});

describe('NAU, NMU, NSR and NALU initialisers', () => {
  it('NAU r = min(0.5, √3·√(2/(I+O))): check values and the drawn range', () => {
    expect(nauInitRange(2, 1)).toBe(0.5);
    expect(Math.abs(nauInitRange(100, 2) - 0.242536)).toBeLessThan(5e-7);
    for (const [I, O] of [
      [2, 1],
      [100, 2],
      [400, 300],
    ] as const) {
      const r = nauInitRange(I, O);
      const m = moments(initValues(nauDef as never, 'W', I, O));
      expect(m.min).toBeGreaterThanOrEqual(-r);
      expect(m.max).toBeLessThanOrEqual(r);
      if (I * O > 1000) {
        // 120 000 draws of U[−r, r]: extremes within 0.1 % of ±r, variance r²/3 within 2 %.
        expect(m.max).toBeGreaterThan(0.999 * r);
        expect(m.min).toBeLessThan(-0.999 * r);
        expect(Math.abs(m.variance / ((r * r) / 3) - 1)).toBeLessThan(0.02);
      }
    }
  });

  it('NMU W ~ U[0.25, 0.75]', () => {
    const m = moments(initValues(nmuDef as never, 'W', 400, 300));
    expect(m.min).toBeGreaterThanOrEqual(0.25);
    expect(m.max).toBeLessThanOrEqual(0.75);
    expect(m.min).toBeLessThan(0.2505);
    expect(m.max).toBeGreaterThan(0.7495);
    expect(Math.abs(m.mean - 0.5)).toBeLessThan(0.002);
    expect(Math.abs(m.variance / (1 / 48) - 1)).toBeLessThan(0.02);
    // Also for a small layer.
    const small = initValues(nmuDef as never, 'W', 2, 1);
    for (const v of small) expect(v >= 0.25 && v <= 0.75).toBe(true);
  });

  it('NSR: V1, V2, W±, W0 Xavier-normal, b = 0', () => {
    const S = 600;
    const R = 400;
    const opts = { zeta: 1, redundancy: R };
    const p = initParams(nsrDef, { inputSize: S, units: 1 }, opts, 4);
    // 240 000 normal draws: std within 1 % (SE ≈ 0.15 %), mean within 4 SE.
    for (const name of ['V1', 'V2']) {
      const m = moments(p[name]!.dataSync());
      const std = Math.sqrt(2 / (S + R));
      expect(Math.abs(Math.sqrt(m.variance) / std - 1)).toBeLessThan(0.01);
      expect(Math.abs(m.mean)).toBeLessThan((4 * std) / Math.sqrt(S * R));
    }
    // W± and W0 are [R, 1]: 400 draws each, std √(2/(R+1)); pooled 800 draws, SE ≈ 2.5 %.
    const pooled = [...p.W_sign!.dataSync(), ...p.W_zero!.dataSync()];
    expect(p.W_sign!.shape).toEqual([R, 1]);
    expect(Math.abs(Math.sqrt(moments(pooled).variance) / Math.sqrt(2 / (R + 1)) - 1)).toBeLessThan(0.1);
    expect(Array.from(p.b!.dataSync())).toEqual([0]);
    tf.dispose(Object.values(p));
  });

  it('NALU gate: Xavier-uniform U[±√(6/(I+O))], gate bias 0', () => {
    expect(xavierUniformRange(3, 1)).toBeCloseTo(Math.sqrt(1.5), 12);
    const I = 400;
    const O = 200;
    const r = Math.sqrt(6 / (I + O));
    const opts = { ...naluDef.defaults, gateBias: true };
    const m = moments(initValues(naluDef as never, 'G', I, O, opts));
    expect(m.min).toBeGreaterThanOrEqual(-r);
    expect(m.max).toBeLessThanOrEqual(r);
    expect(m.max).toBeGreaterThan(0.999 * r);
    expect(m.min).toBeLessThan(-0.999 * r);
    expect(Math.abs(m.variance / (2 / (I + O)) - 1)).toBeLessThan(0.02);
    expect(Array.from(initValues(naluDef as never, 'gate_bias', 3, 2, opts))).toEqual([0, 0]);
    // The NALU's NAC weights use the NAC range.
    const w = moments(initValues(naluDef as never, 'W_hat', I, O, opts));
    expect(w.max).toBeLessThanOrEqual(nacInitRange(I, O));
    expect(w.max).toBeGreaterThan(0.999 * nacInitRange(I, O));
  });
});

describe('seeded reproducibility', () => {
  const variants: [string, UnitDef<never>, object][] = [
    ...Object.values(builtinUnits).map(
      (d) => [d.className, d, d.defaults] as [string, UnitDef<never>, object],
    ),
    ['NALU separate', naluDef as never, { ...naluDef.defaults, separateWeights: true, gateBias: true }],
    ['NSR redundancy 3', nsrDef as never, { zeta: 1, redundancy: 3 }],
  ];

  it('initParams: same seed → same values, different seed or scope → different values', () => {
    for (const [name, def, opts] of variants) {
      const shape = { inputSize: 4, units: 3 };
      const snap = (seed: number, scope: (number | string)[] = []) => {
        const p = initParams(def, shape, opts as never, seed, scope);
        const out = Object.fromEntries(Object.entries(p).map(([k, t]) => [k, Array.from(bits(t))]));
        tf.dispose(Object.values(p));
        return out;
      };
      const a = snap(42);
      expect(snap(42), name).toEqual(a);
      const b = snap(43);
      const c = snap(42, ['layer', 1]);
      for (const k of Object.keys(a)) {
        // Constant-initialised (biases, the NPU's W_im = 0 and gate g = 0.5): nothing to vary.
        if (a[k]!.every((v) => v === a[k]![0])) continue;
        expect(b[k], `${name}.${k} with another seed`).not.toEqual(a[k]);
        expect(c[k], `${name}.${k} with another scope`).not.toEqual(a[k]);
      }
      // Parameters of one model are independent streams: no two weights of the same shape coincide.
      const keys = Object.keys(a).filter((k) => !a[k]!.every((v) => v === a[k]![0]));
      for (let i = 0; i < keys.length; i++) {
        for (let j = i + 1; j < keys.length; j++) expect(a[keys[i]!]).not.toEqual(a[keys[j]!]);
      }
    }
  });

  it('layers: the `seed` argument fixes the weights; another seed changes them', () => {
    const layers = [
      (seed?: number) => new NAC({ units: 3, seed }),
      (seed?: number) => new MulNAC({ units: 3, seed }),
      (seed?: number) => new NALU({ units: 3, seed, separateWeights: true, gateBias: true }),
      (seed?: number) => new NAU({ units: 3, seed }),
      (seed?: number) => new NMU({ units: 3, seed }),
      (seed?: number) => new NSR({ seed, redundancy: 2 }),
    ];
    const weightsOf = (make: (seed?: number) => tf.layers.Layer, seed?: number) => {
      const l = make(seed);
      tf.dispose(l.apply(tf.zeros([1, 4])) as tf.Tensor); // builds it (input width 4)
      const out = l.getWeights().map((w) => Array.from(bits(w)));
      l.dispose();
      return out;
    };
    for (const make of layers) {
      const a = weightsOf(make, 7);
      expect(weightsOf(make, 7)).toEqual(a);
      expect(weightsOf(make, 8)).not.toEqual(a);
      // Without a seed each layer draws its own (random) one.
      expect(weightsOf(make)).not.toEqual(weightsOf(make));
    }
    // The layer's weights are exactly initParams(def, shape, options, seed).
    const l = new NAU({ units: 3, seed: 7 });
    l.build([null, 4]);
    const direct = initParams(nauDef, { inputSize: 4, units: 3 }, nauDef.defaults, 7);
    expect(bits(l.getWeights()[0]!)).toEqual(bits(direct.W!));
    expect(l.seed).toBe(7);
  });
});

describe('Rng bulk fills', () => {
  it('fillAffine / fillAffineTwo give exactly the values of nextU32 in a loop', async () => {
    const { Rng } = await import('../src/rng.js');
    for (const seed of [0, 1, 12345, 2 ** 31 + 7]) {
      const a = new Rng(seed, 'x');
      const b = new Rng(seed, 'x');
      const out = new Float64Array(1000);
      a.fillAffine(out, 3, 997, 1.5, 2 ** -32);
      for (let i = 3; i < 997; i++) expect(out[i]).toBe(1.5 + 2 ** -32 * b.nextU32());
      const los = Float64Array.from([-6, 2]);
      const out2 = new Float32Array(500);
      a.fillAffineTwo(out2, 0, 500, los, 4 * 2 ** -31);
      const ref = new Float32Array(500);
      for (let i = 0; i < 500; i++) {
        const u = b.nextU32();
        ref[i] = los[u >>> 31]! + 4 * 2 ** -31 * (u & 0x7fffffff);
      }
      expect(out2).toEqual(ref);
      expect(a.nextU32()).toBe(b.nextU32()); // the state advanced identically
    }
  });
});
