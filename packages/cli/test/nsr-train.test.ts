import { mkdtempSync, readFileSync, appendFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import { isNsrRun, resolveNsrPreset, resolveNsrRun, runNsr, NSR_PRESETS } from '../src/cli/nsr.js';
import { resolveRun } from '../src/cli/run.js';
import { nsrConfigKey } from '../../bench/src/nsr/config.js';
import { UsageError } from '../src/cli/errors.js';
import type { NsrRunConfig } from '../../bench/src/nsr/config.js';
import { parseRecordLine, recordLine } from '../../bench/src/store/codec.js';
import { nsrRecords } from '../../bench/src/record.js';
import { architectureOutput, createVars, modelLayers } from '../../bench/src/nsr/models.js';
import { expandNsrPreset, getNsrPreset, nsrPresetSize } from '../../bench/src/nsr/presets.js';
import { formatNsrMarkdown, nsrReport } from '../../bench/src/nsr/report.js';
import { openStore } from '../src/store/index.js';
import { runSweep } from '../../bench/src/sweep.js';
import { nsrKind } from '../../bench/src/kinds/nsr.js';
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
    // Exactly: the sweep splits float32 batches over workers, shards and resumes regroup them.
    expect(alone![0]).toEqual(together![2]);
    expect(recordLine(alone![0]!)).toBe(recordLine(together![2]!));
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

  it('records survive a store line round trip, non-finite errors included; the codec checks them', async () => {
    const [trained] = (await trainNsrReplicas({ replicas: [{ config: run('gt', 'nsr', 2), seed: 4 }] }))!;
    const r = {
      ...trained!,
      trainLoss: NaN,
      diverged: { epoch: 3, reason: 'x' },
      points: trained!.points.map((p, i) => (i === 0 ? { ...p, meanError: NaN, maxError: Infinity } : p)),
    };
    const line = recordLine(r);
    expect(line.startsWith(`{"v":2,"kind":"nsr","key":"${nsrKind.key(r.config)}","seed":4,`)).toBe(true);
    const back = parseRecordLine(line);
    expect(back.ok && back.record).toEqual(r);
    // A line that was altered is not a finished run.
    const altered = (edit: (o: Record<string, unknown>) => void) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      edit(o);
      return parseRecordLine(JSON.stringify(o));
    };
    expect(altered((o) => ((o.config as { epochs: number }).epochs = 3))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/is not the key of its configuration/),
    });
    expect(altered((o) => (o.points as unknown[]).pop())).toMatchObject({ ok: false });
    expect(altered((o) => ((o.points as { success: boolean }[])[1]!.success = true))).toMatchObject({
      ok: false,
    });
    expect(altered((o) => (o.kind = 'sorting'))).toMatchObject({ ok: false });
    expect(() => nsrKind.parse({ ...r.config, lr: -1 })).toThrow(/lr must be > 0/);
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
    const store = openStore(dir, { create: true });
    const configs = [run('gt', 'nsr', 10), run('lt', 'nsr', 10)];
    const first = await runSweep({ kind: 'nsr', configs, seeds: [0, 1], store });
    expect(first).toEqual({ trained: 4, skipped: 0, otherShards: 0, interrupted: false, notStarted: 0 });
    appendFileSync(store.recordsFile, '{"v":2,"kind":"nsr","key":"trunc'); // a kill mid-write
    const second = await runSweep({ kind: 'nsr', configs, seeds: [0, 1, 2], store });
    expect(second).toEqual({ trained: 2, skipped: 4, otherShards: 0, interrupted: false, notStarted: 0 });
    const { records: all, problems } = store.read();
    const records = nsrRecords(all);
    expect(records).toHaveLength(6);
    expect(problems).toHaveLength(1);
    const md = formatNsrMarkdown(nsrReport(records));
    // 0.8 of 10 epochs is not the reference's start (epoch 40,000): the label says when it began.
    expect(md).toMatch(/\| compare > \| NSR \(NAU reg\. from epoch 8\) \| 10\^5 \| .* \| \d\/3 \|/);
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

  it('refuses models a preset does not train and bad shards, naming the fix', async () => {
    await expect(runNsr({ preset: 'nsr-min-quick', shard: '2/2', quiet: true })).rejects.toThrow(
      /--shard 2\/2/,
    );
    await expect(runNsr({ preset: 'nsr-min-quick', model: 'nau-gate', quiet: true })).rejects.toThrow(
      /--model nau-gate: nsr-min-quick trains nsr, mlp/,
    );
  });

  it('the reference epochs and regulariser start are in the presets', () => {
    const epochs = (name: string) => expandNsrPreset(getNsrPreset(name)!)[0]!;
    expect(epochs('nsr-piecewise').epochs).toBe(500_000);
    const piecewise = expandNsrPreset(getNsrPreset('nsr-piecewise')!);
    for (const c of piecewise.filter((c) => c.model !== 'nsr'))
      expect(c.regularizeFrom * 500_000).toBeCloseTo(40_000, 6);
    for (const name of ['nsr-min', 'nsr-count', 'nsr-compare']) {
      expect(epochs(name).epochs).toBe(50_000);
      expect(epochs(name).regularizeFrom).toBe(0.8);
    }
    expect(getNsrPreset('nsr-piecewise')!.description).toMatch(/500,000/);
  });

  it("--redundancy sets the NSR's operand pairs only; R = 1 leaves the configuration (and its key) as before", () => {
    // The piecewise preset's NSR runs 10 pairs, the quick one 5 (nsr.md: one pair finds the gate in
    // about half the seeds).
    const preset = resolveNsrRun({ preset: 'nsr-piecewise' }).configs;
    expect(preset.filter((c) => c.model === 'nsr').map((c) => c.redundancy)).toEqual([10, 10]);
    const quick = resolveNsrRun({ preset: 'nsr-piecewise-quick' }).configs;
    expect(quick.filter((c) => c.model === 'nsr').map((c) => c.redundancy)).toEqual([5]);
    const r1 = resolveNsrRun({ preset: 'nsr-piecewise', redundancy: 1 }).configs;
    expect(r1.every((c) => !('redundancy' in c))).toBe(true);
    const r4 = resolveNsrRun({ preset: 'nsr-piecewise', redundancy: 4 }).configs;
    expect(r4.filter((c) => c.model === 'nsr').map((c) => c.redundancy)).toEqual([4, 4]);
    expect(r4.filter((c) => c.model !== 'nsr').every((c) => !('redundancy' in c))).toBe(true);
    expect(nsrConfigKey(r4.find((c) => c.model === 'nsr')!)).not.toBe(
      nsrConfigKey(r1.find((c) => c.model === 'nsr')!),
    );
    expect(() => resolveNsrRun({ preset: 'nsr-piecewise', redundancy: 0 })).toThrow(/--redundancy/);
    expect(() => nsrKind.parse({ ...r4[0]!, redundancy: 1.5 })).toThrow(/redundancy must be a whole number/);
  });

  it("--selection-penalty sets the NSR's selection regulariser only; 0 leaves the configuration as the reference's", () => {
    const r0 = resolveNsrRun({ preset: 'nsr-piecewise', selectionPenalty: 0 }).configs;
    expect(r0.every((c) => !('selectionPenalty' in c))).toBe(true);
    const r = resolveNsrRun({ preset: 'nsr-piecewise', selectionPenalty: 0.05 }).configs;
    expect(r.filter((c) => c.model === 'nsr').map((c) => c.selectionPenalty)).toEqual([0.05, 0.05]);
    expect(r.filter((c) => c.model !== 'nsr').every((c) => !('selectionPenalty' in c))).toBe(true);
    const nsr0 = r0.find((c) => c.model === 'nsr')!;
    expect(nsrConfigKey(r.find((c) => c.model === 'nsr')!)).not.toBe(nsrConfigKey(nsr0));
    expect(() => resolveNsrRun({ preset: 'nsr-piecewise', selectionPenalty: -1 })).toThrow(
      /--selection-penalty: expected a number ≥ 0/,
    );
    const mlp = r0.find((c) => c.model === 'mlp')!;
    expect(() => nsrKind.parse({ ...mlp, selectionPenalty: 0.1 })).toThrow(/the mlp gate has none/);
    expect(() => nsrKind.parse({ ...nsr0, selectionPenalty: Number.NaN })).toThrow(
      /selectionPenalty must be/,
    );
  });

  it("the piecewise NSR's own regulariser schedule; --regularize-epoch/--selection-epoch change it", () => {
    const preset = resolveNsrRun({ preset: 'nsr-piecewise' }).configs;
    const nsr = preset.find((c) => c.model === 'nsr')!;
    expect(Math.round(nsr.regularizeFrom * 500_000)).toBe(2_400);
    expect(Math.round(nsr.selectionFrom! * 500_000)).toBe(40_000);
    // The other gates keep the reference's schedule, so their records keep their keys.
    for (const c of preset.filter((c) => c.model !== 'nsr')) {
      expect(c.regularizeFrom).toBe(40_000 / 500_000);
      expect('selectionFrom' in c).toBe(false);
    }
    // The reference's NSR: one pair, no penalty, the regulariser after epoch 40,000: nothing of ours is left.
    const ref = resolveNsrRun({
      preset: 'nsr-piecewise',
      redundancy: 1,
      selectionPenalty: 0,
      regularizeEpoch: 40_000,
    }).configs.find((c) => c.model === 'nsr')!;
    const { redundancy: _r, selectionPenalty: _s, selectionFrom: _f, ...plain } = nsr;
    expect(ref).toEqual({ ...plain, regularizeFrom: 0.08 });
    const later = resolveNsrRun({ preset: 'nsr-piecewise', selectionEpoch: 100_000, model: 'nsr' }).configs;
    expect(later.map((c) => c.selectionFrom)).toEqual([0.2, 0.2]);
    // A shorter run than the start epoch never starts it (fraction 1).
    const short = resolveNsrRun({ preset: 'nsr-piecewise', epochs: 30_000, model: 'nsr' }).configs[0]!;
    expect([short.regularizeFrom, short.selectionFrom]).toEqual([0.08, 1]);
    expect(() => resolveNsrRun({ preset: 'nsr-piecewise-quick', selectionEpoch: 10 })).toThrow(
      /--selection-epoch starts the NSR's selection penalty, but this run of nsr-piecewise-quick has none \(λ = 0\): add --selection-penalty λ > 0 or drop --selection-epoch/,
    );
    expect(() => resolveNsrRun({ preset: 'nsr-piecewise', regularizeEpoch: -1 })).toThrow(
      /--regularize-epoch: expected a whole number ≥ 0/,
    );
    expect(() => nsrKind.parse({ ...nsr, selectionFrom: 1.5 })).toThrow(/selectionFrom must be a fraction/);
    const { selectionPenalty: _p, ...noPenalty } = nsr;
    expect(() => nsrKind.parse(noPenalty)).toThrow(/set it > 0 or leave selectionFrom out/);
    expect(() => resolveRun({ preset: 'quick', regularizeEpoch: 10 })).toThrow(
      /--regularize-epoch applies to the NSR tasks/,
    );
  });

  it('--op picks operations of an NSR preset; static-only flags are refused, not ignored', () => {
    const gt = resolveNsrRun({ preset: 'nsr-piecewise', op: 'gt' }).configs;
    expect(gt.length).toBe(3);
    expect(gt.every((c) => c.task.op === 'gt')).toBe(true);
    expect(resolveNsrRun({ preset: 'nsr-piecewise', op: 'eq,gt' }).configs.length).toBe(6);
    expect(() => resolveNsrRun({ preset: 'nsr-piecewise', op: 'lt' })).toThrow(
      /--op lt: nsr-piecewise trains gt, eq; pick from those/,
    );
    expect(() => resolveNsrRun({ preset: 'nsr-min', op: 'gt' })).toThrow(
      /has no operation to choose; drop --op/,
    );
    expect(() =>
      resolveNsrRun({ preset: 'nsr-min', iterations: 5 } as Parameters<typeof resolveNsrRun>[0]),
    ).toThrow(/--iterations applies to the static arithmetic benchmark.*--epochs/);
    expect(() =>
      resolveNsrRun({ preset: 'nsr-min', 'input-size': 5 } as Parameters<typeof resolveNsrRun>[0]),
    ).toThrow(/--input-size applies to the static arithmetic benchmark/);
  });

  it('a static run refuses the NSR-only flags instead of ignoring them', () => {
    expect(() => resolveRun({ preset: 'quick', epochs: 5 })).toThrow(/--epochs applies to the NSR tasks/);
    expect(() => resolveRun({ preset: 'quick', redundancy: 3 })).toThrow(
      /--redundancy applies to the NSR tasks/,
    );
    expect(() => resolveRun({ preset: 'quick', selectionPenalty: 0.1 })).toThrow(
      /--selection-penalty applies to the NSR tasks/,
    );
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
    expect(existsSync(join(out, 'records.jsonl'))).toBe(true);
    expect(existsSync(join(out, 'store.json'))).toBe(true);
    // A run of part of the grid (one model, one op, a new seed) still reports the whole stored grid.
    const seedsOf = () =>
      (
        JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).rows as {
          task: string;
          model: string;
          seeds: number;
        }[]
      )
        .filter((r) => r.task === 'compare >' || r.task === 'compare =')
        .map((r) => `${r.task} ${r.model} ${r.seeds}`);
    expect(new Set(seedsOf())).toEqual(
      new Set(['compare > nsr 2', 'compare > mlp 2', 'compare = nsr 2', 'compare = mlp 2']),
    );
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      const part = {
        preset: 'nsr-compare-quick',
        model: 'nsr',
        op: 'gt',
        seeds: '2',
        epochs: 20,
        out,
        quiet: true,
      };
      expect(await runNsr({ ...part, backend: 'cpu' })).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(new Set(seedsOf())).toEqual(
      new Set(['compare > nsr 3', 'compare > mlp 2', 'compare = nsr 2', 'compare = mlp 2']),
    );
    await expect(runNsr({ preset: 'nsr-compare-quick', epochs: 0, out, quiet: true })).rejects.toThrow(
      /--epochs/,
    );
  }, 60_000);
});
