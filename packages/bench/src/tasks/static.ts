/**
 * The static arithmetic task ("simple function static", benchmark.md §1).
 *
 * An item is `x ∈ R^I` drawn i.i.d. from a range; subsets of consecutive positions are summed and the
 * target is an operation on the subset sums. Subset 0 spans `[o, o + subset)`, subset k starts
 * `subset − overlap` after subset k−1, with `subset = floor(subsetRatio·I)`,
 * `overlap = floor(overlapRatio·subset)` and an offset `o ∈ [0, I − lastEnd]` drawn once per seed.
 *
 * - add / mul combine all subsets (`Σ a_k`, `Π a_k`); sub / div use the first two (`a − b`, `a / b`);
 *   squared / root use the first (`a²`, `√a`).
 * - The "simple" variant: I = 4, `a = x1+x2+x3+x4`, `b = x1+x2`, no offset (the ratios and the number
 *   of subsets are not used).
 * - Inputs are float32 (what the model is fed); targets are computed in float64 from exactly those
 *   float32 values, so a target is exact for what the model sees.
 * - Each seed has its own streams: `Rng(seed, 'offset')` fixes the offset, the four-lane
 *   `LaneStream(seed, 'train')` the training batches (lanes.ts). Validation/test inputs come from fixed streams that depend only on the input
 *   size, the range and which set it is (so every run and every operation of a configuration sees
 *   the same 10,000 inputs); their targets differ per seed through the offset.
 * - One 32-bit draw per float, also for two-interval ranges (see range.ts), no allocation per batch.
 */
import { Rng } from '@nalm/units';
import type { LaneFiller, LaneRange, SubsetTargets } from './lanes.js';
import { LaneStream, laneRange } from './lanes.js';
import {
  TaskConfigError,
  checkRange,
  fillRange,
  formatRange,
  rangeBounds,
  rangeSampler,
  type Range,
} from './range.js';

export { TaskConfigError, checkRange, formatRange, parseRange, type Range } from './range.js';

export type Op = 'add' | 'sub' | 'mul' | 'div' | 'squared' | 'root';
export const OPS: readonly Op[] = Object.freeze(['add', 'sub', 'mul', 'div', 'squared', 'root'] as const);

export interface StaticTaskConfig {
  kind: 'static';
  op: Op;
  /** I, default 100 (4 for simple). */
  inputSize: number;
  /** Subset length = floor(subsetRatio · I); default 0.25. */
  subsetRatio: number;
  /** Overlap = floor(overlapRatio · subset) — a fraction of the subset, not of I; default 0.5. */
  overlapRatio: number;
  /** Number of subsets, default 2 (add/mul use all, sub/div the first two, squared/root the first). */
  numSubsets: number;
  /** Training and validation range, default [[1, 2]]. */
  interpolation: Range;
  /** Test range, default [[2, 6]]. */
  extrapolation: Range;
  /** The "simple" variant: I = 4, a = x1+x2+x3+x4, b = x1+x2, no offset. */
  simple: boolean;
  /**
   * The single-module task (benchmark.md §6, see single-module.ts): one unit reads a = x0, b = x1
   * (I = 2, subsets of one, no overlap, no offset). The data are those of the static task with that
   * layout; the flag marks that the model is one unit, which its success threshold depends on.
   * Absent (not false) when off, so existing configurations keep their keys.
   */
  singleModule?: true;
}

/** Size of the validation and of the test set (benchmark.md §1). */
export const EVAL_SIZE = 10_000;

/** The default configuration with `overrides`, validated. `{ simple: true }` implies inputSize 4. */
export function defaultStaticTask(overrides: Partial<StaticTaskConfig> = {}): StaticTaskConfig {
  const simple = overrides.simple ?? false;
  return validateStaticTask({
    kind: 'static',
    op: 'mul',
    inputSize: simple ? 4 : 100,
    subsetRatio: 0.25,
    overlapRatio: 0.5,
    numSubsets: 2,
    interpolation: [[1, 2]],
    extrapolation: [[2, 6]],
    simple,
    ...overrides,
  });
}

