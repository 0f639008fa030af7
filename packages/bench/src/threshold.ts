/**
 * Success threshold of a static-task configuration (benchmark.md §4): the extrapolation MSE of an
 * almost perfect model. The true first-layer weights get every entry moved by ε towards the wrong
 * side (1 → 1 − ε, 0 → ε), the second layer is perfect, and `mean((y_ε − y)²)` is estimated by Monte
 * Carlo over samples from the extrapolation range (fixed seed; two-interval ranges pick each interval
 * — for mixed-sign ranges, each sign — with probability ½).
 *
 * How it is computed (float64 throughout; samples are not rounded to float32, as in the reference):
 * - With total `T = Σ x` and subset sums `a_k`, the perturbed hidden unit k is
 *   `(1 − ε)·a_k + ε·(T − a_k) = a_k + d_k` with `d_k = ε·(T − 2a_k)`. So each sample needs only the
 *   sums over the runs of positions that belong to the same subsets (for the defaults: a only, a∩b,
 *   b only, the rest) — no I × hidden matrix product.
 * - `y_ε − y` is evaluated in a form without cancellation (e.g. mul: `d_a·b + (a + d_a)·d_b`,
 *   root: `d_a / (√(a + d_a) + √a)`), so differences of order 1e−5 keep full precision.
 * - Only the subsets the operation reads are hidden units (add/mul: all, sub/div: two,
 *   squared/root: one); the perfect second layer ignores anything else.
 * - `oneLonger` (paper-compatible) uses the published analysis' layout, every subset one element
 *   longer (defaults: 26 overlapping by 13); that reproduces the published reference values.
 */
import { Rng } from '@nalm/units';
import { canonicalJson } from './config.js';
import { rangeSampler, sumRange } from './tasks/range.js';
import { SINGLE_MODULE_EPSILON, estimateSingleModuleThreshold } from './tasks/single-module.js';
import {
  TaskConfigError,
  subsetLayout,
  usedSubsets,
  validateStaticTask,
  type Op,
  type StaticTaskConfig,
} from './tasks/static.js';

export interface ThresholdOptions {
  /** Weight perturbation, default 1e−5. */
  epsilon?: number;
  /** Monte Carlo samples, default 1,000,000. */
  samples?: number;
  /** Seed of the Monte Carlo stream, default 0. */
  seed?: number;
  /** Paper-compatible layout (every subset one element longer); default false. */
  oneLonger?: boolean;
}

export interface ThresholdEstimate {
  /** The Monte Carlo estimate of mean((y_ε − y)²). */
  value: number;
  /** Its standard error (sample standard deviation / √samples). */
  standardError: number;
  samples: number;
}

export const THRESHOLD_DEFAULTS: Readonly<Required<ThresholdOptions>> = Object.freeze({
  epsilon: 1e-5,
  samples: 1_000_000,
  seed: 0,
  oneLonger: false,
});

function resolveOptions(opts: ThresholdOptions): Required<ThresholdOptions> {
  const o = {
    ...THRESHOLD_DEFAULTS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  };
  if (typeof o.epsilon !== 'number' || !(o.epsilon > 0 && o.epsilon < 0.5)) {
    throw new TaskConfigError('epsilon', `must be a number in (0, 0.5), got ${JSON.stringify(o.epsilon)}`);
  }
  if (!Number.isInteger(o.samples) || o.samples < 2) {
    throw new TaskConfigError('samples', `must be an integer ≥ 2, got ${JSON.stringify(o.samples)}`);
  }
  if (!Number.isSafeInteger(o.seed)) {
    throw new TaskConfigError('seed', `must be an integer, got ${JSON.stringify(o.seed)}`);
  }
  if (typeof o.oneLonger !== 'boolean') {
    throw new TaskConfigError('oneLonger', `must be true or false, got ${JSON.stringify(o.oneLonger)}`);
  }
  return o;
}

/** Runs of consecutive positions with the same subset membership (over the `k` subsets read). */
interface Segments {
  lengths: Int32Array;
  /** Members of segment g: memberIdx[memberStart[g] … memberStart[g+1]). */
  memberStart: Int32Array;
  memberIdx: Int32Array;
}

function segmentsOf(I: number, starts: readonly number[], lengths: readonly number[], k: number): Segments {
  const membership: string[] = [];
  const members: number[][] = [];
  for (let i = 0; i < I; i++) {
    const m: number[] = [];
    for (let s = 0; s < k; s++) if (i >= starts[s]! && i < starts[s]! + lengths[s]!) m.push(s);
    membership.push(m.join(','));
    members.push(m);
  }
  const segLengths: number[] = [];
  const memberStart: number[] = [0];
  const memberIdx: number[] = [];
  for (let i = 0; i < I;) {
    let j = i + 1;
    while (j < I && membership[j] === membership[i]) j++;
    segLengths.push(j - i);
    memberIdx.push(...members[i]!);
    memberStart.push(memberIdx.length);
    i = j;
  }
  return {
    lengths: Int32Array.from(segLengths),
    memberStart: Int32Array.from(memberStart),
    memberIdx: Int32Array.from(memberIdx),
  };
}

