/** Named NSR-task runs: `nalm run --preset nsr-…` or `--task nsr-…` (the task's default preset). */
import type { NsrRunConfig } from './config.js';
import type { NsrModelName } from './models.js';
import type { NumericType } from './resolution.js';
import { maxMagnitudeExponent } from './resolution.js';
import type { CompareOp, NsrTaskKind } from './tasks.js';
import { COMPARE_OPS, testPoints } from './tasks.js';

export interface NsrPreset {
  name: string;
  description: string;
  kind: NsrTaskKind;
  ops: (CompareOp | null)[];
  models: NsrModelName[];
  seeds: number;
  epochs: number;
  exponents: number[];
  lengths: number[];
  draws: number;
  /** float32: the tfjs trainer (the units themselves); float64: the plain-JS trainer (compare only). */
  numeric: NumericType;
  /** Expected size and wall time on a 2-core machine (wasm backend). */
  expected: string;
}

/** The reference's epoch count for every task. */
export const REFERENCE_EPOCHS = 50_000;
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
/** 10^1 … the numeric type's limit (10^5 in float32, 10^13 in float64). */
const COMPARE_K = range(1, maxMagnitudeExponent('float32', 10));
const COMPARE_K64 = range(1, maxMagnitudeExponent('float64', 10));
const PIECEWISE_K = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
const SEQ_K = [1, 4, 7, 10, 14];
const SEQ_L = [5, 20, 50];

