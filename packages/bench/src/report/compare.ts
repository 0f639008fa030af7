/**
 * Published vs measured, cell by cell: for each cell of a published table, the measured group of
 * the same model, operation and task beside it — success [95% CI] both sides with a verdict (do the
 * intervals overlap?), solved at and sparsity error. Pure functions on a Report and a
 * PublishedTable (browser-safe); `nalm report DIR --compare NAME|FILE` prints and writes them.
 */
import { canonicalJson } from '../config.js';
import { getModel, listModels } from '../models/registry.js';
import type { PublishedCell, PublishedTable } from '../published/index.js';
import { wilson } from '../stats/index.js';
import type { Report, ReportGroup } from './report.js';
import { OP_SYMBOL, sci } from './report.js';

export type Verdict = 'overlap' | 'no overlap' | 'not measured';

export interface ComparisonRow {
  model: string;
  /** Model label for tables. */
  label: string;
  operation: string;
  /** Measured group's variant text (what tells groups of the same cell apart), '' if none. */
  variant: string;
  published: PublishedCell & { success: { mean: number; lower: number; upper: number } };
  /** The measured group (null when no measured group matches the cell). */
  measured: ReportGroup | null;
  /** Measured run length (null when not measured). */
  iterations: number | null;
  verdict: Verdict;
}

export interface Comparison {
  table: PublishedTable;
  mode: Report['mode'];
  rows: ComparisonRow[];
  notes: string[];
}

