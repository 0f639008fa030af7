import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { UnitDef } from '@nalm/units';
import { initBackend, nauDef } from '@nalm/units';
import type { RunConfig } from '../src/config.js';
import { configKey } from '../src/config.js';
import { Arena, kernelsLoaded, useKernels } from '../src/fast/wasm.js';
import { registerModel } from '../src/models/registry.js';
import { defaultStaticTask } from '../src/tasks/static.js';
import { trainReplicas } from '../src/train/replicas.js';
import type { ReplicaSpec } from '../src/train/replicas.js';
import type { RunRecord } from '../src/record.js';
import type { RecordSink, SweepOptions } from '../src/sweep.js';
import { runSweep } from '../src/sweep.js';

const config = (over: Partial<RunConfig> = {}): RunConfig => ({
  task: defaultStaticTask({ op: 'add', inputSize: 20 }),
  model: 'nau',
  hidden: 2,
  batch: 32,
  lr: 1e-2,
  iterations: 300,
  evalEvery: 100,
  schedule: { lambda: 0.01, start: 50, end: 200 },
  oobWeight: 1,
  ...over,
});

const specs = (c: RunConfig, seeds: number[], threshold = 1e-5): ReplicaSpec[] =>
  seeds.map((seed) => ({ config: c, seed, threshold }));

/**
 * A unit that blows up for some seeds: its scale parameter starts at 0 or at 1000 depending on the
 * seed's first draw, and exp(scale) overflows float32 to Inf → the loss is non-finite at step 0.
 */
const explodingDef: UnitDef<Record<never, never>> = {
  name: 'exploding',
  className: 'Exploding',
  defaults: {},
  params: ({ inputSize, units }) => [
    { name: 'W', shape: [inputSize, units] },
    { name: 'scale', shape: [1, units] },
  ],
  init: (p, shape, _o, rng) =>
    p.name === 'W'
      ? nauDef.init(p, shape, nauDef.defaults, rng)
      : new Float32Array(p.shape[1]!).fill(rng.next() < 0.3 ? 1000 : 0),
  forward: (p, x) => tf.mul(tf.matMul(x, p.W!), tf.exp(p.scale!)),
  effectiveWeights: (p) => ({ W: p.W! }),
};

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`batched trainer on the ${backend} backend`, () => {
    beforeAll(async () => {
      expect(await initBackend(backend)).toBe(backend);
    });

    it('a seed gets the identical record alone, in a batch of 10, and on re-run', async () => {
      const c = config();
      const alone = (await trainReplicas({ replicas: specs(c, [3]) }))!;
      const batch = (await trainReplicas({ replicas: specs(c, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) }))!;
      const again = (await trainReplicas({ replicas: specs(c, [3]) }))!;
      expect(batch).toHaveLength(10);
      expect(batch[3]).toEqual(alone[0]);
      expect(again[0]).toEqual(alone[0]);
      // Different seeds really differ (the comparison above is not vacuous).
      expect(batch[2]!.curve).not.toEqual(batch[3]!.curve);
    });

    it('replicas of different operations share a batch without affecting each other', async () => {
      const add = config();
      const sub = config({ task: defaultStaticTask({ op: 'sub', inputSize: 20 }) });
      const mixed = (await trainReplicas({ replicas: [...specs(add, [1]), ...specs(sub, [1])] }))!;
      const subAlone = (await trainReplicas({ replicas: specs(sub, [1]) }))!;
      expect(mixed[1]).toEqual(subAlone[0]);
      expect(mixed[0]!.key).toBe(configKey(add));
      expect(mixed[1]!.key).toBe(configKey(sub));
    });

    it('evaluates at 0, every evalEvery and at the end, and records the outcome', async () => {
      const [r] = (await trainReplicas({ replicas: specs(config(), [0], 1e9) }))!;
      expect(r!.curve.map((p) => p.step)).toEqual([0, 100, 200, 300]);
      expect(r!.iterations).toBe(300);
      expect(r!.solved).toBe(true); // threshold 1e9: everything is below it
      expect(r!.solvedAt).toBe(0);
      expect(r!.bestStep).not.toBe(0);
      // Training reduces the interpolation error on this easy task.
      expect(r!.curve.at(-1)!.interpolation).toBeLessThan(r!.curve[0]!.interpolation);
    });

    it('a diverging replica is stopped and recorded without disturbing the others', async () => {
      registerModel(
        {
          name: 'test-exploding',
          label: 'Exploding',
          description: 'test model',
          layers: (I, h) => [
            { def: explodingDef as UnitDef<never>, options: {}, shape: { inputSize: I, units: h } },
            { def: nauDef as UnitDef<never>, options: nauDef.defaults, shape: { inputSize: h, units: 1 } },
          ],
          schedule: null,
        },
        { replace: true },
      );
      const c = config({ model: 'test-exploding' });
      const seeds = [0, 1, 2, 3, 4, 5, 6, 7];
      const all = (await trainReplicas({ replicas: specs(c, seeds) }))!;
      const bad = all.filter((r) => r.diverged !== null);
      const good = all.filter((r) => r.diverged === null);
      expect(bad.length).toBeGreaterThan(0);
      expect(good.length).toBeGreaterThan(0);
      for (const r of bad) {
        expect(r.solved).toBe(false);
        expect(r.diverged!.step).toBe(0);
        expect(r.diverged!.reason).toMatch(/non-finite/);
        expect(r.iterations).toBe(0);
      }
      const goodAlone = (await trainReplicas({
        replicas: specs(
          c,
          good.map((r) => r.seed),
        ),
      }))!;
      expect(goodAlone).toEqual(good);
    });

    it('rejects replicas that cannot share a batch', async () => {
      await expect(
        trainReplicas({ replicas: [...specs(config(), [0]), ...specs(config({ lr: 0.5 }), [1])] }),
      ).rejects.toThrow(/must share/);
    });
  });
}

