import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import type { NsrRunConfig } from '../src/nsr/config.js';
import { nsrConfigKey, nsrModelOptions, regularizersAt, validateNsrRun } from '../src/nsr/config.js';
import { NSR_PRESETS, expandNsrPreset } from '../src/nsr/presets.js';
import { recordLine } from '../src/store/codec.js';
import type { Float64Params } from '../src/nsr/float64.js';
import {
  float64LossAndGrad,
  initFloat64Params,
  setColumnLoops,
  trainFloat64Replica,
  trainNsrFloat64,
} from '../src/nsr/float64.js';
import type { NsrModelName } from '../src/nsr/models.js';
import { architectureOutput, createVars, modelLayers, regularizationPenalty } from '../src/nsr/models.js';
import { trainNsrModel } from '../src/nsr/trainer.js';
import { testData, testPoints, trainingData } from '../src/nsr/tasks.js';
import type { CompareOp, NsrTaskKind } from '../src/nsr/tasks.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const cfg = (
  op: CompareOp,
  model: NsrModelName,
  epochs = 60,
  numeric: 'float32' | 'float64' = 'float32',
): NsrRunConfig => ({
  task: { kind: 'compare', op, exponents: [1, 3], lengths: [], draws: 2, allowBeyondPrecision: false },
  model,
  epochs,
  lr: 1e-3,
  zeta: 1,
  regularizeFrom: 0.5,
  numeric,
});

/** A small configuration of any task (piecewise: x0 > x1 or ==; min, count: lengths 5 and 9). */
const taskCfg = (
  kind: NsrTaskKind,
  model: NsrModelName,
  op: CompareOp | null,
  epochs = 40,
  numeric: 'float32' | 'float64' = 'float32',
): NsrRunConfig => {
  const seq = kind === 'min' || kind === 'count';
  return {
    ...cfg('gt', model, epochs, numeric),
    task: {
      kind,
      op,
      exponents: kind === 'compare' ? [1, 3] : [3, 6],
      lengths: seq ? [5, 9] : [],
      draws: 2,
      allowBeyondPrecision: false,
    },
  };
};

/** Every task variant the float64 trainer covers. */
const VARIANTS: [NsrTaskKind, CompareOp | null][] = [
  ['compare', 'gt'],
  ['compare', 'eq'],
  ['piecewise', 'gt'],
  ['piecewise', 'eq'],
  ['min', null],
  ['count', null],
];

const MODELS: NsrModelName[] = ['nsr', 'mlp', 'nau-gate'];

/** tfjs loss and gradients of one replica at its initial parameters (the definition). */
function tfjsLossAndGrad(c: NsrRunConfig, seed: number, withReg: boolean) {
  const layers = modelLayers(c.task.kind, c.model, nsrModelOptions(c));
  const vars = createVars(layers, [seed]);
  const d = trainingData(c.task, seed);
  const x = tf.tensor3d(Float32Array.from(d.x), [1, d.n, d.width]);
  const y = tf.tensor3d(Float32Array.from(d.y), [1, d.n, 1]);
  const names: [string, tf.Variable][] = Object.entries(vars).flatMap(([l, ps]) =>
    Object.entries(ps).map(([k, v]) => [`${l}/${k}`, v] as [string, tf.Variable]),
  );
  const { value, grads } = tf.variableGrads(
    () => {
      let loss = tf.mean(tf.abs(tf.sub(architectureOutput(c.task.kind, c.model, layers, vars, x).pred, y)));
      if (withReg)
        loss = tf.add(loss, tf.sum(regularizationPenalty(layers, vars, 1, c.selectionPenalty ?? 0)));
      return loss as tf.Scalar;
    },
    names.map(([, v]) => v),
  );
  const out = {
    loss: value.dataSync()[0]!,
    grads: Object.fromEntries(names.map(([n, v]) => [n, Array.from(grads[v.name]!.dataSync())])),
  };
  tf.dispose([x, y, value, ...Object.values(grads), ...names.map(([, v]) => v)]);
  return out;
}

