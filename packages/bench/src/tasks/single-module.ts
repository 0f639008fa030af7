/**
 * The single-module task (benchmark.md §6, the NALM benchmark of Mistry et al.): one unit, I = 2,
 * a = x0, b = x1, O = 1, target `a op b` for op ∈ {add, sub, mul, div}, over nine range pairs.
 *
 * The data are the static task's with subsets of one element and no overlap (so the offset is always
 * 0): `singleModuleTask` builds that configuration with the `singleModule` flag set.
 *
 * The success threshold differs from the two-layer one (threshold.ts): with I = 2 every input is in
 * a subset, and moving the true first-layer weights of a two-layer model by ε cancels exactly for
 * add (a + b is unchanged), so that rule gives a threshold of 0. The NALM benchmark instead perturbs
 * the one unit's output directly, with ε = 1e−4 (its generate_exp_thresholds.r):
 *   add: y_ε = (x0 + x1) − ε·(|x0| + |x1|)      sub: y_ε = (x0 − x1) − ε·(|x0| + |x1|)
 *   mul: y_ε = (1 − ε)²·x0·x1                    div: y_ε = (1 − ε)/(1 + ε) · x0/x1
 * and the threshold is mean((y_ε − y)²) over 1,000,000 samples of the extrapolation range (for the
 * mixed-sign range each sign with probability ½), estimated here in float64 without cancellation.
 */
import { Rng } from '@nalm/units';
import type { Range } from './range.js';
import { TaskConfigError, fillRange, rangeSampler } from './range.js';
import type { Op, StaticTaskConfig } from './static.js';
import { SINGLE_MODULE_OPS, defaultStaticTask, validateStaticTask } from './static.js';

export { SINGLE_MODULE_OPS } from './static.js';

/** A training/validation range and its test range. */
export interface RangePair {
  interpolation: Range;
  extrapolation: Range;
}

/** The nine range pairs of the single-module benchmark, in the order of the NALM benchmark's scripts. */
export const SINGLE_MODULE_RANGES: readonly RangePair[] = Object.freeze(
  (
    [
      [[[-20, -10]], [[-40, -20]]],
      [[[-2, -1]], [[-6, -2]]],
      [[[-1.2, -1.1]], [[-6.1, -1.2]]],
      [[[-0.2, -0.1]], [[-2, -0.2]]],
      [
        [[-2, 2]],
        [
          [-6, -2],
          [2, 6],
        ],
      ],
      [[[0.1, 0.2]], [[0.2, 2]]],
      [[[1, 2]], [[2, 6]]],
      [[[1.1, 1.2]], [[1.2, 6]]],
      [[[10, 20]], [[20, 40]]],
    ] as [Range, Range][]
  ).map(([interpolation, extrapolation]) => Object.freeze({ interpolation, extrapolation })),
);

/** The single-module task for one operation and range pair (validated). */
export function singleModuleTask(
  op: Op,
  ranges: RangePair = SINGLE_MODULE_RANGES[6]!,
  inputSize = 2,
): StaticTaskConfig {
  return defaultStaticTask({
    op,
    inputSize,
    subsetRatio: 1 / inputSize,
    overlapRatio: 0,
    numSubsets: 2,
    interpolation: ranges.interpolation,
    extrapolation: ranges.extrapolation,
    singleModule: true,
  });
}

/** ε of the single-module threshold (the NALM benchmark's value). */
export const SINGLE_MODULE_EPSILON = 1e-4;

/** y_ε − y of the single-module threshold for one sample, in a form without cancellation. */
export function singleModulePerturbation(op: Op, x0: number, x1: number, epsilon: number): number {
  switch (op) {
    case 'add':
    case 'sub':
      return -epsilon * (Math.abs(x0) + Math.abs(x1));
    case 'mul':
      // (1 − ε)² − 1 = −ε(2 − ε)
      return -epsilon * (2 - epsilon) * x0 * x1;
    case 'div':
      // (1 − ε)/(1 + ε) − 1 = −2ε/(1 + ε)
      return ((-2 * epsilon) / (1 + epsilon)) * (x0 / x1);
    default:
      throw new TaskConfigError(
        'op',
        `the single-module task has the operations ${SINGLE_MODULE_OPS.join(', ')}, got '${op}'`,
      );
  }
}

export interface SingleModuleThresholdOptions {
  /** Default 1e−4 (SINGLE_MODULE_EPSILON). */
  epsilon?: number;
  /** Monte Carlo samples, default 1,000,000. */
  samples?: number;
  /** Seed of the Monte Carlo stream, default 0. */
  seed?: number;
}

/**
 * The single-module threshold mean((y_ε − y)²) with its standard error. Samples are float64 draws
 * from the extrapolation range (not rounded to float32, as in the reference).
 */
export function estimateSingleModuleThreshold(
  config: StaticTaskConfig,
  opts: SingleModuleThresholdOptions = {},
): { value: number; standardError: number; samples: number } {
  const c = validateStaticTask(config);
  if (c.singleModule !== true) {
    throw new TaskConfigError(
      'singleModule',
      'estimateSingleModuleThreshold needs a single-module task (build it with singleModuleTask())',
    );
  }
  const epsilon = opts.epsilon ?? SINGLE_MODULE_EPSILON;
  const samples = opts.samples ?? 1_000_000;
  const seed = opts.seed ?? 0;
  if (!(epsilon > 0 && epsilon < 0.5)) {
    throw new TaskConfigError('epsilon', `must be a number in (0, 0.5), got ${JSON.stringify(epsilon)}`);
  }
  if (!Number.isInteger(samples) || samples < 2) {
    throw new TaskConfigError('samples', `must be an integer ≥ 2, got ${JSON.stringify(samples)}`);
  }
  const rng = new Rng('threshold', 'single-module', seed);
  const sampler = rangeSampler(c.extrapolation);
  const chunk = new Float64Array(2 * 4096);
  let mean = 0;
  let m2 = 0;
  for (let n = 0; n < samples;) {
    const k = Math.min(4096, samples - n);
    fillRange(rng, sampler, chunk, 0, 2 * k);
    for (let i = 0; i < k; i++) {
      const d = singleModulePerturbation(c.op, chunk[2 * i]!, chunk[2 * i + 1]!, epsilon);
      const e = d * d;
      n++;
      const delta = e - mean; // Welford: stable mean and variance in one pass
      mean += delta / n;
      m2 += delta * (e - mean);
    }
  }
  return { value: mean, standardError: Math.sqrt(m2 / (samples - 1) / samples), samples };
}

/** The single-module success threshold (deterministic for fixed options). */
export function singleModuleThreshold(
  config: StaticTaskConfig,
  opts: SingleModuleThresholdOptions = {},
): number {
  return estimateSingleModuleThreshold(config, opts).value;
}
