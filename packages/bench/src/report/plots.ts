/**
 * Plots of a report as vega-lite specifications, rendered to SVG in Node (vega's string renderer:
 * no canvas, no native code, no fetches).
 *
 * Every spec builder is a pure function of a `Report` and, where per-seed data is shown, the records
 * it was built from; a custom plot is a vega-lite spec like these passed to `renderSvg`.
 *
 * - success rate per model × operation with its Wilson interval (from the summaries);
 * - solved-at per group: one tick per solved seed, the median, and the gamma mean with its interval;
 * - extrapolation-MSE curves, one panel per group, one line per seed (solved seeds highlighted);
 * - for sweeps (groups that differ in a configuration field), success vs the swept parameter.
 *
 * In paper-compatible mode the per-seed outcomes are re-derived from the curves with the published
 * threshold, exactly as `reportFromRecords` does, so the plots agree with the table.
 */
import type * as VegaModule from 'vega';
import type { TopLevelSpec, compile as vlCompile } from 'vega-lite';
import type { RunConfig } from '../config.js';
import { canonicalJson } from '../config.js';
import type { EvalPoint, RunRecord } from '../record.js';
import { curveOutcome } from '../success.js';
import { formatRange } from '../tasks/static.js';
import type { ThresholdCache } from '../threshold.js';
import { gridSpec } from './grid.js';
import { BASE_CONFIG, SUCCESS_TOOLTIP, facetColumns, operationFacet } from './style.js';
import type { Report, ReportGroup } from './report.js';
import { reportThreshold } from './report.js';

/** A vega-lite specification (re-exported so callers need no direct vega-lite dependency). */
export type VegaLiteSpec = TopLevelSpec;

export interface PlotOptions {
  /** Threshold cache for paper-compatible reports (the published threshold is re-derived per configuration). */
  thresholdCache?: ThresholdCache;
  /**
   * Most points drawn over all seed curves of the curves plot (default 150,000); each curve keeps
   * at most `budget / curves` points (between 24 and 400), chosen by min/max per bucket.
   */
  curvePointBudget?: number;
}

/** One plot of a report: an id (file name stem), a title, a caption for the HTML page and its spec. */
export interface Plot {
  id: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

/** Per-seed outcome as drawn: solved, not solved, or stopped by divergence (never solved). */
export type SeedStatus = 'solved' | 'not solved' | 'diverged';

export const STATUS_ORDER: readonly SeedStatus[] = ['not solved', 'diverged', 'solved'];
const STATUS_COLOR: Record<SeedStatus, string> = {
  solved: '#1f5fbf',
  'not solved': '#8c8c8c',
  diverged: '#d1495b',
};

export const SUCCESS_AXIS = 'success rate (%, 95% Wilson CI)';
export const ITERATION_AXIS = 'iteration';
/** On two lines: a y title longer than a facet panel would stretch the facet's rows. */
export const MSE_AXIS = ['extrapolation MSE', '(log scale)'];
export const SOLVED_AT_AXIS = 'solved at (iterations)';

/** Iteration counts as 0, 500, 20k, 1.5M. */
const ITERATION_LABEL =
  "datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + 'M' : datum.value >= 1e3 ? format(datum.value / 1e3, '~g') + 'k' : format(datum.value, '~g')";

export { BASE_CONFIG, SUCCESS_TOOLTIP } from './style.js';

// ---- grouping ----

/** A group's row label within its operation: the model and, if any, what else distinguishes it. */
export function groupLabel(g: ReportGroup): string {
  return g.variant ? `${g.model} · ${g.variant}` : g.model;
}

/**
 * A group's panel title, unique within the report: operation and model on the first line, then one
 * line per "field=value" of the variant (newline-separated; the facet header splits them).
 */
function panelLabels(report: Report): string[] {
  const raw = report.groups.map((g) =>
    [`${g.operation}  ${g.model}`, ...(g.variant ? g.variant.split(/\s(?=[A-Za-z]\w*=)/) : [])].join('\n'),
  );
  return uniquify(raw);
}

function rowLabels(report: Report): string[] {
  const raw = report.groups.map((g) => `${g.operation}\u0000${groupLabel(g)}`);
  const unique = uniquify(raw);
  return unique.map((u) => u.slice(u.indexOf('\u0000') + 1));
}

function uniquify(labels: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const l of labels) count.set(l, (count.get(l) ?? 0) + 1);
  const seen = new Map<string, number>();
  return labels.map((l) => {
    if ((count.get(l) ?? 0) < 2) return l;
    const i = (seen.get(l) ?? 0) + 1;
    seen.set(l, i);
    return `${l} (${i})`;
  });
}