/**
 * A record is a function of (configuration, seed) on the tfjs engine too, whatever shares its batch:
 * I = 100 makes the dot products long enough (> 48 terms) that the wasm backend's two matrix
 * product kernels (XNNPACK for one pair, a blocked loop for a batch) would sum them differently.
 */
describe('tfjs engine: records independent of batch mates (wasm, I = 100)', () => {
  beforeAll(async () => {
    expect(await initBackend('wasm')).toBe('wasm');
  });
  const grid = (
    [
      ['nmu', 'mul'],
      ['nalu', 'add'],
    ] as const
  ).map(([model, op]) =>
    config({
      model,
      task: defaultStaticTask({ op, inputSize: 100 }),
      iterations: 40,
      evalEvery: 20,
      schedule: null,
    }),
  );
  const seeds = [0, 1, 2, 3, 4];
  /** A record sink in memory. */
  const memoryStore = () => {
    const records: RunRecord[] = [];
    const store: RecordSink<RunRecord> = {
      doneKeys: () => new Set(records.map((r) => `${r.key}:${r.seed}`)),
      appendMany: (rs) => void records.push(...rs),
    };
    return { store, records };
  };
  const sweep = async (over: Partial<SweepOptions & { kind?: 'static' }>) => {
    const { store, records } = memoryStore();
    await runSweep({ configs: grid, seeds, store, engine: 'tfjs', ...over });
    return new Map(records.map((r) => [`${r.key}:${r.seed}`, r]));
  };

  it('batch sizes 1, 3 and the default, and two shards, give identical records', async () => {
    const whole = await sweep({});
    expect(whole.size).toBe(grid.length * seeds.length);
    const runs = {
      'max-replicas 1': await sweep({ maxReplicas: 1 }),
      'max-replicas 3': await sweep({ maxReplicas: 3 }),
      'shards 0/2 + 1/2': new Map([
        ...(await sweep({ shard: { index: 0, count: 2 } })),
        ...(await sweep({ shard: { index: 1, count: 2 } })),
      ]),
    };
    for (const [name, run] of Object.entries(runs)) {
      expect([...run.keys()].sort(), name).toEqual([...whole.keys()].sort());
      for (const [id, r] of whole) expect(run.get(id), `${name}: ${id}`).toEqual(r);
    }
    // Not vacuous: seeds differ, and training moved the curve.
    const [a, b] = [...whole.values()];
    expect(a!.curve).not.toEqual(b!.curve);
    expect(a!.curve.at(-1)!.interpolation).not.toBe(a!.curve[0]!.interpolation);
  });

  it('batches drawn by the wasm kernels or in JavaScript give identical records', async () => {
    const c = grid[0]!;
    expect(kernelsLoaded()).toBe(true); // scripts/vitest-kernels.ts
    // Not vacuous: the kernel run really draws with the kernels.
    const fill = vi.spyOn(Arena.prototype, 'fillLanes');
    const targets = vi.spyOn(Arena.prototype, 'subsetTargets');
    const withKernels = (await trainReplicas({ replicas: specs(c, [0, 1]) }))!;
    expect(fill).toHaveBeenCalled();
    expect(targets).toHaveBeenCalled();
    expect(targets.mock.results.every((r) => r.value === true)).toBe(true);
    fill.mockRestore();
    targets.mockRestore();
    const bytes = readFileSync(new URL('../wasm/kernels.wasm', import.meta.url));
    useKernels(null);
    try {
      const inJs = (await trainReplicas({ replicas: specs(c, [0, 1]) }))!;
      expect(inJs).toEqual(withKernels);
    } finally {
      useKernels(bytes);
    }
  });

  it('the evaluation chunk size does not change a record', async () => {
    const c = grid[0]!;
    const big = (await trainReplicas({ replicas: specs(c, [0, 1, 2]) }))!;
    const chunked = (await trainReplicas({
      replicas: specs(c, [0, 1, 2]),
      evalChunkElements: 3 * 100 * 777,
    }))!;
    expect(chunked).toEqual(big);
  });
});
