/**
 * The single-module grid view (benchmark.md §6): success rate with its Wilson interval per
 * module × operation × range pair, as a markdown table per operation, JSON (Report.grid) and a
 * heat map (plots.ts `gridSpec`).
 */
import type { TopLevelSpec } from 'vega-lite';
import { formatRange } from '../tasks/range.js';
import { SINGLE_MODULE_RANGES } from '../tasks/single-module.js';
import type { ReportGroup } from './report.js';
import { SUCCESS_TOOLTIP, operationFacet } from './style.js';

export interface GridCell {
  /** Model label ('NMU', 'iNALU', …) and registry name. */
  model: string;
  modelName: string;
  /** Operation symbol as in the tables. */
  operation: string;
  /** 'U[-2,-1] → U[-6,-2]'. */
  range: string;
  interpolation: string;
  extrapolation: string;
  runs: number;
  solved: number;
  diverged: number;
  /** Success rate and its 95% Wilson interval, as fractions. */
  success: number;
  lower: number | null;
  upper: number | null;
}

const rangeLabel = (interpolation: string, extrapolation: string) => `${interpolation} → ${extrapolation}`;

/** The order of the range pairs: the benchmark's, then any others in order of appearance. */
const RANGE_ORDER = SINGLE_MODULE_RANGES.map((p) =>
  rangeLabel(formatRange(p.interpolation), formatRange(p.extrapolation)),
);

/** Grid cells of the report's single-module groups (in report order), or null if it has none. */
export function singleModuleGrid(groups: readonly ReportGroup[]): GridCell[] | null {
  const cells = groups
    .filter((g) => g.config?.task.singleModule === true)
    .map((g): GridCell => {
      const c = g.config!;
      const interpolation = formatRange(c.task.interpolation);
      const extrapolation = formatRange(c.task.extrapolation);
      return {
        model: g.model,
        modelName: c.model,
        operation: g.operation,
        range: rangeLabel(interpolation, extrapolation),
        interpolation,
        extrapolation,
        runs: g.runs,
        solved: g.summary.solved,
        diverged: g.diverged,
        success: g.summary.success.mean,
        lower: g.summary.success.lower,
        upper: g.summary.success.upper,
      };
    });
  return cells.length > 0 ? cells : null;
}

function distinct<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** Range labels in benchmark order. */
export function gridRanges(cells: readonly GridCell[]): string[] {
  const present = distinct(cells.map((c) => c.range));
  return [
    ...RANGE_ORDER.filter((r) => present.includes(r)),
    ...present.filter((r) => !RANGE_ORDER.includes(r)),
  ];
}

const pct = (v: number | null) => (v !== null && Number.isFinite(v) ? (100 * v).toFixed(0) : '—');

/** One cell as text: '83% [44–97] 5/6' (+ ', 2 div.' when seeds diverged). */
export function gridCellText(c: GridCell): string {
  return `${pct(c.success)}% [${pct(c.lower)}–${pct(c.upper)}] ${c.solved}/${c.runs}${c.diverged ? `, ${c.diverged} div.` : ''}`;
}

/** Markdown: one table per operation, modules as rows, range pairs as columns. */
export function formatGridMarkdown(cells: readonly GridCell[]): string {
  const ranges = gridRanges(cells);
  const ops = distinct(cells.map((c) => c.operation));
  const line = (xs: string[]) => `| ${xs.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
  const out: string[] = [
    '## Single-module benchmark: success rate [95% Wilson CI] solved/seeds per module × range',
    '',
    'Columns: training (interpolation) range → test (extrapolation) range. "div." counts seeds stopped by NaN/Inf (divergence; never solved).',
    '',
  ];
  for (const op of ops) {
    const rows = cells.filter((c) => c.operation === op);
    out.push(`### ${op}`, '', line(['module', ...ranges]), line(['---', ...ranges.map(() => '---:')]));
    for (const model of distinct(rows.map((c) => c.model))) {
      out.push(
        line([
          model,
          ...ranges.map((r) => {
            const cell = rows.find((c) => c.model === model && c.range === r);
            return cell ? gridCellText(cell) : '';
          }),
        ]),
      );
    }
    out.push('');
  }
  return out.join('\n');
}

/**
 * Heat map: one panel per operation, modules × range pairs, colour = success rate, text = solved/seeds
 * (and the 95% Wilson interval in the tooltip).
 */
export function gridSpec(cells: readonly GridCell[], config: object): TopLevelSpec {
  const ranges = gridRanges(cells);
  const models = distinct(cells.map((c) => c.model));
  const ops = distinct(cells.map((c) => c.operation));
  const values = cells.map((c) => ({
    operation: c.operation,
    model: c.model,
    range: c.range,
    success: 100 * c.success,
    lower: c.lower === null ? null : 100 * c.lower,
    upper: c.upper === null ? null : 100 * c.upper,
    label: `${c.solved}/${c.runs}`,
    diverged: c.diverged,
    dark: c.success > 0.6 ? 1 : 0,
  }));
  const x = {
    field: 'range',
    type: 'ordinal' as const,
    title: 'range (train → test)',
    sort: ranges,
    axis: { labelAngle: -35, labelLimit: 220 },
  };
  const y = { field: 'model', type: 'ordinal' as const, title: null, sort: models };
  const tooltip = [
    { field: 'model', title: 'module' },
    { field: 'range', title: 'range' },
    ...SUCCESS_TOOLTIP,
    { field: 'diverged', title: 'diverged seeds' },
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Single-module benchmark: success rate per module and range',
      subtitle: 'colour: success rate (%); text: solved seeds / seeds; 95% Wilson interval in the table',
    },
    config,
    data: { values },
    ...operationFacet(ops, 2),
    spec: {
      width: { step: 44 },
      height: { step: 22 },
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
          encoding: {
            x,
            y,
            color: {
              field: 'success',
              type: 'quantitative',
              title: 'success (%)',
              scale: { domain: [0, 100], scheme: 'blues' },
            },
            tooltip,
          },
        },
        {
          mark: { type: 'text', fontSize: 9 },
          encoding: {
            x,
            y,
            text: { field: 'label' },
            color: { condition: { test: 'datum.dark === 1', value: 'white' }, value: '#222' },
          },
        },
      ],
    },
  } as TopLevelSpec;
}