/** Closed intervals [a, b] and [c, d] share a point. */
export function intervalsOverlap(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

function taskMatches(group: ReportGroup, table: PublishedTable): boolean {
  if (!group.config || !table.task) return group.config !== undefined;
  const task = group.config.task as unknown as Record<string, unknown>;
  return Object.entries(table.task).every(([k, v]) => canonicalJson(task[k] ?? false) === canonicalJson(v));
}

const labelOf = (name: string) => (listModels().some((m) => m.name === name) ? getModel(name).label : name);

/** Every published cell with the measured groups of the same model, operation and task. */
export function compareWithPublished(report: Report, table: PublishedTable): Comparison {
  const rows: ComparisonRow[] = [];
  for (const cell of table.cells) {
    const success = wilson(cell.solved, cell.n);
    const published = { ...cell, success };
    const matches = report.groups.filter(
      (g) =>
        g.config !== undefined &&
        g.config.model === cell.model &&
        g.config.task.op === cell.op &&
        taskMatches(g, table) &&
        (cell.variant === undefined || g.variant.includes(cell.variant)),
    );
    const base = { model: cell.model, label: labelOf(cell.model), operation: OP_SYMBOL[cell.op], published };
    if (matches.length === 0) {
      rows.push({
        ...base,
        variant: cell.variant ?? '',
        measured: null,
        iterations: null,
        verdict: 'not measured',
      });
      continue;
    }
    for (const g of matches) {
      const m = g.summary.success;
      const overlap = intervalsOverlap(
        [success.lower, success.upper],
        [m.lower ?? m.mean, m.upper ?? m.mean],
      );
      rows.push({
        ...base,
        variant: g.variant,
        measured: g,
        iterations: g.config!.iterations,
        verdict: overlap ? 'overlap' : 'no overlap',
      });
    }
  }
  const notes: string[] = [
    `Published: ${table.paper} — ${table.source}; ${table.settings}. Numbers read from ${table.readFrom}.`,
    'Verdict: whether the published and the measured 95% success intervals (Wilson) overlap.',
  ];
  if (report.groups.some((g) => g.config === undefined)) {
    notes.push('Groups read from a stable-nalu CSV carry no configuration and are not matched.');
  }
  const lengths = new Set(rows.flatMap((r) => (r.iterations === null ? [] : [r.iterations])));
  if ([...lengths].some((n) => n !== table.iterations)) {
    notes.push(
      `Measured runs trained for ${[...lengths].map((n) => n.toLocaleString('en')).join(' / ')} iterations; the ` +
        `published ones for ${table.iterations.toLocaleString('en')}: success can only be lower where seeds solve late.`,
    );
  }
  if (table.analysis !== report.mode) {
    notes.push(
      `Published solved-at and sparsity means come from the paper's analysis (${table.analysis}); the measured ` +
        `ones from the ${report.mode} statistics — compare with --paper-compat for like with like (success is the same in both).`,
    );
  }
  return { table, mode: report.mode, rows, notes };
}

const pct = (v: number) => (100 * v).toFixed(1);
const successText = (s: { mean: number; lower: number | null; upper: number | null }) =>
  `${(100 * s.mean).toFixed(0)}% [${s.lower === null ? '—' : pct(s.lower)}, ${s.upper === null ? '—' : pct(s.upper)}]`;
const estimateText = (e: { mean: number; lower?: number | null; upper?: number | null } | undefined) =>
  e === undefined || !Number.isFinite(e.mean)
    ? '—'
    : `${sci(e.mean)} [${sci(e.lower ?? null)}, ${sci(e.upper ?? null)}]`;

/** The comparison as table rows (header first), shared by the Markdown and JSON outputs. */
export function comparisonRows(c: Comparison): string[][] {
  const withVariant = c.rows.some((r) => r.variant !== '');
  const header = [
    'op',
    'model',
    ...(withVariant ? ['variant'] : []),
    'published success [95% CI]',
    'measured success [95% CI]',
    'n',
    'verdict',
    'solved at median: published / measured',
    'solved at mean [CI]: published / measured',
    'sparsity error [CI]: published / measured',
  ];
  const rows = c.rows.map((r) => {
    const m = r.measured?.summary;
    return [
      r.operation,
      r.label,
      ...(withVariant ? [r.variant] : []),
      `${successText(r.published.success)} (${r.published.solved}/${r.published.n})`,
      m ? `${successText(m.success)} (${m.solved}/${m.n})` : '—',
      m ? String(m.n) : '0',
      r.verdict,
      `${sci(r.published.solvedAt?.median ?? null)} / ${m ? sci(m.solvedAt.median) : '—'}`,
      `${estimateText(r.published.solvedAt)} / ${m ? estimateText(m.solvedAt) : '—'}`,
      `${estimateText(r.published.sparsityError)} / ${m ? estimateText(m.sparsityError) : '—'}`,
    ];
  });
  return [header, ...rows];
}

/** Markdown: the table, a one-line tally and the notes. */
export function formatComparisonMarkdown(c: Comparison): string {
  const [header, ...rows] = comparisonRows(c);
  const line = (cells: string[]) => `| ${cells.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`;
  const measured = c.rows.filter((r) => r.verdict !== 'not measured');
  const apart = measured.filter((r) => r.verdict === 'no overlap');
  const tally =
    `${measured.length - apart.length} of ${measured.length} measured cells overlap the published interval` +
    (apart.length ? `; not overlapping: ${apart.map((r) => `${r.label} ${r.operation}`).join(', ')}` : '') +
    (c.rows.length > measured.length
      ? `; ${c.rows.length - measured.length} published cells not measured`
      : '') +
    '.';
  return [
    `# Published vs measured: ${c.table.name}`,
    '',
    line(header!),
    line(header!.map((_, i) => (i < 2 ? '---' : '---:'))),
    ...rows.map(line),
    '',
    tally,
    '',
    ...c.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

/** JSON: every row with both sides' numbers and the verdict. */
export function formatComparisonJson(c: Comparison): string {
  return `${JSON.stringify(
    {
      table: {
        name: c.table.name,
        paper: c.table.paper,
        source: c.table.source,
        iterations: c.table.iterations,
      },
      mode: c.mode,
      rows: c.rows.map((r) => ({
        model: r.model,
        operation: r.operation,
        variant: r.variant,
        verdict: r.verdict,
        published: r.published,
        measured: r.measured
          ? {
              iterations: r.iterations,
              runs: r.measured.runs,
              diverged: r.measured.diverged,
              summary: r.measured.summary,
            }
          : null,
      })),
      notes: c.notes,
    },
    (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
    2,
  )}\n`;
}
