/**
 * Statistics of the benchmark (benchmark.md §5). Expected values come from the spec, from
 * closed-form identities, or from small independent re-implementations inside this file (textbook
 * log-densities with a plain golden-section search) — never from the code under test.
 */
import digamma from '@stdlib/math-base-special-digamma';
import gammaln from '@stdlib/math-base-special-gammaln';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  betaMle,
  clampSparsity,
  fitBetaMean,
  fitGammaMean,
  gammaMle,
  paperGammaMean,
  summarize,
  wilson,
  type RunOutcome,
} from '../src/stats/index.js';

// ---- independent helpers ----

/** mulberry32: a tiny seeded PRNG so the synthetic samples are fixed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gamma(k, rate) for integer k: a sum of k exponentials. */
function gammaSample(n: number, k: number, rate: number, seed: number): number[] {
  const u = rng(seed);
  return Array.from({ length: n }, () => {
    let s = 0;
    for (let i = 0; i < k; i++) s -= Math.log(1 - u());
    return s / rate;
  });
}

/** Beta(a, b) for integers: the a-th smallest of a + b − 1 uniforms. */
function betaSample(n: number, a: number, b: number, seed: number): number[] {
  const u = rng(seed);
  return Array.from({ length: n }, () => {
    const us = Array.from({ length: a + b - 1 }, u).sort((p, q) => p - q);
    return us[a - 1] as number;
  });
}

const avg = (x: readonly number[]) => x.reduce((s, v) => s + v, 0) / x.length;
const svar = (x: readonly number[]) => {
  const m = avg(x);
  return x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1);
};

/** Golden-section minimum on [a, b] (assumes unimodality). */
function golden(f: (x: number) => number, a: number, b: number, iters = 200): { x: number; fx: number } {
  const r = (Math.sqrt(5) - 1) / 2;
  let c = b - r * (b - a);
  let d = a + r * (b - a);
  for (let i = 0; i < iters; i++) {
    if (f(c) < f(d)) b = d;
    else a = c;
    c = b - r * (b - a);
    d = a + r * (b - a);
  }
  const x = (a + b) / 2;
  return { x, fx: f(x) };
}

/** Textbook gamma NLL with shape k and rate r. */
const gammaNllRef = (x: readonly number[], k: number, r: number) =>
  -x.reduce((s, v) => s + k * Math.log(r) - gammaln(k) + (k - 1) * Math.log(v) - r * v, 0);

/** Textbook beta NLL with shape a, b (log B via lgamma). */
const betaNllRef = (y: readonly number[], a: number, b: number) => {
  const lb = gammaln(a) + gammaln(b) - gammaln(a + b);
  return -y.reduce((s, v) => s + (a - 1) * Math.log(v) + (b - 1) * Math.log(1 - v) - lb, 0);
};

/** Gamma profile NLL at mean mu: minimise over log shape. */
const gammaProfileRef = (x: readonly number[], mu: number) =>
  golden((lk) => gammaNllRef(x, Math.exp(lk), Math.exp(lk) / mu), -10, 15).fx;

/** Beta profile NLL at mean m (on [0, 1]): minimise over log concentration. */
const betaProfileRef = (y: readonly number[], m: number) =>
  golden((lv) => betaNllRef(y, m * Math.exp(lv), (1 - m) * Math.exp(lv)), -5, 25).fx;

const CHISQ_95 = 3.841459; // qchisq(0.95, 1), the spec's number

// ---- Wilson ----

describe('wilson', () => {
  it('matches the check values of benchmark.md §5 (n = 100)', () => {
    const cases: [number, number, number][] = [
      [0, 0, 0.0369935],
      [98, 0.929988, 0.994498],
      [31, 0.227797, 0.406261],
    ];
    for (const [k, lower, upper] of cases) {
      const w = wilson(k, 100);
      expect(w.mean).toBe(k / 100);
      expect(w.lower).toBeCloseTo(lower, 6);
      expect(w.upper).toBeCloseTo(upper, 6);
    }
  });

  it('bounds are the roots of the score equation (p̂ − p)² = z²·p(1 − p)/n', () => {
    const z = 1.959964;
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 2000 })
          .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }))),
        ([n, k]) => {
          const w = wilson(k, n, z);
          const p = k / n;
          for (const b of [w.lower, w.upper]) {
            expect(Math.abs((p - b) ** 2 - (z * z * b * (1 - b)) / n)).toBeLessThan(1e-12);
          }
        },
      ),
    );
  });

  it('lower ≤ p̂ ≤ upper inside [0, 1], and symmetric under k ↔ n − k', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 5000 })
          .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }))),
        ([n, k]) => {
          const w = wilson(k, n);
          const m = wilson(n - k, n);
          expect(0).toBeLessThanOrEqual(w.lower);
          expect(w.lower).toBeLessThanOrEqual(w.mean);
          expect(w.mean).toBeLessThanOrEqual(w.upper);
          expect(w.upper).toBeLessThanOrEqual(1);
          expect(w.lower).toBeCloseTo(1 - m.upper, 12);
          expect(w.upper).toBeCloseTo(1 - m.lower, 12);
        },
      ),
    );
  });

  it('n = 0 has no rate; impossible counts are rejected', () => {
    expect(wilson(0, 0).mean).toBeNaN();
    expect(() => wilson(3, 2)).toThrow(RangeError);
    expect(() => wilson(-1, 2)).toThrow(RangeError);
  });
});

