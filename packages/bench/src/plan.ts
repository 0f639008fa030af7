/**
 * Planning a sweep before it runs (`nalm plan`): its size, the batches the sweep will form, their
 * wall time from measured training rates, and the number of cluster array tasks (shards) that keeps
 * every task under a target wall time. Pure functions on data: the rates come from a calibration
 * the caller measures (the CLI trains the first batch of each group briefly on this machine).
 *
 * The time model: a batch of R replicas × T iterations takes R·T / rate seconds, where rate is
 * the seed-iterations per second measured on that group's first (largest) batch on one worker.
 * Batches run on W lanes that each take the next batch, in the sweep's order, when free — exactly
 * as `runSweep` schedules them — so the estimate is that schedule's makespan. Startup (~5 s per
 * process) and threshold computations are not counted.
 */
import type { RunConfig } from './config.js';
import { configKey } from './config.js';
import type { StaticBatch as SweepBatch } from './sweep.js';
import { DEFAULT_MAX_REPLICAS, batchSizeFor, modelCost, planBatches, shardOf } from './sweep.js';
import type { ReplicaSpec } from './train/replicas.js';
import { batchKey } from './train/replicas.js';
import { splitForIdleWorkers } from './kinds/static.js';

export interface PlanGrid {
  configs: readonly RunConfig[];
  seeds: readonly number[];
  /** The engine each configuration trains on, as the sweep picks it. */
  engineOf: (c: RunConfig) => 'fast' | 'tfjs';
  /** Most replicas per batch per engine [the sweep's defaults, DEFAULT_MAX_REPLICAS]. */
  maxReplicas?: { fast: number; tfjs: number };
}

/** Seed-iterations per second of one worker, per batch group (see `batchGroup`). */
export type Rates = ReadonlyMap<string, number>;

/** Size of a grid in configurations, runs and seed-iterations. */
export function gridSize(grid: Pick<PlanGrid, 'configs' | 'seeds'>): {
  configurations: number;
  runs: number;
  seedIterations: number;
} {
  const seedIterations = grid.configs.reduce((a, c) => a + c.iterations, 0) * grid.seeds.length;
  return {
    configurations: grid.configs.length,
    runs: grid.configs.length * grid.seeds.length,
    seedIterations,
  };
}

/** The group whose speed a batch shares: its engine and everything that shapes its computation. */
export function batchGroup(b: Pick<SweepBatch, 'engine' | 'replicas'>): string {
  return `${b.engine}|${batchKey(b.replicas[0]!.config)}`;
}

interface Cell {
  /** shardOf's hash of the cell: its shard of N is hash % N (shardOf with N = 2^32 is the hash). */
  hash: number;
  spec: ReplicaSpec;
}

const HASH_RANGE = 2 ** 32;

function cellsOf(grid: PlanGrid): Cell[] {
  const cells: Cell[] = [];
  for (const config of grid.configs) {
    const key = configKey(config);
    // Planning needs no success threshold; the sweep computes the real one before training.
    for (const seed of grid.seeds)
      cells.push({ hash: shardOf(key, seed, HASH_RANGE), spec: { config, seed, threshold: 0 } });
  }
  return cells;
}

function batchesOf(grid: PlanGrid, specs: readonly ReplicaSpec[], workers: number): SweepBatch[] {
  const max = grid.maxReplicas ?? DEFAULT_MAX_REPLICAS;
  return planBatches(specs, (e) => max[e], grid.engineOf, workers);
}

/**
 * The batches the sweep forms for the whole grid (or one shard of it) on `workers` workers, in the
 * order it runs them (with fewer batches than workers the sweep splits fused batches; see
 * planBatches).
 */
export function gridBatches(
  grid: PlanGrid,
  shard?: { index: number; count: number },
  workers = 1,
): SweepBatch[] {
  const cells = cellsOf(grid).filter((c) => !shard || c.hash % shard.count === shard.index);
  return batchesOf(
    grid,
    cells.map((c) => c.spec),
    workers,
  );
}

/** One batch per group: the first, which is the group's largest (the sweep runs longest first). */
export function calibrationBatches(batches: readonly SweepBatch[]): SweepBatch[] {
  const seen = new Map<string, SweepBatch>();
  for (const b of batches) if (!seen.has(batchGroup(b))) seen.set(batchGroup(b), b);
  return [...seen.values()];
}

/** Estimated seconds of one batch on one worker. Throws if its group was not calibrated. */
export function batchSeconds(b: SweepBatch, rates: Rates): number {
  const rate = rates.get(batchGroup(b));
  if (rate === undefined || !(rate > 0)) throw new Error(`no training rate for batch group ${batchGroup(b)}`);
  return (b.replicas.length * b.replicas[0]!.config.iterations) / rate;
}

/**
 * Wall time of jobs run in the given order on `workers` lanes, each lane taking the next job when
 * it is free (runSweep's scheduling).
 */
export function lanesMakespan(durations: readonly number[], workers: number): number {
  const lanes = new Array<number>(Math.max(1, Math.min(workers, durations.length))).fill(0);
  for (const d of durations) {
    let i = 0;
    for (let j = 1; j < lanes.length; j++) if (lanes[j]! < lanes[i]!) i = j;
    lanes[i]! += d;
  }
  return Math.max(0, ...lanes);
}

/** Seconds on one worker for the whole grid (the sum of its batches). */
export function coreSeconds(batches: readonly SweepBatch[], rates: Rates): number {
  return batches.reduce((a, b) => a + batchSeconds(b, rates), 0);
}

