/**
 * Summaries per (task, model, test point) over seeds: success rate with its Wilson interval and
 * mean error with a Student-t interval (benchmark.md §5, §7).
 */
import { tInterval } from '../stats/t-interval.js';
import { wilson } from '../stats/wilson.js';
import type { NsrRecord } from './config.js';
import type { NsrModelName } from './models.js';
import { NSR_MODEL_LABEL, NSR_MODELS } from './models.js';
import { referenceRegularizeFrom } from './presets.js';
import type { NumericType } from './resolution.js';
import { COMPARE_OPS, NSR_TASK_KINDS, taskLabel } from './tasks.js';
import type { CompareOp, NsrTaskKind } from './tasks.js';

export interface NsrSummaryRow {
  kind: NsrTaskKind;
  op: CompareOp | null;
  task: string;
  model: NsrModelName;
  modelLabel: string;
  exponent: number;
  length: number | null;
  point: string;
  epochs: number;
  numeric: NumericType;
  beyondPrecision: boolean;
  seeds: number;
  solved: number;
  success: { mean: number; lower: number; upper: number };
  meanError: { mean: number; lower: number | null; upper: number | null };
  /** piecewise: seeds whose gate decided every item right. */
  gateSolved: number | null;
  /** piecewise: gateSolved / seeds with its Wilson interval (the condition alone, as `success` is the output). */
  gate: { mean: number; lower: number; upper: number } | null;
  /** Seeds that fit every training item. */
  trainSolved: number;
  diverged: number;
}

/**
 * "NSR", or with its non-reference settings: "NSR (R = 10, NAU reg. from epoch 2,400, selection 0.1
 * from epoch 40,000)". The regulariser's start shows only when it is not the reference's (epoch 40,000).
 */
function modelLabel(c: NsrRecord['config']): string {
  const startEpoch = (from: number) =>
    from < 1 ? `epoch ${Math.floor(from * c.epochs).toLocaleString('en-US')}` : 'never';
  const extras = [
    ...((c.redundancy ?? 1) > 1 ? [`R = ${c.redundancy}`] : []),
    ...(c.regularizeFrom !== referenceRegularizeFrom(c.epochs)
      ? [`NAU reg. from ${startEpoch(c.regularizeFrom)}`]
      : []),
    ...(c.selectionPenalty
      ? [
          `selection ${c.selectionPenalty}${c.selectionFrom !== undefined ? ` from ${startEpoch(c.selectionFrom)}` : ''}`,
        ]
      : []),
    // Records from before `mlpInit` existed: not the reference's init (config.ts).
    ...(c.model === 'mlp' && c.mlpInit === undefined ? ['Xavier-uniform init'] : []),
  ];
  return extras.length ? `${NSR_MODEL_LABEL[c.model]} (${extras.join(', ')})` : NSR_MODEL_LABEL[c.model];
}

