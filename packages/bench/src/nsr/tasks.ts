/**
 * The quantitative-reasoning tasks of the Neural Status Register (benchmark.md §7): comparisons,
 * a piecewise function, a recurrent minimum and counting. Each task makes a seeded training set
 * (small integers) and seeded test sets at growing magnitudes; every formula for a label lives here.
 *
 * Data are plain float64 arrays, rows of `inputSize` values; trainers convert them to their type.
 */
import { Rng } from '@nalm/units';
import type { NumericType } from './resolution.js';
import { maxResolvedValue } from './resolution.js';

export type NsrTaskKind = 'compare' | 'piecewise' | 'min' | 'count';
export const NSR_TASK_KINDS: readonly NsrTaskKind[] = ['compare', 'piecewise', 'min', 'count'];

export type CompareOp = 'gt' | 'lt' | 'ge' | 'le' | 'eq' | 'ne';
export const COMPARE_OPS: readonly CompareOp[] = ['gt', 'lt', 'ge', 'le', 'eq', 'ne'];
export const COMPARE_SYMBOL: Readonly<Record<CompareOp, string>> = {
  gt: '>',
  lt: '<',
  ge: '≥',
  le: '≤',
  eq: '=',
  ne: '≠',
};
/** The piecewise function's condition: x0 > x1, or the `==` variant. */
export const PIECEWISE_OPS: readonly CompareOp[] = ['gt', 'eq'];

/** A bad task parameter: the message names it and the fix. */
export class NsrTaskError extends Error {
  override readonly name = 'NsrTaskError';
}

export interface NsrTaskConfig {
  kind: NsrTaskKind;
  /** compare: any comparison; piecewise: 'gt' or 'eq'; min/count: null. */
  op: CompareOp | null;
  /**
   * Test magnitudes as exponents: 10^k for compare (x1 ∈ [10^k, 10^(k+1) − 1]), 2^k for piecewise
   * (x0 ∈ [2^k, 2^(k+1) − 1]), values in [1, 10·2^k] for min and count.
   */
  exponents: number[];
  /** min/count: test sequence lengths (min: elements; count: elements compared with the first). */
  lengths: number[];
  /** Draws per test point: anchors x1 (x0) for compare/piecewise, sequences for min/count. */
  draws: number;
  /** Allow test values beyond what the numeric type resolves (the report marks those points). */
  allowBeyondPrecision: boolean;
}

/** Training length of min (elements) and count (elements after the first), as the reference. */
export const TRAIN_LENGTH = 5;
/** Training sequences of min and count, as the reference. */
export const TRAIN_SEQUENCES = 400;

/** op(a, b) as 1/0. The label of a comparison is op(x1, x2) — never op(x1 · 10000, x2). */
export function compareLabel(op: CompareOp, a: number, b: number): 0 | 1 {
  switch (op) {
    case 'gt':
      return a > b ? 1 : 0;
    case 'lt':
      return a < b ? 1 : 0;
    case 'ge':
      return a >= b ? 1 : 0;
    case 'le':
      return a <= b ? 1 : 0;
    case 'eq':
      return a === b ? 1 : 0;
    case 'ne':
      return a !== b ? 1 : 0;
  }
}

/** y = x4 + 4 if cond(x0, x1) else x3 − x2. */
export function piecewiseLabel(op: CompareOp, x: ArrayLike<number>): number {
  return compareLabel(op, x[0]!, x[1]!) === 1 ? x[4]! + 4 : x[3]! - x[2]!;
}

export function inputSizeOf(kind: NsrTaskKind): number {
  return kind === 'piecewise' ? 5 : 2;
}

/** A set of examples: `n` rows of `width` values, targets, and (piecewise) the gate's label. */
export interface NsrData {
  n: number;
  /** Values per row: 2 (compare), 5 (piecewise), the sequence length (min, count). */
  width: number;
  x: Float64Array;
  y: Float64Array;
  /** piecewise only: the condition (1/0) per row, to score the gate on its own. */
  gate: Float64Array | null;
}

