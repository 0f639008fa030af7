/**
 * stable-nalu CSV compatibility: reading the per-run layout of sft-last.csv, clear errors on
 * malformed files, readr's spelling of values, and the per-run writer round-tripping our records.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { listModels } from '../src/models/registry.js';
import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../src/config.js';
import type { EvalPoint, RunRecord } from '../src/record.js';
import {
  CsvFormatError,
  formatPerRunCsv,
  formatRNumber,
  groupRuns,
  parseStableNaluCsv,
  toRunOutcome,
} from '../src/report/stable-nalu.js';

/** sft-last.csv's header line, as the R scripts wrote it. */
const HEADER =
  'name,threshold,best.model.step,interpolation.last,extrapolation.last,interpolation.step.solved,' +
  'extrapolation.step.solved,sparse.error.max,solved,model,operation,seed,size';

const NAC_NMU = '$\\mathrm{NAC}_{\\bullet,\\mathrm{NMU}}$';

describe('parseStableNaluCsv', () => {
  const text = [
    HEADER,
    `nmu_s0,0.16001,4200,1.5e-9,2.5e-3,3000,1434000,4.205610505833851e-7,TRUE,NMU,$\\bm{\\times}$,0,5001`,
    `posnac_s1,1.47861742158438e-5,3970,0.005790804047137499,3610348921878391e6,NA,NA,0.41130614280700684,FALSE,"${NAC_NMU}",$\\bm{+}$,1,5001`,
    `"quoted ""name""",1e-5,9,NaN,Inf,NA,NA,0.5,NA,"a
b",-,2,9`,
  ].join('\r\n');

  it('reads values, NA, TRUE/FALSE, quoted fields with commas, quotes and line breaks, CRLF', () => {
    const runs = parseStableNaluCsv(text);
    expect(runs).toHaveLength(3);
    expect(runs[0]).toEqual({
      name: 'nmu_s0',
      threshold: 0.16001,
      bestModelStep: 4200,
      interpolationLast: 1.5e-9,
      extrapolationLast: 2.5e-3,
      interpolationStepSolved: 3000,
      extrapolationStepSolved: 1434000,
      sparseErrorMax: 4.205610505833851e-7,
      solved: true,
      model: 'NMU',
      operation: '$\\bm{\\times}$',
      seed: 0,
      size: 5001,
    });
    expect(runs[1]).toMatchObject({
      extrapolationLast: 3.610348921878391e21,
      interpolationStepSolved: null,
      extrapolationStepSolved: null,
      solved: false,
      model: NAC_NMU,
      seed: 1,
    });
    expect(runs[2]).toMatchObject({
      name: 'quoted "name"',
      solved: null,
      extrapolationLast: Infinity,
      model: 'a\nb',
    });
    expect(runs[2]!.interpolationLast).toBeNaN();
  });

  it('finds columns by name: other orders and extra columns are fine', () => {
    const runs = parseStableNaluCsv(
      'seed,size,sparse.error.mean,operation,model,solved,sparse.error.max,extrapolation.step.solved,' +
        'interpolation.step.solved,extrapolation.last,interpolation.last,best.model.step,threshold,name\n' +
        '7,5001,0.1,$\\bm{-}$,NAU,TRUE,0.25,5000,4000,1e-9,2e-9,17,1.3844e-8,nau_s7\n',
    );
    expect(runs).toEqual([
      expect.objectContaining({
        name: 'nau_s7',
        seed: 7,
        sparseErrorMax: 0.25,
        extrapolationStepSolved: 5000,
      }),
    ]);
  });

  it('maps a run to the outcome the summaries use (solved at = extrapolation.step.solved)', () => {
    const runs = parseStableNaluCsv(text);
    expect(runs.map(toRunOutcome)).toEqual([
      { solved: true, solvedAt: 1434000, sparsityError: 4.205610505833851e-7 },
      { solved: false, solvedAt: null, sparsityError: 0.41130614280700684 },
      { solved: false, solvedAt: null, sparsityError: 0.5 },
    ]);
  });

  const malformed: [string, string, RegExp][] = [
    ['an empty file', '', /line 1, column 1: expected a header row/],
    [
      'a missing column',
      HEADER.replace(',sparse.error.max', '') + '\n',
      /line 1, column 13: expected a column named "sparse\.error\.max"/,
    ],
    [
      'a short row',
      `${HEADER}\nx,1,2,3,4,5,6,7,TRUE,m,o,0,1\nx,1,2,3\n`,
      /line 3, column 5: expected 13 fields as in the header, got 4/,
    ],
    [
      'a word where a number belongs',
      `${HEADER}\nx,abc,2,3,4,5,6,7,TRUE,m,o,0,1\n`,
      /line 2, column 2: expected a number or NA in "threshold", got "abc"/,
    ],
    [
      'a bad logical',
      `${HEADER}\nx,1,2,3,4,5,6,7,yes,m,o,0,1\n`,
      /line 2, column 9: expected TRUE, FALSE or NA in "solved", got "yes"/,
    ],
    [
      'an unterminated quote',
      `${HEADER}\nx,1,2,3,4,5,6,7,TRUE,"m,o,0,1\n`,
      /line 2, column 10: expected a closing quote, got end of file/,
    ],
    [
      'text after a closing quote',
      `${HEADER}\nx,1,2,3,4,5,6,7,TRUE,"m"x,o,0,1\n`,
      /line 2, column 10: expected a comma or line end after a quoted field/,
    ],
    [
      'a stray quote',
      `${HEADER}\nx,1,2,3,4,5,6,7,TRUE,m"x,o,0,1\n`,
      /line 2, column 10: expected a quote only at the start of a field/,
    ],
  ];
  for (const [what, csv, message] of malformed) {
    it(`reports ${what} with file, line and column`, () => {
      let error: unknown;
      try {
        parseStableNaluCsv(csv, 'runs.csv');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CsvFormatError);
      expect((error as Error).message).toMatch(/^runs\.csv: /);
      expect((error as Error).message).toMatch(message);
    });
  }
});