function distinct<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/**
 * The records of each report group, in the order of `report.groups` (matched by configuration;
 * groups without a configuration — stable-nalu input — get none).
 */
export function recordsByGroup(report: Report, records: readonly RunRecord[]): RunRecord[][] {
  const byConfig = new Map<string, RunRecord[]>();
  for (const r of records) {
    const k = canonicalJson(r.config);
    const list = byConfig.get(k);
    if (list) list.push(r);
    else byConfig.set(k, [r]);
  }
  return report.groups.map((g) => (g.config ? (byConfig.get(canonicalJson(g.config)) ?? []) : []));
}

interface SeedOutcome {
  record: RunRecord;
  threshold: number;
  status: SeedStatus;
  solvedAt: number | null;
}

/** Per-seed outcomes as the report counts them (paper-compatible: re-derived with the published threshold). */
function seedOutcomes(report: Report, recs: readonly RunRecord[], opts: PlotOptions): SeedOutcome[] {
  return recs.map((r) => {
    let threshold = r.threshold;
    let solved = r.solved;
    let solvedAt = r.solvedAt;
    const th = reportThreshold(r.config.task, report.mode === 'paper-compat', opts.thresholdCache);
    if (th !== null) {
      threshold = th;
      const o = curveOutcome(r.curve, threshold);
      solved = o.solved;
      solvedAt = o.solvedAt;
    }
    const status: SeedStatus = r.diverged !== null && !solved ? 'diverged' : solved ? 'solved' : 'not solved';
    return { record: r, threshold, status, solvedAt: solved ? solvedAt : null };
  });
}

const pct = (v: number | null): number | null => (v === null || !Number.isFinite(v) ? null : 100 * v);

// ---- success rate ----

/**
 * Success rate per model × operation: a dot at k/n and the 95% Wilson interval as a bar, one panel
 * per operation, the seeds solved as "k/n" beside each interval.
 */
