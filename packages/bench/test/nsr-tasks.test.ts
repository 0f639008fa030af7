import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  describeNumericLimit,
  maxMagnitudeExponent,
  maxResolvedValue,
  stepOfZeta,
  zetaForStep,
} from '../src/nsr/resolution.js';
import type { CompareOp, NsrTaskConfig } from '../src/nsr/tasks.js';
import {
  COMPARE_OPS,
  NsrTaskError,
  countLabel,
  testData,
  testPoints,
  trainingData,
  uniformInt,
  validateNsrTask,
} from '../src/nsr/tasks.js';
import { Rng } from '@nalm/units';

const compare = (op: CompareOp, over: Partial<NsrTaskConfig> = {}): NsrTaskConfig => ({
  kind: 'compare',
  op,
  exponents: [1, 2, 3, 4, 5],
  lengths: [],
  draws: 3,
  allowBeyondPrecision: false,
  ...over,
});

/** The comparison written out independently of the code under test. */
const JS_OP: Record<CompareOp, (a: number, b: number) => boolean> = {
  gt: (a, b) => a > b,
  lt: (a, b) => a < b,
  ge: (a, b) => a >= b,
  le: (a, b) => a <= b,
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
};

describe('comparison labels', () => {
  it('are op(x1, x2) for every training and test row of every op and seed', () => {
    fc.assert(
      fc.property(fc.constantFrom(...COMPARE_OPS), fc.integer({ min: 0, max: 1e6 }), (op, seed) => {
        const c = compare(op);
        const sets = [trainingData(c, seed), ...testPoints(c).map((p) => testData(c, p, seed))];
        for (const d of sets) {
          expect(d.width).toBe(2);
          for (let i = 0; i < d.n; i++) {
            const a = d.x[2 * i]!;
            const b = d.x[2 * i + 1]!;
            expect(d.y[i]).toBe(JS_OP[op](a, b) ? 1 : 0);
          }
        }
      }),
      { numRuns: 30 },
    );
  });

  it("do not reproduce the reference's op(x1 · 10000, x2): (2, 9) is not > and 3 < 5", () => {
    const train = trainingData(compare('gt'), 0);
    const row = (a: number, b: number) => {
      for (let i = 0; i < train.n; i++)
        if (train.x[2 * i] === a && train.x[2 * i + 1] === b) return train.y[i];
      throw new Error('pair missing');
    };
    expect(row(2, 9)).toBe(0); // 20000 > 9 would give 1
    expect(row(9, 2)).toBe(1);
    expect(row(5, 5)).toBe(0);
    const lt = trainingData(compare('lt'), 0);
    expect(lt.y.reduce((a, b) => a + b, 0)).toBe(36); // 36 of the 81 pairs have x1 < x2
  });

  it('train on all 81 pairs (ordering ops) or balanced equal/unequal pairs (= and ≠)', () => {
    expect(trainingData(compare('ge'), 3).n).toBe(81);
    const eq = trainingData(compare('eq'), 3);
    expect(eq.n).toBe(18);
    expect(eq.y.reduce((a, b) => a + b, 0)).toBe(9);
  });

  it('test at 10^k: x1 in [10^k, 10^(k+1)), x2 = x1 + m with |m| ≤ 5, both orders', () => {
    const c = compare('gt');
    for (const p of testPoints(c)) {
      const d = testData(c, p, 7);
      expect(d.n).toBe(21 * c.draws);
      for (let i = 0; i < d.n; i++) {
        const a = d.x[2 * i]!;
        const b = d.x[2 * i + 1]!;
        expect(Math.abs(a - b)).toBeLessThanOrEqual(5);
        expect(Math.max(a, b)).toBeGreaterThanOrEqual(10 ** p.exponent);
        expect(Math.min(a, b)).toBeLessThan(10 ** (p.exponent + 1));
      }
    }
  });

  it('are seeded: same seed, same data; another seed, other anchors', () => {
    const c = compare('eq');
    const p = testPoints(c)[2]!;
    expect(testData(c, p, 4).x).toEqual(testData(c, p, 4).x);
    expect(testData(c, p, 4).x).not.toEqual(testData(c, p, 5).x);
  });
});

describe('uniformInt', () => {
  it('draws integers within [lo, hi] beyond 2^32 values, and refuses spans beyond 2^53', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 14 }), fc.integer({ min: 0, max: 1e6 }), (k, seed) => {
        const rng = new Rng(seed);
        const lo = 10 ** k;
        const hi = 10 ** (k + 1) - 1;
        for (let i = 0; i < 20; i++) {
          const v = uniformInt(rng, lo, hi);
          expect(Number.isInteger(v) && v >= lo && v <= hi).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
    const rng = new Rng(1);
    const top = Array.from({ length: 200 }, () => uniformInt(rng, 1e14, 1e15 - 1));
    expect(Math.max(...top)).toBeGreaterThan(8e14); // reaches the top of the range
    expect(() => uniformInt(rng, 0, 2 ** 54)).toThrow(/2\^53/);
  });
});