describe('float64 trainer vs the tfjs units', () => {
  it('starts from the same initial values', () => {
    const plain = { zeta: 1 };
    for (const [kind, model, opts] of [
      ...MODELS.map((m) => ['compare', m, plain] as const),
      ['piecewise', 'nsr', plain] as const,
      ['piecewise', 'mlp', { zeta: 1, mlpInit: 'torch-linear' }] as const,
    ]) {
      const layers = modelLayers(kind, model, opts);
      const vars = createVars(layers, [5]);
      const p = initFloat64Params(layers, 5);
      for (const [l, ps] of Object.entries(vars))
        for (const [k, v] of Object.entries(ps))
          expect(Array.from(p[`${l}/${k}`]!)).toEqual(Array.from(v.dataSync()));
      tf.dispose(Object.values(vars).flatMap((v) => Object.values(v)));
    }
  });

  /** The float64 loss and gradients of `c` at seed 3's initial values equal tfjs's. */
  function expectSameLossAndGrads(c: NsrRunConfig, withReg: boolean) {
    const want = tfjsLossAndGrad(c, 3, withReg);
    const p = initFloat64Params(modelLayers(c.task.kind, c.model, nsrModelOptions(c)), 3);
    const g: Float64Params = Object.fromEntries(
      Object.entries(p).map(([k, v]) => [k, new Float64Array(v.length)]),
    );
    const loss = float64LossAndGrad(c, p, trainingData(c.task, 3), withReg, g);
    const where = `${c.task.kind} ${c.task.op ?? ''} ${c.model} R=${c.redundancy ?? 1} reg=${withReg}`;
    expect(Math.abs(loss - want.loss) / Math.max(1, want.loss), where).toBeLessThan(1e-5);
    expect(Object.keys(g).sort(), where).toEqual(Object.keys(want.grads).sort());
    for (const [k, gw] of Object.entries(want.grads)) {
      const scale = Math.max(1e-3, ...gw.map(Math.abs));
      Array.from(g[k]!).forEach((v, i) =>
        expect(Math.abs(v - gw[i]!) / scale, `${where} ${k}[${i}]`).toBeLessThan(2e-4),
      );
    }
  }

  it('has the same loss and gradients on every task (with and without the NAU regulariser)', () => {
    for (const [kind, op] of VARIANTS)
      for (const model of MODELS)
        for (const withReg of [false, true]) expectSameLossAndGrads(taskCfg(kind, model, op), withReg);
  });

  it('has the same loss and gradients for an NSR with redundancy R = 3 on every task', () => {
    for (const [kind, op] of VARIANTS) {
      const c = { ...taskCfg(kind, 'nsr', op), redundancy: 3 };
      expect(modelLayers(kind, 'nsr', nsrModelOptions(c))[0]!.options).toMatchObject({ redundancy: 3 });
      expectSameLossAndGrads(c, false);
    }
  });

  it("has the same loss and gradients with the NSR's selection regulariser (R = 1 and 3, every task)", () => {
    for (const [kind, op] of VARIANTS)
      for (const redundancy of [1, 3]) {
        const c = { ...taskCfg(kind, 'nsr', op), redundancy, selectionPenalty: 0.7 };
        expectSameLossAndGrads(c, true);
        // The term is there: the loss differs from the run without it by λ × the mean entropy (> 0 at init).
        const p = initFloat64Params(modelLayers(kind, 'nsr', nsrModelOptions(c)), 3);
        const d = trainingData(c.task, 3);
        const without = float64LossAndGrad({ ...c, selectionPenalty: 0 }, p, d, true, null);
        expect(float64LossAndGrad(c, p, d, true, null) - without).toBeGreaterThan(0.01);
      }
  });

  it('follows the same training trajectory and scores the same on every task', async () => {
    for (const [kind, op] of VARIANTS)
      for (const model of MODELS) {
        // Past regularizeFrom (0.5), so the sparsity term and the NAU clamp are on the path too.
        const c = taskCfg(kind, model, op, kind === 'compare' ? 60 : 30);
        const tfjs = await trainNsrModel({ replicas: [{ config: c, seed: 2 }] });
        const want = tfjs!.params(0);
        const rec = tfjs!.records[0]!;
        tfjs!.dispose();
        const got = trainFloat64Replica({ config: { ...c, numeric: 'float64' }, seed: 2 })!;
        const where = `${kind} ${op ?? ''} ${model}`;
        // float32 rounding of sums over 4,000 rows with inputs up to 100 (piecewise) can flip the
        // sign of a near-zero gradient, which Adam turns into a full step (lr = 1e−3): a few steps' slack.
        const tol = kind === 'piecewise' ? 5e-3 : 2e-4;
        for (const [l, ps] of Object.entries(want))
          for (const [k, w] of Object.entries(ps))
            Array.from(got.params[`${l}/${k}`]!).forEach((v, i) =>
              expect(Math.abs(v - w[i]!), `${where} ${l}/${k}[${i}]`).toBeLessThan(tol),
            );
        expect(
          Math.abs(got.record.trainLoss - rec.trainLoss) / Math.max(1, rec.trainLoss),
          where,
        ).toBeLessThan(tol);
        got.record.points.forEach((pt, i) => {
          const w = rec.points[i]!;
          expect([pt.label, pt.items, pt.gateSuccess === null], where).toEqual([
            w.label,
            w.items,
            w.gateSuccess === null,
          ]);
          // Test inputs reach 2^7 here: weights within `tol` give mean errors within 10·tol.
          expect(Math.abs(pt.meanError - w.meanError) / Math.max(1, w.meanError), where).toBeLessThan(
            10 * tol,
          );
        });
      }
  });

  it('starts the selection penalty at selectionFrom in both trainers (after the NAU regulariser here)', async () => {
    // Sparsity from epoch 6, the penalty (λ large, so it steers) from epoch 24 of 30: the tfjs units and
    // the float64 trainer must switch each term on in the same epoch to end at the same weights.
    const base = { ...taskCfg('piecewise', 'nsr', 'eq', 30), redundancy: 3, selectionPenalty: 5 };
    const c: NsrRunConfig = { ...base, regularizeFrom: 0.2, selectionFrom: 0.8 };
    const tfjs = await trainNsrModel({ replicas: [{ config: c, seed: 4 }] });
    const want = tfjs!.params(0);
    tfjs!.dispose();
    const f64 = (config: NsrRunConfig) =>
      trainFloat64Replica({ config: { ...config, numeric: 'float64' }, seed: 4 })!;
    const got = f64(c);
    let largest = 0;
    for (const [l, ps] of Object.entries(want))
      for (const [k, w] of Object.entries(ps))
        Array.from(got.params[`${l}/${k}`]!).forEach((v, i) => {
          largest = Math.max(largest, Math.abs(v - w[i]!));
        });
    // The same run with the penalty from the regulariser's start (selectionFrom absent) ends elsewhere:
    // the tolerance is tighter than what the schedule changes.
    const early = f64(base);
    let moved = 0;
    for (const [k, v] of Object.entries(early.params))
      v.forEach((x, i) => (moved = Math.max(moved, Math.abs(x - got.params[k]![i]!))));
    expect(largest).toBeLessThan(5e-3);
    expect(moved).toBeGreaterThan(4 * largest);
  });

  it('switches each regulariser on after its own start epoch', () => {
    const c: NsrRunConfig = {
      ...taskCfg('piecewise', 'nsr', 'gt', 100),
      selectionPenalty: 0.1,
      regularizeFrom: 0.1,
      selectionFrom: 0.5,
    };
    const on = (e: number) => regularizersAt(c, e);
    expect([on(10), on(11), on(50), on(51)]).toEqual([
      { sparsity: false, selection: false },
      { sparsity: true, selection: false },
      { sparsity: true, selection: false },
      { sparsity: true, selection: true },
    ]);
    // Absent: the penalty starts with the NAU regulariser; a fraction of 1 never starts; no λ, no term.
    const { selectionFrom: _, ...same } = c;
    expect(regularizersAt(same, 11)).toEqual({ sparsity: true, selection: true });
    expect(regularizersAt({ ...c, regularizeFrom: 1, selectionFrom: 1 }, 100)).toEqual({
      sparsity: false,
      selection: false,
    });
    expect(regularizersAt({ ...same, selectionPenalty: 0 }, 100).selection).toBe(false);
  });

  it('lets a stop request in while it trains (a timer fires mid-run, not at the end)', async () => {
    // A stop flag set by a timer (as SIGTERM's handler sets it) needs the event loop to run during
    // training; a run that never yields trains all its epochs (here ~1 min) and returns records.
    // Counted in epochs, not seconds, so neither load nor a faster machine changes it: the timer can
    // only fire while training yields (after a progress report), and the stop must land at the
    // very next check, 1,000 epochs later.
    const c = { ...taskCfg('piecewise', 'nsr', 'gt', 100_000, 'float64'), redundancy: 2 };
    let stop = false;
    let lastEpoch = 0; // epochs reported so far (training also yields once before epoch 1)
    let stopAt = -1;
    setTimeout(() => {
      stop = true;
      stopAt = lastEpoch;
    }, 200);
    const out = await trainNsrFloat64({
      replicas: [{ config: c, seed: 1 }],
      shouldStop: () => stop,
      onProgress: (p) => (lastEpoch = Math.max(lastEpoch, p.epoch)),
    });
    expect(out).toBeNull();
    expect(stopAt).toBeGreaterThanOrEqual(0);
    expect(lastEpoch).toBe(stopAt + 1_000);
  });

  it('is deterministic: the same seed gives the same record', () => {
    for (const [kind, op] of VARIANTS.filter(([k]) => k !== 'compare')) {
      const c = taskCfg(kind, 'nsr', op, 20, 'float64');
      const a = trainFloat64Replica({ config: c, seed: 7 })!.record;
      const b = trainFloat64Replica({ config: c, seed: 7 })!.record;
      expect(recordLine(a)).toBe(recordLine(b));
      expect(recordLine(trainFloat64Replica({ config: c, seed: 8 })!.record)).not.toBe(recordLine(a));
    }
  });
});

