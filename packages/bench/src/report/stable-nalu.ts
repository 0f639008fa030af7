/**
 * Compatibility with the reference implementation's CSV files (benchmark.md §5 "Conformance data"):
 * - read the per-run layout of stable-nalu's `sft-last.csv` (one row per model × operation × seed),
 * - write our records in that same layout, so the authors' R scripts can read our results,
 * - write group summaries in the layout of the published `sft-short.csv`.
 *
 * Values are written the way R's readr writes them: NA for missing, NaN for not-a-number, TRUE /
 * FALSE, shortest round-trip numbers (scientific below 1e−3), fields quoted only when they contain
 * a comma, quote or line break.
 */
import { listModels } from '../models/registry.js';
import type { RunRecord } from '../record.js';
import type { Op } from '../tasks/static.js';
import type { GroupSummary, RunOutcome } from '../stats/index.js';

/** One row of stable-nalu's per-run CSV; NA cells are null. */
export interface StableNaluRun {
  name: string;
  threshold: number | null;
  bestModelStep: number | null;
  interpolationLast: number | null;
  extrapolationLast: number | null;
  interpolationStepSolved: number | null;
  extrapolationStepSolved: number | null;
  sparseErrorMax: number | null;
  solved: boolean | null;
  model: string;
  operation: string;
  seed: number | null;
  size: number | null;
}

/** The per-run columns, in sft-last.csv's order. */
export const PER_RUN_COLUMNS = [
  'name',
  'threshold',
  'best.model.step',
  'interpolation.last',
  'extrapolation.last',
  'interpolation.step.solved',
  'extrapolation.step.solved',
  'sparse.error.max',
  'solved',
  'model',
  'operation',
  'seed',
  'size',
] as const;

/** The summary columns, in sft-short.csv's order. */
export const SUMMARY_COLUMNS = [
  'model',
  'operation',
  'success.rate.mean',
  'success.rate.lower',
  'success.rate.upper',
  'converged.at.median',
  'converged.at.mean',
  'converged.at.lower',
  'converged.at.upper',
  'sparse.error.mean',
  'sparse.error.lower',
  'sparse.error.upper',
] as const;

// ---- reading ----

/** A malformed CSV: the message names the source, line and column and what was expected. */
export class CsvFormatError extends Error {
  override readonly name = 'CsvFormatError';
  constructor(
    readonly source: string,
    readonly line: number,
    readonly column: number,
    detail: string,
  ) {
    super(`${source}: line ${line}, column ${column}: ${detail}`);
  }
}

interface CsvRow {
  /** 1-based line on which the row starts. */
  line: number;
  fields: string[];
}

/**
 * RFC 4180 reader: comma separated, fields optionally in double quotes with "" as an escaped quote;
 * a quoted field may span lines. LF or CRLF line ends; blank lines are skipped.
 */
function readCsvRows(text: string, source: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // byte-order mark
  while (i < n) {
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
      continue;
    }
    const rowLine = line;
    const fields: string[] = [];
    for (;;) {
      const column = fields.length + 1;
      let value = '';
      if (text[i] === '"') {
        const startLine = line;
        i++;
        for (;;) {
          if (i >= n) {
            throw new CsvFormatError(source, startLine, column, 'expected a closing quote, got end of file');
          }
          const c = text[i] as string;
          if (c === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          value += c;
          i++;
        }
        const after = text[i];
        if (after !== undefined && after !== ',' && after !== '\n' && after !== '\r') {
          throw new CsvFormatError(
            source,
            line,
            column,
            `expected a comma or line end after a quoted field, got ${JSON.stringify(after)}`,
          );
        }
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') {
            throw new CsvFormatError(
              source,
              line,
              column,
              'expected a quote only at the start of a field (quote the whole field and double inner quotes)',
            );
          }
          i++;
        }
        value = text.slice(start, i);
      }
      fields.push(value);
      if (text[i] === ',') {
        i++;
        continue;
      }
      break; // line end or end of file
    }
    if (text[i] === '\r' && text[i + 1] !== '\n') {
      throw new CsvFormatError(source, line, fields.length, 'expected LF or CRLF line end, got a bare CR');
    }
    rows.push({ line: rowLine, fields });
  }
  return rows;
}

/**
 * Parses a number as R / readr write it: decimal or scientific ("1e-5", "3610348921878391e6"),
 * "Inf", "-Inf", "NaN"; "NA" is null. Anything else is an error.
 */