// ---- gamma ----

describe('gamma fit (correct statistics)', () => {
  const x = gammaSample(200, 3, 2e-6, 1);

  it('the MLE satisfies log(shape) − ψ(shape) = log(mean) − mean(log x) and rate = shape/mean', () => {
    const fit = gammaMle(x);
    expect(fit).not.toBeNull();
    const { shape, rate } = fit!;
    const rhs = Math.log(avg(x)) - avg(x.map(Math.log));
    expect(Math.log(shape) - digamma(shape)).toBeCloseTo(rhs, 9);
    expect(rate).toBeCloseTo(shape / avg(x), 15);
    // …and it is a maximum of the textbook likelihood: nudging either parameter makes it worse.
    const nll = gammaNllRef(x, shape, rate);
    for (const [ds, dr] of [
      [1.01, 1],
      [0.99, 1],
      [1, 1.01],
      [1, 0.99],
    ] as const) {
      expect(gammaNllRef(x, shape * ds, rate * dr)).toBeGreaterThan(nll);
    }
  });

  it('the mean is the sample mean and the profile interval has 2ΔNLL = 3.8415 at its ends', () => {
    const fit = fitGammaMean(x)!;
    expect(fit.mean).toBeCloseTo(avg(x), 6);
    expect(fit.lower).toBeLessThan(fit.mean);
    expect(fit.upper).toBeGreaterThan(fit.mean);
    const p0 = gammaProfileRef(x, fit.mean);
    expect(2 * (gammaProfileRef(x, fit.lower) - p0)).toBeCloseTo(CHISQ_95, 3);
    expect(2 * (gammaProfileRef(x, fit.upper) - p0)).toBeCloseTo(CHISQ_95, 3);
    // Skewed distribution, skewed interval: the upper arm is longer.
    expect(fit.upper - fit.mean).toBeGreaterThan(fit.mean - fit.lower);
  });

  it('recovers the mean and shape of a large sample from a known gamma', () => {
    const big = gammaSample(20000, 3, 2e-6, 7); // mean 1.5e6
    const fit = fitGammaMean(big)!;
    expect(Math.abs(fit.mean / 1.5e6 - 1)).toBeLessThan(0.02);
    expect(fit.lower).toBeLessThan(1.5e6);
    expect(fit.upper).toBeGreaterThan(1.5e6);
    expect(Math.abs(gammaMle(big)!.shape / 3 - 1)).toBeLessThan(0.05);
  });

  it('refuses what it cannot fit (n < 2, sd ≤ 1e−5, non-positive values)', () => {
    expect(fitGammaMean([5])).toBeNull();
    expect(fitGammaMean([5, 5, 5])).toBeNull();
    expect(fitGammaMean([0, 1000, 2000])).toBeNull();
  });
});

describe('gamma fit (paper-compatible slice, rule 3)', () => {
  const x = gammaSample(60, 2, 1e-6, 3);
  const s2 = svar(x);
  const slice = (mu: number) => gammaNllRef(x, (mu * mu) / s2, mu / s2);

  it('the interval ends are at 2[NLL(t) − NLL(μ)] = 3.841459 on the slice σ² = var(x), from the reported μ', () => {
    const fit = paperGammaMean(x)!;
    expect(fit.lower).toBeLessThan(fit.mean);
    expect(fit.upper).toBeGreaterThan(fit.mean);
    expect(2 * (slice(fit.lower) - slice(fit.mean))).toBeCloseTo(CHISQ_95, 3);
    expect(2 * (slice(fit.upper) - slice(fit.mean))).toBeCloseTo(CHISQ_95, 3);
  });

  it('the reported μ is near the slice minimum (the walk leaves no probe better by 0.001)', () => {
    const fit = paperGammaMean(x)!;
    const m = avg(x);
    const min = golden(slice, m * 0.5, m * 1.5);
    expect(2 * (slice(fit.mean) - min.fx)).toBeLessThan(0.25);
    expect(2 * (slice(fit.mean) - min.fx)).toBeGreaterThanOrEqual(-1e-9);
  });

  it('differs from the correct statistics, whose variance is free', () => {
    const paper = paperGammaMean(x)!;
    const correct = fitGammaMean(x)!;
    expect(correct.mean).toBeCloseTo(avg(x), 6);
    expect(paper.mean).not.toBeCloseTo(correct.mean, 0);
  });
});