/** One test magnitude (and length, for sequences): what the report's rows are. */
export interface TestPoint {
  exponent: number;
  length: number | null;
  /** e.g. '10^5', '2^14', '10·2^7, L=50'. */
  label: string;
  /** Largest |value| the test data can contain. */
  maxValue: number;
}

function checkInts(values: readonly number[], what: string, min: number, max: number): void {
  for (const v of values) {
    if (!Number.isInteger(v) || v < min || v > max)
      throw new NsrTaskError(`${what}: expected whole numbers from ${min} to ${max}, got ${v}.`);
  }
}

/** Throws an NsrTaskError unless the configuration is usable in `type`; returns it unchanged. */
export function validateNsrTask(c: NsrTaskConfig, type: NumericType = 'float32'): NsrTaskConfig {
  if (!NSR_TASK_KINDS.includes(c.kind))
    throw new NsrTaskError(`unknown NSR task '${c.kind}'. Known: ${NSR_TASK_KINDS.join(', ')}.`);
  if (c.kind === 'compare' && (c.op === null || !COMPARE_OPS.includes(c.op)))
    throw new NsrTaskError(`compare: op must be one of ${COMPARE_OPS.join(', ')}, got ${c.op}.`);
  if (c.kind === 'piecewise' && (c.op === null || !PIECEWISE_OPS.includes(c.op)))
    throw new NsrTaskError(`piecewise: op must be 'gt' (x0 > x1) or 'eq' (the == variant), got ${c.op}.`);
  if ((c.kind === 'min' || c.kind === 'count') && c.op !== null)
    throw new NsrTaskError(`${c.kind}: takes no op (got ${c.op}); pass op: null.`);
  if (c.exponents.length === 0)
    throw new NsrTaskError(`${c.kind}: no test magnitudes; give at least one exponent.`);
  checkInts(c.exponents, `${c.kind}: test exponents`, 0, 60);
  if (!Number.isInteger(c.draws) || c.draws < 1)
    throw new NsrTaskError(`${c.kind}: draws must be a whole number ≥ 1, got ${c.draws}.`);
  if (c.kind === 'min' || c.kind === 'count') {
    if (c.lengths.length === 0)
      throw new NsrTaskError(`${c.kind}: no test lengths; give at least one sequence length ≥ 1.`);
    for (const l of c.lengths) {
      if (!Number.isInteger(l) || l < 1)
        throw new NsrTaskError(
          `${c.kind}: test sequence length ${l} is empty or invalid; lengths must be whole numbers ≥ 1` +
            ` (min: elements in the sequence; count: elements compared with the first).`,
        );
    }
  } else if (c.lengths.length > 0) {
    throw new NsrTaskError(`${c.kind}: lengths apply to min and count only; pass lengths: [].`);
  }
  if (!c.allowBeyondPrecision) {
    const limit = maxResolvedValue(type);
    for (const p of testPoints(c)) {
      if (p.maxValue > limit)
        throw new NsrTaskError(
          `${c.kind}${c.op ? ` ${c.op}` : ''}: test magnitude ${p.label} reaches values of ${p.maxValue.toExponential(2)}, ` +
            `beyond what ${type} resolves for a difference of 1 (about ${limit.toExponential(1)}). ` +
            `Drop that magnitude, use a float64 path, or set allowBeyondPrecision to measure the breakdown.`,
        );
    }
  }
  return c;
}

