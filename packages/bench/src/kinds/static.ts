/**
 * The static task as a task kind: `RunConfig` cells, batches of replicas that share a `batchKey`
 * (fused path or tfjs), each configuration's success threshold computed once per sweep.
 */
import type { RunConfig } from '../config.js';
import { canonicalJson, configKey } from '../config.js';
import { listModels } from '../models/registry.js';
import type { RunRecord } from '../record.js';
import { parseRunConfig } from '../store/codec.js';
import type { ThresholdCache } from '../threshold.js';
import { cachedThreshold } from '../threshold.js';
import { validateStaticTask } from '../tasks/static.js';
import type { ReplicaSpec, TrainProgress, TrainReplicasOptions } from '../train/replicas.js';
import { batchKey, trainReplicas } from '../train/replicas.js';
import type { BatchBase, Cell, TaskKind } from './kind.js';

export type Engine = 'auto' | 'fast' | 'tfjs';

/** A fused trainer for built-in models (optional; see fast/). */
export interface FastTrainer {
  supports(config: RunConfig): boolean;
  train(opts: TrainReplicasOptions): Promise<RunRecord[] | null>;
}

/** A batch of static-task replicas. */
export interface StaticBatch extends BatchBase {
  kind: 'static';
  replicas: ReplicaSpec[];
  engine: 'fast' | 'tfjs';
}

/** Most replicas per batch unless the sweep's options say otherwise (`nalm plan` forms the same batches). */
export const DEFAULT_MAX_REPLICAS = { fast: 10, tfjs: 100 } as const;

/** Relative training cost per seed-iteration of a model (1 when unknown). */
export function modelCost(model: string): number {
  return listModels().find((m) => m.name === model)?.cost ?? 1;
}

/**
 * Most work (replicas × iterations × model cost) in one fused-path batch. A batch stores its records
 * when it ends, so this bounds what a kill loses: at the paper's 5M iterations a batch holds two
 * NMU seeds or one NALU seed (minutes of one core), where ten would be an hour or more. Splitting
 * changes no fused record (each replica trains alone inside its batch), and short runs keep their
 * batches of up to `maxReplicas`.
 */
export const FAST_BATCH_WORK = 10_000_000;

/** Replicas per batch of a configuration's group on an engine, given that engine's maximum. */
export function batchSizeFor(config: RunConfig, engine: 'fast' | 'tfjs', max: number): number {
  if (engine !== 'fast') return max;
  const perReplica = config.iterations * modelCost(config.model);
  return Math.max(1, Math.min(max, Math.floor(FAST_BATCH_WORK / perReplica)));
}

/**
 * While there are fewer batches than `parallel` workers, halve the costliest batch that can be split
 * (the first half, rounded up, keeps its place). `members` gives a batch's splittable replicas (null
 * when it cannot be split, e.g. a tfjs batch); `withMembers` makes the batch with a subset of them.
 * One rule for the sweep (`planBatches`) and `nalm plan`'s timer.
 */
export function splitForIdleWorkers<B, M>(
  batches: B[],
  parallel: number,
  cost: (b: B) => number,
  members: (b: B) => readonly M[] | null,
  withMembers: (b: B, members: M[]) => B,
): void {
  while (batches.length < parallel) {
    let at = -1;
    for (let k = 0; k < batches.length; k++) {
      const b = batches[k]!;
      if ((members(b)?.length ?? 0) > 1 && (at < 0 || cost(b) > cost(batches[at]!))) at = k;
    }
    if (at < 0) return;
    const b = batches[at]!;
    const m = members(b)!;
    const half = Math.ceil(m.length / 2);
    batches.splice(at, 1, withMembers(b, m.slice(0, half)), withMembers(b, m.slice(half)));
  }
}

/**
 * Group pending cells into batches of compatible replicas (same `batchKey`), in grid order.
 *
 * `parallel` (default 1): batches that run at once (the workers). With fewer batches than that, the
 * fused path's batches are split further, so that every worker gets one (the largest batch in half,
 * again and again, down to one replica each): `nalm run --model nmu --op mul --seeds 0..9` is one
 * batch of ten, which would train on one core while the others idle. A fused-path record depends
 * only on its configuration and seed (each replica trains alone inside the batch), so the split
 * changes no record. tfjs batches are left whole: that engine's per-op overhead is amortised by
 * batching, and its records are not split-tested here.
 */
