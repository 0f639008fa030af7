/**
 * The sweep: a grid of (configuration, seed) cells → batches of replicas → records appended to a
 * result store as each batch finishes. Finished cells already in the store are skipped, so the same
 * command resumes an interrupted run.
 */
import type { RunConfig } from './config.js';
import { configKey } from './config.js';
import { listModels } from './models/registry.js';
import type { RunRecord } from './record.js';
import { recordId } from './store/index.js';
import type { ThresholdCache } from './threshold.js';
import { cachedThreshold } from './threshold.js';
import type { ReplicaSpec, TrainProgress, TrainReplicasOptions } from './train/replicas.js';
import { batchKey, trainReplicas } from './train/replicas.js';

export type Engine = 'auto' | 'fast' | 'tfjs';

export interface SweepBatch {
  index: number;
  count: number;
  replicas: ReplicaSpec[];
  engine: 'fast' | 'tfjs';
}

export type SweepEvent =
  | {
      type: 'plan';
      cells: number;
      pending: number;
      done: number;
      batches: number;
      seedIterations: number;
      /** seedIterations weighted by each model's relative cost (ModelDef.cost). */
      work: number;
    }
  | { type: 'batch-start'; batch: SweepBatch }
  | { type: 'progress'; batch: SweepBatch; progress: TrainProgress }
  | { type: 'batch-done'; batch: SweepBatch; records: RunRecord[]; seconds: number };

/** A fused trainer for built-in models (optional; see fast/). */
export interface FastTrainer {
  supports(config: RunConfig): boolean;
  train(opts: TrainReplicasOptions): Promise<RunRecord[] | null>;
}

/** Runs one batch (in this thread, or on a worker) and returns its records, or null if stopped. */
export type BatchExecutor = (
  batch: SweepBatch,
  onProgress: (p: TrainProgress) => void,
) => Promise<RunRecord[] | null>;