/** The test points of a task, in report order. */
export function testPoints(c: NsrTaskConfig): TestPoint[] {
  switch (c.kind) {
    case 'compare':
      return c.exponents.map((k) => ({
        exponent: k,
        length: null,
        label: `10^${k}`,
        maxValue: 10 ** (k + 1) + 4,
      }));
    case 'piecewise':
      return c.exponents.map((k) => ({
        exponent: k,
        length: null,
        label: `2^${k}`,
        maxValue: 2 ** (k + 1) + 4,
      }));
    case 'min':
    case 'count':
      return c.exponents.flatMap((k) =>
        c.lengths.map((length) => ({
          exponent: k,
          length,
          label: `10·2^${k}, L=${length}`,
          maxValue: 10 * 2 ** k + (c.kind === 'count' ? 5 : 0),
        })),
      );
  }
}

class Rows {
  x: number[] = [];
  y: number[] = [];
  gate: number[] = [];
  constructor(readonly width: number) {}
  push(row: readonly number[], y: number, gate?: number): void {
    this.x.push(...row);
    this.y.push(y);
    if (gate !== undefined) this.gate.push(gate);
  }
  done(): NsrData {
    return {
      n: this.y.length,
      width: this.width,
      x: Float64Array.from(this.x),
      y: Float64Array.from(this.y),
      gate: this.gate.length > 0 ? Float64Array.from(this.gate) : null,
    };
  }
}

/** Uniform integer in [lo, hi] for spans up to 2^53 (Rng.int stops at 2^32), without modulo bias. */
export function uniformInt(rng: Rng, lo: number, hi: number): number {
  const span = hi - lo + 1;
  if (span <= 4294967296) return rng.int(lo, hi);
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || span > 2 ** 53)
    throw new NsrTaskError(`cannot draw integers from [${lo}, ${hi}]: beyond 2^53, integers are not exact.`);
  const limit = Math.floor(2 ** 53 / span) * span;
  let u: number;
  do u = (rng.nextU32() >>> 11) * 4294967296 + rng.nextU32();
  while (u >= limit);
  return lo + (u % span);
}

const isEqualityOp = (op: CompareOp | null) => op === 'eq' || op === 'ne';

/** The training set of one seed (seeded: equality tasks draw their unequal partners). */
export function trainingData(c: NsrTaskConfig, seed: number): NsrData {
  const rng = new Rng(seed, 'nsr', c.kind, c.op ?? '-', 'train');
  switch (c.kind) {
    case 'compare': {
      const op = c.op!;
      const rows = new Rows(2);
      if (isEqualityOp(op)) {
        // Balanced as the reference: each i ∈ 1..9 with one seeded unequal partner and with itself.
        // (All 81 pairs with the equal ones repeated leave a symmetric saddle, c = 0, in which about
        // half the seeds stall: both orders of every unequal pair cancel the sign bit's gradient.)
        for (let i = 1; i <= 9; i++) {
          let j = rng.int(1, 8);
          if (j >= i) j++;
          rows.push([i, j], compareLabel(op, i, j));
          rows.push([i, i], compareLabel(op, i, i));
        }
      } else {
        for (let i = 1; i <= 9; i++) for (let j = 1; j <= 9; j++) rows.push([i, j], compareLabel(op, i, j));
      }
      return rows.done();
    }
    case 'piecewise': {
      const op = c.op!;
      const rows = new Rows(5);
      const branch = () => [rng.int(-100, 100), rng.int(-100, 100), rng.int(-100, 100)];
      const push = (x0: number, x1: number) => {
        const x = [x0, x1, ...branch()];
        rows.push(x, piecewiseLabel(op, x), compareLabel(op, x0, x1));
      };
      if (op === 'eq') {
        // Balanced: each x0 ∈ [−10, 9] with an unequal x1 and with itself, 100 times.
        for (let r = 0; r < 100; r++) {
          for (let x0 = -10; x0 <= 9; x0++) {
            let x1 = rng.int(-10, 8);
            if (x1 >= x0) x1++;
            push(x0, x1);
            push(x0, x0);
          }
        }
      } else {
        for (let r = 0; r < 10; r++)
          for (let x0 = -10; x0 <= 9; x0++) for (let x1 = -10; x1 <= 9; x1++) push(x0, x1);
      }
      return rows.done();
    }
    case 'min': {
      const rows = new Rows(TRAIN_LENGTH);
      for (let s = 0; s < TRAIN_SEQUENCES; s++) {
        const seq = Array.from({ length: TRAIN_LENGTH }, () => rng.int(1, 10));
        rows.push(seq, Math.min(...seq));
      }
      return rows.done();
    }
    case 'count': {
      const rows = new Rows(TRAIN_LENGTH + 1);
      for (let s = 0; s < TRAIN_SEQUENCES; s++) {
        const seq = Array.from({ length: TRAIN_LENGTH + 1 }, () => rng.int(1, 10));
        rows.push(seq, countLabel(seq));
      }
      return rows.done();
    }
  }
}

