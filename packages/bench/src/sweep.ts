/**
 * The sweep: a grid of (configuration, seed) cells of one task kind → batches → records appended to
 * a result store as each batch finishes. Finished cells already in the store are skipped, so the
 * same command resumes an interrupted run; `shard` keeps only this machine's part of the grid. What
 * a cell is, how cells batch and how a batch trains is the kind's business (kinds/); this file only
 * runs the steps: cells → shard and done filters → the kind's plan → lanes → store.
 */
import type { RunConfig } from './config.js';
import type { Cell, TaskKind } from './kinds/kind.js';
import type { SweepBatch, SweepProgress } from './kinds/index.js';
import { nsrKind, staticKind, trainBatch } from './kinds/index.js';
import type { Engine, FastTrainer, StaticBatch } from './kinds/static.js';
import type { NsrBatch } from './kinds/nsr.js';
import type { NsrTrainProgress } from './nsr/trainer.js';
import type { TrainProgress } from './train/replicas.js';
import type { NsrRecord, NsrRunConfig } from './nsr/config.js';
import type { RunRecord, StoreRecord } from './record.js';
import { recordId } from './store/codec.js';
import type { ThresholdCache } from './threshold.js';

export type { Engine, FastTrainer, SweepBatch, SweepProgress };
export type { StaticBatch };
export {
  DEFAULT_MAX_REPLICAS,
  FAST_BATCH_WORK,
  batchSizeFor,
  modelCost,
  planBatches,
} from './kinds/static.js';

/** What a sweep reports as it runs; `StaticSweepEvent` and `NsrSweepEvent` are its two kinds'. */
export type SweepEvent<
  B extends SweepBatch = SweepBatch,
  R extends StoreRecord = StoreRecord,
  P = SweepProgress,
> =
  | {
      type: 'plan';
      cells: number;
      pending: number;
      done: number;
      batches: number;
      /** Seed-iterations (NSR: seed-epochs) to train. */
      seedIterations: number;
      /** seedIterations weighted by each model's relative cost (ModelDef.cost). */
      work: number;
    }
  | { type: 'batch-start'; batch: B }
  | { type: 'progress'; batch: B; progress: P }
  | { type: 'batch-done'; batch: B; records: R[]; seconds: number };

export type StaticSweepEvent = SweepEvent<StaticBatch, RunRecord, TrainProgress>;
export type NsrSweepEvent = SweepEvent<NsrBatch, NsrRecord, NsrTrainProgress>;

/** Runs one batch (in this thread, or on a worker) and returns its records, or null if stopped. */
export type BatchExecutor = (
  batch: SweepBatch,
  onProgress: (p: SweepProgress) => void,
) => Promise<StoreRecord[] | null>;

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
 * durable one (it holds records of every kind); anything with these two methods works (e.g. an
 * array in a browser page).
 */
export interface RecordSink<R extends StoreRecord = StoreRecord> {
  /** `${key}:${seed}` of every record already stored. */
  doneKeys(): Set<string>;
  /** Store one finished batch. */
  appendMany(records: readonly R[]): void;
}

interface CommonSweepOptions {
  seeds: readonly number[];
  /** Static task: 'auto' (default) is the fused path where it supports the model, tfjs elsewhere. */
  engine?: Engine;
  /** Static task: the fused trainer (`fastTrainer`, which is `undefined` where it is not built in). */
  fast?: FastTrainer | undefined;
  /** Most replicas trained in one tfjs batch (static default 100, NSR float32 default 120). */
  maxReplicas?: number;
  /** Static task: most replicas in one fused-path batch (default 10; fewer for long runs, see FAST_BATCH_WORK). */
  maxFastReplicas?: number;
  /** Train only this shard of the grid (see `shardOf`). */
  shard?: Shard;
  /** Where batches run (default: in this thread, one at a time). */
  executor?: BatchExecutor;
  /** Batches run at once with `executor` (default 1). */
  concurrency?: number;
  thresholdCache?: ThresholdCache;
  /** Polled after every evaluation; true stops the sweep (finished batches are already stored). */
  shouldStop?: () => boolean;
  /**
   * Asked before each batch starts; true starts no more (a time limit: the batches in flight finish
   * and are stored, so nothing trained is lost, unlike a stop).
   */
  startNoMore?: () => boolean;
}

