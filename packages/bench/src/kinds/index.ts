/**
 * The task kinds the pipeline knows (see kind.ts for the contract): `static` (the arithmetic task
 * of spec §1–§6) and `nsr` (the Neural Status Register tasks of §7). Sweep batches, worker tasks,
 * progress and records are unions over the kinds, discriminated by `kind`.
 */
import type { NsrTrainProgress } from '../nsr/trainer.js';
import type { StoreRecord } from '../record.js';
import type { TrainProgress } from '../train/replicas.js';
import type { KindName, TrainContext } from './kind.js';
import type { NsrBatch } from './nsr.js';
import { nsrKind } from './nsr.js';
import type { FastTrainer, StaticBatch } from './static.js';
import { staticKind } from './static.js';

export type { BatchBase, Cell, KindName, TaskKind, TrainContext } from './kind.js';
export type { Engine, FastTrainer, StaticBatch, StaticPlanContext } from './static.js';
export { DEFAULT_MAX_REPLICAS, engineChooser, modelCost, planBatches, staticKind } from './static.js';
export type { NsrBatch, NsrPlanContext } from './nsr.js';
export { NSR_MAX_REPLICAS, nsrKind } from './nsr.js';

export const TASK_KINDS = { static: staticKind, nsr: nsrKind } as const;

export const KIND_NAMES: readonly KindName[] = ['static', 'nsr'];

/** A batch of any kind: plain data, so it can be posted to a worker thread. */
export type SweepBatch = StaticBatch | NsrBatch;

/** Progress of a batch of any kind (static: iterations and evaluations; nsr: epochs). */
export type SweepProgress = TrainProgress | NsrTrainProgress;

/**
 * Train one batch with its kind's trainer (what a worker thread and the in-process executor run).
 * `fast` is the static kind's fused trainer, where it is built in.
 */
export function trainBatch(
  batch: SweepBatch,
  ctx: TrainContext<SweepProgress> & { fast?: FastTrainer | undefined },
): Promise<StoreRecord[] | null> {
  return batch.kind === 'nsr' ? nsrKind.train(batch, ctx) : staticKind.train(batch, ctx);
}
