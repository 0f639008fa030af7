/** The NSR report's number format: what the tables print must read back as the value. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fmtNum } from '../src/nsr/report.js';

describe('fmtNum', () => {
  it('reads back within the digits it keeps, whatever the value', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (v) => {
        const s = fmtNum(v);
        if (v === 0) return s === '0';
        const a = Math.abs(v);
        // Exponent form keeps two digits (5%), integers from 1,000 on are rounded (0.5), else three digits (0.5%).
        const tolerance = a >= 1e4 || a < 1e-3 ? 0.05 * a : a >= 1e3 ? 0.5 : 0.005 * a * (1 + 1e-12);
        return Math.abs(Number(s) - v) <= tolerance;
      }),
    );
  });

  it('keeps the zeros of integers and drops those after the point', () => {
    expect([110, 100, 2000, 6532.4, 1.5, 2, 0.1, 60.2, 12345, 0.0001234].map(fmtNum)).toEqual([
      '110',
      '100',
      '2000',
      '6532',
      '1.5',
      '2',
      '0.1',
      '60.2',
      '1.2e+4',
      '1.2e-4',
    ]);
    expect([null, NaN, Infinity].map(fmtNum)).toEqual(['—', '—', '—']);
  });
});
