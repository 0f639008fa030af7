/**
 * The model registry for the static task: two layers, L1: I → hidden, L2: hidden → 1 (spec §2).
 * Open by design: `registerModel` adds a user's model (built from any UnitDef, including their
 * own) and the same runner, success criterion and report apply to it.
 */
import type { UnitDef, UnitShape } from '@nalm/units';
import {
  gnaluDef,
  inaluDef,
  mulNacDef,
  nacDef,
  naluDef,
  nauDef,
  nmuDef,
  npuDef,
  nruDef,
  realNpuDef,
  signNmruDef,
} from '@nalm/units';
import type { Schedule } from '../config.js';
import type { Op } from '../tasks/static.js';
import { betaSchedule } from '../train/schedule.js';
import { denseDef } from './dense.js';
import { gatedNauNmuDef } from './gated.js';
import { nmuLogDef, posNacMulDef } from './log-space.js';
import { SNMU_TRAINING_NOISE, seededSnmuDef } from './snmu.js';

export interface ModelLayer {
  // `never` lets layers of different option types share one array; options are checked by the def.
  def: UnitDef<never>;
  options: object;
  shape: UnitShape;
  /**
   * Training-time multiplicative noise U[lo, hi) the trainer draws per replica (from the replica's
   * own stream) and passes to `forward` as `ctx.noise`, shaped like the layer's input (sNMU).
   */
  noise?: { lo: number; hi: number };
}

/** What a regulariser weight may depend on: the iteration, the replica's task and its progress. */
export interface RegularizerWeightContext {
  /** 0-based iteration. */
  t: number;
  /** The replica's operation (a batch may mix operations). */
  op: Op;
  /** The replica's most recent validation (interpolation) MSE (evaluations run before updates). */
  interpolation: number;
  /** Number of raw parameter entries of the layer (one replica). */
  paramCount: number;
}

/** Weight of a named regulariser at one iteration for one replica (0 leaves it out). */
export type RegularizerWeight = (c: RegularizerWeightContext) => number;

/** iNALU's re-initialisation on a stalled loss (benchmark.md §6); see train/reinit.ts. */
export interface ReinitRule {
  /** Check every `every` iterations (10) … */
  every: number;
  /** … once more than `minLosses` losses are stored (5,000) … */
  minLosses: number;
  /** … and re-initialise if the recent mean loss is above this (1) and not falling. */
  lossThreshold: number;
}

/**
 * Per-model training settings beyond the shared protocol (benchmark.md §6). They are part of the
 * model's definition, so a record stays a function of its configuration (which names the model and
 * carries the learning rate) and its seed.
 */
export interface ModelTraining {
  /** The learning rate presets give this model where they follow per-model settings (else theirs). */
  lr?: number;
  /** Clip every gradient entry to [−v, v] before the Adam step (torch's clip_grad_value_). */
  clipGradValue?: number;
  /** Rescale each replica's gradient to at most this global L2 norm (torch's clip_grad_norm_). */
  clipGradNorm?: number;
  /** Re-initialise a replica whose loss stalls. */
  reinit?: ReinitRule;
  /**
   * Weights of named regularisers other than 'sparsity' (weighted by λ(t)) and 'oob' (by the
   * configuration's oobWeight). Regularisers not listed here keep weight 1 (applied whenever any
   * regulariser is).
   */
  regularizers?: Readonly<Record<string, RegularizerWeight>>;
}

export interface ModelDef {
  /** Registry name used on the command line, e.g. 'nmu'. */
  name: string;
  /** Human label for tables, e.g. 'NMU'. */
  label: string;
  /** The label stable-nalu's analysis uses (for its per-run CSV layout). */
  paperLabel?: string;
  description: string;
  /** The layers for a given input size and hidden width. */
  layers(inputSize: number, hidden: number): ModelLayer[];
  /** The paper's sparsity schedule for this model, or null when it has no sparsity regulariser. */
  schedule: Schedule | null;
  /**
   * Relative training cost per seed-iteration (default 1, the NAU/NMU models). Used to start
   * expensive batches first so parallel workers finish together, and to size long fused batches
   * (`FAST_BATCH_WORK`). Measured per CPU-second against the NAU model on the fused path, default
   * task (`benchmarks/speed/bench.ts --child MODEL default fast 0 20 3000`, 2026-12-06); the gated
   * model's fused kernel is plain JavaScript over three I × O weights, hence its 40.
   */
  cost?: number;
  /** Training settings of this model (learning rate, clipping, re-initialisation, regulariser weights). */
  training?: ModelTraining;
}

