/**
 * The exact calculator stage: equal to BigInt arithmetic for every operand in range, and the
 * defined "invalid" result (never NaN, never a throw) for division by zero, out-of-range operands,
 * unknown operators and results too long for the output mapping.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DIGIT_BITS,
  INVALID,
  OPERATORS,
  calculate,
  digitsOf,
  fromDigits,
  resultFeatureSize,
  resultFeatures,
} from '../src/arith.js';

const D = 5;
const R = 10;
const LIMIT = 10n ** BigInt(D);
const inRange = fc.bigInt({ min: -(LIMIT - 1n), max: LIMIT - 1n });
const op = fc.integer({ min: 0, max: OPERATORS.length - 1 });

function reference(a: bigint, b: bigint, o: number): bigint | null {
  switch (OPERATORS[o]) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    default:
      return b === 0n ? null : a / b; // BigInt division truncates towards zero
  }
}

describe('calculate', () => {
  it('is exact for all operands in range (BigInt reference)', () => {
    fc.assert(
      fc.property(inRange, inRange, op, (a, b, o) => {
        const r = calculate(a, b, o, D, R);
        const want = reference(a, b, o);
        if (want === null) expect(r).toEqual(INVALID);
        else expect(r).toEqual({ value: want, invalid: false });
      }),
      { numRuns: 5000 },
    );
  });

  it('covers the extremes exactly: 99999 × 99999, −99999 − 99999, 99999 / −1', () => {
    expect(calculate(99999n, 99999n, 2, D, R)).toEqual({ value: 9999800001n, invalid: false });
    expect(calculate(-99999n, 99999n, 1, D, R)).toEqual({ value: -199998n, invalid: false });
    expect(calculate(99999n, -1n, 3, D, R)).toEqual({ value: -99999n, invalid: false });
    expect(calculate(7n, 2n, 3, D, R)).toEqual({ value: 3n, invalid: false });
    expect(calculate(-7n, 2n, 3, D, R)).toEqual({ value: -3n, invalid: false });
  });

  it('division by zero is invalid', () => {
    fc.assert(
      fc.property(inRange, (a) => {
        expect(calculate(a, 0n, 3, D, R)).toEqual(INVALID);
      }),
    );
  });

  it('out-of-range operands, unknown operators and too-long results are invalid', () => {
    const outside = fc.oneof(
      fc.bigInt({ min: LIMIT, max: LIMIT * 1000n }),
      fc.bigInt({ min: -LIMIT * 1000n, max: -LIMIT }),
    );
    fc.assert(
      fc.property(outside, inRange, op, fc.boolean(), (x, y, o, first) => {
        expect(calculate(first ? x : y, first ? y : x, o, D, R)).toEqual(INVALID);
      }),
    );
    expect(calculate(1n, 1n, OPERATORS.length, D, R)).toEqual(INVALID);
    expect(calculate(1n, 1n, -1, D, R)).toEqual(INVALID);
    expect(calculate(99999n, 99999n, 2, D, 9)).toEqual(INVALID); // 10-digit product, 9 result slots
  });
});

describe('result features', () => {
  it('are 4-bit digit codes + sign + invalid, finite, and decode back to the result', () => {
    const W = resultFeatureSize(R);
    fc.assert(
      fc.property(inRange, inRange, op, (a, b, o) => {
        const r = calculate(a, b, o, D, R);
        const f = new Float32Array(W).fill(NaN);
        resultFeatures(r, R, f);
        expect(f.every((v) => v === 0 || v === 1)).toBe(true);
        expect(f[W - 1]).toBe(r.invalid ? 1 : 0);
        if (r.invalid) {
          expect(f.slice(0, W - 1).every((v) => v === 0)).toBe(true);
          return;
        }
        const digits: number[] = [];
        for (let j = 0; j < R; j++) {
          let v = 0;
          for (let k = 0; k < DIGIT_BITS; k++) v += f[j * DIGIT_BITS + k]! << k;
          expect(v).toBeLessThan(10);
          digits.push(v);
        }
        expect(fromDigits(digits, f[W - 2] === 1)).toBe(r.value);
      }),
      { numRuns: 2000 },
    );
  });

  it('digitsOf refuses numbers longer than its slots', () => {
    expect(digitsOf(-120n, 4)).toEqual([0, 2, 1, 0]);
    expect(() => digitsOf(12345n, 4)).toThrow(/more than 4 digits/);
  });
});