export const NSR_PRESETS: readonly NsrPreset[] = [
  {
    name: 'nsr-compare-quick',
    description:
      'NSR vs MLP on > and =, 10 seeds, float64 (plain JS): magnitudes 10^1…10^13 (the float64 limit), short training',
    kind: 'compare',
    ops: ['gt', 'eq'],
    models: ['nsr', 'mlp'],
    seeds: 10,
    epochs: 20_000,
    exponents: COMPARE_K64,
    lengths: [],
    draws: 10,
    numeric: 'float64',
    expected: '40 runs × 20,000 epochs in float64; measured 62 s wall on the shared 2-core machine',
  },
  {
    name: 'nsr-compare',
    description: 'All six comparisons, NSR vs MLP vs NAU gate, 10 seeds, 10^1…10^5, the reference epochs',
    kind: 'compare',
    ops: [...COMPARE_OPS],
    models: ['nsr', 'mlp', 'nau-gate'],
    seeds: 10,
    epochs: REFERENCE_EPOCHS,
    exponents: COMPARE_K,
    lengths: [],
    draws: 10,
    numeric: 'float32',
    expected: '180 runs × 50,000 epochs in tfjs (float32); measured 24.6 min under load (about 10 min idle)',
  },
  {
    name: 'nsr-compare-float64',
    description:
      'All six comparisons, NSR vs MLP vs NAU gate, 10 seeds, float64 (plain JS), 10^1…10^13, the reference epochs',
    kind: 'compare',
    ops: [...COMPARE_OPS],
    models: ['nsr', 'mlp', 'nau-gate'],
    seeds: 10,
    epochs: REFERENCE_EPOCHS,
    exponents: COMPARE_K64,
    lengths: [],
    draws: 10,
    numeric: 'float64',
    expected: '180 runs × 50,000 epochs in float64; measured 8.2 min under load (the MLP dominates)',
  },
  {
    name: 'nsr-piecewise-quick',
    description:
      'x4 + 4 if x0 > x1 (or ==) else x3 − x2: NSR vs MLP gate over two NAU branches, short training',
    kind: 'piecewise',
    ops: ['gt', 'eq'],
    models: ['nsr', 'mlp'],
    seeds: 5,
    epochs: 10_000,
    exponents: PIECEWISE_K,
    lengths: [],
    draws: 5,
    numeric: 'float32',
    expected: '20 runs × 10,000 epochs of 4,000 examples; measured 12.3 min under load',
  },
  {
    name: 'nsr-piecewise',
    description: 'The piecewise function, NSR vs MLP vs NAU gate, 10 seeds, 2^3…2^14, the reference epochs',
    kind: 'piecewise',
    ops: ['gt', 'eq'],
    models: ['nsr', 'mlp', 'nau-gate'],
    seeds: 10,
    epochs: REFERENCE_EPOCHS,
    exponents: PIECEWISE_K,
    lengths: [],
    draws: 10,
    numeric: 'float32',
    expected: '60 runs × 50,000 epochs of 4,000 examples; not measured, roughly 1.5 h',
  },
  {
    name: 'nsr-min-quick',
    description: 'Recurrent running minimum (train length 5, values 1..10), NSR vs MLP, short training',
    kind: 'min',
    ops: [null],
    models: ['nsr', 'mlp'],
    seeds: 5,
    epochs: 5_000,
    exponents: SEQ_K,
    lengths: SEQ_L,
    draws: 50,
    numeric: 'float32',
    expected: '10 runs × 5,000 epochs; measured 3.8 min under load',
  },
  {
    name: 'nsr-min',
    description: 'Recurrent running minimum, NSR vs MLP vs NAU gate, 10 seeds, the reference epochs',
    kind: 'min',
    ops: [null],
    models: ['nsr', 'mlp', 'nau-gate'],
    seeds: 10,
    epochs: REFERENCE_EPOCHS,
    exponents: SEQ_K,
    lengths: SEQ_L,
    draws: 50,
    numeric: 'float32',
    expected: '30 runs × 50,000 epochs; not measured, roughly 1 h',
  },
  {
    name: 'nsr-count-quick',
    description: 'Count the later elements equal to the first (train length 5), NSR vs MLP, short training',
    kind: 'count',
    ops: [null],
    models: ['nsr', 'mlp'],
    seeds: 5,
    epochs: 5_000,
    exponents: SEQ_K,
    lengths: SEQ_L,
    draws: 50,
    numeric: 'float32',
    expected: '10 runs × 5,000 epochs; measured 3.8 min under load',
  },
  {
    name: 'nsr-count',
    description: 'Counting, NSR vs MLP vs NAU gate, 10 seeds, the reference epochs',
    kind: 'count',
    ops: [null],
    models: ['nsr', 'mlp', 'nau-gate'],
    seeds: 10,
    epochs: REFERENCE_EPOCHS,
    exponents: SEQ_K,
    lengths: SEQ_L,
    draws: 50,
    numeric: 'float32',
    expected: '30 runs × 50,000 epochs; not measured, roughly 1 h',
  },
  {
    name: 'nsr-compare-float32-limit',
    description:
      'Where float32 stops resolving a difference of 1: NSR on > and = at 10^1…10^8 (beyond the limit on purpose)',
    kind: 'compare',
    ops: ['gt', 'eq'],
    models: ['nsr'],
    seeds: 10,
    epochs: 20_000,
    exponents: [1, 2, 3, 4, 5, 6, 7, 8],
    lengths: [],
    draws: 10,
    numeric: 'float32',
    expected: '20 runs × 20,000 epochs; not measured, a few minutes',
  },
];

/** The preset `--task nsr-KIND` runs: the task's full (reference-epoch) preset. */
export function presetForTask(task: string): NsrPreset | undefined {
  return NSR_PRESETS.find((p) => p.name === task);
}

export function getNsrPreset(name: string): NsrPreset | undefined {
  return NSR_PRESETS.find((p) => p.name === name);
}

/** Run configurations of a preset (one per model × op), with an optional epoch override. */
export function expandNsrPreset(p: NsrPreset, epochs = p.epochs): NsrRunConfig[] {
  const beyond = p.name.endsWith('-float32-limit');
  return p.models.flatMap((model) =>
    p.ops.map((op) => ({
      task: {
        kind: p.kind,
        op,
        exponents: [...p.exponents],
        lengths: [...p.lengths],
        draws: p.draws,
        allowBeyondPrecision: beyond,
      },
      model,
      epochs,
      lr: 1e-3,
      zeta: 1,
      regularizeFrom: 0.8,
      numeric: p.numeric,
    })),
  );
}

/** Runs and test points of a preset, for `nalm presets`. */
export function nsrPresetSize(p: NsrPreset): { configurations: number; runs: number; testPoints: number } {
  const configs = expandNsrPreset(p);
  return {
    configurations: configs.length,
    runs: configs.length * p.seeds,
    testPoints: testPoints(configs[0]!.task).length,
  };
}