/** Wall seconds of each of `shards` array tasks running `workers` workers each. */
export function shardSeconds(grid: PlanGrid, rates: Rates, shards: number, workers: number): number[] {
  return new ShardTimer(grid, rates).seconds(shards, workers);
}

/**
 * Per-shard wall times for many array sizes: the cells' groups and costs are computed once, then
 * each size re-forms planBatches' batches from them (same grouping, chunking and longest-first
 * order; `plan.test.ts` checks it equals gridBatches per shard). planBatches itself would hash
 * every configuration again for every size tried.
 */
class ShardTimer {
  private readonly hash: Uint32Array;
  private readonly group: Uint32Array;
  /** One replica's seconds, and the sweep's sort cost of one replica (iterations × model cost). */
  private readonly seconds1: Float64Array;
  private readonly cost1: Float64Array;
  private readonly groupSize: number[] = [];
  /** Per group: on the fused path (the sweep splits only those batches for idle workers). */
  private readonly groupFused: boolean[] = [];

  constructor(grid: PlanGrid, rates: Rates) {
    const cells = cellsOf(grid);
    const max = grid.maxReplicas ?? DEFAULT_MAX_REPLICAS;
    const groups = new Map<string, number>();
    this.hash = new Uint32Array(cells.length);
    this.group = new Uint32Array(cells.length);
    this.seconds1 = new Float64Array(cells.length);
    this.cost1 = new Float64Array(cells.length);
    const byConfig = new Map<RunConfig, { g: number; s: number; c: number }>();
    cells.forEach((cell, i) => {
      const config = cell.spec.config;
      let v = byConfig.get(config);
      if (!v) {
        const engine = grid.engineOf(config);
        const probe = { kind: 'static' as const, engine, replicas: [cell.spec] };
        const name = batchGroup(probe);
        let g = groups.get(name);
        if (g === undefined) {
          g = groups.size;
          groups.set(name, g);
          this.groupSize.push(batchSizeFor(config, engine, max[engine]));
          this.groupFused.push(engine === 'fast');
        }
        v = {
          g,
          s: batchSeconds({ ...probe, index: 0, count: 1 }, rates),
          c: config.iterations * modelCost(config.model),
        };
        byConfig.set(config, v);
      }
      this.hash[i] = cell.hash;
      this.group[i] = v.g;
      this.seconds1[i] = v.s;
      this.cost1[i] = v.c;
    });
  }

  seconds(shards: number, workers: number): number[] {
    const perShard: number[][] = Array.from({ length: shards }, () => []);
    for (let i = 0; i < this.hash.length; i++) perShard[this.hash[i]! % shards]!.push(i);
    return perShard.map((cells) => {
      const groups = new Map<number, number[]>(); // insertion order = planBatches' group order
      for (const i of cells) {
        const g = groups.get(this.group[i]!);
        if (g) g.push(i);
        else groups.set(this.group[i]!, [i]);
      }
      const batches: { members: number[]; fused: boolean }[] = [];
      for (const [g, members] of groups) {
        const size = this.groupSize[g]!;
        for (let k = 0; k < members.length; k += size) {
          batches.push({ members: members.slice(k, k + size), fused: this.groupFused[g]! });
        }
      }
      const cost = (b: { members: number[] }) => b.members.length * this.cost1[b.members[0]!]!;
      // The sweep's split for idle workers (planBatches).
      splitForIdleWorkers(
        batches,
        workers,
        cost,
        (b) => (b.fused ? b.members : null),
        (b, members) => ({ members, fused: b.fused }),
      );
      batches.sort((a, b) => cost(b) - cost(a)); // stable, as in planBatches
      return lanesMakespan(
        batches.map((b) => b.members.reduce((a, i) => a + this.seconds1[i]!, 0)),
        workers,
      );
    });
  }
}

export interface ArrayPlan {
  /** The smallest number of array tasks whose longest task fits the target; null if none does. */
  shards: number | null;
  /** The longest task's estimated wall seconds with that many tasks (with one task if `shards` is null). */
  maxTaskSeconds: number;
  /** Estimated seconds of the longest single run: no array size gets a task below this. */
  longestRunSeconds: number;
}

/**
 * The array size for a target wall time per task: the smallest N ≥ ⌈core seconds / (workers ·
 * target)⌉ (a lower bound: N tasks cannot finish sooner) whose longest shard's estimated wall time
 * is at most the target. Shards are a hash of (configuration, seed), so they are not perfectly even;
 * each candidate N is evaluated with the real shard assignment.
 */
export function suggestArraySize(
  grid: PlanGrid,
  rates: Rates,
  workers: number,
  targetSeconds: number,
  maxShards = 10_000,
): ArrayPlan {
  const batches = gridBatches(grid);
  const total = coreSeconds(batches, rates);
  const longestRunSeconds = Math.max(
    0,
    ...batches.map((b) => batchSeconds(b, rates) / b.replicas.length), // one replica of the batch
  );
  const timer = new ShardTimer(grid, rates);
  const runs = gridSize(grid).runs;
  // A task cannot be shorter than its longest run, and an array needs no more tasks than runs.
  if (longestRunSeconds <= targetSeconds) {
    const limit = Math.min(runs, maxShards);
    for (let n = Math.max(1, Math.ceil(total / (workers * targetSeconds))); n <= limit; n++) {
      const max = Math.max(...timer.seconds(n, workers));
      if (max <= targetSeconds) return { shards: n, maxTaskSeconds: max, longestRunSeconds };
    }
  }
  const oneTask = lanesMakespan(
    gridBatches(grid, undefined, workers).map((b) => batchSeconds(b, rates)),
    workers,
  );
  return { shards: null, maxTaskSeconds: oneTask, longestRunSeconds };
}