/** How many elements after the first equal the first. */
export function countLabel(seq: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < seq.length; i++) if (seq[i] === seq[0]) n++;
  return n;
}

/** The test set of one seed at one test point (seeded per seed and point). */
export function testData(c: NsrTaskConfig, point: TestPoint, seed: number): NsrData {
  const rng = new Rng(seed, 'nsr', c.kind, c.op ?? '-', 'test', point.exponent, point.length ?? 0);
  const k = point.exponent;
  switch (c.kind) {
    case 'compare': {
      const op = c.op!;
      const rows = new Rows(2);
      for (let d = 0; d < c.draws; d++) {
        const x1 = uniformInt(rng, 10 ** k, 10 ** (k + 1) - 1);
        for (let m = -5; m <= 5; m++) {
          const x2 = x1 + m;
          rows.push([x1, x2], compareLabel(op, x1, x2));
          if (m === 0) continue;
          rows.push([x2, x1], compareLabel(op, x2, x1));
          // Equality needs equal pairs away from the anchor too, or a test set is 1/21 equal.
          if (isEqualityOp(op)) rows.push([x2, x2], compareLabel(op, x2, x2));
        }
      }
      return rows.done();
    }
    case 'piecewise': {
      const op = c.op!;
      const rows = new Rows(5);
      const branch = () => [rng.int(-100, 100), rng.int(-100, 100), rng.int(-100, 100)];
      for (let d = 0; d < c.draws; d++) {
        const x0 = uniformInt(rng, 2 ** k, 2 ** (k + 1) - 1);
        for (let m = -5; m <= 5; m++) {
          const x1 = x0 + m;
          const x = [x0, x1, ...branch()];
          rows.push(x, piecewiseLabel(op, x), compareLabel(op, x0, x1));
          if (op === 'eq' && m !== 0) {
            const e = [x1, x1, ...branch()];
            rows.push(e, piecewiseLabel(op, e), 1);
          }
        }
      }
      return rows.done();
    }
    case 'min': {
      const L = point.length!;
      const rows = new Rows(L);
      for (let s = 0; s < c.draws; s++) {
        const seq = Array.from({ length: L }, () => rng.int(1, 10 * 2 ** k));
        rows.push(seq, Math.min(...seq));
      }
      return rows.done();
    }
    case 'count': {
      const L = point.length!;
      const rows = new Rows(L + 1);
      for (let s = 0; s < c.draws; s++) {
        const pivot = rng.int(1, 10 * 2 ** k);
        const seq = [pivot, ...Array.from({ length: L }, () => rng.int(pivot - 5, pivot + 5))];
        rows.push(seq, countLabel(seq));
      }
      return rows.done();
    }
  }
}

/** Short name of a task variant for tables: 'compare >', 'piecewise ==', 'min', 'count'. */
export function taskLabel(c: Pick<NsrTaskConfig, 'kind' | 'op'>): string {
  if (c.kind === 'compare') return `compare ${COMPARE_SYMBOL[c.op!]}`;
  if (c.kind === 'piecewise') return `piecewise ${c.op === 'eq' ? '==' : '>'}`;
  return c.kind;
}
