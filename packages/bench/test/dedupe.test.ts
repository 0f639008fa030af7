import { describe, expect, it } from 'vitest';
import { configKey } from '../src/config.js';
import type { RunConfig } from '../src/config.js';
import type { RunRecord } from '../src/record.js';
import { dedupeRecords } from '../src/store/dedupe.js';
import { curveOutcome } from '../src/success.js';
import { defaultStaticTask } from '../src/tasks/static.js';

const config = (op: 'add' | 'mul'): RunConfig => ({
  task: defaultStaticTask({ op, inputSize: 10 }),
  model: 'nmu',
  hidden: 2,
  batch: 64,
  lr: 1e-3,
  iterations: 100,
  evalEvery: 50,
  schedule: null,
  oobWeight: 0,
});

function rec(op: 'add' | 'mul', seed: number, extrapolation = 1e-7): RunRecord {
  const c = config(op);
  const curve = [
    { step: 0, interpolation: 1, extrapolation: 2, sparsityError: 0.5 },
    { step: 50, interpolation: 0.1, extrapolation, sparsityError: 0.01 },
  ];
  return {
    v: 1,
    key: configKey(c),
    config: c,
    seed,
    threshold: 1e-5,
    curve,
    ...curveOutcome(curve, 1e-5),
    diverged: null,
    iterations: 100,
  };
}

describe('dedupeRecords', () => {
  it('keeps one record per (configuration, seed) across inputs and counts the identical copies', () => {
    const a = [rec('add', 0), rec('add', 1), rec('mul', 0)];
    const shard0 = [rec('add', 0)];
    const shard1 = [rec('add', 1), rec('mul', 0)];
    // One store twice; shards next to their merged store.
    expect(
      dedupeRecords([
        { source: 'S', records: a },
        { source: 'S', records: a },
      ]),
    ).toEqual({
      records: a,
      duplicates: 3,
      conflicts: [],
    });
    const r = dedupeRecords([
      { source: 'shard0', records: shard0 },
      { source: 'shard1', records: shard1 },
      { source: 'merged', records: a },
    ]);
    expect(r.records).toEqual([...shard0, ...shard1]);
    expect(r.duplicates).toBe(3);
    // Same configuration, different seeds, and same seed, different configurations, are not duplicates.
    expect(dedupeRecords([{ source: 'x', records: a }]).duplicates).toBe(0);
  });

  it('reports conflicting copies with every input that holds one, keeping the first', () => {
    const r = dedupeRecords([
      { source: 'A', records: [rec('add', 0), rec('add', 1)] },
      { source: 'B', records: [rec('add', 0, 0.5)] },
      { source: 'C', records: [rec('add', 0, 0.7), rec('add', 1)] },
    ]);
    expect(r.records).toEqual([rec('add', 0), rec('add', 1)]);
    expect(r.duplicates).toBe(1);
    expect(r.conflicts).toEqual([{ key: rec('add', 0).key, seed: 0, sources: ['A', 'B', 'C'] }]);
  });
});