describe("the piecewise task's column loops", () => {
  it('compute the same bits as the row loops (parameters and record, every gate, both conditions)', () => {
    for (const op of ['gt', 'eq'] as const)
      for (const model of MODELS) {
        // R = 3 with the selection penalty: every term of the NSR's gradient; regularisers on halfway.
        const base = taskCfg('piecewise', model, op, 300, 'float64');
        const c: NsrRunConfig = model === 'nsr' ? { ...base, redundancy: 3, selectionPenalty: 0.1 } : base;
        const run = (on: boolean) => {
          setColumnLoops(on);
          try {
            return trainFloat64Replica({ config: c, seed: 3 })!;
          } finally {
            setColumnLoops(true);
          }
        };
        const rows = run(false);
        const columns = run(true);
        expect(recordLine(columns.record)).toBe(recordLine(rows.record));
        for (const [k, v] of Object.entries(rows.params))
          expect(
            Buffer.from(columns.params[k]!.buffer).equals(Buffer.from(v.buffer)),
            `${model} ${op} ${k}`,
          ).toBe(true);
      }
  });
});

describe('the reference architecture', () => {
  it("draws the piecewise branches Xavier-normal (std 0.577, the reference's NAU_ALU), not U[−0.5, 0.5]", () => {
    const layers = modelLayers('piecewise', 'nsr', { zeta: 1 });
    const w = Array.from({ length: 400 }, (_, s) =>
      Array.from(initFloat64Params(layers, s)['true.W/W']!),
    ).flat();
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.52);
    expect(std).toBeLessThan(0.63);
    expect(w.some((v) => Math.abs(v) > 0.5)).toBe(true);
  });

  it("counting starts the NSR's zero-bit weight at −1; every other initial value is the NSR's", () => {
    const count = modelLayers('count', 'nsr', { zeta: 1 });
    const min = modelLayers('min', 'nsr', { zeta: 1 }); // the plain NSR, same input size (2)
    for (let s = 0; s < 50; s++) {
      const c = initFloat64Params(count, s);
      const m = initFloat64Params(min, s);
      expect(Object.keys(c).sort()).toEqual(Object.keys(m).sort());
      for (const name of Object.keys(m)) {
        if (name === 'gate.nsr/W_zero') expect(Array.from(c[name]!)).toEqual([-1]);
        else expect(Array.from(c[name]!)).toEqual(Array.from(m[name]!));
      }
    }
  });
});