describe('groupRuns', () => {
  it('groups by (model, operation) in first-seen order, keeping run order', () => {
    const items = [
      { model: 'NMU', operation: 'mul', id: 1 },
      { model: 'NAU', operation: 'add', id: 2 },
      { model: 'NMU', operation: 'add', id: 3 },
      { model: 'NMU', operation: 'mul', id: 4 },
      { model: 'NAU', operation: 'add', id: 5 },
    ];
    expect(groupRuns(items).map((g) => [g.model, g.operation, g.runs.map((r) => r.id)])).toEqual([
      ['NMU', 'mul', [1, 4]],
      ['NAU', 'add', [2, 5]],
      ['NMU', 'add', [3]],
    ]);
  });

  it('does not confuse names that only differ in where a separator falls', () => {
    const groups = groupRuns([
      { model: 'a|b', operation: 'c' },
      { model: 'a', operation: 'b|c' },
    ]);
    expect(groups).toHaveLength(2);
  });
});

describe('formatRNumber (readr spelling)', () => {
  it('writes NA, NaN and infinities as R does', () => {
    expect(formatRNumber(null)).toBe('NA');
    expect(formatRNumber(NaN)).toBe('NaN');
    expect(formatRNumber(Infinity)).toBe('Inf');
    expect(formatRNumber(-Infinity)).toBe('-Inf');
  });

  it('spells numbers as the reference files do', () => {
    // Cells copied from sft-last.csv / sft-short.csv.
    for (const cell of [
      '1.47861742158438e-5',
      '0.862504852609265',
      '0.03699349820698566',
      '0.0010632081607829524',
      '5.803962960754129e-4',
      '1750000',
      '1932665.0433804754',
      '0',
      '1',
      '343726095259926500',
      '41917588023803900',
      '3610348921878391e6',
      '675572665571617e5',
    ]) {
      expect(formatRNumber(Number(cell))).toBe(cell);
    }
  });

  it('round-trips every double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
        expect(Number(formatRNumber(v))).toBe(v === 0 ? 0 : v);
      }),
    );
  });

  const referenceDir = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    '../../..',
    '../shared/reference/stable-nalu',
  );
  it.skipIf(!existsSync(path.join(referenceDir, 'sft-last.csv')))(
    'matches readr on every number of the reference files (except its %.17g fallback spelling)',
    () => {
      let checked = 0;
      const differ: string[] = [];
      for (const file of ['sft-last.csv', 'sft-short.csv']) {
        const text = readFileSync(path.join(referenceDir, file), 'utf8');
        for (const cell of text.split(/[,\n]/)) {
          if (!/^-?\d[\d.]*(e-?\d+)?$/.test(cell)) continue;
          checked++;
          const ours = formatRNumber(Number(cell));
          expect(Number(ours)).toBe(Number(cell));
          // readr falls back to sprintf("%.17g") where grisu3 fails: 17 significant digits.
          const significant = cell.split('e')[0]!.replace(/[-.]/g, '').replace(/^0+/, '').length;
          if (ours !== cell && significant !== 17) differ.push(`${cell} → ${ours}`);
        }
      }
      expect(checked).toBeGreaterThan(40000);
      expect(differ).toEqual([]);
    },
  );
});

// ---- writing our records ----

function record(seed: number, curve: EvalPoint[], over: Partial<RunRecord> = {}, model = 'nmu'): RunRecord {
  const config: RunConfig = {
    task: {
      kind: 'static',
      op: 'mul',
      inputSize: 100,
      subsetRatio: 0.25,
      overlapRatio: 0.5,
      numSubsets: 2,
      interpolation: [[1, 2]],
      extrapolation: [
        [-6, -2],
        [2, 6],
      ],
      simple: false,
    },
    model,
    hidden: 2,
    batch: 128,
    lr: 1e-3,
    iterations: 5000,
    evalEvery: 1000,
    schedule: null,
    oobWeight: 1,
  };
  return {
    v: 1,
    key: '0123456789abcdef',
    config,
    seed,
    threshold: 0.16001,
    curve,
    bestStep: curve.length > 1 ? (curve[1] as EvalPoint).step : null,
    solved: false,
    solvedAt: null,
    sparsityError: null,
    diverged: null,
    iterations: 5000,
    ...over,
  };
}

