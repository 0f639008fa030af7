/**
 * The planning arithmetic of `nalm plan` (src/plan.ts): sizes, the sweep's batches and schedule,
 * per-shard times and the suggested array size, on made-up rates.
 */
import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../src/config.js';
import { configKey } from '../src/config.js';
import { FAST_BATCH_WORK, shardOf } from '../src/sweep.js';
import type { PlanGrid } from '../src/plan.js';
import {
  batchGroup,
  batchSeconds,
  calibrationBatches,
  coreSeconds,
  gridBatches,
  gridSize,
  lanesMakespan,
  shardSeconds,
  suggestArraySize,
} from '../src/plan.js';
import { expandPreset, getPreset } from '../src/presets.js';

// A fixed grid built on the quick preset's task, without its per-model op limits and at a fixed
// run length, so the arithmetic below does not move when the quick preset is retuned.
const { modelOps: _modelOps, ...quick } = getPreset('quick');
const base = { ...quick, iterations: 20_000 };
// Two engines (NALU on tfjs here) and two run lengths, so grouping and ordering matter.
const configs: RunConfig[] = [
  ...expandPreset({ ...base, models: ['nau', 'nmu', 'nalu'], ops: ['add', 'mul'] }),
  ...expandPreset({ ...base, models: ['nac'], ops: ['sub'], iterations: 50_000 }),
];
const grid: PlanGrid = {
  configs,
  seeds: Array.from({ length: 23 }, (_, i) => i),
  engineOf: (c) => (c.model === 'nalu' ? 'tfjs' : 'fast'),
  maxReplicas: { fast: 10, tfjs: 30 },
};
const rates = new Map(
  calibrationBatches(gridBatches(grid)).map((b) => [batchGroup(b), b.engine === 'fast' ? 20_000 : 3_000]),
);