/** Which of N shards a (configuration, seed) cell belongs to: a stable hash, so every machine agrees. */
export function shardOf(key: string, seed: number, count: number): number {
  const s = `${key}:${seed}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % count;
}

export interface Shard {
  /** 0-based shard index, 0 ≤ index < count. */
  index: number;
  count: number;
}

/**
 * Where the sweep learns what is done and stores finished batches. @nalm/cli's `openStore` is the
 * durable one; anything with these two methods works (e.g. an array in a browser page).
 */
export interface RecordSink {
  /** `${key}:${seed}` of every record already stored. */
  doneKeys(): Set<string>;
  /** Store one finished batch. */
  appendMany(records: readonly RunRecord[]): void;
}

export interface SweepOptions {
  configs: readonly RunConfig[];
  seeds: readonly number[];
  store: RecordSink;
  /** 'auto' (default): the fused path where it supports the model, tfjs elsewhere. */
  engine?: Engine;
  /** The fused trainer (`fastTrainer`, which is `undefined` where it is not built in). */
  fast?: FastTrainer | undefined;
  /** Most replicas trained in one tfjs batch (default 100; bigger batches amortise per-op overhead). */
  maxReplicas?: number;
  /** Most replicas in one fused-path batch (default 10: small batches spread evenly over workers). */
  maxFastReplicas?: number;
  /** Train only this shard of the grid (see `shardOf`). */
  shard?: Shard;
  /** Where batches run (default: in this thread, one at a time). */
  executor?: BatchExecutor;
  /** Batches run at once with `executor` (default 1). */
  concurrency?: number;
  thresholdCache?: ThresholdCache;
  onEvent?: (e: SweepEvent) => void;
  /** Polled after every evaluation; true stops the sweep (finished batches are already stored). */
  shouldStop?: () => boolean;
}

export interface SweepResult {
  trained: number;
  skipped: number;
  /** Cells of the grid left to other shards. */
  otherShards: number;
  interrupted: boolean;
}

/** Most replicas per batch unless SweepOptions says otherwise (`nalm plan` forms the same batches). */
export const DEFAULT_MAX_REPLICAS = { fast: 10, tfjs: 100 } as const;

/** Relative training cost per seed-iteration of a model (1 when unknown). */
export function modelCost(model: string): number {
  return listModels().find((m) => m.name === model)?.cost ?? 1;
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
): SweepBatch[] {
  const max = typeof maxReplicas === 'number' ? () => maxReplicas : maxReplicas;
  const groups = new Map<string, ReplicaSpec[]>();
  for (const cell of cells) {
    const k = `${engineOf(cell.config)}|${batchKey(cell.config)}`;
    const g = groups.get(k);
    if (g) g.push(cell);
    else groups.set(k, [cell]);
  }
  const batches: SweepBatch[] = [];
  for (const group of groups.values()) {
    const size = max(engineOf(group[0]!.config));
    for (let i = 0; i < group.length; i += size) {
      const replicas = group.slice(i, i + size);
      batches.push({ index: 0, count: 0, replicas, engine: engineOf(replicas[0]!.config) });
    }
  }
  // Longest first (replicas × iterations × model cost), so parallel workers finish together.
  const cost = (b: SweepBatch) => {
    const c = b.replicas[0]!.config;
    return b.replicas.length * c.iterations * modelCost(c.model);
  };
  while (batches.length < parallel) {
    // The costliest fused batch of more than one replica, halved (the first half keeps its place).
    let at = -1;
    for (let k = 0; k < batches.length; k++) {
      const b = batches[k]!;
      if (b.engine === 'fast' && b.replicas.length > 1 && (at < 0 || cost(b) > cost(batches[at]!))) at = k;
    }
    if (at < 0) break;
    const b = batches[at]!;
    const half = Math.ceil(b.replicas.length / 2);
    batches.splice(at + 1, 0, { ...b, replicas: b.replicas.slice(half) });
    b.replicas = b.replicas.slice(0, half);
  }
  batches.sort((a, b) => cost(b) - cost(a)); // stable: equal costs keep grid order
  batches.forEach((b, i) => Object.assign(b, { index: i, count: batches.length }));
  return batches;
}

export async function runSweep(opts: SweepOptions): Promise<SweepResult> {
  const engine = opts.engine ?? 'auto';
  if (engine === 'fast' && !opts.fast)
    throw new Error("engine 'fast' requested but no fused trainer is available");
  const engineOf = (c: RunConfig): 'fast' | 'tfjs' => {
    if (engine === 'tfjs' || !opts.fast) return 'tfjs';
    if (opts.fast.supports(c)) return 'fast';
    if (engine === 'fast') {
      throw new Error(`engine 'fast' does not support model '${c.model}'; use --engine auto or tfjs`);
    }
    return 'tfjs';
  };
  const shard = opts.shard;
  if (
    shard &&
    !(
      Number.isInteger(shard.count) &&
      shard.count >= 1 &&
      Number.isInteger(shard.index) &&
      shard.index >= 0 &&
      shard.index < shard.count
    )
  ) {
    throw new Error(`shard ${shard.index}/${shard.count}: the index must be an integer from 0 to count − 1`);
  }

  const done = opts.store.doneKeys();
  const cells: ReplicaSpec[] = [];
  let skipped = 0;
  let otherShards = 0;
  for (const config of opts.configs) {
    const key = configKey(config);
    let threshold: number | null = null;
    for (const seed of opts.seeds) {
      if (shard && shardOf(key, seed, shard.count) !== shard.index) {
        otherShards++;
        continue;
      }
      if (done.has(recordId(key, seed))) {
        skipped++;
        continue;
      }
      threshold ??= cachedThreshold(config.task, {}, opts.thresholdCache);
      cells.push({ config, seed, threshold });
    }
  }
  const concurrency = Math.max(1, opts.executor ? (opts.concurrency ?? 1) : 1);
  const batches = planBatches(
    cells,
    (e) =>
      e === 'fast'
        ? (opts.maxFastReplicas ?? DEFAULT_MAX_REPLICAS.fast)
        : (opts.maxReplicas ?? DEFAULT_MAX_REPLICAS.tfjs),
    engineOf,
    concurrency,
  );
  opts.onEvent?.({
    type: 'plan',
    cells: cells.length + skipped,
    pending: cells.length,
    done: skipped,
    batches: batches.length,
    seedIterations: cells.reduce((a, c) => a + c.config.iterations, 0),
    work: cells.reduce((a, c) => a + c.config.iterations * modelCost(c.config.model), 0),
  });

  const inProcess: BatchExecutor = (batch, onProgress) => {
    const trainOpts: TrainReplicasOptions = {
      replicas: batch.replicas,
      onProgress,
      shouldStop: opts.shouldStop,
    };
    return batch.engine === 'fast' ? opts.fast!.train(trainOpts) : trainReplicas(trainOpts);
  };
  const execute = opts.executor ?? inProcess;

  let trained = 0;
  let interrupted = false;
  let next = 0;
  // A fixed number of lanes each take the next batch; records are stored as each batch finishes.
  const lane = async () => {
    while (!interrupted && next < batches.length) {
      const batch = batches[next++]!;
      opts.onEvent?.({ type: 'batch-start', batch });
      const started = Date.now();
      const records = await execute(batch, (progress) =>
        opts.onEvent?.({ type: 'progress', batch, progress }),
      );
      if (records === null) {
        interrupted = true;
        return;
      }
      opts.store.appendMany(records);
      trained += records.length;
      opts.onEvent?.({ type: 'batch-done', batch, records, seconds: (Date.now() - started) / 1000 });
      if (opts.shouldStop?.()) interrupted = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, batches.length)) }, lane));
  return { trained, skipped, otherShards, interrupted };
}
