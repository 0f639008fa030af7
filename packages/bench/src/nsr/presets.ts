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
  /** float32: the tfjs trainer (the units themselves); float64: the fused plain-JS trainer (float64.ts). */
  numeric: NumericType;
  /** Expected size and wall time on a 2-core machine (wasm backend). */
  expected: string;
  /** The NSR's redundancy R (operand pairs compared in parallel); absent: 1, the reference's runs. */
  nsrRedundancy?: number;
  /** Weight of the NSR's selection-entropy regulariser (`selectionPenalty`); absent: 0, the reference's. */
  nsrSelectionPenalty?: number;
  /** The NSR's NAU regulariser starts after this epoch; absent: the reference's 40,000 (as the other models'). */
  nsrRegularizeEpoch?: number;
  /** The NSR's selection penalty starts after this epoch; absent: with its NAU regulariser. */
  nsrSelectionEpoch?: number;
}

/**
 * What a run may change of a preset's configurations (`nalm run --epochs/--redundancy/--selection-penalty/
 * --regularize-epoch/--selection-epoch`).
 */
export interface NsrPresetOverrides {
  epochs?: number;
  redundancy?: number;
  selectionPenalty?: number;
  /** Every model's NAU regulariser starts after this epoch (40,000: the reference's). */
  regularizeEpoch?: number;
  /** The NSR's selection penalty starts after this epoch. */
  selectionEpoch?: number;
}

/**
 * The reference's epoch counts: 50,000 (the default of comparisons.py and recurrent/recurrent.py,
 * which recurrent/run_reccurent.sh does not override), 500,000 for the piecewise functions
 * (functions/run_functions.sh passes --epochs=500000 to every run).
 */
export const REFERENCE_EPOCHS = 50_000;
export const REFERENCE_PIECEWISE_EPOCHS = 500_000;
/**
 * The reference switches the NAU layers' sparsity regulariser on after epoch 40,000 whatever the
 * training length (`if i > 40000` in functions/functions.py and recurrent/recurrent.py).
 */
export const REFERENCE_REGULARIZE_EPOCH = 40_000;

/** The fraction of `epochs` that starts a regulariser after `epoch` (1: never, in a shorter run). */
export function fromEpoch(epoch: number, epochs: number): number {
  return Math.min(1, epoch / epochs);
}

/** `regularizeFrom` (a fraction of the epochs) that starts the regulariser after epoch 40,000. */
export function referenceRegularizeFrom(epochs: number): number {
  return fromEpoch(REFERENCE_REGULARIZE_EPOCH, epochs);
}
/**
 * The piecewise preset's NSR redundancy. With one operand pair (the reference's main runs) about half
 * the seeds never find x0 − x1: the two NAU branches both settle on the majority branch (x3 − x2,
 * which MAE fits exactly), after which the gate has no gradient; 5/10 seeds found the gate within
 * 30,000 epochs here. More pairs in parallel (the NSR paper's redundancy experiment): on x0 > x1,
 * R = 5 found it in 10/10 and R = 10 in 10/10; on x0 == x1, R = 5 in 6/10 and R = 10 in 9/10
 * (benchmarks/reproductions/nsr.md).
 */
export const PIECEWISE_NSR_REDUNDANCY = 10;
/**
 * The piecewise preset's NSR selection penalty λ (not in the NSR paper). With R > 1 pairs sharing the
 * decision, training stops sharpening their operand selections once the training set is fit; the
 * leftover mass on the other inputs (d0 + d1 ≠ 0) flips the gate at x1 ≈ |d0| / |d0 + d1|, 2^9 in
 * the screens. λ · mean selection entropy from the regulariser epoch on keeps sharpening them: in
 * 30,000-epoch screens (penalty from epoch 10,200) the gate is right to 2^14 in 5/5 seeds of x0 > x1;
 * λ = 0.01, 0.1 and 1 gave seed 0 the same reach (benchmarks/reproductions/nsr.md).
 */