const layer = <O extends object>(
  def: UnitDef<O>,
  inputSize: number,
  units: number,
  options: Partial<O> = {},
): ModelLayer => ({
  def: def as unknown as UnitDef<never>,
  options: { ...def.defaults, ...options },
  shape: { inputSize, units },
});

const twoLayer =
  <A extends object, B extends object>(
    l1: UnitDef<A>,
    l2: UnitDef<B>,
    o1: Partial<A> = {},
    o2: Partial<B> = {},
  ) =>
  (inputSize: number, hidden: number): ModelLayer[] => [
    layer(l1, inputSize, hidden, o1),
    layer(l2, hidden, 1, o2),
  ];

const NMU_SCHEDULE: Schedule = { lambda: 10, start: 1_000_000, end: 2_000_000 };
const NAU_SCHEDULE: Schedule = { lambda: 0.01, start: 5_000, end: 50_000 };

const builtins: ModelDef[] = [
  {
    name: 'nmu',
    label: 'NMU',
    paperLabel: 'NMU',
    description: 'NAU → NMU (the NMU paper model)',
    layers: twoLayer(nauDef, nmuDef),
    schedule: NMU_SCHEDULE,
  },
  {
    name: 'nau',
    label: 'NAU',
    paperLabel: 'NAU',
    description: 'NAU → NAU',
    layers: twoLayer(nauDef, nauDef),
    schedule: NAU_SCHEDULE,
  },
  {
    name: 'nac-mul',
    label: 'NAC•',
    paperLabel: '$\\mathrm{NAC}_{\\bullet}$',
    description: 'NAC+ → NAC• (exp(NAC+(log(|h| + ε))))',
    layers: twoLayer(nacDef, mulNacDef),
    schedule: null,
    cost: 1.7,
  },
  {
    name: 'nac',
    label: 'NAC+',
    paperLabel: '$\\mathrm{NAC}_{+}$',
    description: 'NAC+ → NAC+',
    layers: twoLayer(nacDef, nacDef),
    schedule: null,
    cost: 1.3,
  },
  {
    name: 'nalu',
    label: 'NALU',
    paperLabel: 'NALU',
    description: 'NALU → NALU (shared weights)',
    layers: twoLayer(naluDef, naluDef),
    schedule: null,
    cost: 4.2, // 100 logarithms per row
  },
  {
    name: 'gated',
    label: 'Gated NAU/NMU',
    description: 'gated NAU/NMU → gated NAU/NMU, g = σ(x·G), separate weights',
    layers: twoLayer(gatedNauNmuDef, gatedNauNmuDef),
    schedule: NMU_SCHEDULE,
    cost: 40,
  },
  // ---- the ICLR 2020 appendix's further models (stable-nalu's function_task_static.sh) ----
  {
    name: 'nac-mul-sigma',
    label: 'NAC•,σ',
    paperLabel: '$\\mathrm{NAC}_{\\bullet,\\sigma}$',
    description: 'NAC+ → exp(σ(Ŵ)-weighted sum of log(|h| + ε)) (stable-nalu PosNAC --nac-mul normal)',
    layers: twoLayer(nacDef, posNacMulDef),
    schedule: null,
  },
  {
    name: 'nac-mul-nmu',
    label: 'NAC•,NMU',
    paperLabel: '$\\mathrm{NAC}_{\\bullet,\\mathrm{NMU}}$',
    description:
      'NAU → exp(W · log(|h| + ε)) with the NMU weight W ∈ [0, 1] (stable-nalu ReRegualizedLinearPosNAC --nac-mul normal)',
    layers: twoLayer(nauDef, nmuLogDef),
    schedule: NMU_SCHEDULE,
  },
  // ---- the ICLR 2020 appendix's gate experiment (function_task_static_nalu.sh: NAC+/NAU first) ----
  {
    name: 'nac-nalu',
    label: 'NALU (shared)',
    description: 'NAC+ → NALU, shared weights (ICLR 2020 gate experiment)',
    layers: twoLayer(nacDef, naluDef),
    schedule: null,
    cost: 2.2,
  },
  {
    name: 'nac-nalu-separate',
    label: 'NALU (separate)',
    description: 'NAC+ → NALU, separate weights (ICLR 2020 gate experiment)',
    layers: twoLayer(nacDef, naluDef, {}, { separateWeights: true }),
    schedule: null,
    cost: 2.2,
  },
  {
    name: 'nau-gated',
    label: 'Gated NAU/NMU (NAU first)',
    description: 'NAU → gated NAU/NMU, g = σ(x·G), separate weights (ICLR 2020 gate experiment)',
    layers: twoLayer(nauDef, gatedNauNmuDef),
    schedule: NMU_SCHEDULE,
    cost: 1.6,
  },
  {
    name: 'linear',
    label: 'Linear',
    paperLabel: 'Linear',
    description: 'dense with bias → dense with bias',
    layers: twoLayer(denseDef, denseDef),
    schedule: null,
    cost: 1.3,
  },
  {
    name: 'relu',
    label: 'ReLU',
    paperLabel: 'ReLU',
    description: 'dense + ReLU → dense (linear)',
    layers: twoLayer(denseDef, denseDef, { activation: 'relu' }, { activation: 'linear' }),
    schedule: null,
    cost: 1.35,
  },
  {
    name: 'relu6',
    label: 'ReLU6',
    paperLabel: 'ReLU6',
    description: 'dense + ReLU6 → dense (linear)',
    layers: twoLayer(denseDef, denseDef, { activation: 'relu6' }, { activation: 'linear' }),
    schedule: null,
    cost: 1.45,
  },
];