describe("the MLP baseline's init", () => {
  const torch = { zeta: 1, mlpInit: 'torch-linear' as const };
  it("is the reference's TwoNN (torch nn.Linear: W and b U[±1/√fan-in]) with mlpInit", () => {
    const layers = modelLayers('piecewise', 'mlp', torch);
    const all: Record<string, number[]> = {};
    for (let s = 0; s < 100; s++)
      for (const [k, v] of Object.entries(initFloat64Params(layers, s))) (all[k] ??= []).push(...v);
    // l1: fan-in 5 (x0..x4); l2: fan-in 20 (the hidden units).
    for (const [k, fanIn] of [
      ['gate.l1/W', 5],
      ['gate.l1/b', 5],
      ['gate.l2/W', 20],
      ['gate.l2/b', 20],
    ] as const) {
      const max = Math.max(...all[k]!.map(Math.abs));
      expect(max, k).toBeLessThanOrEqual(Math.fround(1 / Math.sqrt(fanIn)));
      expect(max, k).toBeGreaterThan(0.9 / Math.sqrt(fanIn));
    }
    // (the tfjs trainer draws the same values: 'starts from the same initial values' above)
  });

  it('without mlpInit is Xavier-uniform with zero bias (records made before the field), under another key', () => {
    // Xavier-uniform for l1 [2, 20]: U[±√(6/22)], narrower than torch's U[±1/√2]
    const legacyLayers = modelLayers('min', 'mlp', { zeta: 1 });
    const w: number[] = [];
    for (let seed = 0; seed < 10; seed++) {
      const legacy = initFloat64Params(legacyLayers, seed);
      expect(Array.from(legacy['gate.l1/b']!).every((b) => b === 0)).toBe(true);
      w.push(...legacy['gate.l1/W']!);
    }
    const max = Math.max(...w.map(Math.abs));
    expect(max).toBeLessThanOrEqual(Math.fround(Math.sqrt(6 / 22)));
    expect(max).toBeGreaterThan(0.95 * Math.sqrt(6 / 22));
    const ref = initFloat64Params(modelLayers('min', 'mlp', torch), 0);
    expect(Array.from(ref['gate.l1/b']!).some((b) => b !== 0)).toBe(true);
    const c = taskCfg('min', 'mlp', null);
    expect(nsrConfigKey({ ...c, mlpInit: 'torch-linear' })).not.toBe(nsrConfigKey(c));
  });

  it("every preset's MLP runs with it, and no other model may set it", () => {
    for (const p of NSR_PRESETS)
      for (const c of expandNsrPreset(p)) {
        expect(c.mlpInit, `${p.name} ${c.model}`).toBe(c.model === 'mlp' ? 'torch-linear' : undefined);
        expect(validateNsrRun(c)).toBe(c);
      }
    expect(() => validateNsrRun({ ...taskCfg('min', 'nsr', null), mlpInit: 'torch-linear' })).toThrow(
      /mlpInit applies to the MLP only/,
    );
    expect(() => validateNsrRun({ ...taskCfg('min', 'mlp', null), mlpInit: 'xavier' as never })).toThrow(
      /use 'torch-linear'/,
    );
  });
});