/** y_ε − y for subset sums `a` and perturbations `d` (length k), without cancellation. */
function perturbation(op: Op, a: Float64Array, d: Float64Array, k: number): number {
  switch (op) {
    case 'add': {
      let s = 0;
      for (let i = 0; i < k; i++) s += d[i]!;
      return s;
    }
    case 'sub':
      return d[0]! - d[1]!;
    case 'mul': {
      // Π(a_i + d_i) − Π a_i = Σ_i [Π_{j<i} (a_j + d_j)] · d_i · [Π_{j>i} a_j]
      let diff = 0;
      let prefix = 1;
      for (let i = 0; i < k; i++) {
        let suffix = 1;
        for (let j = i + 1; j < k; j++) suffix *= a[j]!;
        diff += prefix * d[i]! * suffix;
        prefix *= a[i]! + d[i]!;
      }
      return diff;
    }
    case 'div': {
      const x = a[0]!;
      const y = a[1]!;
      return (d[0]! * y - x * d[1]!) / (y * (y + d[1]!));
    }
    case 'squared':
      return d[0]! * (2 * a[0]! + d[0]!);
    case 'root':
      return d[0]! / (Math.sqrt(a[0]! + d[0]!) + Math.sqrt(a[0]!));
  }
}

/** The Monte Carlo estimate with its standard error. */
export function estimateThreshold(config: StaticTaskConfig, opts: ThresholdOptions = {}): ThresholdEstimate {
  const c = validateStaticTask(config);
  const o = resolveOptions(opts);
  if (c.singleModule === true) {
    // One unit on (x0, x1): the NALM benchmark's rule (tasks/single-module.ts); the two-layer rule
    // below cancels exactly for add with I = 2 and would give a threshold of 0.
    return estimateSingleModuleThreshold(c, {
      epsilon: opts.epsilon ?? SINGLE_MODULE_EPSILON,
      samples: o.samples,
      seed: o.seed,
    });
  }
  const layout = subsetLayout(c, { oneLonger: o.oneLonger });
  const k = usedSubsets(c.op, c.simple ? 2 : c.numSubsets);
  const seg = segmentsOf(c.inputSize, layout.starts, layout.lengths, k);
  const nSeg = seg.lengths.length;
  const sampler = rangeSampler(c.extrapolation);
  const rng = new Rng('threshold', o.seed);
  const eps = o.epsilon;
  const a = new Float64Array(k);
  const d = new Float64Array(k);
  let mean = 0;
  let m2 = 0;
  for (let n = 1; n <= o.samples; n++) {
    a.fill(0);
    let total = 0;
    for (let g = 0; g < nSeg; g++) {
      const s = sumRange(rng, sampler, seg.lengths[g]!);
      total += s;
      for (let m = seg.memberStart[g]!, end = seg.memberStart[g + 1]!; m < end; m++)
        a[seg.memberIdx[m]!]! += s;
    }
    for (let i = 0; i < k; i++) d[i] = eps * (total - 2 * a[i]!);
    const diff = perturbation(c.op, a, d, k);
    const e = diff * diff;
    // Welford: stable mean and variance in one pass.
    const delta = e - mean;
    mean += delta / n;
    m2 += delta * (e - mean);
  }
  return { value: mean, standardError: Math.sqrt(m2 / (o.samples - 1) / o.samples), samples: o.samples };
}

/** The success threshold of a configuration (benchmark.md §4). Deterministic for fixed options. */
export function threshold(config: StaticTaskConfig, opts: ThresholdOptions = {}): number {
  return estimateThreshold(config, opts).value;
}

export interface ThresholdCache {
  get(key: string): number | undefined;
  set(key: string, v: number): void;
}

/**
 * Cache key: canonical JSON of the fields the threshold depends on (not the interpolation range) and
 * of the resolved options, so equal configurations written differently share one entry.
 */
export function thresholdKey(config: StaticTaskConfig, opts: ThresholdOptions = {}): string {
  const c = validateStaticTask(config);
  const o = resolveOptions(opts);
  const task = {
    op: c.op,
    inputSize: c.inputSize,
    subsetRatio: c.subsetRatio,
    overlapRatio: c.overlapRatio,
    numSubsets: c.numSubsets,
    extrapolation: c.extrapolation,
    simple: c.simple,
    // undefined for other tasks: canonicalJson drops it, so their keys are unchanged
    singleModule: c.singleModule,
  };
  return `threshold/v1/${canonicalJson({ task, opts: o })}`;
}

const memoryCache = new Map<string, number>();
const defaultCache: ThresholdCache = {
  get: (key) => memoryCache.get(key),
  set: (key, v) => void memoryCache.set(key, v),
};

/** `threshold` through a cache (in-memory by default; the CLI passes a disk-backed one). */
export function cachedThreshold(
  config: StaticTaskConfig,
  opts: ThresholdOptions = {},
  cache: ThresholdCache = defaultCache,
): number {
  const key = thresholdKey(config, opts);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const v = threshold(config, opts);
  cache.set(key, v);
  return v;
}