/** The grid: configurations of one task kind (static unless `kind` says otherwise) × seeds. */
export type SweepOptions = CommonSweepOptions &
  (
    | {
        kind?: 'static';
        configs: readonly RunConfig[];
        store: RecordSink<RunRecord>;
        onEvent?: (e: StaticSweepEvent) => void;
      }
    | {
        kind: 'nsr';
        configs: readonly NsrRunConfig[];
        store: RecordSink<NsrRecord>;
        onEvent?: (e: NsrSweepEvent) => void;
      }
  );

export interface SweepResult {
  trained: number;
  skipped: number;
  /** Cells of the grid left to other shards. */
  otherShards: number;
  interrupted: boolean;
  /** Batches left unstarted because `startNoMore` said so. */
  notStarted: number;
}

export async function runSweep(opts: SweepOptions): Promise<SweepResult> {
  const parallel = Math.max(1, opts.executor ? (opts.concurrency ?? 1) : 1);
  if (opts.kind === 'nsr')
    return sweepKind(nsrKind, opts.configs, opts.store, opts.onEvent, opts, {
      maxReplicas: opts.maxReplicas,
      parallel,
    });
  return sweepKind(staticKind, opts.configs, opts.store, opts.onEvent, opts, {
    engine: opts.engine,
    fast: opts.fast,
    maxReplicas: opts.maxReplicas,
    maxFastReplicas: opts.maxFastReplicas,
    thresholdCache: opts.thresholdCache,
    parallel,
  });
}

function checkShard(shard: Shard | undefined): void {
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
}

/** The steps of a sweep, for any kind. */
async function sweepKind<
  C,
  R extends StoreRecord,
  B extends SweepBatch,
  P,
  PlanCtx extends { parallel: number },
>(
  kind: TaskKind<C, R, B, P, PlanCtx, object>,
  configs: readonly C[],
  store: RecordSink<R>,
  onEvent: ((e: SweepEvent<B, R, P>) => void) | undefined,
  opts: CommonSweepOptions,
  planCtx: PlanCtx,
): Promise<SweepResult> {
  checkShard(opts.shard);

  // 1. The cells this process trains: its shard, minus what the store already holds.
  const done = store.doneKeys();
  const cells: Cell<C>[] = [];
  let skipped = 0;
  let otherShards = 0;
  for (const config of configs) {
    const key = kind.key(config);
    for (const seed of opts.seeds) {
      if (opts.shard && shardOf(key, seed, opts.shard.count) !== opts.shard.index) otherShards++;
      else if (done.has(recordId(key, seed))) skipped++;
      else cells.push({ config, seed });
    }
  }

  // 2. The kind groups them into batches, in the order they should run.
  const batches = kind.plan(cells, planCtx);
  const work = cells.map((c) => kind.work(c.config));
  onEvent?.({
    type: 'plan',
    cells: cells.length + skipped,
    pending: cells.length,
    done: skipped,
    batches: batches.length,
    seedIterations: work.reduce((a, w) => a + w.iterations, 0),
    work: work.reduce((a, w) => a + w.weighted, 0),
  });

  // 3. Lanes (one per worker) take the next batch; each finished batch is stored at once.
  const execute: BatchExecutor =
    opts.executor ??
    ((batch, onProgress) => trainBatch(batch, { onProgress, shouldStop: opts.shouldStop, fast: opts.fast }));
  let trained = 0;
  let interrupted = false;
  let next = 0;
  let held = false;
  const lane = async () => {
    while (!interrupted && next < batches.length) {
      if (held || opts.startNoMore?.()) {
        held = true;
        return;
      }
      const batch = batches[next++]!;
      onEvent?.({ type: 'batch-start', batch });
      const started = Date.now();
      const records = (await execute(batch, (progress) =>
        onEvent?.({ type: 'progress', batch, progress: progress as P }),
      )) as R[] | null;
      if (records === null) {
        interrupted = true;
        return;
      }
      store.appendMany(records);
      trained += records.length;
      onEvent?.({ type: 'batch-done', batch, records, seconds: (Date.now() - started) / 1000 });
      if (opts.shouldStop?.()) interrupted = true;
    }
  };
  const lanes = Math.min(planCtx.parallel, Math.max(1, batches.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return { trained, skipped, otherShards, interrupted, notStarted: held ? batches.length - next : 0 };
}
