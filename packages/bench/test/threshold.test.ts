import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TaskConfigError,
  defaultStaticTask,
  subsetLayout,
  type Op,
  type Range,
  type StaticTaskConfig,
} from '../src/tasks/static.js';
import {
  cachedThreshold,
  estimateThreshold,
  threshold,
  thresholdKey,
  type ThresholdCache,
  type ThresholdEstimate,
} from '../src/threshold.js';

const PAPER_SAMPLES = 1_000_000;

/**
 * |estimate − reference| must be within 4 combined standard errors plus half a unit of the last
 * printed digit of the reference. `referenceSamples` is the sample count behind a Monte Carlo
 * reference (its SE is ours scaled to that count); omit it for exact references.
 */
function expectWithinMcError(
  e: ThresholdEstimate,
  reference: number,
  halfUnit: number,
  referenceSamples?: number,
): void {
  const seRef = referenceSamples ? e.standardError * Math.sqrt(e.samples / referenceSamples) : 0;
  const tol = 4 * Math.hypot(e.standardError, seRef) + halfUnit;
  expect(
    Math.abs(e.value - reference),
    `estimate ${e.value} ± ${e.standardError} vs ${reference} (tolerance ${tol})`,
  ).toBeLessThanOrEqual(tol);
}

/** Mean and variance of one element drawn from a range (two intervals: each with probability ½). */
function moments(r: Range): { mean: number; variance: number } {
  const w = r[0]![1] - r[0]![0];
  const mids = r.map(([lo, hi]) => (lo + hi) / 2);
  const mean = mids.reduce((s, m) => s + m, 0) / mids.length;
  const spread = mids.reduce((s, m) => s + (m - mean) ** 2, 0) / mids.length;
  return { mean, variance: (w * w) / 12 + spread };
}

/**
 * Exact threshold for add and sub, from the definition: y_ε − y = Σ_i c_i x_i with
 * add: c_i = ε·Σ_k (1 − 2·[i ∈ S_k]) over all subsets, sub: c_i = 2ε·([i ∈ S_1] − [i ∈ S_0]);
 * so E[(y_ε − y)²] = (μ Σ c_i)² + σ² Σ c_i².
 */
function exactLinearThreshold(c: StaticTaskConfig, epsilon: number, oneLonger: boolean): number {
  const l = subsetLayout(c, { oneLonger });
  const inS = (k: number, i: number) => (i >= l.starts[k]! && i < l.starts[k]! + l.lengths[k]! ? 1 : 0);
  const { mean, variance } = moments(c.extrapolation);
  let sumC = 0;
  let sumC2 = 0;
  for (let i = 0; i < c.inputSize; i++) {
    let ci = 0;
    if (c.op === 'add') for (let k = 0; k < l.starts.length; k++) ci += epsilon * (1 - 2 * inS(k, i));
    else ci = 2 * epsilon * (inS(1, i) - inS(0, i));
    sumC += ci;
    sumC2 += ci * ci;
  }
  return (mean * sumC) ** 2 + variance * sumC2;
}

describe('threshold: published values (paper-compatible one-longer layout, 1e6 samples)', () => {
  // benchmark.md §4, printed to 5 significant digits (div and root to 4).
  const published: [Op, number, number][] = [
    ['add', 1.4786e-5, 0.00005e-5],
    ['sub', 1.3844e-8, 0.00005e-8],
    ['mul', 0.16001, 0.000005],
    ['div', 4.938e-12, 0.0005e-12],
    ['squared', 0.15947, 0.000005],
    ['root', 8.955e-9, 0.0005e-9],
  ];
  for (const [op, value, halfUnit] of published) {
    it(`${op}: ${value}`, () => {
      const e = estimateThreshold(defaultStaticTask({ op }), { oneLonger: true });
      expect(e.samples).toBe(PAPER_SAMPLES);
      expectWithinMcError(e, value, halfUnit, PAPER_SAMPLES);
    });
  }
});