export function successSpec(report: Report): TopLevelSpec {
  const labels = rowLabels(report);
  const ops = distinct(report.groups.map((g) => g.operation));
  const values = report.groups.map((g, i) => ({
    operation: g.operation,
    group: labels[i]!,
    success: pct(g.summary.success.mean),
    lower: pct(g.summary.success.lower),
    upper: pct(g.summary.success.upper),
    solved: g.summary.solved,
    seeds: g.summary.n,
    label: `${g.summary.solved}/${g.summary.n}`,
  }));
  const x = {
    field: 'success',
    type: 'quantitative' as const,
    title: SUCCESS_AXIS,
    scale: { domain: [0, 100] },
  };
  // Rows in the report's group order (an explicit order: the layers' data come in different orders).
  const y = {
    field: 'group',
    type: 'nominal' as const,
    // The rows are labelled by model; vega places a left title by its own width estimate, which
    // overlaps long labels.
    title: null,
    sort: distinct(labels),
    axis: { labelLimit: 380 },
  };
  const tooltip = [{ field: 'group', title: 'model' }, ...SUCCESS_TOOLTIP];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Success rate per model and operation',
      subtitle: `dot: solved seeds / seeds; bar: 95% Wilson interval; ${report.groups.length} group(s)`,
    },
    config: BASE_CONFIG,
    data: { values },
    ...operationFacet(ops),
    spec: {
      width: 240,
      height: { step: 20 },
      layer: [
        {
          name: 'ci',
          mark: { type: 'rule', strokeWidth: 2, color: '#1f5fbf', opacity: 0.55 },
          encoding: { x: { ...x, field: 'lower' }, x2: { field: 'upper' }, y, tooltip },
        },
        {
          name: 'rate',
          mark: { type: 'point', filled: true, size: 45, color: '#1f5fbf', opacity: 1 },
          encoding: { x, y, tooltip },
        },
        {
          name: 'count',
          mark: { type: 'text', align: 'left', dx: 5, fontSize: 9, color: '#444' },
          encoding: { x: { field: 'upper', type: 'quantitative' }, y, text: { field: 'label' } },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

// ---- solved at ----

/**
 * Solved-at distribution per group: a tick per solved seed, a diamond at the median, and the mean
 * with its 95% interval (gamma fit or t fallback) as a bar below. Groups with no solved seed say so.
 * Without records (stable-nalu input) only the summaries are drawn.
 */
export function solvedAtSpec(
  report: Report,
  records: readonly RunRecord[] | null,
  opts: PlotOptions = {},
): TopLevelSpec {
  const labels = rowLabels(report);
  const ops = distinct(report.groups.map((g) => g.operation));
  const perGroup = records ? recordsByGroup(report, records) : report.groups.map(() => []);
  const seedRows: { operation: string; group: string; seed: number; solvedAt: number }[] = [];
  report.groups.forEach((g, i) => {
    for (const o of seedOutcomes(report, perGroup[i]!, opts)) {
      if (o.solvedAt !== null && Number.isFinite(o.solvedAt))
        seedRows.push({
          operation: g.operation,
          group: labels[i]!,
          seed: o.record.seed,
          solvedAt: o.solvedAt,
        });
    }
  });
  const summaries = report.groups.map((g, i) => ({
    operation: g.operation,
    group: labels[i]!,
    median: g.summary.solvedAt.median,
    mean: Number.isFinite(g.summary.solvedAt.mean) ? g.summary.solvedAt.mean : null,
    lower: g.summary.solvedAt.lower,
    upper: g.summary.solvedAt.upper,
    solved: g.summary.solved,
    seeds: g.summary.n,
  }));
  const positives = [
    ...seedRows.map((r) => r.solvedAt),
    ...summaries.flatMap((s) => [s.median, s.mean]).filter((v): v is number => v !== null),
  ];
  const lo = Math.min(...positives);
  const hi = Math.max(...positives);
  const log = positives.length > 0 && lo > 0 && hi / lo >= 30;
  const clampLow = (v: number | null) => (v === null ? null : log ? Math.max(v, lo / 2) : v);
  const values: Record<string, unknown>[] = [
    ...seedRows.map((r) => ({ kind: 'seed', ...r })),
    ...summaries
      .filter((s) => s.solved > 0)
      .map((s) => ({
        kind: 'summary',
        ...s,
        lowerDrawn: clampLow(s.lower ?? s.mean),
        upperDrawn: s.upper ?? s.mean,
      })),
    ...summaries
      .filter((s) => s.solved === 0)
      .map((s) => ({
        kind: 'empty',
        operation: s.operation,
        group: s.group,
        note: `no solved seeds (0/${s.seeds})`,
      })),
  ];
  const xTitle = log ? `${SOLVED_AT_AXIS.replace(')', ', log scale)')}` : SOLVED_AT_AXIS;
  // The axis spans the training length, so "early" and "late" read against the run.
  const trained = Math.max(0, ...report.groups.map((g) => g.config?.iterations ?? 0));
  const top = Math.max(trained, positives.length > 0 ? hi : 0);
  const x = {
    type: 'quantitative' as const,
    title: xTitle,
    scale: log
      ? { type: 'log' as const, domain: [lo / 2, top * 1.2], nice: false }
      : { domain: [0, top > 0 ? top : 1] },
    axis: { labelExpr: ITERATION_LABEL, labelOverlap: 'greedy' as const, labelSeparation: 4 },
  };
  // Rows in the report's group order (an explicit order: the layers' data come in different orders).
  const y = {
    field: 'group',
    type: 'nominal' as const,
    // The rows are labelled by model; vega places a left title by its own width estimate, which
    // overlaps long labels.
    title: null,
    sort: distinct(labels),
    axis: { labelLimit: 380 },
  };
  const filter = (kind: string) => [{ filter: `datum.kind === '${kind}'` }];
  const subtitle = records
    ? 'ticks: solved seeds; diamond: median; bar: mean with 95% interval (gamma fit, or t)'
    : 'diamond: median; bar: mean with 95% interval (gamma fit, or t) — per-seed values not in this input';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'When training solved the task (solved seeds only)', subtitle },
    config: BASE_CONFIG,
    data: { values },
    ...operationFacet(ops),
    spec: {
      width: 260,
      height: { step: 24 },
      layer: [
        {
          name: 'meanci',
          transform: filter('summary'),
          mark: { type: 'rule', strokeWidth: 2, color: '#e08a1e', yOffset: 7, clip: true },
          encoding: {
            x: { ...x, field: 'lowerDrawn' },
            x2: { field: 'upperDrawn' },
            y,
            tooltip: [
              { field: 'group', title: 'model' },
              { field: 'mean', title: 'mean', format: '.3~s' },
              { field: 'lower', title: 'lower', format: '.3~s' },
              { field: 'upper', title: 'upper', format: '.3~s' },
            ],
          },
        },
        {
          name: 'seeds',
          transform: filter('seed'),
          mark: { type: 'tick', color: '#1f5fbf', opacity: 0.55, thickness: 1.5, size: 12 },
          encoding: {
            x: { ...x, field: 'solvedAt' },
            y,
            tooltip: [
              { field: 'group', title: 'model' },
              { field: 'seed', title: 'seed' },
              { field: 'solvedAt', title: 'solved at', format: ',' },
            ],
          },
        },
        {
          name: 'median',
          transform: [...filter('summary'), { filter: 'datum.median != null' }],
          mark: { type: 'point', shape: 'diamond', filled: true, size: 70, color: '#111', opacity: 1 },
          encoding: {
            x: { ...x, field: 'median' },
            y,
            tooltip: [
              { field: 'group', title: 'model' },
              { field: 'median', title: 'median', format: ',' },
            ],
          },
        },
        {
          name: 'empty',
          transform: filter('empty'),
          mark: { type: 'text', align: 'left', fontSize: 10, fontStyle: 'italic', color: '#a33' },
          encoding: { x: { value: 4 }, y, text: { field: 'note' } },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

// ---- curves ----

/**
 * At most `maxPoints` points of a curve's finite, positive extrapolation MSE, in step order: the
 * first and last point and, per bucket, the lowest and the highest value (so dips and spikes stay
 * visible on a log axis). Non-finite and non-positive values are dropped (a log axis cannot show them).
 */
export function downsampleCurve(curve: readonly EvalPoint[], maxPoints: number): EvalPoint[] {
  const pts = curve.filter(
    (p) => Number.isFinite(p.extrapolation) && p.extrapolation > 0 && Number.isFinite(p.step),
  );
  const cap = Math.max(4, Math.floor(maxPoints));
  if (pts.length <= cap) return pts;
  const inner = pts.slice(1, -1);
  const buckets = Math.floor((cap - 2) / 2);
  const out: EvalPoint[] = [pts[0]!];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * inner.length) / buckets);
    const to = Math.floor(((b + 1) * inner.length) / buckets);
    if (to <= from) continue;
    let iMin = from;
    let iMax = from;
    for (let i = from; i < to; i++) {
      if (inner[i]!.extrapolation < inner[iMin]!.extrapolation) iMin = i;
      if (inner[i]!.extrapolation > inner[iMax]!.extrapolation) iMax = i;
    }
    for (const i of iMin === iMax ? [iMin] : [Math.min(iMin, iMax), Math.max(iMin, iMax)])
      out.push(inner[i]!);
  }
  out.push(pts[pts.length - 1]!);
  return out;
}

/**
 * Extrapolation MSE over iterations, one panel per group, one line per seed: solved seeds in blue,
 * the others faint grey (diverged in red, cut where they diverged), the success threshold dashed.
 * Null when there are no records (stable-nalu input keeps no curves).
 */
export function curvesSpec(
  report: Report,
  records: readonly RunRecord[] | null,
  opts: PlotOptions = {},
): TopLevelSpec | null {
  if (!records || records.length === 0) return null;
  const perGroup = recordsByGroup(report, records);
  const panels = panelLabels(report);
  const nCurves = perGroup.reduce((s, g) => s + g.length, 0);
  const budget = opts.curvePointBudget ?? 150_000;
  const perCurve = Math.min(400, Math.max(24, Math.floor(budget / Math.max(1, nCurves))));
  const values: Record<string, unknown>[] = [];
  let dropped = 0;
  let downsampled = 0;
  report.groups.forEach((_g, i) => {
    const panel = panels[i]!;
    const outcomes = seedOutcomes(report, perGroup[i]!, opts);
    // Faint lines first, solved seeds last, so the highlighted lines are drawn on top.
    const ordered = [...outcomes].sort(
      (a, b) =>
        STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || a.record.seed - b.record.seed,
    );
    for (const o of ordered) {
      const finite = o.record.curve.filter(
        (p) => Number.isFinite(p.extrapolation) && p.extrapolation > 0,
      ).length;
      dropped += o.record.curve.length - finite;
      const pts = downsampleCurve(o.record.curve, perCurve);
      if (pts.length < finite) downsampled++;
      const series = `${o.status === 'solved' ? 'b' : 'a'}${String(o.record.seed).padStart(9, '0')}`;
      for (const p of pts)
        values.push({
          kind: 'curve',
          panel,
          seed: o.record.seed,
          series,
          status: o.status,
          step: p.step,
          mse: p.extrapolation,
        });
    }
    const thresholds = distinct(outcomes.map((o) => o.threshold)).filter((t) => Number.isFinite(t) && t > 0);
    for (const t of thresholds) values.push({ kind: 'threshold', panel, threshold: t });
    const solved = outcomes.filter((o) => o.status === 'solved').length;
    const diverged = outcomes.filter((o) => o.status === 'diverged').length;
    values.push({
      kind: 'note',
      panel,
      note:
        (solved === 0 ? `no seed solved (0/${outcomes.length})` : `${solved}/${outcomes.length} solved`) +
        (diverged > 0 ? `, ${diverged} diverged` : ''),
    });
  });
  const facts = [
    'one line per seed',
    'dashed: success threshold',
    ...(downsampled > 0
      ? [`${downsampled} curve(s) downsampled to ≤ ${perCurve} points (min/max per bucket)`]
      : []),
    ...(dropped > 0 ? [`${dropped} non-finite or zero point(s) dropped`] : []),
  ];
  const filter = (kind: string) => [{ filter: `datum.kind === '${kind}'` }];
  const columns = facetColumns(panels.length, 4);
  const manySeeds = Math.max(0, ...perGroup.map((g) => g.length)) > 20;
  const wide = columns > 4;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Extrapolation error during training', subtitle: facts.join('; ') },
    config: { ...BASE_CONFIG, header: { ...BASE_CONFIG.header, labelFontSize: 11, labelLimit: 220 } },
    data: { values },
    facet: {
      field: 'panel',
      type: 'nominal',
      title: null,
      sort: panels,
      header: { labelAnchor: 'start', labelExpr: "split(datum.value, '\\n')", labelLineHeight: 13 },
    },
    columns,
    spec: {
      width: wide ? 150 : 210,
      height: wide ? 110 : 130,
      layer: [
        {
          name: 'curves',
          transform: filter('curve'),
          mark: { type: 'line', interpolate: 'linear', clip: true },
          encoding: {
            x: {
              field: 'step',
              type: 'quantitative',
              title: ITERATION_AXIS,
              axis: { labelExpr: ITERATION_LABEL, tickCount: 4 },
            },
            y: {
              field: 'mse',
              type: 'quantitative',
              title: MSE_AXIS,
              scale: { type: 'log' },
              axis: { format: '.0e', tickCount: 5 },
            },
            detail: { field: 'series' },
            color: {
              field: 'status',
              type: 'nominal',
              title: 'seed',
              scale: { domain: [...STATUS_ORDER], range: STATUS_ORDER.map((s) => STATUS_COLOR[s]) },
              legend: { symbolOpacity: 1, symbolStrokeWidth: 2 },
            },
            opacity: {
              condition: { test: "datum.status === 'solved'", value: 0.9 },
              value: manySeeds ? 0.22 : 0.4,
            },
            strokeWidth: { condition: { test: "datum.status === 'solved'", value: 1.4 }, value: 0.9 },
          },
        },
        {
          name: 'threshold',
          transform: filter('threshold'),
          mark: { type: 'rule', strokeDash: [4, 3], color: '#222', strokeWidth: 1 },
          encoding: { y: { field: 'threshold', type: 'quantitative' } },
        },
        {
          name: 'note',
          transform: filter('note'),
          mark: { type: 'text', align: 'right', baseline: 'top', fontSize: 9, color: '#333' },
          encoding: { x: { value: wide ? 146 : 206 }, y: { value: 3 }, text: { field: 'note' } },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

// ---- sweeps ----

/** A configuration field that differs between groups (interpolation and extrapolation range together). */
export interface SweepDimension {
  key: string;
  title: string;
}

const FIELD_TITLES: Record<string, string> = {
  range: 'range (interpolation → extrapolation)',
  interpolation: 'interpolation range',
  extrapolation: 'extrapolation range',
  inputSize: 'input size I',
  subsetRatio: 'subset ratio',
  overlapRatio: 'overlap ratio (fraction of the subset)',
  numSubsets: 'number of subsets',
  simple: 'simple variant',
  hidden: 'hidden size',
  batch: 'batch size',
  lr: 'learning rate',
  iterations: 'iterations',
  evalEvery: 'evaluation interval (iterations)',
  oobWeight: 'out-of-bound regulariser weight',
};

/** The configuration flattened as the report's variant labels see it (task fields and run fields). */
function flatConfig(c: RunConfig): Record<string, string | number | boolean> {
  const { op: _op, kind: _kind, interpolation, extrapolation, ...task } = c.task;
  const { model: _m, task: _t, schedule: _s, ...rest } = c;
  return {
    ...rest,
    ...task,
    interpolation: formatRange(interpolation),
    extrapolation: formatRange(extrapolation),
  } as Record<string, string | number | boolean>;
}

/** The fields that vary between the report's groups (only groups with a configuration count). */
export function sweepDimensions(report: Report): SweepDimension[] {
  const withConfig = report.groups.filter((g) => g.config);
  const flats = withConfig.map((g) => flatConfig(g.config!));
  if (flats.length < 2) return [];
  // A field that takes one value per model (e.g. a model's own learning rate) is a per-model
  // setting, not a swept dimension.
  const perModel = (k: string) => {
    const byModel = new Map<string, Set<string>>();
    flats.forEach((f, i) => {
      const m = withConfig[i]!.config!.model;
      const set = byModel.get(m) ?? new Set<string>();
      set.add(String(f[k]));
      byModel.set(m, set);
    });
    return byModel.size > 1 && [...byModel.values()].every((set) => set.size === 1);
  };
  const varying = Object.keys(flats[0]!).filter(
    (k) => new Set(flats.map((f) => String(f[k]))).size > 1 && !perModel(k),
  );
  const dims: SweepDimension[] = [];
  const rangeBoth = varying.includes('interpolation') && varying.includes('extrapolation');
  for (const k of varying) {
    if (rangeBoth && k === 'extrapolation') continue;
    const key = rangeBoth && k === 'interpolation' ? 'range' : k;
    dims.push({ key, title: FIELD_TITLES[key] ?? key });
  }
  return dims;
}

function dimValue(c: RunConfig, key: string): string | number | boolean {
  const f = flatConfig(c);
  if (key === 'range') return `${String(f.interpolation)} → ${String(f.extrapolation)}`;
  return f[key]!;
}

/**
 * Success rate against one swept configuration field: x = the field's value (in sweep order, or
 * numeric order for numbers), one colour per model, one panel per operation (and per value of the
 * other varying fields, if any).
 */
export function sweepSpec(report: Report, dim: SweepDimension): TopLevelSpec {
  const others = sweepDimensions(report).filter((d) => d.key !== dim.key);
  const groups = report.groups.filter((g) => g.config);
  const values = groups.map((g) => {
    const c = g.config!;
    const raw = dimValue(c, dim.key);
    const rest = others.map((d) => `${d.key}=${String(dimValue(c, d.key))}`).join(' ');
    return {
      panel: rest ? `${g.operation}  ${rest}` : g.operation,
      model: g.model,
      value: String(raw),
      numeric: typeof raw === 'number' ? raw : null,
      success: pct(g.summary.success.mean),
      lower: pct(g.summary.success.lower),
      upper: pct(g.summary.success.upper),
      label: `${g.summary.solved}/${g.summary.n}`,
    };
  });
  const allNumeric = values.every((v) => v.numeric !== null);
  const order = allNumeric
    ? distinct([...values].sort((a, b) => a.numeric! - b.numeric!).map((v) => v.value))
    : distinct(values.map((v) => v.value));
  const panels = distinct(values.map((v) => v.panel));
  const models = distinct(values.map((v) => v.model));
  const x = {
    field: 'value',
    type: 'ordinal' as const,
    title: dim.title,
    sort: order,
    axis: { labelAngle: order.some((o) => o.length > 6) ? -30 : 0, labelLimit: 300 },
  };
  const y = {
    field: 'success',
    type: 'quantitative' as const,
    title: SUCCESS_AXIS,
    scale: { domain: [0, 100] },
  };
  const color = { field: 'model', type: 'nominal' as const, title: 'model', sort: models };
  const xOffset = { field: 'model', type: 'nominal' as const, sort: models };
  const tooltip = [
    { field: 'model', title: 'model' },
    { field: 'value', title: dim.title },
    ...SUCCESS_TOOLTIP,
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Success rate vs ${dim.title}`,
      subtitle: 'dot: solved seeds / seeds; bar: 95% Wilson interval',
    },
    config: BASE_CONFIG,
    data: { values },
    facet: {
      field: 'panel',
      type: 'nominal',
      title: 'operation',
      sort: panels,
      header: { labelAnchor: 'start' },
    },
    columns: facetColumns(panels.length, 3),
    spec: {
      // Wide enough for the axis title under each panel, and for every model's bar at each value.
      width: Math.max(240, order.length * (12 * models.length + 12)),
      height: 180,
      layer: [
        {
          name: 'ci',
          mark: { type: 'rule', strokeWidth: 2, opacity: 0.6 },
          encoding: { x, xOffset, y: { ...y, field: 'lower' }, y2: { field: 'upper' }, color, tooltip },
        },
        {
          name: 'rate',
          mark: { type: 'point', filled: true, size: 40, opacity: 1 },
          encoding: { x, xOffset, y, color, tooltip },
        },
      ],
    },
  } as TopLevelSpec;
}

// ---- all plots ----

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** Every plot of a report: success, solved at, curves (with records), and one sweep plot per varying field. */
export function reportPlots(
  report: Report,
  records: readonly RunRecord[] | null,
  opts: PlotOptions = {},
): Plot[] {
  const plots: Plot[] = [];
  if (report.grid) {
    plots.push({
      id: 'single-module-grid',
      title: 'Single-module benchmark: success rate per module and range',
      caption:
        'Heat map of the success rate of each module on each range pair (training → test), one panel per ' +
        'operation; the text is solved seeds / seeds. The 95% Wilson intervals are in the table.',
      spec: gridSpec(report.grid, BASE_CONFIG),
    });
  }
  plots.push(
    {
      id: 'success',
      title: 'Success rate per model and operation',
      caption:
        'Fraction of seeds whose extrapolation MSE at the best step (lowest interpolation MSE) is below the ' +
        'success threshold, with the 95% Wilson score interval.',
      spec: successSpec(report),
    },
    {
      id: 'solved-at',
      title: 'Solved at',
      caption:
        'First evaluation step at which the extrapolation MSE fell below the threshold, for the solved seeds; ' +
        'the median and the mean with its 95% interval as in the table.',
      spec: solvedAtSpec(report, records, opts),
    },
  );
  const curves = curvesSpec(report, records, opts);
  if (curves)
    plots.push({
      id: 'curves',
      title: 'Extrapolation MSE curves',
      caption:
        'Extrapolation (test) MSE at every evaluation, log scale; one line per seed, solved seeds highlighted, ' +
        'the dashed line is the success threshold. Diverged seeds end where they diverged.',
      spec: curves,
    });
  for (const dim of sweepDimensions(report)) {
    plots.push({
      id: `sweep-${slug(dim.key)}`,
      title: `Success rate vs ${dim.title}`,
      caption: `Success rate (95% Wilson interval) of each model against ${dim.title}, the field that differs between groups.`,
      spec: sweepSpec(report, dim),
    });
  }
  return plots;
}

// ---- text widths ----

/**
 * Helvetica/Arial advance widths (per 1000 em) of ASCII 32–126. Without a canvas vega estimates
 * every character at 0.8 em, which leaves wide gaps beside labels and truncates long ones early;
 * the SVG names Helvetica/Arial, so these widths match what a browser draws.
 */
const HELVETICA = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
  556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278,
  500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
  556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
  278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/** Width in pixels of `text` at `size` px (bold about 7% wider); other characters count 0.6 em. */
export function textWidth(text: string, size: number, bold = false): number {
  let w = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x300 && c < 0x370) continue; // combining marks (λ̂)
    w += c >= 32 && c <= 126 ? HELVETICA[c - 32]! : 600;
  }
  return (w / 1000) * size * (bold ? 1.07 : 1);
}

interface TextItem {
  fontSize?: number | null;
  fontWeight?: string | number | null;
  limit?: number | null;
}

let metricsInstalled = false;
/** Replaces vega's 0.8 em estimate by Helvetica widths, unless a canvas measures text. */
type Vega = typeof VegaModule;
type VegaLiteCompile = typeof vlCompile;

let vegaModules: Promise<{ vega: Vega; compile: VegaLiteCompile }> | undefined;

/**
 * vega and vega-lite, loaded on the first render: together they are ~0.3 s of every `nalm` start
 * (and a large share of a browser bundle) that only drawing a plot needs.
 */
function loadVega(): Promise<{ vega: Vega; compile: VegaLiteCompile }> {
  vegaModules ??= Promise.all([import('vega'), import('vega-lite')]).then(([vega, vl]) => ({
    vega,
    compile: vl.compile,
  }));
  return vegaModules;
}

function installTextMetrics(vega: Vega): void {
  if (metricsInstalled) return;
  metricsInstalled = true;
  const tm = (vega as unknown as { textMetrics?: Record<string, unknown> }).textMetrics;
  if (!tm || tm.width !== tm.estimateWidth) return;
  tm.width = (item: TextItem, text: unknown) => {
    const s = text == null ? '' : String(text).trim();
    const size = item.fontSize ?? 11;
    const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
    const w = textWidth(s, size > 0 ? size : 0, bold);
    // vega measures truncated text as at most its limit (see vega-scenegraph's textValue).
    return item.limit && item.limit > 0 ? Math.min(w, item.limit) : w;
  };
}

/** Renders a vega-lite spec to an SVG string in Node (no canvas, no network: data must be inline). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, compile } = await loadVega();
  // vega-lite's warnings (e.g. about facets with independent scales) are advice, not problems.
  installTextMetrics(vega);
  const compiled = compile(spec, { logger: vega.logger(vega.Error) }).spec;
  const external = (compiled.data ?? []).find((d) => 'url' in d && d.url !== undefined);
  if (external)
    throw new Error(`renderSvg: data must be inline (data '${external.name}' has a url); nothing is fetched`);
  // Inline data only: a spec that points at a URL or file fails instead of fetching it.
  const noFetch = vega.loader();
  noFetch.load = (uri: string) =>
    Promise.reject(new Error(`renderSvg: data must be inline, not loaded from '${uri}'`));
  const view = new vega.View(vega.parse(compiled), {
    renderer: 'none',
    loader: noFetch,
    logLevel: vega.Error,
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A rendered plot. */
export interface RenderedPlot extends Plot {
  svg: string;
}

/** Renders every plot of `reportPlots`. */
export async function renderPlots(
  report: Report,
  records: readonly RunRecord[] | null,
  opts: PlotOptions = {},
): Promise<RenderedPlot[]> {
  const out: RenderedPlot[] = [];
  for (const p of reportPlots(report, records, opts)) out.push({ ...p, svg: await renderSvg(p.spec) });
  return out;
}