describe('formatPerRunCsv', () => {
  const curve: EvalPoint[] = [
    { step: 0, interpolation: 5, extrapolation: 50, sparsityError: 0.4 },
    { step: 1000, interpolation: 0.1, extrapolation: 0.2, sparsityError: 0.1 },
    { step: 2000, interpolation: 1e-9, extrapolation: 1e-8, sparsityError: 1e-6 },
  ];

  it('writes sft-last.csv’s header and maps a record onto its columns', () => {
    const text = formatPerRunCsv([
      record(3, curve, { solved: true, solvedAt: 2000, sparsityError: 1e-6, bestStep: 2000 }),
      record(4, [curve[0]!]),
    ]);
    expect(text.split('\n')[0]).toBe(HEADER);
    const [a, b] = parseStableNaluCsv(text);
    expect(a).toEqual({
      name: expect.stringMatching(/^nmu_op-mul_i-1-2_e-.*_h2_b128_.*_k-0123456789abcdef_s3$/),
      threshold: 0.16001,
      bestModelStep: 2, // the row index of the best step, as stable-nalu writes it
      interpolationLast: 1e-9,
      extrapolationLast: 1e-8,
      interpolationStepSolved: 1000, // the first interpolation MSE below the threshold 0.16001
      extrapolationStepSolved: 2000,
      sparseErrorMax: 1e-6,
      solved: true,
      model: 'NMU', // stable-nalu's labels, so its R scripts group our rows as theirs
      operation: '$\\bm{\\times}$',
      seed: 3,
      size: 3,
    });
    expect(b).toMatchObject({
      bestModelStep: null,
      interpolationLast: 5,
      extrapolationLast: 50,
      interpolationStepSolved: null,
      extrapolationStepSolved: null,
      sparseErrorMax: null,
      solved: false,
      size: 1,
    });
    expect(a!.name).not.toBe(b!.name);
  });

  it('round-trips through parseStableNaluCsv (fast-check)', () => {
    // Registered models are written with stable-nalu's label; unknown ones under their own name.
    const registered = new Map(listModels().map((m) => [m.name, m.paperLabel ?? m.label]));
    const num = fc.oneof(
      fc.double({ noNaN: true }).map((v) => (v === 0 ? 0 : v)),
      fc.double({ min: 1e-12, max: 1e7, noNaN: true }),
      fc.constant(NaN),
    );
    const point = fc.record({
      step: fc.nat({ max: 5_000_000 }),
      interpolation: num,
      extrapolation: num,
      sparsityError: fc.double({ min: 0, max: 0.5, noNaN: true }),
    });
    const rec = fc.record({
      seed: fc.nat(),
      curve: fc.array(point, { maxLength: 6 }),
      threshold: fc.double({ min: 1e-14, max: 1, noNaN: true }),
      bestStep: fc.option(fc.nat({ max: 5_000_000 })),
      solved: fc.boolean(),
      solvedAt: fc.option(fc.nat({ max: 5_000_000 })),
      sparsityError: fc.option(fc.double({ min: 0, max: 0.5, noNaN: true }).map((v) => (v === 0 ? 0 : v))),
      model: fc.string(),
    });
    fc.assert(
      fc.property(fc.array(rec, { maxLength: 5 }), (specs) => {
        const records = specs.map((s) =>
          record(
            s.seed,
            s.curve,
            {
              threshold: s.threshold,
              bestStep: s.bestStep,
              solved: s.solved,
              solvedAt: s.solvedAt,
              sparsityError: s.sparsityError,
            },
            s.model,
          ),
        );
        const back = parseStableNaluCsv(formatPerRunCsv(records));
        expect(back).toHaveLength(records.length);
        back.forEach((run, i) => {
          const r = records[i]!;
          const last = r.curve[r.curve.length - 1];
          const firstInterp = r.curve.find((p) => p.interpolation < r.threshold);
          expect(run).toEqual({
            name: expect.any(String),
            threshold: r.threshold,
            bestModelStep:
              r.bestStep === null || !r.curve.some((p) => p.step === r.bestStep)
                ? null
                : r.curve.findIndex((p) => p.step === r.bestStep),
            interpolationLast: last ? last.interpolation : null,
            extrapolationLast: last ? last.extrapolation : null,
            interpolationStepSolved: firstInterp ? firstInterp.step : null,
            extrapolationStepSolved: r.solvedAt,
            sparseErrorMax: r.sparsityError,
            solved: r.solved,
            model: registered.get(r.config.model) ?? r.config.model,
            operation: '$\\bm{\\times}$',
            seed: r.seed,
            size: r.curve.length,
          });
        });
      }),
    );
  });
});
