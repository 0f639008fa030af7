/**
 * Input ranges of the static task: one interval `U[lo, hi]`, or a union of two equal-width intervals
 * `U[lo0, hi0] ∪ U[lo1, hi1]` where each element picks one of the two with probability ½
 * (benchmark.md §1).
 *
 * Sampling uses exactly one 32-bit draw per element, also for two-interval ranges: the draw's top bit
 * picks the interval and its low 31 bits the position inside it (31 bits of resolution, far more than
 * the 24-bit mantissa of the float32 the model sees). Intervals are closed: after rounding to float32
 * a value may land exactly on `hi`.
 */
import type { Rng } from '@nalm/units';

/** A range: one interval, or a union of two equal-width intervals (each element picks one with prob ½). */
export type Range = ReadonlyArray<readonly [number, number]>;

/** The error of an invalid task configuration; `field` names the offending configuration field. */
export class TaskConfigError extends Error {
  override readonly name = 'TaskConfigError';
  /** The configuration field the error is about (e.g. 'subsetRatio', 'extrapolation'). */
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

const SYNTAX =
  "accepted syntax: 'lo,hi' (one interval, e.g. '1,2'), 'lo0,hi0,lo1,hi1' (two intervals, e.g. " +
  "'-6,-2,2,6'), or bracketed '[lo,hi]' / '[lo0,hi0]u[lo1,hi1]' (also 'U[-6,-2]∪U[2,6]')";

/** Relative tolerance for "equal width" of the two intervals (decimal inputs such as 0.1 are inexact). */
const WIDTH_RTOL = 1e-9;

/**
 * Checks the shape of a range (not its fitness for an operation) and returns a normalised copy.
 * Throws TaskConfigError naming `field`.
 */
export function checkRange(r: unknown, field: string): Range {
  if (!Array.isArray(r) || (r.length !== 1 && r.length !== 2)) {
    throw new TaskConfigError(
      field,
      `a range is a list of one or two intervals [lo, hi], got ${JSON.stringify(r)}; write e.g. [[1, 2]] or [[-6, -2], [2, 6]]`,
    );
  }
  const out: [number, number][] = [];
  for (const iv of r as unknown[]) {
    if (!Array.isArray(iv) || iv.length !== 2) {
      throw new TaskConfigError(
        field,
        `each interval is a pair [lo, hi], got ${JSON.stringify(iv)}; write e.g. [[1, 2]]`,
      );
    }
    const [lo, hi] = iv as unknown[];
    if (typeof lo !== 'number' || typeof hi !== 'number' || !Number.isFinite(lo) || !Number.isFinite(hi)) {
      throw new TaskConfigError(field, `interval bounds must be finite numbers, got ${JSON.stringify(iv)}`);
    }
    if (!(lo < hi)) {
      throw new TaskConfigError(
        field,
        `interval [${lo}, ${hi}] is ${lo === hi ? 'empty' : 'inverted'}; give lo < hi, e.g. [${Math.min(lo, hi)}, ${lo === hi ? hi + 1 : Math.max(lo, hi)}]`,
      );
    }
    out.push([lo + 0, hi + 0]); // + 0 turns −0 into 0, so equal ranges print and hash the same
  }
  if (out.length === 2) {
    const w0 = out[0]![1] - out[0]![0];
    const w1 = out[1]![1] - out[1]![0];
    if (Math.abs(w0 - w1) > WIDTH_RTOL * Math.max(w0, w1)) {
      throw new TaskConfigError(
        field,
        `the two intervals of ${formatRange(out)} have unequal widths ${w0} and ${w1}; each element picks an interval with probability ½, so give them equal widths (e.g. U[-6,-2]∪U[2,6])`,
      );
    }
  }
  return out;
}

function parseNumber(s: string, text: string, field: string): number {
  const t = s.trim();
  const v = t === '' ? NaN : Number(t);
  if (!Number.isFinite(v)) {
    throw new TaskConfigError(field, `cannot read '${t}' in '${text}' as a number; ${SYNTAX}`);
  }
  return v;
}

/**
 * Parses a range from text: '1,2' → [[1,2]]; '-6,-2,2,6', '[-6,-2]u[2,6]' or 'U[-6,-2]∪U[2,6]' → two
 * intervals. Also accepts the output of formatRange. Errors name `field` and the accepted syntax.
 */
export function parseRange(text: string, field = 'range'): Range {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new TaskConfigError(field, `empty range; ${SYNTAX}`);
  }
  const s = text.replace(/\s+/g, '');
  let numbers: number[];
  if (s.includes('[') || s.includes(']')) {
    // Bracketed intervals, optionally prefixed by U, joined by u / U / ∪.
    const m = /^[uU]?\[([^[\]]*)\](?:[uU∪][uU]?\[([^[\]]*)\])?$/.exec(s);
    if (!m) throw new TaskConfigError(field, `cannot parse '${text}'; ${SYNTAX}`);
    const parts = [m[1]!, m[2]].filter((p): p is string => p !== undefined);
    numbers = [];
    for (const p of parts) {
      const nums = p.split(',');
      if (nums.length !== 2) {
        throw new TaskConfigError(
          field,
          `interval '[${p}]' in '${text}' needs exactly two numbers; ${SYNTAX}`,
        );
      }
      for (const n of nums) numbers.push(parseNumber(n, text, field));
    }
  } else {
    const nums = s.split(',');
    if (nums.length !== 2 && nums.length !== 4) {
      throw new TaskConfigError(
        field,
        `'${text}' has ${nums.length} number${nums.length === 1 ? '' : 's'}, need 2 (one interval) or 4 (two intervals); ${SYNTAX}`,
      );
    }
    numbers = nums.map((n) => parseNumber(n, text, field));
  }
  const intervals: [number, number][] = [];
  for (let i = 0; i < numbers.length; i += 2) intervals.push([numbers[i]!, numbers[i + 1]!]);
  return checkRange(intervals, field);
}

