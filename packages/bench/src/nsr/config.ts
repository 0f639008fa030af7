/** Configuration and record of one NSR-task run (one seed), and the JSON forms of both. */
import { canonicalJson } from '../config.js';
import type { ModelOptions, NsrModelName } from './models.js';
import { NSR_MODELS } from './models.js';
import type { NumericType } from './resolution.js';
import type { NsrTaskConfig } from './tasks.js';
import { NsrTaskError, validateNsrTask } from './tasks.js';

export interface NsrRunConfig {
  task: NsrTaskConfig;
  model: NsrModelName;
  /** Full-batch epochs (the reference: 50,000). */
  epochs: number;
  /** Adam learning rate (the reference: 1e−3). */
  lr: number;
  /** NSR scale ζ (the reference: 1, i.e. integer data). */
  zeta: number;
  /**
   * NSR redundancy R, operand pairs compared in parallel (the NSR paper's redundancy experiment);
   * absent = 1, the reference's main runs, so records made before the field existed keep their key.
   */
  redundancy?: number;
  /**
   * Weight λ of the NSR's `selection` regulariser (units/src/nsr.ts: the mean entropy of its operand
   * selections), on from `regularizeFrom` like the NAU sparsity term. Not in the NSR paper; absent = 0,
   * the reference's runs, so older records keep their key.
   */
  selectionPenalty?: number;
  /** The NAU layers' sparsity regulariser is on from this fraction of the epochs (the reference: 0.8). */
  regularizeFrom: number;
  /**
   * The selection penalty is on from this fraction of the epochs; absent = `regularizeFrom` (older
   * records keep their key). Its own start lets the NAU regulariser run early, while the NSR is still
   * finding its gate, and the penalty only once it has (benchmarks/reproductions/nsr.md).
   */
  selectionFrom?: number;
  /**
   * The MLP's initial weights: 'torch-linear' is PyTorch's `nn.Linear` default, W and b U[±1/√fan-in],
   * which the reference's TwoNN keeps (every preset's MLP). Absent: Xavier-uniform W and zero b
   * (stable-nalu's Linear baseline), which NSR MLP records made 2026-12-04..07 got by mistake when
   * that baseline's init changed; they keep their key and say so in the report.
   */
  mlpInit?: ModelOptions['mlpInit'];
  /** float32: the tfjs trainer (the units themselves); float64: the fused plain-JS trainer (float64.ts). */
  numeric: NumericType;
}

/** 2: the record joined the result store (`kind: 'nsr'`, non-finite reals spelled as strings). */
export const NSR_RECORD_VERSION = 2;

/** Result of one seed at one test point. */
export interface NsrPointResult {
  exponent: number;
  length: number | null;
  label: string;
  items: number;
  /** Items with |error| < 0.5 (0/1 outputs: the right side of 0.5). */
  correct: number;
  /** Every item right (benchmark.md §7). */
  success: boolean;
  /** Mean |prediction − label| over the items (NaN if the model diverged). */
  meanError: number;
  maxError: number;
  /** piecewise: the gate decided every item right (up to swapping the two branches); else null. */
  gateSuccess: boolean | null;
  /** The point's values exceed what the numeric type resolves (only with allowBeyondPrecision). */
  beyondPrecision: boolean;
}

export interface NsrRecord {
  v: typeof NSR_RECORD_VERSION;
  /** The task kind (see kinds/): an NSR record in a result store. */
  kind: 'nsr';
  /** Hash of the canonical configuration. */
  key: string;
  config: NsrRunConfig;
  seed: number;
  /** Final full-batch training MAE. */
  trainLoss: number;
  /** Every training item right at the end of training. */
  trainSolved: boolean;
  diverged: { epoch: number; reason: string } | null;
  points: NsrPointResult[];
}

/** Which regularisers are on in one epoch. */
export interface RegularizersOn {
  /** The NAU layers' sparsity term. */
  sparsity: boolean;
  /** The NSR's selection-entropy term (only if `selectionPenalty` > 0). */
  selection: boolean;
}