// ---- beta ----

describe('beta fit', () => {
  const y = betaSample(3000, 2, 5, 11); // mean 2/7

  it('the MLE satisfies the score equations ψ(α) − ψ(α+β) = mean(log y), ψ(β) − ψ(α+β) = mean(log(1−y))', () => {
    const { alpha, beta } = betaMle(y)!;
    expect(digamma(alpha) - digamma(alpha + beta)).toBeCloseTo(avg(y.map(Math.log)), 5);
    expect(digamma(beta) - digamma(alpha + beta)).toBeCloseTo(avg(y.map((v) => Math.log1p(-v))), 5);
    expect(Math.abs(alpha / 2 - 1)).toBeLessThan(0.1);
    expect(Math.abs(beta / 5 - 1)).toBeLessThan(0.1);
  });

  it('correct mode fits 2x on [0, 1] and reports the mean and profile interval on [0, 0.5]', () => {
    const x = y.map((v) => v / 2); // a sparsity error sample with mean 1/7
    const fit = fitBetaMean(clampSparsity(x), 'correct')!;
    expect(Math.abs(fit.mean / (1 / 7) - 1)).toBeLessThan(0.03);
    expect(fit.lower).toBeLessThan(fit.mean);
    expect(fit.upper).toBeGreaterThan(fit.mean);
    // Profile deviance at the ends, on the [0, 1] scale of 2x.
    const p0 = betaProfileRef(y, 2 * fit.mean);
    expect(2 * (betaProfileRef(y, 2 * fit.lower) - p0)).toBeCloseTo(CHISQ_95, 2);
    expect(2 * (betaProfileRef(y, 2 * fit.upper) - p0)).toBeCloseTo(CHISQ_95, 2);
  });

  it('paper mode (quirk b: x fitted as if it were 2x) reports about half the real mean', () => {
    const x = clampSparsity(betaSample(500, 2, 30, 5).map((v) => v / 2)); // real mean 1/32
    const paper = fitBetaMean(x, 'paper')!;
    const correct = fitBetaMean(x, 'correct')!;
    expect(Math.abs(correct.mean / (1 / 32) - 1)).toBeLessThan(0.05);
    expect(correct.mean / paper.mean).toBeGreaterThan(1.8);
    expect(correct.mean / paper.mean).toBeLessThan(2.2);
  });

  it('rule 2(b): a fitted paper mean below 2e−5 falls back to t; correct mode still fits', () => {
    const tiny = Array.from({ length: 50 }, (_, i) => 5e-6 * (1 + i / 10)); // mean ≈ 1.7e−5
    expect(fitBetaMean(tiny, 'paper')).toBeNull();
    expect(fitBetaMean(tiny, 'correct')).not.toBeNull();
    expect(
      summarize(
        tiny.map((s) => ({ solved: true, solvedAt: 1000, sparsityError: s })),
        { paperCompat: true },
      ).sparsityError.method,
    ).toBe('t');
  });

  it('rule 2(a): every log-density clamped at the start point (x ≈ 0.5) falls back to t, upper bound 0.5', () => {
    const near = [0.4999973, 0.4999978]; // n = 2: t₀.₉₇₅,₁ = 12.7 pushes the upper bound past 0.5
    expect(fitBetaMean(clampSparsity(near), 'paper')).toBeNull();
    const s = summarize(
      near.map((v) => ({ solved: true, solvedAt: 1000, sparsityError: v })),
      { paperCompat: true },
    );
    expect(s.sparsityError.method).toBe('t');
    expect(s.sparsityError.mean).toBeCloseTo(avg(near), 12);
    expect(s.sparsityError.upper).toBe(0.5);
  });
});

// ---- t fallback and NA conventions ----