/** How many subsets the operation reads: all (add, mul), two (sub, div) or one (squared, root). */
export function usedSubsets(op: Op, numSubsets: number): number {
  switch (op) {
    case 'add':
    case 'mul':
      return numSubsets;
    case 'sub':
    case 'div':
      return 2;
    case 'squared':
    case 'root':
      return 1;
  }
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * What `validateStaticTask` returned: frozen, so still valid. A configuration is parsed once at the
 * boundary (the static kind's `parse`, `defaultStaticTask`, a preset); the threshold, the
 * single-module rule, the task instances and the evaluation sets downstream call
 * `validateStaticTask` on the same object and get it back without checking it again.
 */
const VALIDATED = new WeakSet<object>();

/** Whether `c` is a value `validateStaticTask` returned (and so needs no further checks). */
export function isValidatedStaticTask(c: StaticTaskConfig): boolean {
  return typeof c === 'object' && c !== null && VALIDATED.has(c);
}

/**
 * Checks every field and returns a normalised, frozen copy (known fields only, ranges copied). Throws
 * a TaskConfigError whose `field` and message name the offending field and what to do about it.
 * Problems that do not make the task ill-defined are reported by `staticTaskWarnings`. A value this
 * function returned is returned as it is (no second check).
 */
export function validateStaticTask(c: StaticTaskConfig): StaticTaskConfig {
  if (isValidatedStaticTask(c)) return c;
  if (c === null || typeof c !== 'object') {
    throw new TaskConfigError(
      'task',
      `expected a static task configuration object, got ${JSON.stringify(c)}`,
    );
  }
  if (c.kind !== 'static') {
    throw new TaskConfigError('kind', `expected 'static', got ${JSON.stringify(c.kind)}`);
  }
  if (!OPS.includes(c.op)) {
    throw new TaskConfigError(
      'op',
      `unknown operation ${JSON.stringify(c.op)}; use one of ${OPS.join(', ')}`,
    );
  }
  if (typeof c.simple !== 'boolean') {
    throw new TaskConfigError('simple', `must be true or false, got ${JSON.stringify(c.simple)}`);
  }
  if (!Number.isInteger(c.inputSize) || c.inputSize < 1) {
    throw new TaskConfigError('inputSize', `must be an integer ≥ 1, got ${JSON.stringify(c.inputSize)}`);
  }
  if (!isFiniteNumber(c.subsetRatio) || c.subsetRatio <= 0 || c.subsetRatio > 1) {
    throw new TaskConfigError(
      'subsetRatio',
      `must be in (0, 1] (the subset length is floor(subsetRatio · inputSize)), got ${JSON.stringify(c.subsetRatio)}`,
    );
  }
  if (!isFiniteNumber(c.overlapRatio) || c.overlapRatio < 0 || c.overlapRatio > 1) {
    throw new TaskConfigError(
      'overlapRatio',
      `must be in [0, 1] (a fraction of the subset length: 0 = disjoint subsets, 1 = identical), got ${JSON.stringify(c.overlapRatio)}`,
    );
  }
  if (!Number.isInteger(c.numSubsets) || c.numSubsets < 1) {
    throw new TaskConfigError('numSubsets', `must be an integer ≥ 1, got ${JSON.stringify(c.numSubsets)}`);
  }
  if ((c.op === 'sub' || c.op === 'div') && c.numSubsets < 2) {
    throw new TaskConfigError(
      'numSubsets',
      `op '${c.op}' needs two subsets (a ${c.op} b); set numSubsets ≥ 2`,
    );
  }
  const interpolation = checkRange(c.interpolation, 'interpolation');
  const extrapolation = checkRange(c.extrapolation, 'extrapolation');
  if (c.op === 'root') {
    for (const [field, r] of [
      ['interpolation', interpolation],
      ['extrapolation', extrapolation],
    ] as const) {
      if (rangeBounds(r)[0] < 0) {
        throw new TaskConfigError(
          field,
          `op 'root' needs a non-negative domain, but ${formatRange(r)} contains negative values (√a is undefined for a < 0); use a range with lo ≥ 0 or another op`,
        );
      }
    }
  }
  const out: StaticTaskConfig = {
    kind: 'static',
    op: c.op,
    inputSize: c.inputSize,
    subsetRatio: c.subsetRatio,
    overlapRatio: c.overlapRatio,
    numSubsets: c.numSubsets,
    interpolation,
    extrapolation,
    simple: c.simple,
  };
  const single = c.singleModule as unknown; // false is accepted and normalised away, like absent
  if (single !== undefined && single !== false) {
    checkSingleModuleLayout(c);
    out.singleModule = true;
  }
  if (c.simple) {
    if (c.inputSize !== 4) {
      throw new TaskConfigError(
        'inputSize',
        `the simple variant has inputSize 4 (a = x1+x2+x3+x4, b = x1+x2), got ${c.inputSize}; set inputSize to 4 or simple to false`,
      );
    }
    if (c.numSubsets !== 2) {
      throw new TaskConfigError(
        'numSubsets',
        `the simple variant has exactly two subsets (a, b), got ${c.numSubsets}; set numSubsets to 2 or simple to false`,
      );
    }
  } else {
    subsetLayout(out); // throws if the subsets are empty or do not fit
  }
  VALIDATED.add(deepFreeze(out));
  return out;
}

/**
 * The single-module task's layout: a = x[o], b = x[o + 1] — two one-element subsets, no overlap. I = 2
 * is the benchmark proper; the NALM Primer's input-size figures run I = 10 (subset ratio 0.1) and
 * I = 100 (0.01), where the other inputs are distractors and the offset o is drawn per seed.
 */
function checkSingleModuleLayout(c: StaticTaskConfig): void {
  if (c.singleModule !== true) {
    throw new TaskConfigError(
      'singleModule',
      `must be true or absent, got ${JSON.stringify(c.singleModule)}`,
    );
  }
  const want = { overlapRatio: 0, numSubsets: 2, simple: false } as const;
  for (const [field, v] of Object.entries(want) as [keyof typeof want, number | boolean][]) {
    if (c[field] !== v) {
      throw new TaskConfigError(
        field,
        `the single-module task has ${field} ${String(v)} (a = x[o], b = x[o+1]), got ${JSON.stringify(c[field])}; build it with singleModuleTask() or drop singleModule`,
      );
    }
  }
  if (!Number.isInteger(c.inputSize) || c.inputSize < 2 || Math.floor(c.subsetRatio * c.inputSize) !== 1) {
    throw new TaskConfigError(
      'subsetRatio',
      `the single-module task has one-element subsets: inputSize ≥ 2 and floor(subsetRatio · inputSize) = 1, got inputSize ${c.inputSize}, subsetRatio ${c.subsetRatio}; use subsetRatio 1/inputSize (e.g. 0.5 for 2, 0.1 for 10)`,
    );
  }
  if (!SINGLE_MODULE_OPS.includes(c.op)) {
    throw new TaskConfigError(
      'op',
      `the single-module task has the operations ${SINGLE_MODULE_OPS.join(', ')}, got '${c.op}'`,
    );
  }
}

/** Operations of the single-module task (benchmark.md §6). */
export const SINGLE_MODULE_OPS: readonly Op[] = Object.freeze(['add', 'sub', 'mul', 'div'] as const);

/**
 * Things that are legal but probably not intended (the task stays well defined): division by a sum
 * that can be 0, subsets that the operation ignores, two intervals that overlap.
 */
export function staticTaskWarnings(c: StaticTaskConfig): string[] {
  const v = validateStaticTask(c);
  const warnings: string[] = [];
  if (v.op === 'div') {
    for (const [field, r] of [
      ['interpolation', v.interpolation],
      ['extrapolation', v.extrapolation],
    ] as const) {
      const [min, max] = rangeBounds(r);
      if (min <= 0 && max >= 0) {
        warnings.push(
          `${field}: with op 'div' the divisor b sums values from ${formatRange(r)}, which can be 0, so targets a/b are unbounded; use a range that excludes 0 (e.g. only positive values)`,
        );
      }
    }
  }
  if (!v.simple && v.numSubsets > usedSubsets(v.op, v.numSubsets)) {
    warnings.push(
      `numSubsets: op '${v.op}' reads only the first ${usedSubsets(v.op, v.numSubsets)} subset(s); the other ${v.numSubsets - usedSubsets(v.op, v.numSubsets)} act as distractor inputs`,
    );
  }
  for (const [field, r] of [
    ['interpolation', v.interpolation],
    ['extrapolation', v.extrapolation],
  ] as const) {
    const [a, b] = r;
    if (a && b && a[0] < b[1] && b[0] < a[1]) {
      warnings.push(
        `${field}: the two intervals of ${formatRange(r)} overlap, so the density is not uniform`,
      );
    }
  }
  return warnings;
}

/**
 * Subset positions without the offset. `starts[k]` and `lengths[k]` describe subset k (all of the
 * configured subsets, not only those the op reads); `length` is the common subset length (for the
 * simple variant: that of a; b is shorter, see `lengths`); `lastEnd` is one past the last position
 * used by any subset, so valid offsets are 0 … inputSize − lastEnd.
 */
export interface SubsetLayout {
  starts: number[];
  length: number;
  lastEnd: number;
  /** Length of each subset (all equal to `length` except in the simple variant). */
  lengths: number[];
}

/**
 * The subset layout of a configuration. `oneLonger` reproduces the off-by-one of the published
 * threshold analysis (R's inclusive `a.start:a.end`): same starts, every subset one element longer,
 * so the defaults give subsets of 26 overlapping by 13. It does not apply to the simple variant.
 */
export function subsetLayout(c: StaticTaskConfig, opts: { oneLonger?: boolean } = {}): SubsetLayout {
  if (c.simple) return { starts: [0, 0], length: 4, lastEnd: 4, lengths: [4, 2] };
  const I = c.inputSize;
  const subset = Math.floor(c.subsetRatio * I);
  if (subset < 1) {
    throw new TaskConfigError(
      'subsetRatio',
      `floor(subsetRatio · inputSize) = floor(${c.subsetRatio} · ${I}) = 0, so the subsets are empty; use subsetRatio ≥ ${1 / I} or a larger inputSize`,
    );
  }
  const overlap = Math.floor(c.overlapRatio * subset);
  const stride = subset - overlap;
  const length = opts.oneLonger ? subset + 1 : subset;
  const starts: number[] = [];
  for (let k = 0; k < c.numSubsets; k++) starts.push(k * stride);
  const lastEnd = (c.numSubsets - 1) * stride + length;
  if (lastEnd > I) {
    const what = opts.oneLonger ? ' in the paper-compatible (one longer) layout' : '';
    throw new TaskConfigError(
      'numSubsets',
      `${c.numSubsets} subsets of ${length} overlapping by ${overlap + (opts.oneLonger ? 1 : 0)} span ${lastEnd} positions${what}, more than inputSize ${I}; lower numSubsets or subsetRatio, raise overlapRatio, or raise inputSize`,
    );
  }
  return { starts, length, lastEnd, lengths: starts.map(() => length) };
}

/** Per-seed data source: offset drawn once per seed, fresh training batches from the seed's own stream. */
export interface StaticTaskInstance {
  readonly config: StaticTaskConfig;
  readonly seed: number;
  readonly offset: number;
  /**
   * Fill x (length batch·I, row-major) with a fresh training batch from the interpolation range and
   * y (length batch) with its targets (float64). The inputs come from the seed's lane stream
   * (lanes.ts); `filler` (the wasm kernels) draws the same values faster.
   */
  nextBatch(x: Float32Array, y: Float64Array, batch: number, filler?: LaneFiller): void;
  /** Targets for given inputs (uses this seed's offset), float64. */
  targets(x: Float32Array, n: number, y?: Float64Array): Float64Array;
}

/**
 * Operation codes for `combine`: the target loops run once per row of every training batch, and a
 * switch over small integers is cheaper there than one over strings.
 */
const ADD = 0;
const MUL = 1;
const SUB = 2;
const DIV = 3;
const SQUARED = 4;
const ROOT = 5;
const OP_CODE: Readonly<Record<Op, number>> = {
  add: ADD,
  mul: MUL,
  sub: SUB,
  div: DIV,
  squared: SQUARED,
  root: ROOT,
};

/**
 * Targets of rows `0 … n−1` of `x` (row length I) into `y`, in float64. `starts` are absolute
 * positions (offset included) of the `k` subsets the op reads.
 */
function computeTargets(
  op: Op,
  I: number,
  starts: Int32Array,
  lengths: Int32Array,
  x: Float32Array,
  n: number,
  y: Float64Array,
): void {
  const code = OP_CODE[op];
  const k = starts.length;
  if (k <= 2) {
    // Every operation of the default and simple tasks: one or two subsets, the operation chosen
    // once per row. Same sums in the same order as the general loop below.
    const s0 = starts[0]!;
    const e0 = s0 + lengths[0]!;
    const s1 = k === 2 ? starts[1]! : 0;
    const e1 = k === 2 ? s1 + lengths[1]! : 0;
    if (I === 4 && s0 === 0 && e0 === 4 && (k === 1 || (s1 === 0 && e1 === 2))) {
      // The simple task (a = x1+x2+x3+x4, b = x1+x2), unrolled: a's first two additions are b's,
      // so a continues from b; the same additions in the same order as the loops below.
      for (let r = 0, base = 0; r < n; r++, base += 4) {
        const b = 0 + x[base]! + x[base + 1]!;
        const a = b + x[base + 2]! + x[base + 3]!;
        y[r] = combine(code, a, b, k);
      }
      return;
    }
    for (let r = 0, base = 0; r < n; r++, base += I) {
      let a = 0;
      for (let i = base + s0; i < base + e0; i++) a += x[i]!;
      let b = 0;
      for (let i = base + s1; i < base + e1; i++) b += x[i]!;
      y[r] = combine(code, a, b, k);
    }
    return;
  }
  for (let r = 0, base = 0; r < n; r++, base += I) {
    let acc = 0;
    let a = 0;
    for (let s = 0; s < k; s++) {
      const from = base + starts[s]!;
      const to = from + lengths[s]!;
      let sum = 0;
      for (let i = from; i < to; i++) sum += x[i]!;
      if (code === ADD) acc += sum;
      else if (code === MUL) acc = s === 0 ? sum : acc * sum;
      else if (s === 0) a = sum;
      else acc = sum;
    }
    y[r] = code === ADD || code === MUL ? acc : combine(code, a, acc, 2);
  }
}

/** The target from the first subset sum `a` and the second `b` (k = number of subsets read). */
function combine(code: number, a: number, b: number, k: number): number {
  switch (code) {
    case ADD:
      return k === 1 ? a : a + b;
    case MUL:
      return k === 1 ? a : a * b;
    case SUB:
      return a - b;
    case DIV:
      return a / b;
    case SQUARED:
      return a * a;
    case ROOT:
      return Math.sqrt(a);
    default:
      throw new Error(`combine: unknown operation code ${code}`);
  }
}

function deepFreeze(c: StaticTaskConfig): StaticTaskConfig {
  for (const r of [c.interpolation, c.extrapolation]) {
    for (const iv of r) Object.freeze(iv);
    Object.freeze(r);
  }
  return Object.freeze(c);
}

class StaticTask implements StaticTaskInstance {
  readonly config: StaticTaskConfig;
  readonly seed: number;
  readonly offset: number;
  private readonly train: LaneStream;
  private readonly lanes: LaneRange;
  private readonly starts: Int32Array;
  private readonly lengths: Int32Array;
  /** The layout for `LaneFiller.subsetTargets` (one or two subsets read), else null. */
  private readonly subsetTargets: SubsetTargets | null;

  constructor(config: StaticTaskConfig, seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new TaskConfigError('seed', `must be an integer, got ${JSON.stringify(seed)}`);
    }
    this.config = deepFreeze(validateStaticTask(config));
    this.seed = seed;
    const c = this.config;
    const layout = subsetLayout(c);
    this.offset = c.simple ? 0 : new Rng(seed, 'offset').int(0, c.inputSize - layout.lastEnd);
    this.train = new LaneStream(seed, 'train');
    this.lanes = laneRange(rangeSampler(c.interpolation));
    const used = usedSubsets(c.op, c.simple ? 2 : c.numSubsets);
    this.starts = Int32Array.from(layout.starts.slice(0, used), (s) => s + this.offset);
    this.lengths = Int32Array.from(layout.lengths.slice(0, used));
    this.subsetTargets =
      used <= 2
        ? {
            inputSize: c.inputSize,
            s0: this.starts[0]!,
            e0: this.starts[0]! + this.lengths[0]!,
            s1: used === 2 ? this.starts[1]! : 0,
            e1: used === 2 ? this.starts[1]! + this.lengths[1]! : 0,
            code: OP_CODE[c.op],
            subsets: used,
          }
        : null;
  }

  nextBatch(x: Float32Array, y: Float64Array, batch: number, filler?: LaneFiller): void {
    const I = this.config.inputSize;
    if (!Number.isInteger(batch) || batch < 0)
      throw new RangeError(`nextBatch: batch must be an integer ≥ 0, got ${batch}`);
    if (x.length < batch * I)
      throw new RangeError(`nextBatch: x has ${x.length} floats, need batch·I = ${batch * I}`);
    if (y.length < batch) throw new RangeError(`nextBatch: y has ${y.length} entries, need batch = ${batch}`);
    if (filler) filler.fillLanes(this.train, this.lanes, x, batch * I);
    else this.train.fill(x, 0, batch * I, this.lanes);
    // The wasm kernels compute the same targets (one or two subsets) where the batch already is.
    const t = this.subsetTargets;
    if (!(t && filler?.subsetTargets?.(x, y, batch, t))) {
      computeTargets(this.config.op, I, this.starts, this.lengths, x, batch, y);
    }
  }

  targets(x: Float32Array, n: number, y: Float64Array = new Float64Array(n)): Float64Array {
    const I = this.config.inputSize;
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`targets: n must be an integer ≥ 0, got ${n}`);
    if (x.length < n * I) throw new RangeError(`targets: x has ${x.length} floats, need n·I = ${n * I}`);
    if (y.length < n) throw new RangeError(`targets: y has ${y.length} entries, need n = ${n}`);
    computeTargets(this.config.op, I, this.starts, this.lengths, x, n, y);
    return y;
  }
}

