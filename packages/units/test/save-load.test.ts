/**
 * saveModel → loadModel (packages/units/src/node.ts) of a functional model holding every unit:
 * bit-identical predictions, the configuration round-trips, and the loaded model trains on with its
 * regularisers and constraints.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitLayer } from '../src/index.js';
import {
  ConstrainUnits,
  MulNAC,
  NAC,
  NALU,
  NAU,
  NMU,
  NSR,
  Rng,
  initBackend,
  unitLayers,
} from '../src/index.js';
import { loadModel, saveModel } from '../src/node.js';
import { bits } from './helpers.js';

let dir: string;

beforeAll(async () => {
  await initBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'nalm-units-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** input [4] → NAC | MulNAC | NALU | NAU → NMU | NSR, concatenated: 2 + 2 + 2 + 1 + 2 = 9 columns. */
function buildModel(): tf.LayersModel {
  const input = tf.input({ shape: [4] });
  const branches = [
    new NAC({ units: 2, seed: 1, name: 'nac' }),
    new MulNAC({ units: 2, seed: 2, epsilon: 1e-6, name: 'mulnac' }),
    new NALU({ units: 2, seed: 3, separateWeights: true, gateBias: true, name: 'nalu' }),
  ].map((l) => l.apply(input) as tf.SymbolicTensor);
  const nau = new NAU({ units: 3, seed: 4, regularization: { sparsity: 0.25 }, name: 'nau' }).apply(
    input,
  ) as tf.SymbolicTensor;
  const nmu = new NMU({
    units: 1,
    seed: 5,
    regularizer: 'squared',
    regularization: { sparsity: 0.5 },
    name: 'nmu',
  }).apply(nau) as tf.SymbolicTensor;
  const nsr = new NSR({ seed: 6, zeta: 2, redundancy: 2, name: 'nsr' }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.concatenate().apply([...branches, nmu, nsr]) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function data(n: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const rng = new Rng(seed);
  const x = tf.tensor2d(
    Array.from({ length: n * 4 }, () => rng.uniform(0.5, 2)),
    [n, 4],
  );
  const y = tf.tensor2d(
    Array.from({ length: n * 9 }, () => rng.uniform(0, 2)),
    [n, 9],
  );
  return { x, y };
}

const layersByName = (m: tf.LayersModel) => Object.fromEntries(unitLayers(m).map((l) => [l.name, l]));

describe('saveModel → loadModel', () => {
  it('round-trips predictions (bitwise), weights and configuration, and trains on', async () => {
    const model = buildModel();
    const { x, y } = data(16, 1);
    // Train a little first so the saved weights are not just the seeded initial ones.
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, callbacks: [new ConstrainUnits()] });

    const path = join(dir, 'every-unit');
    await saveModel(model, path);
    const json = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8'));
    expect(JSON.stringify(json.modelTopology)).toContain('"class_name":"NALU"');

    const loaded = await loadModel(path);
    expect(bits(loaded.predict(x) as tf.Tensor)).toEqual(bits(model.predict(x) as tf.Tensor));
    const a = model.getWeights();
    const b = loaded.getWeights();
    expect(b.map((w) => w.shape)).toEqual(a.map((w) => w.shape));
    b.forEach((w, i) => expect(bits(w)).toEqual(bits(a[i]!)));

    // Every unit layer comes back as its class, with options, seed and regularisation.
    const before = layersByName(model);
    const after = layersByName(loaded);
    expect(Object.keys(after).sort()).toEqual(['mulnac', 'nac', 'nalu', 'nau', 'nmu', 'nsr']);
    for (const [name, l] of Object.entries(before)) {
      const m = after[name]! as UnitLayer;
      expect(m.constructor, name).toBe(l.constructor);
      expect(m.getConfig(), name).toEqual(l.getConfig());
      expect(m.options, name).toEqual(l.options);
      expect(m.seed, name).toBe(l.seed);
      expect(m.regularization, name).toEqual(l.regularization);
    }
    expect(after.nalu!.options).toEqual({ separateWeights: true, gateBias: true, epsilon: 1e-7 });
    expect(after.mulnac!.options).toEqual({ epsilon: 1e-6 });
    expect(after.nmu!.options).toEqual({ regularizer: 'squared', oobMode: 'clip' });
    expect(after.nsr!.options).toEqual({ zeta: 2, redundancy: 2 });
    expect(after.nau!.regularization).toEqual({ sparsity: 0.25 });
    expect(after.nmu!.seed).toBe(5);

    // The loaded model trains on: its first-step loss equals the original's (same weights, same
    // regularisers), the loss then changes, and the constraints still apply — weights pushed out of
    // bounds are clamped back after a step.
    const firstLoss = async (m: tf.LayersModel) => {
      m.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
      const h = await m.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
      return h.history.loss![0] as number;
    };
    expect(await firstLoss(loaded)).toBeCloseTo(await firstLoss(model), 6);

    const nau = after.nau!;
    const nmu = after.nmu!;
    nau.setWeights([
      tf.tensor2d(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? 1.7 : -1.4)),
        [4, 3],
      ),
    ]);
    nmu.setWeights([tf.tensor2d([[1.6], [-0.5], [0.4]])]);
    loaded.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    const h = await loaded.fit(x, y, {
      epochs: 4,
      batchSize: 16,
      verbose: 0,
      callbacks: [new ConstrainUnits()],
    });
    const losses = h.history.loss as number[];
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).not.toBe(losses[0]);
    const nauW = nau.getWeights()[0]!.dataSync();
    const nmuW = nmu.getWeights()[0]!.dataSync();
    expect(Math.max(...nauW.map(Math.abs))).toBeLessThanOrEqual(1);
    expect(Math.max(...nauW.map(Math.abs))).toBe(1); // clamped, not just moved a little
    expect(Math.min(...nmuW)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...nmuW)).toBeLessThanOrEqual(1);

    // And it saves again to the same predictions.
    await saveModel(loaded, join(path, '..', 'again'));
    const again = await loadModel(join(path, '..', 'again'));
    expect(bits(again.predict(x) as tf.Tensor)).toEqual(bits(loaded.predict(x) as tf.Tensor));
  });

  it('fails clearly for a directory without a model', async () => {
    await expect(loadModel(join(dir, 'nothing-here'))).rejects.toThrow(/no model\.json in .*nothing-here/);
  });
});