describe('threshold: correct subsets (25 overlapping by 12)', () => {
  const values: [Op, number, number][] = [
    ['add', 1.6e-5, 0.005e-5],
    ['mul', 0.1605, 0.00005],
    ['root', 1.01e-8, 0.005e-8],
    ['div', 5.81e-12, 0.005e-12],
  ];
  for (const [op, value, halfUnit] of values) {
    it(`${op} ≈ ${value}`, () => {
      const e = estimateThreshold(defaultStaticTask({ op }), { samples: 200_000 });
      expectWithinMcError(e, value, halfUnit);
    });
  }

  it('differs measurably from the one-longer layout (add: 1.604e−5 vs 1.479e−5)', () => {
    const c = defaultStaticTask({ op: 'add' });
    expect(exactLinearThreshold(c, 1e-5, false)).toBeCloseTo(1.60395e-5, 9);
    expect(exactLinearThreshold(c, 1e-5, true)).toBeCloseTo(1.47851e-5, 9);
    const correct = estimateThreshold(c, { samples: 50_000 });
    const paper = estimateThreshold(c, { samples: 50_000, oneLonger: true });
    expect(correct.value - paper.value).toBeGreaterThan(
      4 * Math.hypot(correct.standardError, paper.standardError),
    );
  });
});

describe('threshold: exact values for add and sub', () => {
  const cases: [string, Partial<StaticTaskConfig>, boolean][] = [
    ['add, defaults', { op: 'add' }, false],
    ['add, defaults, one longer', { op: 'add' }, true],
    ['sub, defaults', { op: 'sub' }, false],
    ['sub, defaults, one longer', { op: 'sub' }, true],
    [
      'add, U[−6,−2]∪U[2,6] (fair signs)',
      {
        op: 'add',
        extrapolation: [
          [-6, -2],
          [2, 6],
        ],
      },
      false,
    ],
    [
      'sub, U[−6,−2]∪U[2,6] (fair signs)',
      {
        op: 'sub',
        extrapolation: [
          [-6, -2],
          [2, 6],
        ],
      },
      false,
    ],
    ['add, simple variant', { op: 'add', simple: true }, false],
    ['sub, simple variant', { op: 'sub', simple: true }, false],
    ['add, three subsets', { op: 'add', numSubsets: 3 }, false],
  ];
  for (const [name, override, oneLonger] of cases) {
    it(name, () => {
      const c = defaultStaticTask(override);
      const e = estimateThreshold(c, { samples: 200_000, oneLonger });
      expectWithinMcError(e, exactLinearThreshold(c, 1e-5, oneLonger), 0);
    });
  }

  it('property: random layouts and ranges match the exact value', () => {
    const arb = fc
      .record({
        op: fc.constantFrom<Op>('add', 'sub'),
        inputSize: fc.integer({ min: 2, max: 60 }),
        subsetRatio: fc.double({ min: 0.02, max: 1, noNaN: true }),
        overlapRatio: fc.double({ min: 0, max: 1, noNaN: true }),
        numSubsets: fc.integer({ min: 2, max: 4 }),
        lo: fc.double({ min: -10, max: 10, noNaN: true }),
        w: fc.double({ min: 0.1, max: 5, noNaN: true }),
        gap: fc.double({ min: 0, max: 5, noNaN: true }),
        two: fc.boolean(),
        oneLonger: fc.boolean(),
      })
      .map(({ lo, w, gap, two, oneLonger, ...r }) => ({
        oneLonger,
        c: {
          ...defaultStaticTask(),
          ...r,
          extrapolation: (two
            ? [
                [lo, lo + w],
                [lo + w + gap, lo + 2 * w + gap],
              ]
            : [[lo, lo + w]]) as Range,
        } satisfies StaticTaskConfig,
      }))
      .filter(({ c, oneLonger }) => {
        try {
          subsetLayout(c, { oneLonger });
          return true;
        } catch {
          return false;
        }
      });
    fc.assert(
      fc.property(arb, ({ c, oneLonger }) => {
        const e = estimateThreshold(c, { samples: 20_000, oneLonger });
        // 5 SE: the configurations are random, so keep the chance of a false alarm negligible. When
        // the exact value is 0 (e.g. add with two disjoint subsets covering all of I), what is left is
        // float64 rounding of y_ε − y, of order (1e−16 · ε · Σ|x|)².
        const exact = exactLinearThreshold(c, 1e-5, oneLonger);
        const maxAbs = Math.max(...c.extrapolation.flat().map(Math.abs));
        const rounding = (1e-14 * 1e-5 * c.inputSize * maxAbs) ** 2;
        expect(Math.abs(e.value - exact)).toBeLessThanOrEqual(5 * e.standardError + 1e-12 * exact + rounding);
      }),
      { numRuns: 30 },
    );
  });
});

