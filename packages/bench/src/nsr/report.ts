/**
 * The NSR-task report: a markdown table, JSON, and a self-contained HTML page with one SVG plot of
 * success vs magnitude per task (rendered with the benchmark's `renderSvg`, inlined with
 * `inlineSvg`, escaped with `escapeHtml`).
 */
import type { TopLevelSpec } from 'vega-lite';
import { escapeHtml, inlineSvg } from '../report/html.js';
import { BASE_CONFIG, renderSvg, SUCCESS_AXIS, SUCCESS_TOOLTIP } from '../report/plots.js';
import { NALM_VERSION } from '../version.js';
import type { NsrRecord } from './config.js';
import { describeNumericLimit } from './resolution.js';
import type { NsrSeedRow, NsrSummaryRow } from './summary.js';
import { summarizeNsr, summarizeNsrSeeds } from './summary.js';
import type { NsrTaskKind } from './tasks.js';
import { NSR_TASK_KINDS } from './tasks.js';

export interface NsrReport {
  title: string;
  rows: NsrSummaryRow[];
  /** Compare and piecewise: how far each seed stays right. */
  seeds: NsrSeedRow[];
  notes: string[];
}

const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(v === 0 || v === 1 ? 0 : 1) : '—');

/**
 * Three significant digits (integers from 1,000 on; two digits in exponent form beyond), trailing
 * zeros after the point dropped: 110 stays 110, 1.50 is 1.5.
 */
