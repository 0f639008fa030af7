/**
 * The single-module task (benchmark.md §6): its task and threshold, the per-model training settings
 * (learning rate, L1 β, gradient clipping, iNALU's re-initialisation, sNMU's noise), the presets,
 * the grid report, NaN/Inf recorded per seed as divergence, and the fused path for one-unit models.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import type { RunConfig } from '../src/config.js';
import { configKey } from '../src/config.js';
import { fastTrainer } from '../src/fast-trainer.js';
import { SINGLE_MODULE_MODELS, getModel, registerModel } from '../src/models/registry.js';
import { expandPreset, getPreset, presetSize, presetWallTime } from '../src/presets.js';
import type { RunRecord } from '../src/record.js';
import { staticRecords } from '../src/record.js';
import { formatGridMarkdown, gridSpec } from '../src/report/grid.js';
import { renderSvg, reportPlots, sweepDimensions } from '../src/report/plots.js';
import { formatJson, formatMarkdown, reportFromRecords } from '../src/report/report.js';
import { openStore } from '../../cli/src/store/index.js';
import { planBatches, runSweep } from '../src/sweep.js';
import {
  SINGLE_MODULE_RANGES,
  estimateSingleModuleThreshold,
  singleModulePerturbation,
  singleModuleTask,
} from '../src/tasks/single-module.js';
import { createStaticTask, defaultStaticTask, validateStaticTask } from '../src/tasks/static.js';
import { LossBuffer, stalled } from '../src/train/reinit.js';
import { clipGradients, trainReplicas } from '../src/train/replicas.js';
import type { ReplicaSpec } from '../src/train/replicas.js';
import { betaSchedule } from '../src/train/schedule.js';

beforeAll(async () => {
  expect(await initBackend('wasm')).toBe('wasm');
});

const singleConfig = (model: string, over: Partial<RunConfig> = {}, op: RunConfig['task']['op'] = 'mul') =>
  ({
    task: singleModuleTask(op, SINGLE_MODULE_RANGES[6]),
    model,
    hidden: 1,
    batch: 64,
    lr: getModel(model).training?.lr ?? 1e-3,
    iterations: 200,
    evalEvery: 50,
    schedule: null,
    oobWeight: 1,
    ...over,
  }) satisfies RunConfig;

const specs = (c: RunConfig, seeds: number[], threshold = 1e-6): ReplicaSpec[] =>
  seeds.map((seed) => ({ config: c, seed, threshold }));

describe('single-module task', () => {
  it('a = x0, b = x1, exact targets for add/sub/mul/div, no offset', () => {
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      const t = createStaticTask(singleModuleTask(op, SINGLE_MODULE_RANGES[4]), 7);
      expect(t.offset).toBe(0);
      const x = new Float32Array(2 * 64);
      const y = new Float64Array(64);
      t.nextBatch(x, y, 64);
      for (let i = 0; i < 64; i++) {
        const [a, b] = [x[2 * i]!, x[2 * i + 1]!];
        expect(y[i]).toBe({ add: a + b, sub: a - b, mul: a * b, div: a / b }[op]);
        // the mixed-sign range: |x| ∈ [2, 6] for the extrapolation, [−2, 2] for training
        expect(Math.abs(a)).toBeLessThanOrEqual(2);
      }
    }
  });

  it('nine range pairs, one of them the union U[−6,−2] ∪ U[2,6]', () => {
    expect(SINGLE_MODULE_RANGES).toHaveLength(9);
    expect(SINGLE_MODULE_RANGES.filter((p) => p.extrapolation.length === 2)).toEqual([
      {
        interpolation: [[-2, 2]],
        extrapolation: [
          [-6, -2],
          [2, 6],
        ],
      },
    ]);
    for (const p of SINGLE_MODULE_RANGES) expect(() => singleModuleTask('div', p)).not.toThrow();
  });

  it('the flag is checked, normalised away when false, and absent from ordinary configurations', () => {
    expect('singleModule' in defaultStaticTask()).toBe(false);
    expect(singleModuleTask('add').singleModule).toBe(true);
    const off = validateStaticTask({ ...defaultStaticTask(), singleModule: false as never });
    expect('singleModule' in off).toBe(false);
    expect(() => defaultStaticTask({ singleModule: true })).toThrow(
      /overlapRatio: the single-module task has overlapRatio 0/,
    );
    expect(() => validateStaticTask({ ...singleModuleTask('add'), op: 'root' })).toThrow(
      /op: the single-module task has the operations add, sub, mul, div/,
    );
    // a different task from the plain static I = 2 layout: different configuration keys
    const plain = { ...singleModuleTask('add') };
    delete plain.singleModule;
    const c = singleConfig('single-nau');
    expect(configKey(c)).not.toBe(configKey({ ...c, task: validateStaticTask(plain) }));
  });

  it('threshold: y_ε − y as the NALM benchmark defines it (checked against the naive difference)', () => {
    const eps = 1e-4;
    const naive = (op: string, a: number, b: number) => {
      const y = { add: a + b, sub: a - b, mul: a * b, div: a / b }[op]!;
      const ye = {
        add: a + b - eps * (Math.abs(a) + Math.abs(b)),
        sub: a - b - eps * (Math.abs(a) + Math.abs(b)),
        mul: (1 - eps) ** 2 * a * b,
        div: ((1 - eps) / (1 + eps)) * (a / b),
      }[op]!;
      return ye - y;
    };
    const v = fc.double({ min: 0.1, max: 40, noNaN: true });
    fc.assert(
      fc.property(fc.constantFrom('add', 'sub', 'mul', 'div'), v, v, fc.boolean(), (op, a, b, neg) => {
        const x0 = neg ? -a : a;
        const d = singleModulePerturbation(op as never, x0, b, eps);
        expect(Math.abs(d - naive(op, x0, b))).toBeLessThanOrEqual(1e-9 * Math.abs(d) + 1e-15);
      }),
    );
  });

  it('threshold for add on U[2,6]: ε²·E[(x0 + x1)²] = 1e−8 · 200/3, within 4 standard errors; never 0', () => {
    const est = estimateSingleModuleThreshold(singleModuleTask('add'), { samples: 200_000 });
    const exact = 1e-8 * (2 * (16 / 12) + 64);
    expect(Math.abs(est.value - exact)).toBeLessThan(4 * est.standardError);
    for (const op of ['sub', 'mul', 'div'] as const) {
      for (const p of SINGLE_MODULE_RANGES) {
        expect(
          estimateSingleModuleThreshold(singleModuleTask(op, p), { samples: 2_000 }).value,
        ).toBeGreaterThan(0);
      }
    }
    expect(() => estimateSingleModuleThreshold(defaultStaticTask())).toThrow(/needs a single-module task/);
  });
});

describe('training settings of the single-unit models', () => {
  it("NPU's L1 β: ×10 every 10,000 iterations from 1e−7 to 1e−5 (1e−9 to 1e−7 for division)", () => {
    const s = { start: 1e-7, end: 1e-5, growth: 10, every: 10_000 };
    expect([0, 9_999, 10_000, 19_999, 20_000, 49_999].map((t) => betaSchedule(s, t))).toEqual([
      1e-7, 1e-7, 1e-6, 1e-6, 1e-5, 1e-5,
    ]);
    const l1 = getModel('single-npu').training!.regularizers!.l1!;
    // the unit's l1 is a mean over its 6 entries (I = 2: W_re, W_im, g); the reference's L1 a sum
    expect(l1({ t: 20_000, op: 'mul', interpolation: 1, paramCount: 6 })).toBeCloseTo(6e-5, 15);
    expect(l1({ t: 0, op: 'div', interpolation: 1, paramCount: 6 })).toBeCloseTo(6e-9, 20);
    expect(getModel('single-npu').training!.lr).toBe(5e-3);
  });

  it("iNALU's regulariser: 0.05 once the validation MSE < 1 after 10,000 iterations", () => {
    const reg = getModel('single-inalu').training!.regularizers!.reg!;
    const w = (t: number, interpolation: number) => reg({ t, op: 'add', interpolation, paramCount: 10 });
    expect([w(10_000, 0.5), w(10_001, 0.5), w(10_001, 1), w(40_000, 0.99)]).toEqual([0, 0.05, 0, 0.05]);
  });

  it('loss buffer: run-length statistics equal the naive mean/std of each half', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ v: fc.double({ min: 0, max: 100, noNaN: true }), n: fc.integer({ min: 1, max: 40 }) }),
          {
            minLength: 1,
            maxLength: 20,
          },
        ),
        (runs) => {
          const b = new LossBuffer();
          const flat: number[] = [];
          for (const { v, n } of runs)
            for (let i = 0; i < n; i++) {
              b.push(v);
              flat.push(v);
            }
          const half = Math.floor(flat.length / 2);
          for (const [from, to] of [
            [0, Math.max(1, half)],
            [half, flat.length],
          ] as const) {
            const xs = flat.slice(from, to);
            const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
            const std = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length);
            const got = b.stats(from, to);
            expect(got.mean).toBeCloseTo(mean, 9);
            expect(got.std).toBeCloseTo(std, 9);
          }
        },
      ),
    );
  });

  it('stall rule: only every `every` iterations, past `minLosses`, on a flat loss above the threshold', () => {
    const rule = { every: 10, minLosses: 20, lossThreshold: 1 };
    const flat = new LossBuffer();
    for (let i = 0; i < 21; i++) flat.push(5);
    expect(stalled(rule, flat, 30)).toBe(true);
    expect(stalled(rule, flat, 31)).toBe(false); // not a check iteration
    const short = new LossBuffer();
    for (let i = 0; i < 20; i++) short.push(5);
    expect(stalled(rule, short, 30)).toBe(false); // not more than minLosses
    const low = new LossBuffer();
    for (let i = 0; i < 21; i++) low.push(0.5);
    expect(stalled(rule, low, 30)).toBe(false); // below the loss threshold
    const falling = new LossBuffer();
    for (let i = 0; i < 30; i++) falling.push(i < 15 ? 100 : 2);
    expect(stalled(rule, falling, 30)).toBe(false); // first half clearly above the second
  });

  it('gradient clipping: per replica by global norm, then by value', () => {
    const g = {
      a: tf.tensor2d([
        [30, 40],
        [0.3, 0.4],
      ]),
      b: tf.tensor1d([0, 0]),
    };
    const byNorm = clipGradients(g, 5, undefined);
    // replica 0 has norm 50 → scaled to 5; replica 1 (norm 0.5) is untouched
    const a = byNorm.a!.arraySync() as number[][];
    expect(a[0]![0]).toBeCloseTo(3, 4);
    expect(a[0]![1]).toBeCloseTo(4, 4);
    expect(a[1]).toEqual([0.30000001192092896, 0.4000000059604645]);
    const byValue = clipGradients(g, undefined, 0.35).a!.arraySync() as number[][];
    expect(byValue).toEqual([
      [0.3499999940395355, 0.3499999940395355],
      [0.30000001192092896, 0.3499999940395355],
    ]);
    expect(clipGradients(g, undefined, undefined)).toBe(g);
  });

  it('re-initialisation fires on a stalled loss and keeps a record a function of (configuration, seed)', async () => {
    const base = getModel('single-inalu');
    registerModel(
      {
        ...base,
        name: 'test-inalu-reinit',
        training: { ...base.training, reinit: { every: 10, minLosses: 20, lossThreshold: 1 } },
      },
      { replace: true },
    );
    registerModel(
      { ...base, name: 'test-inalu-noreinit', training: { ...base.training, reinit: undefined } },
      { replace: true },
    );
    // A learning rate of 0 keeps the loss flat (× on U[10, 20]: far above 1), so the rule fires at
    // the first check with more than 20 losses (t = 20: 21 stored) and the curve moves only by
    // re-initialising.
    const c = singleConfig('test-inalu-reinit', {
      lr: 0,
      iterations: 80,
      evalEvery: 10,
      task: singleModuleTask('mul', SINGLE_MODULE_RANGES[8]),
    });
    const alone = (await trainReplicas({ replicas: specs(c, [4]) }))!;
    const batch = (await trainReplicas({ replicas: specs(c, [2, 4, 9]) }))!;
    expect(batch[1]).toEqual(alone[0]);
    const without = (await trainReplicas({
      replicas: specs({ ...c, model: 'test-inalu-noreinit' }, [4]),
    }))!;
    // identical up to the first check that can fire (after the update of t = 20), different after
    const upTo = (r: RunRecord, step: number) => r.curve.filter((p) => p.step <= step);
    expect(upTo(alone[0]!, 20)).toEqual(upTo(without[0]!, 20));
    expect(new Set(without[0]!.curve.map((p) => p.extrapolation)).size).toBe(1); // lr 0: flat
    expect(alone[0]!.curve[3]!.extrapolation).not.toBe(without[0]!.curve[3]!.extrapolation);
  });

  it("sNMU's training noise comes from each replica's own stream", async () => {
    const c = singleConfig('single-snmu', {
      iterations: 60,
      evalEvery: 20,
      schedule: { lambda: 10, start: 20, end: 40 },
    });
    const alone = (await trainReplicas({ replicas: specs(c, [1]) }))!;
    const batch = (await trainReplicas({ replicas: specs(c, [0, 1, 2]) }))!;
    expect(batch[1]).toEqual(alone[0]);
    expect(batch[0]!.curve).not.toEqual(batch[1]!.curve);
  });
});

describe('NaN/Inf is recorded per seed as divergence and never stops the sweep', () => {
  it('RealNPU on the near-zero range [−0.2, −0.1]: diverging seeds are recorded, the others and the next configuration train', async () => {
    const near = SINGLE_MODULE_RANGES[3]!;
    // A learning rate of 100 drives the RealNPU's exp(log r·W) past float32 within a few steps for
    // some seeds (measured: seeds 0 and 3 of 0…7), not for others. (The NPU no longer does: its gate,
    // unclamped after a step as in the reference, leaves [0, 1] at once and the clamp freezes it.)
    const wild = singleConfig('single-real-npu', { lr: 100, iterations: 100, evalEvery: 20 }, 'div');
    wild.task = singleModuleTask('div', near);
    const calm = singleConfig('single-real-npu', {
      iterations: 100,
      evalEvery: 20,
      task: singleModuleTask('mul', near),
    });
    const store = openStore(mkdtempSync(join(tmpdir(), 'nalm-single-')), { create: true });
    const result = await runSweep({ configs: [wild, calm], seeds: [0, 1, 2, 3], store, engine: 'tfjs' });
    expect(result).toMatchObject({ trained: 8, interrupted: false });
    const records = staticRecords(store.read().records);
    const wildRecs = records.filter((r) => r.key === configKey(wild));
    const calmRecs = records.filter((r) => r.key === configKey(calm));
    expect(wildRecs).toHaveLength(4);
    expect(calmRecs).toHaveLength(4);
    const div = wildRecs.filter((r) => r.diverged !== null);
    expect(div.length).toBeGreaterThan(0);
    // …while other seeds of the same batch trained to the end
    expect(wildRecs.some((r) => r.diverged === null && r.iterations === 100)).toBe(true);
    for (const r of div) {
      expect(r.diverged!.reason).toMatch(/non-finite training loss/);
      expect(r.solved).toBe(false);
      expect(r.iterations).toBe(r.diverged!.step);
      expect(r.curve.at(-1)!.step).toBeLessThanOrEqual(r.diverged!.step);
    }
    expect(calmRecs.every((r) => r.diverged === null && r.iterations === 100 && r.curve.length === 6)).toBe(
      true,
    );
    // A diverged seed's record is the same when trained alone (no leak through the shared batch).
    const alone = (await trainReplicas({ replicas: specs(wild, [div[0]!.seed], div[0]!.threshold) }))!;
    expect(alone[0]).toEqual(div[0]);
    const report = reportFromRecords(records);
    expect(report.grid!.find((c) => c.modelName === 'single-real-npu' && c.operation === '÷')!.diverged).toBe(
      div.length,
    );
  });
});

describe('one-unit models on the fused path (--engine auto)', () => {
  it('single NAU/NMU/NAC/NAC•/NALU are fused; the new units go to tfjs', () => {
    for (const m of ['single-nau', 'single-nmu', 'single-nac', 'single-nac-mul', 'single-nalu'])
      expect(fastTrainer!.supports(singleConfig(m)), m).toBe(true);
    for (const m of [
      'single-inalu',
      'single-gnalu',
      'single-npu',
      'single-real-npu',
      'single-nru',
      'single-nmru',
      'single-snmu',
    ])
      expect(fastTrainer!.supports(singleConfig(m)), m).toBe(false);
    const cells = [singleConfig('single-nau'), singleConfig('single-npu')].map((config) => ({
      config,
      seed: 0,
      threshold: 1,
    }));
    const engines = planBatches(cells, 10, (c) => (fastTrainer!.supports(c) ? 'fast' : 'tfjs')).map((b) => [
      b.replicas[0]!.config.model,
      b.engine,
    ]);
    expect(new Map(engines as [string, string][])).toEqual(
      new Map([
        ['single-nau', 'fast'],
        ['single-npu', 'tfjs'],
      ]),
    );
  });

  it('fused and tfjs trajectories agree for one NAU on + and one NMU on ×', async () => {
    for (const [model, op] of [
      ['single-nau', 'add'],
      ['single-nmu', 'mul'],
    ] as const) {
      const c = singleConfig(
        model,
        { iterations: 300, evalEvery: 100, lr: 1e-2, schedule: { lambda: 1, start: 100, end: 200 } },
        op,
      );
      const fused = (await fastTrainer!.train({ replicas: specs(c, [0, 5]) }))!;
      const plain = (await trainReplicas({ replicas: specs(c, [0, 5]) }))!;
      for (let r = 0; r < 2; r++) {
        expect(fused[r]!.curve.map((p) => p.step)).toEqual([0, 100, 200, 300]);
        fused[r]!.curve.forEach((p, i) => {
          const q = plain[r]!.curve[i]!;
          expect(Math.abs(p.extrapolation - q.extrapolation)).toBeLessThanOrEqual(
            1e-3 * q.extrapolation + 1e-6,
          );
          expect(Math.abs(p.sparsityError - q.sparsityError)).toBeLessThan(1e-4);
        });
      }
    }
  });
});

describe('presets single-module and single-module-quick', () => {
  it('single-module: 12 modules × 4 ops × 9 ranges × 25 seeds × 50,000 iterations, per-module settings', () => {
    const p = getPreset('single-module');
    const configs = expandPreset(p);
    expect(presetSize(p)).toEqual({ configurations: 432, runs: 10_800, seedIterations: 10_800 * 50_000 });
    expect(new Set(configs.map(configKey)).size).toBe(432);
    expect(new Set(configs.map((c) => c.model))).toEqual(new Set(SINGLE_MODULE_MODELS));
    expect(
      configs.every((c) => c.task.singleModule === true && c.iterations === 50_000 && c.batch === 128),
    ).toBe(true);
    const of = (m: string) => configs.find((c) => c.model === m)!;
    expect(of('single-nau').schedule).toEqual({ lambda: 0.01, start: 20_000, end: 35_000 });
    expect(of('single-nmu').schedule).toEqual({ lambda: 10, start: 20_000, end: 35_000 });
    expect(of('single-npu').lr).toBe(5e-3);
    expect(of('single-real-npu').lr).toBe(5e-3);
    expect(of('single-nau').lr).toBe(1e-3);
    expect(presetWallTime(p, 2)).toBeGreaterThan(3600);
    expect(presetWallTime(getPreset('quick'), 2)).toBeNull();
  });

  it('single-module-quick scales the 20k → 35k schedules to its length; --lr and --interp override', async () => {
    const { resolveRun } = await import('../../cli/src/cli/run.js');
    const q = resolveRun({ preset: 'single-module-quick' });
    const nmu = q.configs.find((c) => c.model === 'single-nmu')!;
    expect(nmu.schedule).toEqual({ lambda: 10, start: 2_000, end: 3_500 });
    expect(q.configs.find((c) => c.model === 'single-npu')!.lr).toBe(5e-3);
    const lr = resolveRun({ preset: 'single-module-quick', lr: 0.02 });
    expect(new Set(lr.configs.map((c) => c.lr))).toEqual(new Set([0.02]));
    const one = resolveRun({ preset: 'single-module-quick', interp: '1,2', extrap: '2,6' });
    expect(one.configs).toHaveLength(q.configs.length / 4);
  });
});

describe('grid report', () => {
  it('success per module × operation × range in markdown, JSON and a heat map', async () => {
    const threshold = 1e-9;
    const rec = (config: RunConfig, seed: number, mse: number, diverged = false): RunRecord => ({
      v: 1,
      key: configKey(config),
      config,
      seed,
      threshold,
      curve: [
        { step: 0, interpolation: 1, extrapolation: 1, sparsityError: 0.5 },
        { step: 100, interpolation: mse, extrapolation: mse, sparsityError: 0 },
      ],
      bestStep: 100,
      solved: mse < threshold,
      solvedAt: mse < threshold ? 100 : null,
      sparsityError: 0,
      diverged: diverged ? { step: 100, reason: 'non-finite training loss (NaN) at iteration 100' } : null,
      iterations: 100,
    });
    const records: RunRecord[] = [];
    for (const model of ['single-nmu', 'single-npu']) {
      for (const op of ['mul', 'div'] as const) {
        for (const pair of [SINGLE_MODULE_RANGES[4]!, SINGLE_MODULE_RANGES[6]!]) {
          const config = singleConfig(model, {}, op);
          config.task = singleModuleTask(op, pair);
          for (let seed = 0; seed < 4; seed++)
            records.push(rec(config, seed, seed < 3 ? 0 : 1, model === 'single-npu' && seed === 3));
        }
      }
    }
    const report = reportFromRecords(records);
    expect(report.grid).toHaveLength(8);
    // the single-module threshold (~1e−7 and up) is re-applied: MSE 0 solves, MSE 1 does not
    expect(report.grid!.every((c) => c.solved === 3 && c.runs === 4)).toBe(true);
    expect(report.grid!.filter((c) => c.diverged === 1)).toHaveLength(4);
    const md = formatMarkdown(report);
    expect(md).toContain('| module | U[-2,2] → U[-6,-2]∪U[2,6] | U[1,2] → U[2,6] |');
    expect(md).toContain('| NPU | 75% [30–95] 3/4, 1 div. | 75% [30–95] 3/4, 1 div. |');
    expect(md).toMatch(/### ×[\s\S]*### ÷/);
    expect(md).toContain('success re-derived from each curve with the single-module threshold');
    expect(JSON.parse(formatJson(report)).grid).toHaveLength(8);
    expect(formatGridMarkdown(report.grid!)).toContain('### ÷');
    // the learning rate differs by model (NPU 5e−3), which is a per-model setting, not a sweep
    expect(sweepDimensions(report).map((d) => d.key)).toEqual(['range']);
    expect(reportPlots(report, records)[0]!.id).toBe('single-module-grid');
    const svg = await renderSvg(gridSpec(report.grid!, {}));
    expect(svg).toContain('<svg');
    expect(svg).toContain('3/4');
  });
});