/** 'U[1,2]' or 'U[-6,-2]∪U[2,6]' (the papers' notation; parseRange reads it back). */
export function formatRange(r: Range): string {
  return r.map(([lo, hi]) => `U[${lo},${hi}]`).join('∪');
}

/** Smallest lower bound and largest upper bound of a range. */
export function rangeBounds(r: Range): [min: number, max: number] {
  let min = Infinity;
  let max = -Infinity;
  for (const [lo, hi] of r) {
    if (lo < min) min = lo;
    if (hi > max) max = hi;
  }
  return [min, max];
}

const TWO_POW_M32 = 1 / 4294967296;
const TWO_POW_M31 = 1 / 2147483648;

/** A range prepared for sampling (see the module comment for the draw → value map). */
export interface RangeSampler {
  readonly two: boolean;
  readonly lo0: number;
  readonly lo1: number;
  readonly width: number;
  /** [lo0, lo1], indexed by the draw's top bit: a table lookup, not a branch (a 50/50 branch mispredicts). */
  readonly los: Float64Array;
}

export function rangeSampler(r: Range): RangeSampler {
  const [i0, i1] = r;
  if (i0 === undefined) throw new TaskConfigError('range', 'empty range');
  const lo1 = i1 ? i1[0] : i0[0];
  return {
    two: i1 !== undefined,
    lo0: i0[0],
    lo1,
    width: i0[1] - i0[0],
    los: Float64Array.from([i0[0], lo1]),
  };
}

/**
 * Fills `out[start .. start+count)` with draws from the range: one `rng.nextU32()` per element.
 * Values are computed in float64 and rounded by the store if `out` is a Float32Array.
 */
export function fillRange(
  rng: Rng,
  s: RangeSampler,
  out: Float32Array | Float64Array,
  start: number,
  count: number,
): void {
  const end = start + count;
  if (!s.two) rng.fillAffine(out, start, end, s.lo0, s.width * TWO_POW_M32);
  else rng.fillAffineTwo(out, start, end, s.los, s.width * TWO_POW_M31);
}

/** Sum of `count` fresh draws from the range, in float64 (no rounding to float32). */
export function sumRange(rng: Rng, s: RangeSampler, count: number): number {
  if (!s.two) {
    // Σ(lo + w·u_i·2⁻³²) = count·lo + w·2⁻³²·Σu_i; Σu_i < 2^53 is exact.
    let acc = 0;
    for (let j = 0; j < count; j++) acc += rng.nextU32();
    return count * s.lo0 + s.width * TWO_POW_M32 * acc;
  }
  let n1 = 0;
  let acc = 0;
  for (let j = 0; j < count; j++) {
    const u = rng.nextU32();
    n1 += u >>> 31;
    acc += u & 0x7fffffff;
  }
  return (count - n1) * s.lo0 + n1 * s.lo1 + s.width * TWO_POW_M31 * acc;
}