describe('summarize: t fallback and NA conventions', () => {
  const solved = (solvedAt: number, sparsityError: number): RunOutcome => ({
    solved: true,
    solvedAt,
    sparsityError,
  });
  const failed: RunOutcome = { solved: false, solvedAt: null, sparsityError: 0.3 };

  for (const paperCompat of [false, true]) {
    describe(paperCompat ? 'paper-compatible mode' : 'correct mode', () => {
      it('n = 1: the value itself, bounds NA', () => {
        const s = summarize([solved(5000, 0.1), failed], { paperCompat });
        expect(s.mode).toBe(paperCompat ? 'paper-compat' : 'correct');
        expect(s.n).toBe(2);
        expect(s.solved).toBe(1);
        expect(s.solvedAt).toEqual({ mean: 5000, lower: null, upper: null, method: 't', median: 5000 });
        expect(s.sparsityError).toEqual({ mean: 0.1, lower: null, upper: null, method: 't' });
      });

      it('degenerate sample (sd = 0): mean ± 0', () => {
        const s = summarize([solved(1003000, 0.2), solved(1003000, 0.2), solved(1003000, 0.2)], {
          paperCompat,
        });
        expect(s.solvedAt).toEqual({
          mean: 1003000,
          lower: 1003000,
          upper: 1003000,
          method: 't',
          median: 1003000,
        });
        expect(s.sparsityError.method).toBe('t');
        expect(s.sparsityError.lower).toBeCloseTo(0.2, 15);
        expect(s.sparsityError.upper).toBeCloseTo(0.2, 15);
      });

      it('sd just at the gamma threshold (1e−5) is still degenerate; the t interval uses t₀.₉₇₅,ₙ₋₁', () => {
        // Two values 1e−5·√2 apart have sd = 1e−5, which is not > 1e−5.
        const a = [1000, 1000 + 1e-5 * Math.SQRT2];
        const s = summarize(
          a.map((v) => solved(v, 0.1)),
          { paperCompat },
        );
        expect(s.solvedAt.method).toBe('t');
        // t_{0.975, 1} = 12.706204736 (table value).
        const half = (12.706204736 * Math.sqrt(svar(a))) / Math.sqrt(2);
        expect(s.solvedAt.upper! - s.solvedAt.mean).toBeCloseTo(half, 9);
      });

      it('no solved runs: median NA, means NaN, bounds NA', () => {
        const s = summarize([failed, failed], { paperCompat });
        expect(s.success).toMatchObject({ mean: 0, lower: 0, method: 'wilson' });
        expect(s.solvedAt.median).toBeNull();
        expect(s.solvedAt.mean).toBeNaN();
        expect(s.solvedAt.lower).toBeNull();
        expect(s.solvedAt.upper).toBeNull();
        expect(s.sparsityError.mean).toBeNaN();
        expect(s.sparsityError.lower).toBeNull();
        expect(s.sparsityError.upper).toBeNull();
      });

      it('values outside [0, 0.5] are clamped before the fallback (Linear models exceed 0.5)', () => {
        const s = summarize([solved(1000, 0.7), solved(2000, 0.9), solved(3000, 0.6)], { paperCompat });
        expect(s.sparsityError.method).toBe('t');
        expect(s.sparsityError.mean).toBeCloseTo(0.5, 14);
        expect(s.sparsityError.upper).toBeLessThanOrEqual(0.5);
        expect(s.sparsityError.upper).toBeCloseTo(0.5, 14);
        expect(s.solvedAt.median).toBe(2000);
      });
    });
  }

  it('the sparsity t interval is clamped to [0, 0.5] (paper mode, rule 2(b) fallback)', () => {
    const x = [1e-6, 3e-5];
    const s = summarize(
      x.map((v) => solved(1000, v)),
      { paperCompat: true },
    );
    expect(s.sparsityError.method).toBe('t');
    expect(s.sparsityError.mean).toBeCloseTo(avg(x), 18);
    expect(s.sparsityError.lower).toBe(0); // mean − 12.7·sd/√2 < 0
    expect(s.sparsityError.upper).toBeCloseTo(avg(x) + (12.706204736 * Math.sqrt(svar(x))) / Math.SQRT2, 10);
  });

  it('Wilson success rate over all runs; solved-at median as R computes it (even n: mean of the middle two)', () => {
    const s = summarize([
      solved(1000, 0.1),
      solved(4000, 0.2),
      solved(2000, 0.15),
      solved(9000, 0.1),
      failed,
    ]);
    expect(s.success.mean).toBe(0.8);
    expect(s.success.method).toBe('wilson');
    expect(s.solvedAt.median).toBe(3000);
    expect(s.solvedAt.method).toBe('gamma');
    expect(s.sparsityError.method).toBe('beta');
  });

  it('an empty group summarises to n = 0 without throwing', () => {
    const s = summarize([]);
    expect(s.n).toBe(0);
    expect(s.success.mean).toBeNaN();
    expect(s.success.lower).toBeNull();
  });
});
