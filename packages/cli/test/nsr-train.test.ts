import { mkdtempSync, readFileSync, appendFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import { isNsrRun, resolveNsrPreset, runNsr, NSR_PRESETS } from '../src/cli/nsr.js';
import { UsageError } from '../src/cli/errors.js';
import type { NsrRunConfig } from '../../bench/src/nsr/config.js';
import { nsrRecordLine, parseNsrRecord } from '../../bench/src/nsr/config.js';
import { architectureOutput, createVars, modelLayers } from '../../bench/src/nsr/models.js';
import { expandNsrPreset, getNsrPreset, nsrPresetSize } from '../../bench/src/nsr/presets.js';
import { formatNsrMarkdown, nsrReport } from '../../bench/src/nsr/report.js';
import { openNsrStore, NSR_RECORDS_FILE } from '../src/nsr/store.js';
import { runNsrSweep } from '../../bench/src/nsr/sweep.js';
import { trainNsrReplicas } from '../../bench/src/nsr/trainer.js';
import { testData, testPoints } from '../../bench/src/nsr/tasks.js';
import type { CompareOp } from '../../bench/src/nsr/tasks.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const run = (op: CompareOp, model: NsrRunConfig['model'] = 'nsr', epochs = 30): NsrRunConfig => ({
  task: { kind: 'compare', op, exponents: [1, 5], lengths: [], draws: 2, allowBeyondPrecision: false },
  model,
  epochs,
  lr: 1e-3,
  zeta: 1,
  regularizeFrom: 0.8,
  numeric: 'float32',
});

describe('NSR gate with exact weights', () => {
  it('decides > correctly at the float32 limit (10^5) and = at 10^5, through the batched model', () => {
    for (const op of ['gt', 'eq'] as const) {
      const layers = modelLayers('compare', 'nsr', { zeta: 1 });
      const vars = createVars(layers, [0]);
      const g = vars['gate.nsr']!;
      // One-hot selections (softmax of ±20), then W± = 20, W0 = 0, b = −5 for > (d = 0 is not >);
      // W± = 0, W0 = 20, b = −8 for = (q = 1 at d = 0, q ≤ −0.16 at |d| ≥ 1).
      g.V1!.assign(tf.tensor([[[20], [-20]]]));
      g.V2!.assign(tf.tensor([[[-20], [20]]]));
      g.W_sign!.assign(tf.tensor([[[op === 'gt' ? 20 : 0]]]));
      g.W_zero!.assign(tf.tensor([[[op === 'gt' ? 0 : 20]]]));
      g.b!.assign(tf.tensor([[op === 'gt' ? -5 : -8]]));
      const c = run(op);
      for (const p of testPoints(c.task)) {
        const d = testData(c.task, p, 3);
        const pred = tf.tidy(() =>
          architectureOutput(
            'compare',
            'nsr',
            layers,
            vars,
            tf.tensor3d(Float32Array.from(d.x), [1, d.n, 2]),
          ).pred.dataSync(),
        );
        for (let i = 0; i < d.n; i++) expect(Math.abs(pred[i]! - d.y[i]!)).toBeLessThan(0.5);
      }
      tf.dispose(Object.values(vars).flatMap((v) => Object.values(v)));
    }
  });
});

describe('trainer', () => {
  it('a record depends only on its configuration and seed, not on its batch mates', async () => {
    const together = await trainNsrReplicas({
      replicas: [
        { config: run('gt'), seed: 1 },
        { config: run('eq'), seed: 2 },
        { config: run('gt'), seed: 3 },
      ],
    });
    const alone = await trainNsrReplicas({ replicas: [{ config: run('gt'), seed: 3 }] });
    expect(alone![0]!.points).toEqual(together![2]!.points);
    expect(alone![0]!.trainLoss).toBeCloseTo(together![2]!.trainLoss, 6);
    expect(together![1]!.points[0]!.items).toBe(62); // = has the extra equal pairs: 31 per draw
  });

  it('refuses replicas that cannot share a batch', async () => {
    await expect(
      trainNsrReplicas({
        replicas: [
          { config: run('gt'), seed: 0 },
          { config: run('gt', 'mlp'), seed: 0 },
        ],
      }),
    ).rejects.toThrow(/share/);
  });

  it('records survive a JSON round trip, non-finite errors included', () => {
    const r = {
      v: 1 as const,
      key: 'abc',
      config: run('gt'),
      seed: 4,
      trainLoss: NaN,
      trainSolved: false,
      diverged: { epoch: 3, reason: 'x' },
      points: [
        {
          exponent: 1,
          length: null,
          label: '10^1',
          items: 2,
          correct: 0,
          success: false,
          meanError: NaN,
          maxError: Infinity,
          gateSuccess: null,
          beyondPrecision: false,
        },
      ],
    };
    const back = parseNsrRecord(nsrRecordLine(r));
    expect(back.trainLoss).toBeNaN();
    expect(back.points[0]!.meanError).toBeNaN();
    expect(back.points[0]!.maxError).toBeNaN();
    expect({ ...back, trainLoss: 0, points: [] }).toEqual({ ...r, trainLoss: 0, points: [] });
  });
});