function parseRNumber(cell: string): number | null | undefined {
  if (cell === 'NA') return null;
  if (cell === 'NaN') return NaN;
  if (cell === 'Inf') return Infinity;
  if (cell === '-Inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(cell)) return undefined;
  return Number(cell);
}

/**
 * Reads stable-nalu's per-run CSV (sft-last.csv layout). Columns are found by header name, so
 * extra columns (e.g. sparse.error.mean) and another column order are accepted; all of
 * PER_RUN_COLUMNS must be present. `source` names the file in error messages.
 */
export function parseStableNaluCsv(text: string, source = 'stable-nalu CSV'): StableNaluRun[] {
  const rows = readCsvRows(text, source);
  const header = rows[0];
  if (header === undefined)
    throw new CsvFormatError(source, 1, 1, 'expected a header row, got an empty file');
  const index = new Map<string, number>();
  header.fields.forEach((h, i) => index.set(h, i));
  for (const col of PER_RUN_COLUMNS) {
    if (!index.has(col)) {
      throw new CsvFormatError(
        source,
        header.line,
        header.fields.length + 1,
        `expected a column named "${col}" in the header (have: ${header.fields.join(', ')})`,
      );
    }
  }
  const width = header.fields.length;
  return rows.slice(1).map((row) => {
    if (row.fields.length !== width) {
      throw new CsvFormatError(
        source,
        row.line,
        Math.min(row.fields.length, width) + 1,
        `expected ${width} fields as in the header, got ${row.fields.length}`,
      );
    }
    const cell = (col: (typeof PER_RUN_COLUMNS)[number]) => {
      const c = index.get(col) as number;
      return { value: row.fields[c] as string, column: c + 1 };
    };
    const num = (col: (typeof PER_RUN_COLUMNS)[number]): number | null => {
      const { value, column } = cell(col);
      const v = parseRNumber(value);
      if (v === undefined) {
        throw new CsvFormatError(
          source,
          row.line,
          column,
          `expected a number or NA in "${col}", got ${JSON.stringify(value)}`,
        );
      }
      return v;
    };
    const bool = (col: (typeof PER_RUN_COLUMNS)[number]): boolean | null => {
      const { value, column } = cell(col);
      if (value === 'TRUE') return true;
      if (value === 'FALSE') return false;
      if (value === 'NA') return null;
      throw new CsvFormatError(
        source,
        row.line,
        column,
        `expected TRUE, FALSE or NA in "${col}", got ${JSON.stringify(value)}`,
      );
    };
    return {
      name: cell('name').value,
      threshold: num('threshold'),
      bestModelStep: num('best.model.step'),
      interpolationLast: num('interpolation.last'),
      extrapolationLast: num('extrapolation.last'),
      interpolationStepSolved: num('interpolation.step.solved'),
      extrapolationStepSolved: num('extrapolation.step.solved'),
      sparseErrorMax: num('sparse.error.max'),
      solved: bool('solved'),
      model: cell('model').value,
      operation: cell('operation').value,
      seed: num('seed'),
      size: num('size'),
    };
  });
}

/**
 * The outcome of a stable-nalu run as our summaries see it. Solved at is
 * `extrapolation.step.solved` and the sparsity error `sparse.error.max`, as stable-nalu's R analysis
 * uses them; a solved cell of NA (never written by the R scripts, which replace it with FALSE)
 * counts as not solved.
 */
export function toRunOutcome(run: StableNaluRun): RunOutcome {
  return {
    solved: run.solved === true,
    solvedAt: run.extrapolationStepSolved,
    sparsityError: run.sparseErrorMax,
  };
}

/** Groups items by (model, operation), groups and items in first-seen order. */
export function groupRuns<T extends { model: string; operation: string }>(
  items: readonly T[],
): { model: string; operation: string; runs: T[] }[] {
  const groups = new Map<string, { model: string; operation: string; runs: T[] }>();
  for (const item of items) {
    const key = JSON.stringify([item.model, item.operation]);
    let g = groups.get(key);
    if (g === undefined) {
      g = { model: item.model, operation: item.operation, runs: [] };
      groups.set(key, g);
    }
    g.runs.push(item);
  }
  return [...groups.values()];
}

// ---- writing ----

/**
 * A number as readr writes it (grisu shortest round-trip digits): scientific below 1e−3
 * ("5.8e-4"); integers exactly up to 2^53; beyond that the shortest digits followed by zeros, or by
 * an exponent when more than two zeros would be needed ("3610348921878391e6"); NA for null,
 * NaN / Inf / -Inf for the non-finite values. (readr falls back to `%.17g` on the rare doubles
 * grisu cannot handle — "2.5686348603670695e-09" — which this does not imitate: same value, other
 * spelling.)
 */
export function formatRNumber(v: number | null): string {
  if (v === null) return 'NA';
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Inf';
  if (v === -Infinity) return '-Inf';
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential().replace('e+', 'e');
  if (Math.abs(v) >= 2 ** 53) {
    // Always an integer here. Shortest digits d₁d₂…d_L and exponent e with v = digits · 10^e.
    const [mantissa, exp] = v.toExponential().split('e') as [string, string];
    const sign = mantissa.startsWith('-') ? '-' : '';
    const digits = mantissa.replace('-', '').replace('.', '');
    const e = Number(exp) - (digits.length - 1);
    return sign + (e > 2 ? `${digits}e${e}` : digits + '0'.repeat(e));
  }
  return String(v);
}

function formatRBool(v: boolean | null): string {
  return v === null ? 'NA' : v ? 'TRUE' : 'FALSE';
}

/** Quote a text field only when it needs it (comma, quote, line break), doubling inner quotes. */
function quoteField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(header: readonly string[], rows: string[][]): string {
  return [header.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n';
}

/** Published summaries in sft-short.csv's exact layout (header, column order, NA/NaN, quoting). */
export function formatSummaryCsv(
  rows: readonly { model: string; operation: string; summary: GroupSummary }[],
): string {
  return csv(
    SUMMARY_COLUMNS,
    rows.map(({ model, operation, summary: s }) => [
      quoteField(model),
      quoteField(operation),
      formatRNumber(s.success.mean),
      formatRNumber(s.success.lower),
      formatRNumber(s.success.upper),
      formatRNumber(s.solvedAt.median),
      formatRNumber(s.solvedAt.mean),
      formatRNumber(s.solvedAt.lower),
      formatRNumber(s.solvedAt.upper),
      formatRNumber(s.sparsityError.mean),
      formatRNumber(s.sparsityError.lower),
      formatRNumber(s.sparsityError.upper),
    ]),
  );
}

/** Writes runs in sft-last.csv's layout. */
export function formatStableNaluCsv(runs: readonly StableNaluRun[]): string {
  return csv(
    PER_RUN_COLUMNS,
    runs.map((r) => [
      quoteField(r.name),
      formatRNumber(r.threshold),
      formatRNumber(r.bestModelStep),
      formatRNumber(r.interpolationLast),
      formatRNumber(r.extrapolationLast),
      formatRNumber(r.interpolationStepSolved),
      formatRNumber(r.extrapolationStepSolved),
      formatRNumber(r.sparseErrorMax),
      formatRBool(r.solved),
      quoteField(r.model),
      quoteField(r.operation),
      formatRNumber(r.seed),
      formatRNumber(r.size),
    ]),
  );
}

/** A range as stable-nalu spells it in run names: `[[1, 2]]` → "1-2", `[[-6, -2], [2, 6]]` → "-6--2-2-6". */
function rangeId(range: ReadonlyArray<readonly [number, number]>): string {
  return range.map(([lo, hi]) => `${lo}-${hi}`).join('-');
}

/**
 * A readable, unique run id in the spirit of stable-nalu's names: model, operation, ranges, input
 * size / subset / overlap, hidden size, batch, learning rate, iterations, the configuration key
 * (which makes it unique) and the seed.
 */
export function stableNaluName(record: RunRecord): string {
  const c = record.config;
  const t = c.task;
  return [
    c.model,
    `op-${t.op}`,
    `i-${rangeId(t.interpolation)}`,
    `e-${rangeId(t.extrapolation)}`,
    `z-${t.inputSize}-${t.subsetRatio}-${t.overlapRatio}`,
    `h${c.hidden}`,
    `b${c.batch}`,
    `lr-${c.lr}`,
    `it-${c.iterations}`,
    `k-${record.key}`,
    `s${record.seed}`,
  ].join('_');
}

/** How stable-nalu's analysis names the operations (LaTeX, as in the paper's tables). */
export const STABLE_NALU_OPERATION: Readonly<Record<Op, string>> = {
  add: '$\\bm{+}$',
  sub: '$\\bm{-}$',
  mul: '$\\bm{\\times}$',
  div: '$\\bm{\\mathbin{/}}$',
  squared: '$z^2$',
  root: '$\\sqrt{z}$',
};

/**
 * One of our records as a stable-nalu per-run row (the mapping of the per-run layout). Model and
 * operation use stable-nalu's labels, and best.model.step is the evaluation row index as stable-nalu
 * writes it, so the authors' R scripts read our files unchanged.
 */
export function recordToStableNalu(record: RunRecord): StableNaluRun {
  const last = record.curve[record.curve.length - 1];
  const bestRow = record.bestStep === null ? -1 : record.curve.findIndex((p) => p.step === record.bestStep);
  const known = listModels().find((m) => m.name === record.config.model);
  const interpolationSolved = record.curve.find((p) => p.interpolation < record.threshold);
  return {
    name: stableNaluName(record),
    threshold: record.threshold,
    bestModelStep: bestRow < 0 ? null : bestRow,
    interpolationLast: last ? last.interpolation : null,
    extrapolationLast: last ? last.extrapolation : null,
    interpolationStepSolved: interpolationSolved ? interpolationSolved.step : null,
    extrapolationStepSolved: record.solvedAt,
    sparseErrorMax: record.sparsityError,
    solved: record.solved,
    model: known?.paperLabel ?? known?.label ?? record.config.model,
    operation: STABLE_NALU_OPERATION[record.config.task.op] ?? record.config.task.op,
    seed: record.seed,
    size: record.curve.length,
  };
}

/** Our records in sft-last.csv's column layout, readable by the authors' R scripts. */
export function formatPerRunCsv(records: readonly RunRecord[]): string {
  return formatStableNaluCsv(records.map(recordToStableNalu));
}