export function fmtNum(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  if (a >= 1e3) return String(Math.round(v)); // toPrecision(3) would switch to 1.23e+3 here
  const s = v.toPrecision(3);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

export function nsrReport(records: readonly NsrRecord[], title = 'Neural Status Register tasks'): NsrReport {
  const rows = summarizeNsr(records);
  const numerics = [...new Set(rows.map((r) => r.numeric))];
  const notes = [
    ...numerics.map((t) => describeNumericLimit(t) + '.'),
    'A seed succeeds at a magnitude when every test item is right: |y − label| < 0.5 (0/1 outputs: y on the ' +
      'right side of 0.5; numeric outputs: error below 0.5). Success: solved seeds / seeds with the 95% Wilson ' +
      'interval; mean error: mean over seeds of the mean |error| per seed, 95% Student-t interval.',
    'Comparisons: label op(x1, x2); test at 10^k with x1 uniform in [10^k, 10^(k+1) − 1], x2 = x1 + m, ' +
      'm = −5…5, both orders (= and ≠ also the equal pairs (x1 + m, x1 + m)). Piecewise: x0 in [2^k, 2^(k+1)), ' +
      'x1 = x0 + m. Min and count: values up to 10·2^k, L elements (count: L compared with the first).',
    'Training: full batch, mean absolute error, Adam (lr 1e−3); the NAU layers (branches, NAU gate) get ' +
      "their sparsity regulariser after epoch 40,000, as the reference's regloss (none in runs of 40,000 epochs " +
      'or fewer), unless the model says otherwise ("NAU reg. from epoch …").',
  ];
  if (rows.some((r) => r.gate !== null))
    notes.push(
      'Piecewise, the gate alone: a seed counts when its condition (x0 > x1, x0 = x1) decides every test item ' +
        'right, with either branch order; where the gate stays right and the output does not, the NAU ' +
        'layers that compute x4 + 4 and x3 − x2 bound the output.',
    );
  if (rows.some((r) => r.beyondPrecision))
    notes.push(
      'Rows marked "beyond float32" test values the numeric type does not resolve for a difference of 1 ' +
        '(allowBeyondPrecision): they show the breakdown, not the model.',
    );
  return { title, rows, seeds: summarizeNsrSeeds(records), notes };
}

/** One row per seed: fits train, right up to, first wrong at (and the gate's reach on piecewise). */
function seedRows(report: NsrReport): string[][] {
  const hasGate = report.seeds.some((r) => r.kind === 'piecewise');
  const multiEpochs = new Set(report.seeds.map((r) => r.epochs)).size > 1;
  const header = [
    'task',
    'model',
    ...(multiEpochs ? ['epochs'] : []),
    'seed',
    'fits train',
    'right up to',
    'first wrong at',
    ...(hasGate ? ['gate right up to'] : []),
  ];
  const rows = report.seeds.map((r) => [
    r.task,
    r.modelLabel,
    ...(multiEpochs ? [String(r.epochs)] : []),
    String(r.seed),
    r.trainSolved ? 'yes' : 'no',
    r.rightTo ?? '—',
    r.firstWrong ?? '— (right at every magnitude)',
    ...(hasGate ? [r.gateRightTo ?? '—'] : []),
  ]);
  return [header, ...rows];
}

function tableRows(report: NsrReport): string[][] {
  const multiEpochs = new Set(report.rows.map((r) => r.epochs)).size > 1;
  const hasGate = report.rows.some((r) => r.gateSolved !== null);
  const header = [
    'task',
    'model',
    ...(multiEpochs ? ['epochs'] : []),
    'magnitude',
    'success % [95% CI]',
    'solved',
    'mean error [95% CI]',
    ...(hasGate ? ['gate solved (either branch order)'] : []),
    'fit train',
    'note',
  ];
  const rows = report.rows.map((r) => [
    r.task,
    r.modelLabel,
    ...(multiEpochs ? [String(r.epochs)] : []),
    r.point,
    `${pct(r.success.mean)} [${pct(r.success.lower)}, ${pct(r.success.upper)}]`,
    `${r.solved}/${r.seeds}`,
    `${fmtNum(r.meanError.mean)} [${fmtNum(r.meanError.lower)}, ${fmtNum(r.meanError.upper)}]`,
    ...(hasGate ? [r.gateSolved === null ? '—' : `${r.gateSolved}/${r.seeds}`] : []),
    `${r.trainSolved}/${r.seeds}`,
    [r.beyondPrecision ? `beyond ${r.numeric}` : '', r.diverged ? `${r.diverged} diverged` : '']
      .filter(Boolean)
      .join('; '),
  ]);
  return [header, ...rows];
}

/** What a side-by-side cell counts: the output right on every item, or (piecewise) the gate alone. */
type Measure = 'output' | 'gate';

const SIDE_BY_SIDE_TITLE: Record<Measure, string> = {
  output: 'Success rate per magnitude (solved seeds / seeds, % with 95% Wilson CI)',
  gate: 'The gate alone, piecewise (seeds whose condition is right on every item / seeds, % with 95% Wilson CI)',
};

/**
 * One row per (task, epochs, length, magnitude), one column per model, each cell "k/n  p% [lower,
 * upper]": of the output's success, or of the gate's (piecewise rows only; none: no table).
 */
function sideBySideRows(report: NsrReport, measure: Measure): string[][] {
  const rows = measure === 'gate' ? report.rows.filter((r) => r.gate !== null) : report.rows;
  const models = [...new Set(rows.map((r) => r.modelLabel))];
  const multiEpochs = new Set(rows.map((r) => r.epochs)).size > 1;
  const keyOf = (r: NsrSummaryRow) => JSON.stringify([r.task, r.epochs, r.length, r.exponent, r.numeric]);
  const byKey = new Map<string, NsrSummaryRow[]>();
  for (const r of rows) byKey.set(keyOf(r), [...(byKey.get(keyOf(r)) ?? []), r]);
  const header = [
    'task',
    ...(multiEpochs ? ['epochs'] : []),
    'magnitude',
    ...models.map((m) => (measure === 'gate' ? m : `${m} success`)),
  ];
  const cell = (k: number, n: number, w: { mean: number; lower: number; upper: number }) =>
    `${k}/${n} ${pct(w.mean)}% [${pct(w.lower)}, ${pct(w.upper)}]`;
  const body = [...byKey.values()].map((group) => {
    const r0 = group[0]!;
    return [
      r0.task,
      ...(multiEpochs ? [String(r0.epochs)] : []),
      r0.point + (r0.beyondPrecision ? ` (beyond ${r0.numeric})` : ''),
      ...models.map((m) => {
        const r = group.find((g) => g.modelLabel === m);
        if (!r) return '—';
        return measure === 'gate'
          ? cell(r.gateSolved!, r.seeds, r.gate!)
          : cell(r.solved, r.seeds, r.success);
      }),
    ];
  });
  return body.length > 0 ? [header, ...body] : [];
}

/** The side-by-side tables this report has: the output's, and the gate's when a piecewise row is there. */
function sideBySideTables(report: NsrReport): { title: string; rows: string[][] }[] {
  return (['output', 'gate'] as const)
    .map((m) => ({ title: SIDE_BY_SIDE_TITLE[m], rows: sideBySideRows(report, m) }))
    .filter((t) => t.rows.length > 0);
}

/** A markdown table from a header row and rows. */
function mdTable([header, ...rows]: string[][]): string[] {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header!), line(header!.map(() => '---')), ...rows.map(line)];
}