describe('float64 range', () => {
  it('an exact NSR decides > at 10^13 in float64 while float32 loses 10^8 + 1', () => {
    const c = cfg('gt', 'nsr', 1, 'float64');
    c.task.exponents = [13];
    validateNsrRun(c);
    const p = initFloat64Params(modelLayers('compare', 'nsr', { zeta: 1 }), 0);
    p['gate.nsr/V1']!.set([30, -30]);
    p['gate.nsr/V2']!.set([-30, 30]);
    p['gate.nsr/W_sign']![0] = 20;
    p['gate.nsr/W_zero']![0] = 0;
    p['gate.nsr/b']![0] = -5;
    const d = testData(c.task, testPoints(c.task)[0]!, 1);
    expect(float64LossAndGrad(c, p, d, false, null)).toBeLessThan(0.05);
    expect(Math.fround(1e8 + 1)).toBe(Math.fround(1e8));
  });

  it('refuses magnitudes beyond 10^13 in float64, naming the fix', () => {
    const c = cfg('gt', 'nsr', 1, 'float64');
    expect(() => validateNsrRun({ ...c, task: { ...c.task, exponents: [14] } })).toThrow(
      /float64 resolves.*Drop that magnitude/,
    );
    // Every task runs in float64 now.
    expect(() => validateNsrRun(taskCfg('min', 'nsr', null, 1, 'float64'))).not.toThrow();
  });
});
