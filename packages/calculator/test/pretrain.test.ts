/**
 * Pretraining pieces: the document-level split, the per-step batches, the schedule, a tiny
 * pretraining that lowers the loss, resuming from saved weights and optimiser state exactly, and
 * held-out perplexity (exact on a uniform model, evenly spaced subsets).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import { BOS_ID, CharTokenizer, LanguageModelInputError } from '../src/char-tokenizer.js';
import type { LanguageModel } from '../src/transformer.js';
import { buildLanguageModel, loadLanguageModel, saveLanguageModel } from '../src/transformer.js';
import type { PretrainSettings } from '../src/pretrain.js';
import {
  AdamW,
  DEFAULT_PRETRAIN,
  Pretrainer,
  batchWindows,
  decodeOptimizerState,
  encodeOptimizerState,
  heldOutPerplexity,
  learningRateAt,
  splitCorpus,
} from '../src/pretrain.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const tok = new CharTokenizer();
const docs = Array.from({ length: 40 }, (_, i) => ({
  id: `doc ${i}`,
  text: `Document ${i} says: the quick brown fox jumps over the lazy dog ${7 * i} times.\n`.repeat(4),
}));
const tiny = { layers: 1, dim: 16, heads: 2, context: 16, seed: 1 };
const settings: PretrainSettings = {
  ...DEFAULT_PRETRAIN,
  steps: 20,
  batchSize: 8,
  warmupSteps: 2,
  learningRate: 1e-2,
};
const weightsOf = (lm: LanguageModel) => lm.model.getWeights().map((w) => Array.from(w.dataSync()));

describe('splitCorpus', () => {
  it('holds out whole documents by index, each starting with <bos>, deterministically', () => {
    const s = splitCorpus(docs, tok);
    expect(s.heldOutDocuments).toEqual(['doc 10', 'doc 30']);
    expect(s.trainDocuments).toHaveLength(38);
    expect(s.heldOut[0]).toBe(BOS_ID);
    expect(tok.decode(s.heldOut)).toBe(docs[10]!.text + docs[30]!.text);
    expect(Array.from(splitCorpus(docs, tok).train)).toEqual(Array.from(s.train));
    // Typographic characters are normalised, not refused.
    const t = splitCorpus([...docs.slice(0, 12), { id: 'x', text: 'It\u2019s \u201cok\u201d' }], tok);
    expect(tok.decode(t.train)).toContain('It\'s "ok"');
    expect(() => splitCorpus(docs.slice(0, 5), tok)).toThrow(/leave 5 for training and 0 held out/);
  });
});

describe('batches and schedule', () => {
  it('draws the windows of a step from (seed, step) alone', () => {
    const ids = splitCorpus(docs, tok).train;
    const a = batchWindows(ids, 16, 4, 7, 3);
    expect(Array.from(batchWindows(ids, 16, 4, 7, 3))).toEqual(Array.from(a));
    expect(Array.from(batchWindows(ids, 16, 4, 7, 4))).not.toEqual(Array.from(a));
    expect(Array.from(batchWindows(ids, 16, 4, 8, 3))).not.toEqual(Array.from(a));
    // Each window is a piece of the training text.
    const text = tok.decode(ids);
    for (let b = 0; b < 4; b++) expect(text).toContain(tok.decode(a.subarray(b * 17, (b + 1) * 17)));
    expect(() => batchWindows(ids.subarray(0, 10), 16, 4, 0, 0)).toThrow(/fewer than one window of 17/);
  });

  it('warms up linearly, then decays along a cosine to minLearningRate × lr', () => {
    const s = { steps: 100, learningRate: 1, warmupSteps: 10, minLearningRate: 0.1 };
    expect(learningRateAt(0, s)).toBeCloseTo(0.1);
    expect(learningRateAt(9, s)).toBeCloseTo(1);
    expect(learningRateAt(10, s)).toBeCloseTo(1);
    expect(learningRateAt(55, s)).toBeCloseTo(0.55);
    expect(learningRateAt(100, s)).toBeCloseTo(0.1);
  });
});

describe('pretraining', () => {
  it('lowers the loss and the held-out perplexity within 20 steps', () => {
    const split = splitCorpus(docs, tok);
    const lm = buildLanguageModel(tiny, tok);
    const before = heldOutPerplexity(lm, split.heldOut).perplexity;
    const trainer = new Pretrainer(lm, split.train, settings);
    const losses: number[] = [];
    let tensorsAfterFirst = 0;
    while (trainer.step < settings.steps) {
      const l = trainer.trainStep();
      losses.push(l.dataSync()[0]!);
      l.dispose();
      if (trainer.step === 1) tensorsAfterFirst = tf.memory().numTensors;
    }
    // No tensor is left behind by a step.
    expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    const after = heldOutPerplexity(lm, split.heldOut).perplexity;
    expect(trainer.step).toBe(20);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) - 0.5);
    expect(after).toBeLessThan(0.6 * before);
    trainer.dispose();
  });

  it('resumes exactly: 3 steps, save, load, 3 more steps = 6 steps straight', async () => {
    const split = splitCorpus(docs, tok);
    const s = { ...settings, steps: 6 };
    const straight = buildLanguageModel(tiny, tok);
    const t0 = new Pretrainer(straight, split.train, s);
    for (let i = 0; i < 6; i++) t0.trainStep().dispose();

    const first = buildLanguageModel(tiny, tok);
    const t1 = new Pretrainer(first, split.train, s);
    for (let i = 0; i < 3; i++) t1.trainStep().dispose();
    let artifacts: tf.io.ModelArtifacts | null = null;
    await saveLanguageModel(
      first,
      tf.io.withSaveHandler(
        async (a) => (
          (artifacts = a),
          { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
        ),
      ),
    );
    const encoded = await encodeOptimizerState(t1.optimizer.state());
    t1.dispose();

    const resumed = await loadLanguageModel(tf.io.fromMemory(artifacts!));
    const t2 = new Pretrainer(resumed, split.train, s);
    const state = decodeOptimizerState(encoded);
    t2.optimizer.restore(state);
    state.tensors.forEach((t) => t.tensor.dispose());
    expect(t2.step).toBe(3);
    while (t2.step < 6) t2.trainStep().dispose();
    expect(t2.step).toBe(6);
    expect(weightsOf(resumed)).toEqual(weightsOf(straight));
    t0.dispose();
    t2.dispose();
  });

  it('refuses an optimiser state of another model', async () => {
    const a = new AdamW([tf.variable(tf.zeros([2, 3]))]);
    const b = new AdamW([tf.variable(tf.zeros([3, 2]))]);
    const s = decodeOptimizerState(await encodeOptimizerState(a.state()));
    expect(() => b.restore(s)).toThrow(
      /m\/0 is missing or has shape \[2, 3\] for a variable of shape \[3, 2\]/,
    );
    expect(() => b.restore({ step: 1, tensors: [] })).toThrow(
      /holds 0 tensors at step 1 for a model of 1 variables/,
    );
    expect(() =>
      decodeOptimizerState({
        step: 0,
        specs: [{ name: 'm/0', shape: [4], dtype: 'float32' }],
        data: new ArrayBuffer(8),
      }),
    ).toThrow(LanguageModelInputError);
  });
});

describe('heldOutPerplexity', () => {
  it('is the vocabulary size for a model that predicts uniformly, over every predicted token', () => {
    const lm = buildLanguageModel(tiny, tok);
    const head = lm.head.getWeights();
    lm.head.setWeights(head.map((w, i) => (i >= 2 ? tf.zerosLike(w) : w))); // zero kernel and bias
    const ids = splitCorpus(docs, tok).heldOut;
    const p = heldOutPerplexity(lm, ids);
    expect(p.perplexity).toBeCloseTo(tok.vocabSize, 3);
    expect(p.bitsPerChar).toBeCloseTo(Math.log2(tok.vocabSize), 5);
    expect(p.tokens).toBe(ids.length - 1);
  });

  it('reads evenly spaced whole windows when capped', () => {
    const lm = buildLanguageModel(tiny, tok);
    const ids = splitCorpus(docs, tok).heldOut;
    const p = heldOutPerplexity(lm, ids, { maxTokens: 40 });
    expect(p.tokens).toBe(48); // ⌈40 / 16⌉ windows of 16
    expect(heldOutPerplexity(lm, ids, { maxTokens: 40 }).loss).toBe(p.loss);
    expect(heldOutPerplexity(lm, ids, { maxTokens: 10 ** 9 }).tokens).toBe(ids.length - 1);
    expect(() => heldOutPerplexity(lm, ids.subarray(0, 1))).toThrow(/at least 2 tokens/);
  });
});