export function planBatches(
  cells: readonly ReplicaSpec[],
  maxReplicas: number | ((engine: 'fast' | 'tfjs') => number),
  engineOf: (c: RunConfig) => 'fast' | 'tfjs',
  parallel = 1,
): StaticBatch[] {
  const max = typeof maxReplicas === 'number' ? () => maxReplicas : maxReplicas;
  const groups = new Map<string, ReplicaSpec[]>();
  for (const cell of cells) {
    const k = `${engineOf(cell.config)}|${batchKey(cell.config)}`;
    const g = groups.get(k);
    if (g) g.push(cell);
    else groups.set(k, [cell]);
  }
  const batches: StaticBatch[] = [];
  for (const group of groups.values()) {
    const engine = engineOf(group[0]!.config);
    const size = batchSizeFor(group[0]!.config, engine, max(engine));
    for (let i = 0; i < group.length; i += size) {
      const replicas = group.slice(i, i + size);
      batches.push({ kind: 'static', index: 0, count: 0, replicas, engine: engineOf(replicas[0]!.config) });
    }
  }
  // Longest first (replicas × iterations × model cost), so parallel workers finish together.
  const cost = (b: StaticBatch) => {
    const c = b.replicas[0]!.config;
    return b.replicas.length * c.iterations * modelCost(c.model);
  };
  splitForIdleWorkers(
    batches,
    parallel,
    cost,
    (b) => (b.engine === 'fast' ? b.replicas : null),
    (b, replicas) => ({ ...b, replicas }),
  );
  batches.sort((a, b) => cost(b) - cost(a)); // stable: equal costs keep grid order
  batches.forEach((b, i) => Object.assign(b, { index: i, count: batches.length }));
  return batches;
}

export interface StaticPlanContext {
  /** 'auto' (default): the fused path where it supports the model, tfjs elsewhere. */
  engine?: Engine | undefined;
  fast?: FastTrainer | undefined;
  /** Most replicas in one tfjs batch (default 100). */
  maxReplicas?: number | undefined;
  /** Most replicas in one fused-path batch (default 10; fewer for long runs, see FAST_BATCH_WORK). */
  maxFastReplicas?: number | undefined;
  /** Batches that run at once (the workers). */
  parallel: number;
  thresholdCache?: ThresholdCache | undefined;
}

/** Which engine trains a configuration under the sweep's `engine` choice. */
export function engineChooser(
  engine: Engine,
  fast: FastTrainer | undefined,
): (c: RunConfig) => 'fast' | 'tfjs' {
  if (engine === 'fast' && !fast)
    throw new Error("engine 'fast' requested but no fused trainer is available");
  return (c) => {
    if (engine === 'tfjs' || !fast) return 'tfjs';
    if (fast.supports(c)) return 'fast';
    if (engine === 'fast') {
      throw new Error(`engine 'fast' does not support model '${c.model}'; use --engine auto or tfjs`);
    }
    return 'tfjs';
  };
}

export const staticKind: TaskKind<
  RunConfig,
  RunRecord,
  StaticBatch,
  TrainProgress,
  StaticPlanContext,
  { fast?: FastTrainer | undefined }
> = {
  name: 'static',
  parse(raw) {
    const c = parseRunConfig(raw);
    // The validated task (frozen, remembered): the threshold, the single-module rule, the task
    // instances and the evaluation sets get this object and do not check it again. Where
    // normalising would change the configuration (an unknown field), the caller's task is kept,
    // so a record's key never depends on parsing; it is then checked where it is used.
    const task = validateStaticTask(c.task);
    if (task === c.task || canonicalJson(task) !== canonicalJson(c.task)) return c;
    return { ...c, task };
  },
  key: configKey,
  work(c) {
    return { iterations: c.iterations, weighted: c.iterations * modelCost(c.model) };
  },
  plan(cells: readonly Cell<RunConfig>[], ctx) {
    const engineOf = engineChooser(ctx.engine ?? 'auto', ctx.fast);
    // The threshold depends on the configuration only: once per configuration with pending cells.
    const thresholds = new Map<RunConfig, number>();
    const specs: ReplicaSpec[] = cells.map(({ config, seed }) => {
      let threshold = thresholds.get(config);
      if (threshold === undefined) {
        threshold = cachedThreshold(config.task, {}, ctx.thresholdCache);
        thresholds.set(config, threshold);
      }
      return { config, seed, threshold };
    });
    return planBatches(
      specs,
      (e) =>
        e === 'fast'
          ? (ctx.maxFastReplicas ?? DEFAULT_MAX_REPLICAS.fast)
          : (ctx.maxReplicas ?? DEFAULT_MAX_REPLICAS.tfjs),
      engineOf,
      ctx.parallel,
    );
  },
  train(batch, ctx) {
    const opts: TrainReplicasOptions = {
      replicas: batch.replicas,
      onProgress: ctx.onProgress,
      shouldStop: ctx.shouldStop,
    };
    if (batch.engine === 'tfjs') return trainReplicas(opts);
    if (!ctx.fast) throw new Error('the fused trainer is not available in this build');
    return ctx.fast.train(opts);
  },
};