describe('threshold: numerics and determinism', () => {
  it('is computed without cancellation: linear ops scale exactly with ε²', () => {
    for (const op of ['add', 'sub'] as const) {
      const c = defaultStaticTask({ op });
      const a = threshold(c, { samples: 2000, epsilon: 1e-5 });
      const b = threshold(c, { samples: 2000, epsilon: 1e-7 });
      expect(a / b).toBeCloseTo(1e4, 6);
    }
    // root and div: the first-order term dominates, so the ratio is ≈ (ε ratio)² up to O(ε).
    for (const op of ['root', 'div'] as const) {
      const c = defaultStaticTask({ op });
      const ratio =
        threshold(c, { samples: 2000, epsilon: 1e-5 }) / threshold(c, { samples: 2000, epsilon: 1e-7 });
      expect(Math.abs(ratio / 1e4 - 1)).toBeLessThan(1e-3);
    }
  });

  it('same options → the same value; another seed → another estimate within Monte Carlo error', () => {
    const c = defaultStaticTask({ op: 'mul' });
    const a = estimateThreshold(c, { samples: 20_000 });
    expect(estimateThreshold(c, { samples: 20_000 })).toEqual(a);
    const b = estimateThreshold(c, { samples: 20_000, seed: 1 });
    expect(b.value).not.toBe(a.value);
    expect(Math.abs(a.value - b.value)).toBeLessThan(4 * Math.hypot(a.standardError, b.standardError));
  });

  it('does not depend on the interpolation range', () => {
    const a = threshold(defaultStaticTask({ op: 'mul' }), { samples: 1000 });
    const b = threshold(defaultStaticTask({ op: 'mul', interpolation: [[0.1, 0.2]] }), { samples: 1000 });
    expect(b).toBe(a);
  });

  it('rejects bad options, naming them', () => {
    const c = defaultStaticTask();
    expect(() => threshold(c, { epsilon: 0 })).toThrow(TaskConfigError);
    expect(() => threshold(c, { epsilon: 0 })).toThrow(/^epsilon: /);
    expect(() => threshold(c, { samples: 1 })).toThrow(/^samples: /);
    expect(() => threshold(c, { seed: 0.5 })).toThrow(/^seed: /);
    // the one-longer layout must fit too
    expect(() =>
      threshold(defaultStaticTask({ subsetRatio: 1, numSubsets: 1, op: 'add' }), { oneLonger: true }),
    ).toThrow(/one longer/);
  });
});

describe('cachedThreshold', () => {
  function countingCache(): ThresholdCache & { gets: number; sets: number; map: Map<string, number> } {
    const map = new Map<string, number>();
    return {
      map,
      gets: 0,
      sets: 0,
      get(key) {
        this.gets++;
        return map.get(key);
      },
      set(key, v) {
        this.sets++;
        map.set(key, v);
      },
    };
  }

  it('computes once per key and then serves from the cache', () => {
    const cache = countingCache();
    const c = defaultStaticTask({ op: 'add' });
    const v = cachedThreshold(c, { samples: 5000 }, cache);
    expect(v).toBe(threshold(c, { samples: 5000 }));
    expect(cache.sets).toBe(1);
    // Served from the cache: a planted value comes back.
    cache.map.set(thresholdKey(c, { samples: 5000 }), 42);
    expect(cachedThreshold({ ...c }, { samples: 5000 }, cache)).toBe(42);
    expect(cache.sets).toBe(1);
  });

  it('keys: equal for equivalent inputs, different for anything the threshold depends on', () => {
    const c = defaultStaticTask();
    const k = thresholdKey(c);
    expect(thresholdKey(c, { epsilon: 1e-5, samples: 1_000_000, seed: 0, oneLonger: false })).toBe(k);
    expect(thresholdKey({ ...c, interpolation: [[0, 1]] })).toBe(k);
    expect(thresholdKey({ ...c, extrapolation: [[2, 6]] })).toBe(k);
    const others = [
      thresholdKey({ ...c, op: 'add' }),
      thresholdKey({ ...c, extrapolation: [[1, 5]] }),
      thresholdKey({ ...c, inputSize: 50 }),
      thresholdKey({ ...c, overlapRatio: 0.25 }),
      thresholdKey(c, { oneLonger: true }),
      thresholdKey(c, { samples: 1000 }),
      thresholdKey(c, { seed: 3 }),
      thresholdKey(c, { epsilon: 1e-6 }),
    ];
    expect(new Set([k, ...others]).size).toBe(others.length + 1);
  });

  it('has an in-memory default cache', () => {
    const c = defaultStaticTask({ op: 'sub' });
    const t0 = performance.now();
    const a = cachedThreshold(c, { samples: 300_000 });
    const first = performance.now() - t0;
    const t1 = performance.now();
    expect(cachedThreshold(c, { samples: 300_000 })).toBe(a);
    expect(performance.now() - t1).toBeLessThan(first / 10);
  });
});