export const PIECEWISE_NSR_SELECTION_PENALTY = 0.1;
/**
 * The piecewise preset's NSR starts its NAU regulariser after epoch 2,400, not the reference's 40,000,
 * and its selection penalty after 40,000. Under the reference's schedule 2 of 10 == seeds never find
 * the gate (they sit at training MAE 13–30 from epoch ~20,000 on); with the NAU regulariser early 9/10
 * do, and the penalty must wait, since from epoch 2,400 too it keeps seed 6 from finding the gate
 * (45,000-epoch screens, benchmarks/reproductions/nsr.md). The MLP and NAU gates keep the reference's.
 */
export const PIECEWISE_NSR_REGULARIZE_EPOCH = 2_400;
/** The quick variant trains x0 > x1 only, which R = 5 already fits in every screened seed (10/10), at half R = 10's cost. */
const PIECEWISE_QUICK_NSR_REDUNDANCY = 5;
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
/** 10^1 … the numeric type's limit (10^5 in float32, 10^13 in float64). */
const COMPARE_K = range(1, maxMagnitudeExponent('float32', 10));
const COMPARE_K64 = range(1, maxMagnitudeExponent('float64', 10));
const PIECEWISE_K = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
/** Values up to 10·2^k (the reference: k = 1…14) and lengths 5…50 (the reference: every length). */
const SEQ_K = [1, 3, 5, 7, 10, 14];
const SEQ_L = [5, 10, 20, 30, 40, 50];

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
      'x4 + 4 if x0 > x1 else x3 − x2, NSR (redundancy 5) vs MLP gate over two NAU branches, 3 seeds, float64, ' +
      "10,000 epochs: the NSR finds the gate in every seed (with one operand pair, the reference's, about half " +
      "do not); the extrapolation contrast needs the reference's 500,000 epochs (nsr-piecewise)",
    kind: 'piecewise',
    ops: ['gt'],
    models: ['nsr', 'mlp'],
    seeds: 3,
    epochs: 10_000,
    exponents: [3, 6, 9, 12],
    lengths: [],
    draws: 5,
    numeric: 'float64',
    nsrRedundancy: PIECEWISE_QUICK_NSR_REDUNDANCY,
    expected: '6 runs × 10,000 epochs of 4,000 examples in float64; 4 min measured on 2 heavily loaded cores',
  },
  {
    name: 'nsr-piecewise',
    description:
      'The piecewise function, NSR (redundancy 10, NAU regulariser from epoch 2,400, selection penalty 0.1 from ' +
      'epoch 40,000) vs MLP vs NAU gate (NAU branches; regulariser from epoch 40,000, as the reference), 10 seeds, ' +
      'float64, 2^3…2^14, the reference epochs (500,000); ' +
      "--redundancy 1 --selection-penalty 0 --regularize-epoch 40000 runs the reference's NSR",
    kind: 'piecewise',
    ops: ['gt', 'eq'],
    models: ['nsr', 'mlp', 'nau-gate'],
    seeds: 10,
    epochs: REFERENCE_PIECEWISE_EPOCHS,
    exponents: PIECEWISE_K,
    lengths: [],
    draws: 10,
    numeric: 'float64',
    nsrRedundancy: PIECEWISE_NSR_REDUNDANCY,
    nsrSelectionPenalty: PIECEWISE_NSR_SELECTION_PENALTY,
    nsrRegularizeEpoch: PIECEWISE_NSR_REGULARIZE_EPOCH,
    nsrSelectionEpoch: REFERENCE_REGULARIZE_EPOCH,
    expected:
      '60 runs × 500,000 epochs of 4,000 examples in float64; per run on an idle core about 17 min (NSR, R = 10), ' +
      '21 min (MLP) and 5 min (NAU gate): about 14 CPU-hours, 7 hours with --workers 2',
  },
  {
    name: 'nsr-min-quick',
    description:
      'Recurrent running minimum (train length 5, values 1..10), NSR vs MLP, 3 seeds, float64, 20,000 epochs ' +
      '(the reference trains 50,000)',
    kind: 'min',
    ops: [null],
    models: ['nsr', 'mlp'],
    seeds: 3,
    epochs: 20_000,
    exponents: [1, 7, 14],
    lengths: [5, 50],
    draws: 50,
    numeric: 'float64',
    expected: '6 runs × 20,000 epochs in float64; about 1 min on an idle 2-core machine',
  },
  {
    name: 'nsr-min',
    description:
      'Recurrent running minimum, NSR vs MLP vs NAU gate, 10 seeds, float64, values up to 10·2^14, lengths 5…50, ' +
      'the reference epochs (50,000)',
    kind: 'min',
    ops: [null],
    models: ['nsr', 'mlp', 'nau-gate'],
    seeds: 10,
    epochs: REFERENCE_EPOCHS,
    exponents: SEQ_K,
    lengths: SEQ_L,
    draws: 50,
    numeric: 'float64',
    expected: '30 runs × 50,000 epochs in float64; about 25 min on one idle core',
  },
  {
    name: 'nsr-count-quick',
    description:
      'Count the later elements equal to the first (train length 5), NSR vs MLP, 3 seeds, float64, 20,000 epochs ' +
      '(the reference trains 50,000)',
    kind: 'count',
    ops: [null],
    models: ['nsr', 'mlp'],
    seeds: 3,
    epochs: 20_000,
    exponents: [1, 7, 14],
    lengths: [5, 50],
    draws: 50,
    numeric: 'float64',
    expected: '6 runs × 20,000 epochs in float64; about 1 min on an idle 2-core machine',
  },
  {
    name: 'nsr-count',
    description:
      'Counting, NSR vs MLP vs NAU gate, 10 seeds, float64, values up to 10·2^14, lengths 5…50, ' +
      "the reference epochs (50,000); the NSR's zero-bit weight starts at −1, not the reference's " +
      'Xavier draw: a start ≥ 0 traps a seed in the constant count 0 (benchmarks/reproductions/nsr.md)',
    kind: 'count',
    ops: [null],
    models: ['nsr', 'mlp', 'nau-gate'],
    seeds: 10,
    epochs: REFERENCE_EPOCHS,
    exponents: SEQ_K,
    lengths: SEQ_L,
    draws: 50,
    numeric: 'float64',
    expected: '30 runs × 50,000 epochs in float64; about 25 min on one idle core',
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

/**
 * Run configurations of a preset (one per model × op), with optional overrides of the epochs and
 * of the NSR's redundancy and selection penalty (the other gates have neither).
 */
export function expandNsrPreset(p: NsrPreset, overrides: NsrPresetOverrides = {}): NsrRunConfig[] {
  const epochs = overrides.epochs ?? p.epochs;
  const nsrRedundancy = overrides.redundancy ?? p.nsrRedundancy;
  const selectionPenalty = overrides.selectionPenalty ?? p.nsrSelectionPenalty;
  const selectionEpoch = overrides.selectionEpoch ?? p.nsrSelectionEpoch;
  const regularizeEpoch = (model: NsrModelName) =>
    overrides.regularizeEpoch ??
    (model === 'nsr' ? p.nsrRegularizeEpoch : undefined) ??
    REFERENCE_REGULARIZE_EPOCH;
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
      regularizeFrom: fromEpoch(regularizeEpoch(model), epochs),
      numeric: p.numeric,
      // R = 1 is left out of the configuration, so its key is the one records had before R existed.
      ...(model === 'nsr' && nsrRedundancy !== undefined && nsrRedundancy !== 1
        ? { redundancy: nsrRedundancy }
        : {}),
      // Likewise λ = 0 (the reference: no such term).
      ...(model === 'nsr' && selectionPenalty ? { selectionPenalty } : {}),
      // Its own start only when asked for: absent, it starts with the NAU regulariser (older records' key).
      ...(model === 'nsr' && selectionPenalty && selectionEpoch !== undefined
        ? { selectionFrom: fromEpoch(selectionEpoch, epochs) }
        : {}),
      // The reference's TwoNN keeps torch's nn.Linear init (config.ts `mlpInit`).
      ...(model === 'mlp' ? { mlpInit: 'torch-linear' as const } : {}),
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