// ---- single-unit models (the single-module task, benchmark.md §6) ----

/** The sparsity schedule of the single-module benchmark: 20,000 → 35,000 of 50,000 iterations. */
export const SINGLE_MODULE_ITERATIONS = 50_000;
const singleSchedule = (lambda: number): Schedule => ({ lambda, start: 20_000, end: 35_000 });

/** One unit I → 1 (the hidden width does not apply). */
const oneUnit =
  <O extends object>(def: UnitDef<O>, options: Partial<O> = {}, extra: Partial<ModelLayer> = {}) =>
  (inputSize: number): ModelLayer[] => [{ ...layer(def, inputSize, 1, options), ...extra }];

/**
 * The NPU's L1 weight β (Heim et al.; the NALM benchmark's settings): ×10 every 10,000 iterations,
 * from 1e−7 to 1e−5 (1e−9 to 1e−7 for division). The reference's L1 is Σ|v| over the parameters;
 * the unit's `l1` is their mean, so the weight is β times the number of entries.
 */
const npuL1: RegularizerWeight = ({ t, op, paramCount }) =>
  paramCount *
  (op === 'div'
    ? betaSchedule({ start: 1e-9, end: 1e-7, growth: 10, every: 10_000 }, t)
    : betaSchedule({ start: 1e-7, end: 1e-5, growth: 10, every: 10_000 }, t));

/** iNALU's regulariser: weight 0.05 once the validation MSE is below 1 after 10,000 iterations. */
const inaluReg: RegularizerWeight = ({ t, interpolation }) => (interpolation < 1 && t > 10_000 ? 0.05 : 0);

/** iNALU's training tricks (the NALM benchmark's --clip-grad-value 0.1 --reinit). */
const INALU_TRAINING: ModelTraining = {
  clipGradValue: 0.1,
  reinit: { every: 10, minLosses: 5_000, lossThreshold: 1 },
  regularizers: { reg: inaluReg },
};