/**
 * The regularisers on in `epoch` (1-based): each after its start epoch, floor(fraction × epochs); a
 * fraction of 1 never starts. Both trainers (trainer.ts, float64.ts) ask here.
 */
export function regularizersAt(c: NsrRunConfig, epoch: number): RegularizersOn {
  const after = (from: number) => from < 1 && epoch > Math.floor(from * c.epochs);
  return {
    sparsity: after(c.regularizeFrom),
    selection: (c.selectionPenalty ?? 0) > 0 && after(c.selectionFrom ?? c.regularizeFrom),
  };
}

/** The model options a run configuration implies (models.ts). */
export function nsrModelOptions(c: NsrRunConfig): ModelOptions {
  return {
    zeta: c.zeta,
    ...(c.redundancy === undefined ? {} : { redundancy: c.redundancy }),
    ...(c.mlpInit === undefined ? {} : { mlpInit: c.mlpInit }),
  };
}

/** 64-bit FNV-1a of the canonical JSON as 16 hex digits. */
export function nsrConfigKey(c: NsrRunConfig): string {
  const s = canonicalJson(c);
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++)
    h = ((h ^ BigInt(s.charCodeAt(i))) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

/** Throws an NsrTaskError naming the first bad field; returns the configuration unchanged. */
export function validateNsrRun(c: NsrRunConfig): NsrRunConfig {
  if (!NSR_MODELS.includes(c.model))
    throw new NsrTaskError(`unknown NSR-task model '${c.model}'. Known: ${NSR_MODELS.join(', ')}.`);
  if (!Number.isInteger(c.epochs) || c.epochs < 1)
    throw new NsrTaskError(`epochs must be a whole number ≥ 1, got ${c.epochs}.`);
  if (!(c.lr > 0) || !Number.isFinite(c.lr)) throw new NsrTaskError(`lr must be > 0, got ${c.lr}.`);
  if (!(c.zeta > 0) || !Number.isFinite(c.zeta)) throw new NsrTaskError(`zeta must be > 0, got ${c.zeta}.`);
  if (c.redundancy !== undefined && (!Number.isInteger(c.redundancy) || c.redundancy < 1))
    throw new NsrTaskError(`redundancy must be a whole number ≥ 1 (or absent for 1), got ${c.redundancy}.`);
  if (c.selectionPenalty !== undefined) {
    if (!(c.selectionPenalty >= 0) || !Number.isFinite(c.selectionPenalty))
      throw new NsrTaskError(`selectionPenalty must be a finite number ≥ 0, got ${c.selectionPenalty}.`);
    if (c.model !== 'nsr')
      throw new NsrTaskError(
        `selectionPenalty applies to the NSR's operand selections only; the ${c.model} gate has none (leave it out).`,
      );
  }
  if (c.mlpInit !== undefined) {
    if (c.mlpInit !== 'torch-linear')
      throw new NsrTaskError(
        `mlpInit '${String(c.mlpInit)}': use 'torch-linear' (the reference's TwoNN) or leave it out.`,
      );
    if (c.model !== 'mlp')
      throw new NsrTaskError(
        `mlpInit applies to the MLP only; the ${c.model} gate has its own init (leave it out).`,
      );
  }
  if (!(c.regularizeFrom >= 0 && c.regularizeFrom <= 1))
    throw new NsrTaskError(`regularizeFrom must be a fraction in [0, 1], got ${c.regularizeFrom}.`);
  if (c.selectionFrom !== undefined) {
    if (!(c.selectionFrom >= 0 && c.selectionFrom <= 1))
      throw new NsrTaskError(`selectionFrom must be a fraction in [0, 1], got ${c.selectionFrom}.`);
    if (!c.selectionPenalty)
      throw new NsrTaskError(
        'selectionFrom starts the selection penalty, but selectionPenalty is 0 or absent: set it > 0 or leave selectionFrom out.',
      );
  }
  if (c.numeric !== 'float32' && c.numeric !== 'float64')
    throw new NsrTaskError(
      `numeric type '${String(c.numeric)}': use 'float32' (tfjs) or 'float64' (plain JS).`,
    );
  validateNsrTask(c.task, c.numeric);
  return c;
}