describe('every task and model trains and is scored', () => {
  it('piecewise (with the gate scored on its own), min and count', async () => {
    const tasks: NsrRunConfig['task'][] = [
      { kind: 'piecewise', op: 'gt', exponents: [3, 14], lengths: [], draws: 2, allowBeyondPrecision: false },
      { kind: 'piecewise', op: 'eq', exponents: [3], lengths: [], draws: 2, allowBeyondPrecision: false },
      { kind: 'min', op: null, exponents: [1, 14], lengths: [5, 50], draws: 3, allowBeyondPrecision: false },
      { kind: 'count', op: null, exponents: [1], lengths: [5, 50], draws: 3, allowBeyondPrecision: false },
    ];
    for (const task of tasks)
      for (const model of ['nsr', 'mlp', 'nau-gate'] as const) {
        const config = { ...run('gt', model, 3), task };
        const recs = (await trainNsrReplicas({ replicas: [0, 1].map((seed) => ({ config, seed })) }))!;
        const points = testPoints(task);
        for (const r of recs) {
          expect(r.points.map((p) => p.label)).toEqual(points.map((p) => p.label));
          expect(Number.isFinite(r.trainLoss)).toBe(true);
          for (const p of r.points) {
            expect(p.items).toBeGreaterThan(0);
            expect(p.gateSuccess === null).toBe(task.kind !== 'piecewise');
            expect(p.success).toBe(p.correct === p.items);
          }
        }
      }
  }, 60_000);
});

describe('sweep and store', () => {
  it('resumes: stored cells are not trained again, a truncated line is skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsr-store-'));
    const store = openNsrStore(dir);
    const configs = [run('gt', 'nsr', 10), run('lt', 'nsr', 10)];
    const first = await runNsrSweep({ configs, seeds: [0, 1], store });
    expect(first).toEqual({ trained: 4, skipped: 0, interrupted: false });
    appendFileSync(join(dir, NSR_RECORDS_FILE), '{"v":1,"key":"trunc'); // a kill mid-write
    const second = await runNsrSweep({ configs, seeds: [0, 1, 2], store });
    expect(second).toEqual({ trained: 2, skipped: 4, interrupted: false });
    const { records, problems } = store.read();
    expect(records).toHaveLength(6);
    expect(problems).toHaveLength(1);
    const md = formatNsrMarkdown(nsrReport(records));
    expect(md).toMatch(/\| compare > \| NSR \| 10\^5 \| .* \| \d\/3 \|/);
    expect(md).toMatch(/numeric type float32/);
  });
});

describe('cli', () => {
  it('dispatches nsr- presets and tasks only', () => {
    expect(isNsrRun({ preset: 'nsr-compare-quick' })).toBe(true);
    expect(isNsrRun({ task: 'nsr-min' })).toBe(true);
    expect(isNsrRun({ preset: 'quick' })).toBe(false);
    expect(isNsrRun({})).toBe(false);
  });

  it('bad presets and tasks are usage errors that name the choices', () => {
    expect(() => resolveNsrPreset({ preset: 'nsr-nope' })).toThrow(UsageError);
    expect(() => resolveNsrPreset({ preset: 'nsr-nope' })).toThrow(/nsr-compare-quick/);
    expect(() => resolveNsrPreset({ task: 'nsr-sort' })).toThrow(/nsr-compare, nsr-piecewise/);
    expect(() => resolveNsrPreset({ preset: 'nsr-min-quick', task: 'nsr-compare' })).toThrow(
      /give one of them/,
    );
    expect(resolveNsrPreset({ task: 'nsr-count' }).name).toBe('nsr-count');
  });

  it('refuses --shard and models a preset does not train, naming the fix', async () => {
    await expect(runNsr({ preset: 'nsr-min-quick', shard: '0/2', quiet: true })).rejects.toThrow(
      /--shard: NSR presets do not shard yet.*--model/,
    );
    await expect(runNsr({ preset: 'nsr-min-quick', model: 'nau-gate', quiet: true })).rejects.toThrow(
      /--model nau-gate: nsr-min-quick trains nsr, mlp/,
    );
  });

  it('the reference epochs and regulariser start are in the presets', () => {
    const epochs = (name: string) => expandNsrPreset(getNsrPreset(name)!)[0]!;
    expect(epochs('nsr-piecewise').epochs).toBe(500_000);
    expect(epochs('nsr-piecewise').regularizeFrom * 500_000).toBeCloseTo(40_000, 6);
    for (const name of ['nsr-min', 'nsr-count', 'nsr-compare']) {
      expect(epochs(name).epochs).toBe(50_000);
      expect(epochs(name).regularizeFrom).toBe(0.8);
    }
    expect(getNsrPreset('nsr-piecewise')!.description).toMatch(/500,000/);
  });

  it('every preset expands to valid configurations within the float32 limit (except the limit demo)', () => {
    for (const p of NSR_PRESETS) {
      const size = nsrPresetSize(p);
      expect(size.runs).toBe(p.models.length * p.ops.length * p.seeds);
      for (const c of expandNsrPreset(p))
        expect(c.task.allowBeyondPrecision).toBe(p.name === 'nsr-compare-float32-limit');
    }
  });

  it('runNsr trains, writes report.md/json/html and prints the table', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nsr-cli-'));
    const chunks: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (chunks.push(String(s)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await runNsr({
        preset: 'nsr-compare-quick',
        seeds: '0..1',
        epochs: 20,
        out,
        quiet: true,
        backend: 'cpu',
      });
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(chunks.join('')).toBe(md);
    expect(md).toMatch(/\| compare = \| MLP \| 10\^5 \|/);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).rows).toHaveLength(2 * 2 * 13); // float64: 10^1…10^13
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(existsSync(join(out, NSR_RECORDS_FILE))).toBe(true);
    await expect(runNsr({ preset: 'nsr-compare-quick', epochs: 0, out, quiet: true })).rejects.toThrow(
      /--epochs/,
    );
  }, 60_000);
});