/** Rows in report order: task kind, op, model, length, magnitude. */
export function summarizeNsr(records: readonly NsrRecord[]): NsrSummaryRow[] {
  const groups = new Map<string, { rec: NsrRecord; pi: number; list: NsrRecord[] }>();
  for (const r of records) {
    r.points.forEach((p, pi) => {
      const c = r.config;
      const id = JSON.stringify([
        c.task.kind,
        c.task.op,
        c.model,
        c.epochs,
        c.numeric,
        c.zeta,
        c.redundancy ?? 1,
        c.selectionPenalty ?? 0,
        c.regularizeFrom,
        c.selectionFrom ?? c.regularizeFrom,
        c.mlpInit ?? null,
        p.exponent,
        p.length,
      ]);
      const g = groups.get(id);
      if (g) g.list.push(r);
      else groups.set(id, { rec: r, pi, list: [r] });
    });
  }
  const rows: NsrSummaryRow[] = [];
  for (const { rec, pi, list } of groups.values()) {
    const c = rec.config;
    const p0 = rec.points[pi]!;
    const at = list.map((r) => r.points.find((p) => p.exponent === p0.exponent && p.length === p0.length)!);
    const solved = at.filter((p) => p.success).length;
    const w = wilson(solved, at.length);
    const errors = at.map((p) => p.meanError).filter((e) => Number.isFinite(e));
    const gates = at.map((p) => p.gateSuccess);
    const gateSolved = gates.every((g) => g === null) ? null : gates.filter((g) => g === true).length;
    rows.push({
      kind: c.task.kind,
      op: c.task.op,
      task: taskLabel(c.task),
      model: c.model,
      modelLabel: modelLabel(c),
      exponent: p0.exponent,
      length: p0.length,
      point: p0.label,
      epochs: c.epochs,
      numeric: c.numeric,
      beyondPrecision: p0.beyondPrecision,
      seeds: at.length,
      solved,
      success: w,
      meanError: tInterval(errors, 0, Infinity),
      gateSolved,
      gate: gateSolved === null ? null : wilson(gateSolved, at.length),
      trainSolved: list.filter((r) => r.trainSolved).length,
      diverged: list.filter((r) => r.diverged !== null).length,
    });
  }
  const opIndex = (op: CompareOp | null) => (op === null ? -1 : COMPARE_OPS.indexOf(op));
  return rows.sort(
    (a, b) =>
      NSR_TASK_KINDS.indexOf(a.kind) - NSR_TASK_KINDS.indexOf(b.kind) ||
      opIndex(a.op) - opIndex(b.op) ||
      NSR_MODELS.indexOf(a.model) - NSR_MODELS.indexOf(b.model) ||
      a.epochs - b.epochs ||
      (a.length ?? 0) - (b.length ?? 0) ||
      a.exponent - b.exponent,
  );
}

/** How far one seed stays right, for the tasks whose test points are magnitudes only. */
export interface NsrSeedRow {
  kind: NsrTaskKind;
  task: string;
  modelLabel: string;
  epochs: number;
  seed: number;
  trainSolved: boolean;
  /** The largest magnitude up to which every magnitude is right (null: wrong from the first). */
  rightTo: string | null;
  /** The first magnitude with a wrong item (null: right at every one). */
  firstWrong: string | null;
  /** piecewise: the largest magnitude up to which the gate alone is right at every magnitude. */
  gateRightTo: string | null;
}

/** Per seed of the compare and piecewise tasks (min and count test a grid of lengths × magnitudes). */
export function summarizeNsrSeeds(records: readonly NsrRecord[]): NsrSeedRow[] {
  const reach = (points: NsrRecord['points'], ok: (p: NsrRecord['points'][number]) => boolean) => {
    const sorted = [...points].sort((a, b) => a.exponent - b.exponent);
    const first = sorted.findIndex((p) => !ok(p));
    return {
      rightTo: first === 0 ? null : sorted[(first < 0 ? sorted.length : first) - 1]!.label,
      firstWrong: first < 0 ? null : sorted[first]!.label,
    };
  };
  const opIndex = (op: CompareOp | null) => (op === null ? -1 : COMPARE_OPS.indexOf(op));
  return records
    .filter(
      (r) => (r.config.task.kind === 'compare' || r.config.task.kind === 'piecewise') && r.points.length > 0,
    )
    .sort(
      (a, b) =>
        NSR_TASK_KINDS.indexOf(a.config.task.kind) - NSR_TASK_KINDS.indexOf(b.config.task.kind) ||
        opIndex(a.config.task.op) - opIndex(b.config.task.op) ||
        NSR_MODELS.indexOf(a.config.model) - NSR_MODELS.indexOf(b.config.model) ||
        a.config.epochs - b.config.epochs ||
        a.seed - b.seed,
    )
    .map((r) => ({
      kind: r.config.task.kind,
      task: taskLabel(r.config.task),
      modelLabel: modelLabel(r.config),
      epochs: r.config.epochs,
      seed: r.seed,
      trainSolved: r.trainSolved,
      ...reach(r.points, (p) => p.success),
      gateRightTo:
        r.config.task.kind === 'piecewise' ? reach(r.points, (p) => p.gateSuccess === true).rightTo : null,
    }));
}