describe('other tasks', () => {
  it('piecewise: y = x4 + 4 if x0 > x1 else x3 − x2, gate label x0 > x1 (and the == variant)', () => {
    for (const op of ['gt', 'eq'] as const) {
      const c: NsrTaskConfig = {
        kind: 'piecewise',
        op,
        exponents: [3, 14],
        lengths: [],
        draws: 2,
        allowBeyondPrecision: false,
      };
      for (const d of [trainingData(c, 1), ...testPoints(c).map((p) => testData(c, p, 1))]) {
        for (let i = 0; i < d.n; i++) {
          const x = d.x.subarray(5 * i, 5 * i + 5);
          const cond = op === 'gt' ? x[0]! > x[1]! : x[0] === x[1];
          expect(d.gate![i]).toBe(cond ? 1 : 0);
          expect(d.y[i]).toBe(cond ? x[4]! + 4 : x[3]! - x[2]!);
        }
      }
    }
  });

  it('min and count: labels, training length 5, test values up to 10·2^k', () => {
    const min: NsrTaskConfig = {
      kind: 'min',
      op: null,
      exponents: [1, 14],
      lengths: [5, 50],
      draws: 20,
      allowBeyondPrecision: false,
    };
    const tr = trainingData(min, 2);
    expect([tr.n, tr.width]).toEqual([400, 5]);
    for (const p of testPoints(min)) {
      const d = testData(min, p, 2);
      expect(d.width).toBe(p.length);
      for (let i = 0; i < d.n; i++) {
        const row = Array.from(d.x.subarray(i * d.width, (i + 1) * d.width));
        expect(d.y[i]).toBe(Math.min(...row));
        expect(Math.max(...row)).toBeLessThanOrEqual(10 * 2 ** p.exponent);
      }
    }
    expect(countLabel([3, 3, 1, 3, 2])).toBe(2);
    const count: NsrTaskConfig = { ...min, kind: 'count' };
    const ct = testData(count, testPoints(count)[3]!, 0);
    expect(ct.width).toBe(51);
  });
});

describe('bad task parameters', () => {
  it('a magnitude beyond the float32 limit is refused unless explicitly allowed', () => {
    expect(() => validateNsrTask(compare('gt', { exponents: [1, 6] }))).toThrow(NsrTaskError);
    expect(() => validateNsrTask(compare('gt', { exponents: [1, 6] }))).toThrow(
      /float32.*allowBeyondPrecision/s,
    );
    expect(() => validateNsrTask(compare('gt', { exponents: [5] }))).not.toThrow();
    expect(() =>
      validateNsrTask(compare('gt', { exponents: [8], allowBeyondPrecision: true })),
    ).not.toThrow();
    expect(() => validateNsrTask(compare('gt', { exponents: [12] }), 'float64')).not.toThrow();
  });

  it('empty sequences, no magnitudes and wrong ops are refused with the fix', () => {
    const seq: NsrTaskConfig = {
      kind: 'min',
      op: null,
      exponents: [1],
      lengths: [5],
      draws: 5,
      allowBeyondPrecision: false,
    };
    expect(() => validateNsrTask({ ...seq, lengths: [0] })).toThrow(/empty.*≥ 1/s);
    expect(() => validateNsrTask({ ...seq, kind: 'count', lengths: [] })).toThrow(/no test lengths/);
    expect(() => validateNsrTask({ ...seq, exponents: [] })).toThrow(/no test magnitudes/);
    expect(() => validateNsrTask({ ...seq, op: 'gt' })).toThrow(/takes no op/);
    expect(() => validateNsrTask(compare('gt', { kind: 'piecewise', op: 'lt' }))).toThrow(/'gt'.*'eq'/);
    expect(() => validateNsrTask(compare('gt', { draws: 0 }))).toThrow(/draws/);
  });
});

describe('resolution', () => {
  it('float32 resolves a difference of 1 up to magnitude 10^5, float64 up to 10^13', () => {
    expect(maxMagnitudeExponent('float32', 10)).toBe(5);
    expect(maxMagnitudeExponent('float64', 10)).toBe(13);
    expect(maxMagnitudeExponent('float32', 10, 0.1)).toBe(4);
    expect(describeNumericLimit('float32')).toMatch(/float32.*k = 5/);
  });

  it('ζ = 1/step and back', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (s) => {
        expect(stepOfZeta(zetaForStep(s))).toBeCloseTo(s, 9);
      }),
    );
    expect(() => zetaForStep(0)).toThrow(/step/);
  });

  it('a float32 soft selection keeps d within 1/2 of c·(x1 − x2) up to the limit, and loses it beyond', () => {
    const f = Math.fround;
    // o = x·p in float32 as a kernel computes it: round each product and the sum.
    const select = (a: number, b: number, p: number) => f(f(f(a) * f(p)) + f(f(b) * f(1 - p)));
    const X = maxResolvedValue('float32');
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Math.floor(X) - 5 }),
        fc.integer({ min: -5, max: 5 }),
        fc.double({ min: 0.5, max: 1, noNaN: true }),
        fc.double({ min: 0.5, max: 1, noNaN: true }),
        (x1, m, p1, p2) => {
          const x2 = x1 + m;
          const d = f(select(x1, x2, p1) - select(x1, x2, 1 - p2));
          expect(Math.abs(d - (f(p1) + f(p2) - 1) * (x1 - x2))).toBeLessThan(0.5);
        },
      ),
      { numRuns: 2000 },
    );
    // 10^8 + 1 is not even a float32 value: the difference is gone before the NSR sees it.
    expect(f(1e8 + 1) - f(1e8)).toBe(0);
  });
});