const single: ModelDef[] = [
  {
    name: 'single-nau',
    label: 'NAU',
    description: 'one NAU (single-module task)',
    layers: oneUnit(nauDef),
    schedule: singleSchedule(0.01),
  },
  {
    name: 'single-nmu',
    label: 'NMU',
    description: 'one NMU (single-module task)',
    layers: oneUnit(nmuDef),
    schedule: singleSchedule(10),
  },
  {
    name: 'single-nac',
    label: 'NAC+',
    description: 'one NAC+ (single-module task)',
    layers: oneUnit(nacDef),
    schedule: null,
  },
  {
    name: 'single-nac-mul',
    label: 'NAC•',
    description: 'one NAC• (single-module task)',
    layers: oneUnit(mulNacDef),
    schedule: null,
  },
  {
    name: 'single-nalu',
    label: 'NALU',
    description: 'one NALU, shared weights (single-module task)',
    layers: oneUnit(naluDef),
    schedule: null,
  },
  {
    name: 'single-inalu',
    label: 'iNALU',
    description: 'one iNALU, gradient clip ±0.1, re-initialisation on a stalled loss (single-module task)',
    layers: oneUnit(inaluDef),
    schedule: null,
    training: INALU_TRAINING,
  },
  {
    name: 'single-gnalu',
    label: 'G-NALU',
    description: 'one G-NALU (golden-ratio NALU; single-module task)',
    layers: oneUnit(gnaluDef),
    schedule: null,
  },
  {
    name: 'single-npu',
    label: 'NPU',
    description: 'one NPU, lr 5e−3, L1 with β ×10 every 10k iterations (single-module task)',
    layers: oneUnit(npuDef),
    schedule: null,
    training: { lr: 5e-3, regularizers: { l1: npuL1 } },
  },
  {
    name: 'single-real-npu',
    label: 'RealNPU',
    description: 'one RealNPU, lr 5e−3, L1 with β ×10 every 10k iterations (single-module task)',
    layers: oneUnit(realNpuDef),
    schedule: null,
    training: { lr: 5e-3, regularizers: { l1: npuL1 } },
  },
  {
    name: 'single-nru',
    label: 'NRU',
    description: 'one NRU (division; single-module task)',
    layers: oneUnit(nruDef),
    schedule: singleSchedule(10),
    // The NRU authors' single-module runs (nalm-benchmark, sltr-in2/nru): learning rate 1.
    training: { lr: 1 },
  },
  {
    name: 'single-nmru',
    label: 'NMRU',
    description:
      "one sign-NMRU (|[x, 1/(x + ε)]| products, sign by a cosine; the NALM benchmark's NMRU; single-module task)",
    layers: oneUnit(signNmruDef),
    schedule: singleSchedule(10),
    // The authors' single-module runs (nalm-benchmark, sltr-in2/sign-nmru): lr 1e−2, gradient norm ≤ 1.
    training: { lr: 1e-2, clipGradNorm: 1 },
  },
  {
    name: 'single-snmu',
    label: 'sNMU',
    description: 'one stochastic NMU, training noise U[1, 5] (single-module task)',
    layers: oneUnit(seededSnmuDef, {}, { noise: SNMU_TRAINING_NOISE }),
    schedule: singleSchedule(10),
  },
];

/**
 * Measured training throughput of the single-unit models on the single-module task, in
 * seed-iterations per second for one worker (evaluations included, 1 per 1,000 iterations): the
 * median time between evaluations of a 3,000-iteration batch as the sweep forms it (fused path: 10
 * replicas, tfjs wasm: 100), Node 20 on this 2-core machine while other jobs kept its load at 6–8,
 * 2026-11-26 (so an idle machine is faster). They set each model's relative cost and `nalm presets`'
 * wall-time estimate; re-measure with the same method after changing a trainer.
 */
export const SINGLE_MODULE_THROUGHPUT: Readonly<Record<string, number>> = Object.freeze({
  'single-nau': 51_700,
  'single-nmu': 51_500,
  'single-nac': 85_700,
  'single-nac-mul': 48_400,
  'single-nalu': 44_700,
  'single-inalu': 5_510,
  'single-gnalu': 8_440,
  'single-npu': 5_290,
  'single-real-npu': 9_280,
  'single-nru': 5_140,
  'single-nmru': 8_190,
  'single-snmu': 9_320,
});
for (const m of single) m.cost = SINGLE_MODULE_THROUGHPUT['single-nau']! / SINGLE_MODULE_THROUGHPUT[m.name]!;

/** Names of the single-unit models, in table order. */
export const SINGLE_MODULE_MODELS: readonly string[] = Object.freeze(single.map((m) => m.name));

const registry = new Map<string, ModelDef>([...builtins, ...single].map((m) => [m.name, m]));

export class UnknownModelError extends Error {}

/** Add (or, with `replace`, override) a model. Names are lowercase identifiers. */
export function registerModel(model: ModelDef, { replace = false } = {}): void {
  if (!/^[a-z][a-z0-9-]*$/.test(model.name)) {
    throw new Error(`registerModel: name '${model.name}' must be lowercase letters, digits and '-'.`);
  }
  if (registry.has(model.name) && !replace) {
    throw new Error(
      `registerModel: a model named '${model.name}' exists; pass { replace: true } to override it.`,
    );
  }
  registry.set(model.name, model);
}

export function getModel(name: string): ModelDef {
  const m = registry.get(name);
  if (!m) {
    throw new UnknownModelError(`unknown model '${name}'. Known models: ${[...registry.keys()].join(', ')}.`);
  }
  return m;
}

export function listModels(): ModelDef[] {
  return [...registry.values()];
}
