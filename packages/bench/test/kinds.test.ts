/**
 * Task kinds: a configuration is parsed once at the boundary into a value downstream code trusts,
 * parsing never changes a key, and each kind plans batches the sweep can run anywhere.
 */
import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../src/config.js';
import { configKey } from '../src/config.js';
import { parseBatch } from '../src/kinds/index.js';
import { nsrKind } from '../src/kinds/nsr.js';
import { staticKind } from '../src/kinds/static.js';
import type { NsrRunConfig } from '../src/nsr/config.js';
import { defaultStaticTask, isValidatedStaticTask, validateStaticTask } from '../src/tasks/static.js';
import type { StaticTaskConfig } from '../src/tasks/static.js';

const config = (over: Partial<RunConfig> = {}): RunConfig => ({
  task: defaultStaticTask({ op: 'mul' }),
  model: 'nmu',
  hidden: 2,
  batch: 128,
  lr: 1e-3,
  iterations: 300,
  evalEvery: 100,
  schedule: null,
  oobWeight: 1,
  ...over,
});

const nsr = (op: 'gt' | 'eq', numeric: 'float32' | 'float64', model: NsrRunConfig['model'] = 'nsr') =>
  ({
    task: { kind: 'compare', op, exponents: [1, 3], lengths: [], draws: 2, allowBeyondPrecision: false },
    model,
    epochs: 10,
    lr: 1e-3,
    zeta: 1,
    regularizeFrom: 0.8,
    numeric,
  }) satisfies NsrRunConfig;

describe('static kind: parse once', () => {
  it('returns the validated, frozen task, which validateStaticTask then gives back unchecked', () => {
    const raw = JSON.parse(JSON.stringify(config())) as RunConfig; // as from a file or a message
    expect(isValidatedStaticTask(raw.task)).toBe(false);
    const parsed = staticKind.parse(raw);
    expect(isValidatedStaticTask(parsed.task)).toBe(true);
    expect(Object.isFrozen(parsed.task)).toBe(true);
    expect(validateStaticTask(parsed.task)).toBe(parsed.task); // the same object: no second check
    expect(configKey(parsed)).toBe(configKey(raw));
    // A configuration built from validated parts keeps its task object.
    const built = config();
    expect(staticKind.parse(built).task).toBe(built.task);
  });

  it('never changes a key: a task that normalising would change is kept as given', () => {
    const odd = { ...config(), task: { ...defaultStaticTask({ op: 'add' }), note: 'x' } as StaticTaskConfig };
    const parsed = staticKind.parse(odd);
    expect(configKey(parsed)).toBe(configKey(odd));
    expect(parsed.task).toBe(odd.task);
  });

  it('refuses a bad configuration naming the field', () => {
    expect(() => staticKind.parse(config({ lr: 0 }))).toThrow(/config\.lr/);
    expect(() => staticKind.parse({ ...config(), task: { ...config().task, subsetRatio: 2 } })).toThrow(
      /subsetRatio/,
    );
    expect(() => staticKind.parse(null)).toThrow(/expected an object/);
    expect(() => nsrKind.parse({ ...nsr('gt', 'float64'), epochs: 0 })).toThrow(/epochs/);
  });

  it('a worker parses each configuration of a batch once (shared configurations stay shared)', () => {
    const c = config();
    const [batch] = staticKind.plan(
      [0, 1, 2].map((seed) => ({ config: c, seed })),
      { parallel: 1, engine: 'tfjs', thresholdCache: { get: () => 1e-5, set: () => {} } },
    );
    const received = structuredClone(batch!); // what a worker thread gets
    expect(isValidatedStaticTask(received.replicas[0]!.config.task)).toBe(false);
    const parsed = parseBatch(received);
    if (parsed.kind !== 'static') throw new Error('static batch expected');
    const tasks = new Set(parsed.replicas.map((r) => r.config.task));
    expect(tasks.size).toBe(1);
    expect(isValidatedStaticTask([...tasks][0]!)).toBe(true);
    expect(parsed.replicas.map((r) => r.seed)).toEqual([0, 1, 2]);
  });
});

describe('nsr kind: plan', () => {
  const cells = (c: NsrRunConfig, seeds: number[]) => seeds.map((seed) => ({ config: c, seed }));
  it('one replica per float64 batch; float32 batches by nsrBatchKey, split for parallel workers', () => {
    const f64 = nsrKind.plan(cells(nsr('gt', 'float64'), [0, 1, 2]), { parallel: 1 });
    expect(f64.map((b) => b.replicas.length)).toEqual([1, 1, 1]);
    expect(f64.every((b) => b.engine === 'float64' && b.kind === 'nsr')).toBe(true);
    const grid = [...cells(nsr('gt', 'float32'), [0, 1, 2, 3]), ...cells(nsr('eq', 'float32'), [0, 1])];
    expect(nsrKind.plan(grid, { parallel: 1 }).map((b) => b.replicas.length)).toEqual([6]); // ops share a batch
    const two = nsrKind.plan(grid, { parallel: 2 });
    expect(two.map((b) => b.replicas.length)).toEqual([3, 3]);
    expect(two.map((b) => [b.index, b.count])).toEqual([
      [0, 2],
      [1, 2],
    ]);
    const mixed = [...grid, ...cells(nsr('gt', 'float32', 'mlp'), [0])];
    expect(nsrKind.plan(mixed, { parallel: 1, maxReplicas: 4 }).map((b) => b.replicas.length)).toEqual([
      4, 2, 1,
    ]);
  });
});