describe('plan: sizes and the sweep’s batches', () => {
  it('counts runs and seed-iterations', () => {
    const s = gridSize(grid);
    expect(s.configurations).toBe(7);
    expect(s.runs).toBe(7 * 23);
    expect(s.seedIterations).toBe((6 * 20_000 + 50_000) * 23);
  });

  it('forms batches holding every run once, within the engine’s batch limit, one group per model', () => {
    const batches = gridBatches(grid);
    expect(batches.reduce((a, b) => a + b.replicas.length, 0)).toBe(gridSize(grid).runs);
    for (const b of batches) expect(b.replicas.length).toBeLessThanOrEqual(b.engine === 'fast' ? 10 : 30);
    expect(
      calibrationBatches(batches)
        .map((b) => b.replicas[0]!.config.model)
        .sort(),
    ).toEqual(['nac', 'nalu', 'nau', 'nmu']);
  });

  it('puts each run in the shard the sweep gives it (shardOf)', () => {
    for (const n of [2, 7]) {
      for (let k = 0; k < n; k++) {
        for (const b of gridBatches(grid, { index: k, count: n }))
          for (const r of b.replicas) expect(shardOf(configKey(r.config), r.seed, n)).toBe(k);
      }
    }
  });

  it('splits the grid into shards that together hold every run exactly once', () => {
    for (const n of [1, 3, 8]) {
      const ids = Array.from({ length: n }, (_, k) =>
        gridBatches(grid, { index: k, count: n }).flatMap((b) =>
          b.replicas.map((r) => `${r.config.model}/${r.config.task.op}/${r.seed}`),
        ),
      ).flat();
      expect(ids.length).toBe(gridSize(grid).runs);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });
});

describe('plan: times', () => {
  it('runs jobs on lanes in order, each lane taking the next job when free', () => {
    expect(lanesMakespan([3, 3, 2, 2], 2)).toBe(5);
    expect(lanesMakespan([5, 1, 1, 1, 1, 1], 2)).toBe(5);
    expect(lanesMakespan([1, 2, 3], 1)).toBe(6);
    expect(lanesMakespan([1, 2, 3], 8)).toBe(3);
    expect(lanesMakespan([], 4)).toBe(0);
  });

  it('core seconds are seed-iterations over the rates; wall time is between core/W and core', () => {
    const batches = gridBatches(grid);
    const core = coreSeconds(batches, rates);
    const expected = ((4 * 20_000 + 50_000) * 23) / 20_000 + (2 * 20_000 * 23) / 3_000;
    expect(core).toBeCloseTo(expected, 9);
    for (const w of [1, 2, 4]) {
      const wall = lanesMakespan(
        batches.map((b) => batchSeconds(b, rates)),
        w,
      );
      expect(wall).toBeGreaterThanOrEqual(core / w - 1e-9);
      expect(wall).toBeLessThanOrEqual(core + 1e-9);
    }
    expect(() => batchSeconds(batches[0]!, new Map())).toThrow(/no training rate/);
  });

  it('per-shard times equal the sweep’s own batches of each shard on the lanes', () => {
    // Up to 40 shards of 161 runs: many shards have fewer batches than workers, where the sweep
    // splits fused batches (planBatches) and the timer must too.
    for (const n of [1, 2, 5, 13, 40]) {
      for (const w of [1, 3, 8]) {
        const reference = Array.from({ length: n }, (_, k) =>
          lanesMakespan(
            gridBatches(grid, { index: k, count: n }, w).map((b) => batchSeconds(b, rates)),
            w,
          ),
        );
        const fast = shardSeconds(grid, rates, n, w);
        expect(fast.length).toBe(n);
        fast.forEach((s, k) => expect(s).toBeCloseTo(reference[k]!, 9));
      }
    }
  });
});

describe('plan: long runs', () => {
  // At the paper's 5M iterations a fused batch holds what FAST_BATCH_WORK allows (2 NMU seeds, 1 of
  // the costlier NALU), and the per-shard timer must form the same batches as the sweep.
  const long: PlanGrid = {
    configs: expandPreset({ ...base, models: ['nmu', 'nalu'], ops: ['mul'], iterations: 5_000_000 }),
    seeds: Array.from({ length: 9 }, (_, i) => i),
    engineOf: () => 'fast',
    maxReplicas: { fast: 10, tfjs: 30 },
  };
  // Different rates per group, so a timer that chunked a group differently would show.
  const longRates = new Map(
    calibrationBatches(gridBatches(long)).map((b) => [
      batchGroup(b),
      b.replicas[0]!.config.model === 'nalu' ? 5_000 : 20_000,
    ]),
  );

  it('caps fused batches by work, and the per-shard times still equal the sweep’s batches', () => {
    const batches = gridBatches(long);
    const perModel = (m: string) =>
      batches.filter((b) => b.replicas[0]!.config.model === m).map((b) => b.replicas.length);
    expect(FAST_BATCH_WORK / 5_000_000).toBe(2);
    expect(perModel('nmu')).toEqual([2, 2, 2, 2, 1]);
    expect(perModel('nalu')).toEqual(Array(9).fill(1));
    for (const n of [1, 2, 3, 5, 7]) {
      for (const w of [1, 2, 3]) {
        const reference = Array.from({ length: n }, (_, k) =>
          lanesMakespan(
            gridBatches(long, { index: k, count: n }, w).map((b) => batchSeconds(b, longRates)),
            w,
          ),
        );
        shardSeconds(long, longRates, n, w).forEach((s, k) => expect(s).toBeCloseTo(reference[k]!, 9));
      }
    }
  });
});

describe('plan: the suggested array size', () => {
  const core = coreSeconds(gridBatches(grid), rates);

  it('is the smallest size from the lower bound whose longest task fits the target', () => {
    for (const [workers, target] of [
      [1, 60],
      [2, 30],
      [4, 20],
    ] as const) {
      const a = suggestArraySize(grid, rates, workers, target);
      expect(a.shards).not.toBeNull();
      const n = a.shards!;
      expect(n).toBeGreaterThanOrEqual(Math.ceil(core / (workers * target)));
      expect(a.maxTaskSeconds).toBeLessThanOrEqual(target);
      expect(a.maxTaskSeconds).toBeCloseTo(Math.max(...shardSeconds(grid, rates, n, workers)), 9);
      for (let m = Math.ceil(core / (workers * target)); m < n; m++)
        expect(Math.max(...shardSeconds(grid, rates, m, workers))).toBeGreaterThan(target);
    }
  });

  it('is one task when the whole grid fits the target', () => {
    const a = suggestArraySize(grid, rates, 2, 1e9);
    expect(a.shards).toBe(1);
  });

  it('is null when a single run is longer than the target', () => {
    const a = suggestArraySize(grid, rates, 4, 2); // a NALU run: 20,000 / 3,000 ≈ 6.7 s
    expect(a.longestRunSeconds).toBeCloseTo(20_000 / 3_000, 9);
    expect(a.shards).toBeNull();
  });
});
