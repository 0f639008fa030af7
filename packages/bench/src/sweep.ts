/**
 * The sweep: a grid of (configuration, seed) cells → batches of replicas → records appended to a
 * result store as each batch finishes. Finished cells already in the store are skipped, so the same
 * command resumes an interrupted run.
 */
import type { RunConfig } from './config.js';
import { configKey } from './config.js';
import type { RunRecord } from './record.js';
import type { ResultStore } from './store/index.js';
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
  | { type: 'plan'; cells: number; pending: number; done: number; batches: number }
  | { type: 'batch-start'; batch: SweepBatch }
  | { type: 'progress'; batch: SweepBatch; progress: TrainProgress }
  | { type: 'batch-done'; batch: SweepBatch; records: RunRecord[]; seconds: number };

/** A fused trainer for built-in models (optional; see fast/). */
export interface FastTrainer {
  supports(config: RunConfig): boolean;
  train(opts: TrainReplicasOptions): Promise<RunRecord[] | null>;
}

export interface SweepOptions {
  configs: readonly RunConfig[];
  seeds: readonly number[];
  store: ResultStore;
  /** 'auto' (default): the fused path where it supports the model, tfjs elsewhere. */
  engine?: Engine;
  fast?: FastTrainer;
  /** Most replicas trained in one batch (default 100). */
  maxReplicas?: number;
  thresholdCache?: ThresholdCache;
  onEvent?: (e: SweepEvent) => void;
  /** Polled after every evaluation; true stops the sweep (finished batches are already stored). */
  shouldStop?: () => boolean;
}

export interface SweepResult {
  trained: number;
  skipped: number;
  interrupted: boolean;
}

/** Group pending cells into batches of compatible replicas (same `batchKey`), in grid order. */
export function planBatches(
  cells: readonly ReplicaSpec[],
  maxReplicas: number,
  engineOf: (c: RunConfig) => 'fast' | 'tfjs',
): SweepBatch[] {
  const groups = new Map<string, ReplicaSpec[]>();
  for (const cell of cells) {
    const k = `${engineOf(cell.config)}|${batchKey(cell.config)}`;
    const g = groups.get(k);
    if (g) g.push(cell);
    else groups.set(k, [cell]);
  }
  const batches: SweepBatch[] = [];
  for (const group of groups.values()) {
    for (let i = 0; i < group.length; i += maxReplicas) {
      const replicas = group.slice(i, i + maxReplicas);
      batches.push({ index: 0, count: 0, replicas, engine: engineOf(replicas[0]!.config) });
    }
  }
  batches.forEach((b, i) => Object.assign(b, { index: i, count: batches.length }));
  return batches;
}

export async function runSweep(opts: SweepOptions): Promise<SweepResult> {
  const engine = opts.engine ?? 'auto';
  const maxReplicas = opts.maxReplicas ?? 100;
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

  const done = opts.store.doneKeys();
  const cells: ReplicaSpec[] = [];
  let skipped = 0;
  for (const config of opts.configs) {
    const key = configKey(config);
    let threshold: number | null = null;
    for (const seed of opts.seeds) {
      if (done.has(recordId(key, seed))) {
        skipped++;
        continue;
      }
      threshold ??= cachedThreshold(config.task, {}, opts.thresholdCache);
      cells.push({ config, seed, threshold });
    }
  }
  const batches = planBatches(cells, maxReplicas, engineOf);
  opts.onEvent?.({
    type: 'plan',
    cells: cells.length + skipped,
    pending: cells.length,
    done: skipped,
    batches: batches.length,
  });

  let trained = 0;
  for (const batch of batches) {
    opts.onEvent?.({ type: 'batch-start', batch });
    const started = Date.now();
    const trainOpts: TrainReplicasOptions = {
      replicas: batch.replicas,
      onProgress: (progress) => opts.onEvent?.({ type: 'progress', batch, progress }),
      shouldStop: opts.shouldStop,
    };
    const records =
      batch.engine === 'fast' ? await opts.fast!.train(trainOpts) : await trainReplicas(trainOpts);
    if (records === null) return { trained, skipped, interrupted: true };
    opts.store.appendMany(records);
    trained += records.length;
    opts.onEvent?.({ type: 'batch-done', batch, records, seconds: (Date.now() - started) / 1000 });
    if (opts.shouldStop?.()) return { trained, skipped, interrupted: true };
  }
  return { trained, skipped, interrupted: false };
}