export function formatNsrMarkdown(report: NsrReport): string {
  return [
    `# ${report.title}`,
    '',
    ...sideBySideTables(report).flatMap((t) => [`## ${t.title}`, '', ...mdTable(t.rows), '']),
    '## Per task, model and magnitude',
    '',
    ...mdTable(tableRows(report)),
    '',
    ...(report.seeds.length > 0
      ? ['## Per seed: how far each stays right', '', ...mdTable(seedRows(report)), '']
      : []),
    ...report.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

export function formatNsrJson(report: NsrReport): string {
  return `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

const AXIS_TITLE: Record<NsrTaskKind, string> = {
  compare: 'magnitude k (x1 in [10^k, 10^(k+1)))',
  piecewise: 'magnitude k (x0 in [2^k, 2^(k+1)))',
  min: 'magnitude k (values up to 10·2^k)',
  count: 'magnitude k (values up to 10·2^k)',
};

/** Success rate vs magnitude for one task kind: one line per model, Wilson interval as error bars. */
export function nsrSuccessSpec(report: NsrReport, kind: NsrTaskKind): TopLevelSpec | null {
  const rows = report.rows.filter((r) => r.kind === kind);
  if (rows.length === 0) return null;
  const multiEpochs = new Set(rows.map((x) => x.epochs)).size > 1;
  const value = (
    r: NsrSummaryRow,
    measure: Measure,
    k: number,
    w: { mean: number; lower: number; upper: number },
  ) => ({
    panel: r.length === null ? r.task : `${r.task}, L = ${r.length}`,
    model: r.modelLabel + (multiEpochs ? ` (${r.epochs} ep.)` : ''),
    measure: measure === 'gate' ? 'the gate alone' : 'the output',
    k: r.exponent,
    success: 100 * w.mean,
    lower: 100 * w.lower,
    upper: 100 * w.upper,
    label: `${k}/${r.seeds}`,
    point: r.point,
  });
  const values = rows.flatMap((r) => [
    value(r, 'output', r.solved, r.success),
    ...(r.gate ? [value(r, 'gate', r.gateSolved!, r.gate)] : []),
  ]);
  const hasGate = rows.some((r) => r.gate !== null);
  const x = { field: 'k', type: 'quantitative' as const, title: AXIS_TITLE[kind], axis: { tickMinStep: 1 } };
  const y = {
    field: 'success',
    type: 'quantitative' as const,
    title: SUCCESS_AXIS,
    scale: { domain: [0, 100] },
  };
  const color = { field: 'model', type: 'nominal' as const, title: 'model' };
  // Piecewise: a dashed line per model for its gate, so where the gate holds and the output does not shows.
  const strokeDash = hasGate
    ? {
        field: 'measure',
        type: 'nominal' as const,
        title: 'right on every item',
        sort: ['the output'],
        legend: { symbolType: 'stroke' },
      }
    : undefined;
  const tooltip = [
    { field: 'model' },
    ...(hasGate ? [{ field: 'measure', title: 'right' }] : []),
    { field: 'point', title: 'magnitude' },
    ...SUCCESS_TOOLTIP,
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Success vs magnitude: ${kind}`,
      subtitle: `line: solved seeds / seeds; bars: 95% Wilson interval${hasGate ? '; dashed: the gate alone' : ''}`,
    },
    config: BASE_CONFIG,
    data: { values },
    facet: { field: 'panel', type: 'nominal', title: null, sort: [...new Set(values.map((v) => v.panel))] },
    columns: 3,
    spec: {
      width: 220,
      height: 150,
      layer: [
        {
          mark: { type: 'rule', strokeWidth: 1.5, opacity: 0.5 },
          encoding: {
            x,
            y: { ...y, field: 'lower' },
            y2: { field: 'upper' },
            color,
            ...(strokeDash ? { strokeDash } : {}),
          },
        },
        {
          mark: { type: 'line', point: true },
          encoding: { x, y, color, ...(strokeDash ? { strokeDash } : {}), tooltip },
        },
      ],
    },
  } as TopLevelSpec;
}

