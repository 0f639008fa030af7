/**
 * The transformer language model: causality, seeded init, save → load with identical logits, the
 * hooks the IGC steps use (hidden states after block k, a module inserted there, freezing), greedy
 * generation, and clear errors for input beyond the context.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import { LanguageModelInputError } from '../src/char-tokenizer.js';
import type { LanguageModel } from '../src/transformer.js';
import {
  buildLanguageModel,
  causalMask,
  linear,
  loadLanguageModel,
  parameterCount,
  resolveLmConfig,
  saveLanguageModel,
} from '../src/transformer.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const tiny = { layers: 2, dim: 16, heads: 2, context: 16, seed: 3 };
const ids = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');
const weightsOf = (lm: LanguageModel) => lm.model.getWeights().map((w) => Array.from(w.dataSync()));

/** A model whose weights are far from their init, so that tests see more than near-zero logits. */
function trainedLookingModel(seed = 3): LanguageModel {
  const lm = buildLanguageModel({ ...tiny, seed });
  tf.tidy(() => {
    lm.model.setWeights(
      lm.model.getWeights().map((w, i) => tf.add(w, tf.randomNormal(w.shape, 0, 0.3, 'float32', 100 + i))),
    );
  });
  return lm;
}

async function roundTrip(lm: LanguageModel): Promise<LanguageModel> {
  let saved: tf.io.ModelArtifacts | null = null;
  await saveLanguageModel(
    lm,
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  // JSON round trip of the topology and metadata, as a model.json on disk would do.
  const a = saved! as tf.io.ModelArtifacts;
  return loadLanguageModel(
    tf.io.fromMemory({
      ...a,
      modelTopology: JSON.parse(JSON.stringify(a.modelTopology)) as object,
      userDefinedMetadata: JSON.parse(JSON.stringify(a.userDefinedMetadata)) as object,
    }),
  );
}

describe('LanguageModel', () => {
  it('is causal: changing a later token leaves the logits of every earlier position unchanged', () => {
    const lm = trainedLookingModel();
    const a = [[0, 40, 41, 42, 43, 44, 45, 46, 47, 48]];
    const b = [[0, 40, 41, 42, 43, 90, 45, 46, 47, 48]]; // position 5 changed
    const la = lm.forward(ids(a)).arraySync()[0]!;
    const lb = lm.forward(ids(b)).arraySync()[0]!;
    for (let t = 0; t < 5; t++) expect(lb[t]).toEqual(la[t]);
    for (let t = 5; t < 10; t++) expect(lb[t]).not.toEqual(la[t]);
    // The mask itself: 0 on and below the diagonal, a large negative number above.
    expect(causalMask(3).arraySync()).toEqual([
      [0, -1e9, -1e9],
      [0, 0, -1e9],
      [0, 0, 0],
    ]);
  });

  it('initialises from its seed: the same seed gives the same weights, another seed others', () => {
    const a = buildLanguageModel(tiny);
    const b = buildLanguageModel(tiny);
    const c = buildLanguageModel({ ...tiny, seed: 4 });
    expect(weightsOf(a)).toEqual(weightsOf(b));
    expect(weightsOf(a)).not.toEqual(weightsOf(c));
    expect(a.parameterCount).toBe(parameterCount(a.config));
    // Default width 96, 4 blocks, context 64: 472k parameters.
    expect(parameterCount(resolveLmConfig({ vocabSize: 97 }))).toBe(472_417);
  });

  it('saves and loads with its tokenizer and config, giving identical logits', async () => {
    const lm = trainedLookingModel();
    const back = await roundTrip(lm);
    expect(back.config).toEqual(lm.config);
    expect(back.tokenizer.alphabet).toBe(lm.tokenizer.alphabet);
    const x = ids([Array.from(lm.encode('Is 12 + 3?'))]);
    expect(back.forward(x).arraySync()).toEqual(lm.forward(x).arraySync());
    expect(back.generate(['Hi'], { maxNewTokens: 5, stop: '' })).toEqual(
      lm.generate(['Hi'], { maxNewTokens: 5, stop: '' }),
    );
  });

  it('refuses to load a tfjs model that is not a nalm language model', async () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
    let saved: tf.io.ModelArtifacts | null = null;
    await m.save(
      tf.io.withSaveHandler(
        async (a) => (
          (saved = a),
          { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
        ),
      ),
    );
    await expect(loadLanguageModel(tf.io.fromMemory(saved!))).rejects.toThrow(/not a nalm language model/);
  });

  it('exposes the hidden states after block k and runs a module inserted there', () => {
    const lm = trainedLookingModel();
    const x = ids([[0, 50, 51, 52, 53]]);
    const plain = lm.forward(x).arraySync();
    // An identity module changes nothing, at every k.
    for (let k = 0; k <= lm.config.layers; k++) {
      expect(lm.forward(x, { insertAfter: k, insert: (h) => h }).arraySync()).toEqual(plain);
    }
    // The module sees exactly hiddenStates(ids, k).
    let seen: number[][][] | null = null;
    lm.forward(x, {
      insertAfter: 1,
      insert: (h) => {
        seen = h.arraySync();
        return h;
      },
    });
    expect(seen).toEqual(lm.hiddenStates(x, 1).arraySync());
    // After the last block, the head alone maps the hidden states to the logits.
    expect((lm.head.apply(lm.hiddenStates(x, 2)) as tf.Tensor).arraySync()).toEqual(plain);
    // A module that adds something changes the output from its position on.
    const shifted = lm.forward(x, { insertAfter: 1, insert: (h) => tf.add(h, 0.5) }).arraySync();
    expect(shifted).not.toEqual(plain);
    expect(() => lm.forward(x, { insertAfter: 3, insert: (h) => h })).toThrow(/from 0 .* to 2/);
    expect(() => lm.forward(x, { insert: (h) => h })).toThrow(/give insertAfter/);
  });

  it('freezes: no trainable weights until unfrozen', () => {
    const lm = buildLanguageModel(tiny);
    const n = lm.trainableVariables.length;
    expect(n).toBe(2 + 2 * 16 + 4);
    lm.freeze();
    expect(lm.trainableVariables).toEqual([]);
    expect(lm.model.trainableWeights).toEqual([]);
    lm.unfreeze();
    expect(lm.trainableVariables.length).toBe(n);
  });

  it('generates greedily, the same alone and batched, at most maxNewTokens', () => {
    const lm = trainedLookingModel();
    const prompts = ['What is', 'Who was', 'Hi'];
    const batched = lm.generate(prompts, { maxNewTokens: 6, stop: '' });
    const alone = prompts.map((p) => lm.generate([p], { maxNewTokens: 6, stop: '' })[0]);
    expect(batched).toEqual(alone);
    for (const g of batched) expect(g.length).toBe(6);
    // A stop set of every character ends each continuation at once.
    expect(lm.generate(prompts, { maxNewTokens: 6, stop: lm.tokenizer.alphabet })).toEqual(['', '', '']);
    // The inserted module is used while generating.
    const withModule = lm.generate(prompts, {
      maxNewTokens: 6,
      stop: '',
      insertAfter: 1,
      insert: (h) => tf.mul(h, 3),
    });
    expect(withModule).not.toEqual(batched);
  });

  it('says clearly when input does not fit the context or is not in the alphabet', () => {
    const lm = buildLanguageModel(tiny);
    const long = ids([Array.from({ length: 17 }, () => 5)]);
    expect(() => lm.forward(long)).toThrow(LanguageModelInputError);
    expect(() => lm.forward(long)).toThrow(/17 tokens do not fit the language model's context of 16/);
    expect(() => lm.encode('a'.repeat(16))).toThrow(
      /17 tokens \(with <bos>\); the language model's context is 16/,
    );
    expect(() => lm.generate(['What is 12?'], { maxNewTokens: 8 })).toThrow(
      /Lower maxNewTokens to at most 4/,
    );
    expect(() => lm.generate(['naïve'])).toThrow(/'ï' \(U\+00EF\) at position 2/);
    expect(() => lm.generate(['ok'], { stop: 'é' })).toThrow(/stop character/);
    expect(() => resolveLmConfig({ vocabSize: 97, dim: 10, heads: 4 })).toThrow(
      /dim 10 is not a multiple of heads 4/,
    );
    expect(() => resolveLmConfig({ vocabSize: 97, layers: 0 })).toThrow(/'layers' must be a whole number/);
  });

  it('computes x·W + b with a gradient equal to tfjs’s own', () => {
    const x = tf.randomNormal([5, 3], 0, 1, 'float32', 1);
    const w = tf.randomNormal([3, 4], 0, 1, 'float32', 2);
    const b = tf.randomNormal([4], 0, 1, 'float32', 3);
    const f1 = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.square(linear(xx, ww, bb)));
    const f2 = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.square(tf.add(tf.matMul(xx, ww), bb)));
    const g1 = tf.grads(f1)([x, w, b]);
    const g2 = tf.grads(f2)([x, w, b]);
    g1.forEach((g, i) => {
      const d = tf.max(tf.abs(tf.sub(g, g2[i]!))).dataSync()[0]!;
      expect(d).toBeLessThan(1e-4);
    });
  });
});
