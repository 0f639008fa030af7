/** The NSR report: its number format (what the tables print reads back as the value) and per-seed reach. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NsrRecord } from '../src/nsr/config.js';
import { fmtNum } from '../src/nsr/report.js';
import { summarizeNsrSeeds } from '../src/nsr/summary.js';

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

describe('per-seed reach (compare and piecewise)', () => {
  const rec = (kind: 'piecewise' | 'compare' | 'min', seed: number, ok: boolean[], gate: boolean[] = ok) =>
    ({
      config: {
        task: { kind, op: kind === 'min' ? null : 'gt' },
        model: 'nsr',
        epochs: 100,
        numeric: 'float64',
        zeta: 1,
      },
      seed,
      trainSolved: ok[0] ?? false,
      // stored out of order: the reach follows the magnitudes, not the record's order
      points: ok
        .map((s, i) => ({
          exponent: 3 + i,
          length: null,
          label: `2^${3 + i}`,
          success: s,
          gateSuccess: kind === 'piecewise' ? gate[i]! : null,
          meanError: 0,
        }))
        .reverse(),
    }) as unknown as NsrRecord;

  it('is the last magnitude before the first wrong one, for the output and (piecewise) the gate', () => {
    const rows = summarizeNsrSeeds([
      rec('piecewise', 2, [true, true, false, true], [true, true, true, true]),
      rec('piecewise', 1, [true, true, true]),
      rec('compare', 0, [false, true]),
      rec('min', 0, [true]),
    ]);
    expect(rows.map((r) => [r.task.split(' ')[0], r.seed, r.rightTo, r.firstWrong, r.gateRightTo])).toEqual([
      ['compare', 0, null, '2^3', null],
      ['piecewise', 1, '2^5', null, '2^5'],
      ['piecewise', 2, '2^4', '2^5', '2^6'],
    ]);
  });
});
