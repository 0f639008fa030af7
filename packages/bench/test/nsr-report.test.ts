/** The NSR report: its number format (what the tables print reads back as the value) and per-seed reach. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NsrRecord } from '../src/nsr/config.js';
import { fmtNum, formatNsrMarkdown, nsrReport, nsrSuccessSpec } from '../src/nsr/report.js';
import { wilson } from '../src/stats/wilson.js';
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

describe('the gate alone, side by side (piecewise)', () => {
  // Five seeds of one model: the output right in `ok` of them, the gate in `gate` of them.
  const recs = (kind: 'piecewise' | 'min', model: 'nsr' | 'mlp', ok: number, gate: number) =>
    Array.from(
      { length: 5 },
      (_, seed) =>
        ({
          config: {
            task: { kind, op: kind === 'min' ? null : 'gt' },
            model,
            ...(model === 'mlp' ? { mlpInit: 'torch-linear' } : {}),
            epochs: 50000,
            regularizeFrom: 0.8,
            numeric: 'float64',
            zeta: 1,
          },
          seed,
          trainSolved: true,
          diverged: null,
          points: [
            {
              exponent: 14,
              length: kind === 'min' ? 5 : null,
              label: '2^14',
              success: seed < ok,
              gateSuccess: kind === 'piecewise' ? seed < gate : null,
              meanError: 0,
              beyondPrecision: false,
            },
          ],
        }) as unknown as NsrRecord,
    );

  it('counts the seeds whose gate is right, with the Wilson interval, next to the output', () => {
    const report = nsrReport([...recs('piecewise', 'nsr', 1, 5), ...recs('piecewise', 'mlp', 0, 2)]);
    const nsr = report.rows.find((r) => r.model === 'nsr')!;
    expect([nsr.solved, nsr.gateSolved, nsr.gate]).toEqual([1, 5, wilson(5, 5)]);
    const md = formatNsrMarkdown(report);
    const gateTable = md.slice(md.indexOf('## The gate alone'), md.indexOf('## Per task'));
    expect(gateTable).toContain('| task | magnitude | NSR | MLP |');
    expect(gateTable).toContain('| piecewise > | 2^14 | 5/5 100% [56.6, 100] | 2/5 40.0% [11.8, 76.9] |');
    expect(md).toContain('| piecewise > | 2^14 | 1/5 20.0% [3.6, 62.4] | 0/5 0% [0, 43.4] |');
    // The plot draws the gate as a second, dashed series.
    const spec = nsrSuccessSpec(report, 'piecewise') as unknown as {
      data: { values: { measure: string }[] };
    };
    expect(spec.data.values.map((v) => v.measure).sort()).toEqual([
      'the gate alone',
      'the gate alone',
      'the output',
      'the output',
    ]);
  });

  it("keeps MLP records made before mlpInit apart, labelled with their init (not the reference's)", () => {
    const legacy = recs('piecewise', 'mlp', 1, 1).map((r) => {
      const { mlpInit: _, ...config } = r.config;
      return { ...r, config } as NsrRecord;
    });
    const report = nsrReport([...recs('piecewise', 'mlp', 0, 2), ...legacy]);
    expect(report.rows.map((r) => [r.modelLabel, r.solved, r.gateSolved])).toEqual([
      ['MLP', 0, 2],
      ['MLP (Xavier-uniform init)', 1, 1],
    ]);
  });

  it('has no gate table, series or note without a piecewise row', () => {
    const report = nsrReport(recs('min', 'nsr', 5, 0));
    expect(report.rows[0]!.gate).toBeNull();
    expect(formatNsrMarkdown(report)).not.toMatch(/gate alone/i);
    const spec = nsrSuccessSpec(report, 'min') as unknown as { data: { values: { measure: string }[] } };
    expect(spec.data.values.map((v) => v.measure)).toEqual(['the output']);
  });
});