/** The data source of one seed of a configuration (validates the configuration). */
export function createStaticTask(config: StaticTaskConfig, seed: number): StaticTaskInstance {
  return new StaticTask(config, seed);
}

const EVAL_CACHE_MAX = 8;
const evalCache = new Map<string, Float32Array>();

/**
 * Fixed validation (interpolation) and test (extrapolation) INPUTS, n items (default 10,000) of
 * length I, row-major. They come from a stream fixed by the input size, the range and `which` only —
 * the same for every seed, model, operation and call (a larger n extends a smaller one). Targets
 * differ per seed (offset): compute them with `instance.targets()`.
 *
 * The result is cached (a few configurations) and shared between callers: do not modify it.
 */
export function evaluationInputs(
  config: StaticTaskConfig,
  which: 'interpolation' | 'extrapolation',
  n: number = EVAL_SIZE,
): Float32Array {
  if (which !== 'interpolation' && which !== 'extrapolation') {
    throw new TaskConfigError(
      'which',
      `must be 'interpolation' or 'extrapolation', got ${JSON.stringify(which)}`,
    );
  }
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`evaluationInputs: n must be an integer ≥ 0, got ${n}`);
  const c = validateStaticTask(config);
  const range = c[which];
  const key = `${which}|${c.inputSize}|${formatRange(range)}|${n}`;
  const hit = evalCache.get(key);
  if (hit) {
    // Refresh its position (least recently used goes first).
    evalCache.delete(key);
    evalCache.set(key, hit);
    return hit;
  }
  const rng = new Rng('static-task', 'evaluation', which, c.inputSize, formatRange(range));
  const x = new Float32Array(n * c.inputSize);
  fillRange(rng, rangeSampler(range), x, 0, x.length);
  evalCache.set(key, x);
  if (evalCache.size > EVAL_CACHE_MAX) evalCache.delete(evalCache.keys().next().value!);
  return x;
}