export interface NsrPlot {
  id: string;
  title: string;
  svg: string;
}

export async function renderNsrPlots(report: NsrReport): Promise<NsrPlot[]> {
  const out: NsrPlot[] = [];
  for (const kind of NSR_TASK_KINDS) {
    const spec = nsrSuccessSpec(report, kind);
    if (spec)
      out.push({ id: `nsr-${kind}`, title: `Success vs magnitude (${kind})`, svg: await renderSvg(spec) });
  }
  return out;
}

const CSS = `body{margin:0;padding:24px 32px;font:14px/1.45 Helvetica,Arial,sans-serif;color:#1b1b1b}
main{max-width:1320px;margin:0 auto}h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555}table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid #e4e4e4;white-space:nowrap;text-align:left}
th{background:#f4f5f7}figure{margin:20px 0}figure svg{max-width:100%;height:auto}
footer{margin-top:40px;color:#777;font-size:12px}`;

function htmlTable(title: string, [header, ...rows]: string[][]): string[] {
  return [
    `<h2>${escapeHtml(title)}</h2><table>`,
    `<thead><tr>${header!.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`,
    ...rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`),
    '</tbody></table>',
  ];
}

export function formatNsrHtml(report: NsrReport, plots: readonly NsrPlot[], subtitle?: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8" />',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:" />`,
    `<title>${escapeHtml(report.title)}</title><style>${CSS}</style></head><body><main>`,
    `<h1>${escapeHtml(report.title)}</h1>`,
    ...(subtitle ? [`<p class="meta">${escapeHtml(subtitle)}</p>`] : []),
    ...sideBySideTables(report).flatMap((t) => htmlTable(t.title, t.rows)),
    ...htmlTable('Per task, model and magnitude', tableRows(report)),
    ...(report.seeds.length > 0 ? htmlTable('Per seed: how far each stays right', seedRows(report)) : []),
    '<h2>Notes</h2><ul>',
    ...report.notes.map((n) => `<li>${escapeHtml(n)}</li>`),
    '</ul><h2>Plots</h2>',
    ...plots.map(
      (p, i) =>
        `<figure id="${escapeHtml(p.id)}">${inlineSvg(p.svg, `p${i}-`)}<figcaption>Figure ${i + 1}. ${escapeHtml(p.title)}.</figcaption></figure>`,
    ),
    `<footer>Generated by nalm ${escapeHtml(NALM_VERSION)}. Self-contained: nothing is loaded from elsewhere.</footer>`,
    '</main></body></html>',
    '',
  ].join('\n');
}
