/**
 * Batch planning for parallel workers: with fewer batches than workers, fused-path batches are split
 * so every worker trains, and the records stay byte for byte those of the unsplit run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import type { RunConfig } from '../src/config.js';
import { configKey } from '../src/config.js';
import { fastTrainer } from '../src/fast-trainer.js';
import type { RunRecord } from '../src/record.js';
import { recordId, recordLine } from '../src/store/codec.js';
import type { BatchExecutor, SweepBatch } from '../src/sweep.js';
import { planBatches, runSweep } from '../src/sweep.js';
import { defaultStaticTask } from '../src/tasks/static.js';
import type { ReplicaSpec } from '../src/train/replicas.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const config = (model: string, iterations = 300): RunConfig => ({
  task: defaultStaticTask({ op: 'mul' }),
  model,
  hidden: 2,
  batch: 128,
  lr: 1e-3,
  iterations,
  evalEvery: 100,
  schedule: null,
  oobWeight: 1,
});
const cells = (c: RunConfig, seeds: number[]): ReplicaSpec[] =>
  seeds.map((seed) => ({ config: c, seed, threshold: 1e-5 }));
const seeds10 = Array.from({ length: 10 }, (_, k) => k);
const sizes = (bs: SweepBatch[]) => bs.map((b) => b.replicas.length);
const seedsOf = (bs: SweepBatch[]) => bs.flatMap((b) => b.replicas.map((r) => r.seed)).sort((a, b) => a - b);

describe('planBatches for parallel workers', () => {
  it('splits one fused batch of 10 seeds into one batch per worker, every seed once', () => {
    const all = cells(config('nmu'), seeds10);
    expect(sizes(planBatches(all, 10, () => 'fast'))).toEqual([10]);
    expect(sizes(planBatches(all, 10, () => 'fast', 1))).toEqual([10]);
    const two = planBatches(all, 10, () => 'fast', 2);
    expect(sizes(two)).toEqual([5, 5]);
    expect(seedsOf(two)).toEqual(seeds10);
    expect(two.map((b) => [b.index, b.count])).toEqual([
      [0, 2],
      [1, 2],
    ]);
    const three = planBatches(all, 10, () => 'fast', 3);
    expect(three).toHaveLength(3);
    expect(seedsOf(three)).toEqual(seeds10);
    // Never below one replica per batch.
    const many = planBatches(cells(config('nmu'), [0, 1, 2]), 10, () => 'fast', 8);
    expect(sizes(many)).toEqual([1, 1, 1]);
  });

  it('keeps long fused runs to small batches (a kill loses at most one), tfjs batches whole', () => {
    const long = (model: string) => cells(config(model, 5_000_000), seeds10);
    expect(sizes(planBatches(long('nmu'), 10, () => 'fast'))).toEqual([2, 2, 2, 2, 2]);
    expect(sizes(planBatches(long('nalu'), 10, () => 'fast'))).toEqual(Array(10).fill(1));
    expect(sizes(planBatches(long('nmu'), 100, () => 'tfjs'))).toEqual([10]);
    expect(sizes(planBatches(cells(config('nmu', 1_000_000), seeds10), 10, () => 'fast'))).toEqual([10]);
  });

  it('leaves tfjs batches whole and does not split when there are enough batches', () => {
    expect(sizes(planBatches(cells(config('nmu'), seeds10), 100, () => 'tfjs', 2))).toEqual([10]);
    const twoConfigs = [...cells(config('nmu'), [0, 1, 2, 3]), ...cells(config('nau'), [0, 1, 2, 3])];
    expect(sizes(planBatches(twoConfigs, 10, () => 'fast', 2))).toEqual([4, 4]);
  });

  it('records of a sweep split over two lanes are byte-identical to the one-batch run', async () => {
    const c = config('nmu', 250);
    const run = async (concurrency: number) => {
      const stored: RunRecord[] = [];
      const batches: number[] = [];
      const executor: BatchExecutor = (batch, onProgress) => {
        if (batch.kind !== 'static') throw new Error('a static grid plans static batches');
        batches.push(batch.replicas.length);
        return fastTrainer!.train({ replicas: batch.replicas, onProgress });
      };
      await runSweep({
        configs: [c],
        seeds: [0, 1, 2, 3],
        store: { doneKeys: () => new Set(), appendMany: (r) => stored.push(...r) },
        fast: fastTrainer!,
        executor,
        concurrency,
        thresholdCache: { get: () => 1e-5, set: () => {} },
      });
      stored.sort((a, b) => a.seed - b.seed);
      return { lines: stored.map((r) => recordLine(r)), batches };
    };
    const one = await run(1);
    const two = await run(2);
    expect(one.batches).toEqual([4]);
    expect(two.batches).toEqual([2, 2]);
    expect(two.lines).toEqual(one.lines);
  });
});

describe('a time limit (startNoMore)', () => {
  it('starts no batch once it says so, stores the batches in flight, and a second sweep trains only the rest', async () => {
    const c = config('nmu');
    const key = configKey(c);
    const stored = new Set<string>();
    let started = 0;
    // Records are not looked at here: the executor stands in for training, a little slower than instant.
    const executor: BatchExecutor = async (batch) => {
      started++;
      await new Promise((r) => setTimeout(r, 5));
      return batch.replicas.map((r) => ({ seed: r.seed }) as unknown as RunRecord);
    };
    const sweep = (startNoMore?: () => boolean) =>
      runSweep({
        configs: [c],
        seeds: seeds10,
        store: {
          doneKeys: () => stored,
          appendMany: (rs) => rs.forEach((r) => stored.add(recordId(key, r.seed))),
        },
        engine: 'tfjs',
        maxReplicas: 2,
        executor,
        concurrency: 2,
        thresholdCache: { get: () => 1e-5, set: () => {} },
        startNoMore,
      });
    // Two lanes start batches 1 and 2; the first to finish starts batch 3; then the limit holds both.
    const first = await sweep(() => started >= 3);
    expect(first).toMatchObject({ trained: 6, notStarted: 2, interrupted: false });
    expect(stored.size).toBe(6);
    const second = await sweep();
    expect(second).toMatchObject({ trained: 4, skipped: 6, notStarted: 0 });
    expect(stored.size).toBe(10);
  });
});
