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
export { NSR_MAX_REPLICAS, nsrEpochCost, nsrKind } from './nsr.js';

export const TASK_KINDS = { static: staticKind, nsr: nsrKind } as const;

export const KIND_NAMES: readonly KindName[] = ['static', 'nsr'];

/** A batch of any kind: plain data, so it can be posted to a worker thread. */
export type SweepBatch = StaticBatch | NsrBatch;

/** Progress of a batch of any kind (static: iterations and evaluations; nsr: epochs). */
export type SweepProgress = TrainProgress | NsrTrainProgress;

/**
 * The batch with every configuration parsed by its kind: what a worker thread does with a batch it
 * received (a message is a boundary: structured cloning drops what `parse` established). Replicas
 * that shared a configuration object still share one (structured clone keeps shared references), so
 * each configuration is parsed once.
 */
export function parseBatch(batch: SweepBatch): SweepBatch {
  const once = <C>(parse: (raw: unknown) => C) => {
    const parsed = new Map<C, C>();
    return (c: C): C => {
      let p = parsed.get(c);
      if (p === undefined) parsed.set(c, (p = parse(c)));
      return p;
    };
  };
  if (batch.kind === 'nsr') {
    const parse = once(nsrKind.parse);
    return { ...batch, replicas: batch.replicas.map((r) => ({ ...r, config: parse(r.config) })) };
  }
  const parse = once(staticKind.parse);
  return { ...batch, replicas: batch.replicas.map((r) => ({ ...r, config: parse(r.config) })) };
}

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
