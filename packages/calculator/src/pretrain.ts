/**
 * Pretraining the language model (transformer.ts) on a text corpus, browser-safe: the corpus split,
 * the training batches, the loss, AdamW with global-norm clipping and its state for resuming, the
 * learning-rate schedule, and held-out perplexity. Reading the corpus, checkpoints on disk and the
 * progress line are the `nalm calc pretrain` command's (@nalm/cli).
 *
 * - Split: documents in the caller's order; every `heldOutEvery`-th one (index ≡ heldOutOffset)
 *   is held out, whole, so no held-out sentence was seen in training. Each document is normalised
 *   (`CharTokenizer.normalize`) and starts with `<bos>`; the documents of a split are concatenated.
 * - Batches: step s draws its B windows of T + 1 tokens at uniform random offsets of the training
 *   text from the stream (seed, 'lm-pretrain-batch', s). A batch depends only on the seed and the
 *   step, so a resumed run sees exactly the batches an uninterrupted one would.
 * - Loss: mean cross-entropy of the next token over all B·T positions.
 * - AdamW (β₁ 0.9, β₂ 0.95, ε 1e-8; decoupled weight decay on matrices only, not on biases and
 *   LayerNorm gains), gradients clipped to a global norm; learning rate: linear warm-up, then cosine
 *   decay to `minLearningRate`·lr at the last step.
 * - Held-out perplexity: exp(mean next-token cross-entropy) over the consecutive non-overlapping
 *   windows of the context length that tile the held-out text (each window predicts its tokens from
 *   its own prefix), also as nats and bits per character. With `maxTokens` it reads an evenly spaced
 *   subset of those windows (the same windows every time), so a quick estimate covers every
 *   held-out document rather than the first one.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@nalm/units';
import type { CharTokenizer } from './char-tokenizer.js';
import { LanguageModelInputError } from './char-tokenizer.js';
import type { ForwardOptions, LanguageModel } from './transformer.js';

// ---------------------------------------------------------------------------------------------
// Corpus.

export interface CorpusDocument {
  /** A stable name (e.g. '1790 George Washington'), for reports. */
  readonly id: string;
  readonly text: string;
}

export interface CorpusSplit {
  /** `<bos>` + normalised text of each training document, concatenated. */
  readonly train: Int32Array;
  readonly heldOut: Int32Array;
  readonly trainDocuments: readonly string[];
  readonly heldOutDocuments: readonly string[];
  /** The rule, in words, for the run's metadata. */
  readonly rule: string;
}

export interface SplitOptions {
  /** One document in this many is held out (default 20). */
  heldOutEvery?: number;
  /** Which index modulo `heldOutEvery` is held out (default 10). */
  heldOutOffset?: number;
}

/** The deterministic document-level train / held-out split of a corpus. */
export function splitCorpus(
  documents: readonly CorpusDocument[],
  tokenizer: CharTokenizer,
  options: SplitOptions = {},
): CorpusSplit {
  const every = options.heldOutEvery ?? 20;
  const offset = options.heldOutOffset ?? 10;
  if (!Number.isInteger(every) || every < 2 || !Number.isInteger(offset) || offset < 0 || offset >= every) {
    throw new LanguageModelInputError(
      `splitCorpus: heldOutEvery must be a whole number ≥ 2 and heldOutOffset in [0, heldOutEvery), got ${every} and ${offset}.`,
    );
  }
  const train: Int32Array[] = [];
  const heldOut: Int32Array[] = [];
  const trainDocuments: string[] = [];
  const heldOutDocuments: string[] = [];
  documents.forEach((doc, i) => {
    const ids = tokenizer.encode(tokenizer.normalize(doc.text), { bos: true });
    if (i % every === offset) {
      heldOut.push(ids);
      heldOutDocuments.push(doc.id);
    } else {
      train.push(ids);
      trainDocuments.push(doc.id);
    }
  });
  if (heldOut.length === 0 || train.length === 0) {
    throw new LanguageModelInputError(
      `splitCorpus: ${documents.length} documents leave ${train.length} for training and ${heldOut.length} held out; ` +
        `a corpus needs more than ${offset} documents (or a smaller heldOutOffset).`,
    );
  }
  const join = (parts: Int32Array[]) => {
    const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  return {
    train: join(train),
    heldOut: join(heldOut),
    trainDocuments,
    heldOutDocuments,
    rule: `documents in order; index % ${every} === ${offset} held out`,
  };
}

/** The B windows of T + 1 tokens of training step `step` ([B·(T + 1)], row-major). */
export function batchWindows(
  ids: Int32Array,
  context: number,
  batchSize: number,
  seed: number,
  step: number,
): Int32Array {
  const W = context + 1;
  if (ids.length < W) {
    throw new LanguageModelInputError(
      `the training text has ${ids.length} tokens, fewer than one window of ${W} (context + 1).`,
    );
  }
  const rng = new Rng(seed, 'lm-pretrain-batch', step);
  const out = new Int32Array(batchSize * W);
  for (let b = 0; b < batchSize; b++) {
    const start = rng.int(0, ids.length - W);
    out.set(ids.subarray(start, start + W), b * W);
  }
  return out;
}

/** Inputs [B, T] and next-token targets [B, T] of windows of T + 1 tokens. */
export function windowsToTensors(windows: Int32Array, batchSize: number, context: number) {
  const W = context + 1;
  if (windows.length !== batchSize * W) {
    throw new LanguageModelInputError(`windows: expected ${batchSize} × ${W} tokens, got ${windows.length}.`);
  }
  const inputs = new Int32Array(batchSize * context);
  const targets = new Int32Array(batchSize * context);
  for (let b = 0; b < batchSize; b++) {
    inputs.set(windows.subarray(b * W, b * W + context), b * context);
    targets.set(windows.subarray(b * W + 1, (b + 1) * W), b * context);
  }
  return {
    inputs: tf.tensor2d(inputs, [batchSize, context], 'int32'),
    targets: tf.tensor2d(targets, [batchSize, context], 'int32'),
  };
}

/** Mean next-token cross-entropy (nats) of the model on inputs / targets [B, T]. */
export function languageModelLoss(
  lm: LanguageModel,
  inputs: tf.Tensor2D,
  targets: tf.Tensor2D,
  options: Omit<ForwardOptions, 'lastOnly'> = {},
): tf.Scalar {
  return tf.tidy(() => {
    const logits = lm.forward(inputs, options);
    const V = lm.config.vocabSize;
    const flat = tf.reshape(logits, [-1, V]);
    const labels = tf.oneHot(tf.reshape(targets, [-1]) as tf.Tensor1D, V);
    return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(flat)), -1))) as tf.Scalar;
  });
}

// ---------------------------------------------------------------------------------------------
// Held-out perplexity.

export interface Perplexity {
  /** exp(mean cross-entropy) per token (= per character). */
  perplexity: number;
  /** Mean cross-entropy in nats per token. */
  loss: number;
  bitsPerChar: number;
  /** Tokens predicted. */
  tokens: number;
}

/**
 * Perplexity of the model on a token stream: the consecutive non-overlapping windows of the context
 * length that tile it (the last one shorter), each predicting its tokens from its own prefix. With
 * `maxTokens` below the stream's length: ⌈maxTokens / T⌉ full windows evenly spaced over the stream
 * (a fixed subset, for quick estimates that cover the whole stream).
 */
export function heldOutPerplexity(
  lm: LanguageModel,
  ids: Int32Array,
  options: Omit<ForwardOptions, 'lastOnly' | 'training'> & { maxTokens?: number; batchSize?: number } = {},
): Perplexity {
  const { maxTokens, batchSize = 32, ...forward } = options;
  const stream = ids;
  if (stream.length < 2) {
    throw new LanguageModelInputError(`perplexity: need at least 2 tokens, got ${stream.length}.`);
  }
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1)) {
    throw new LanguageModelInputError(
      `perplexity: maxTokens must be a positive whole number, got ${maxTokens}.`,
    );
  }
  const T = lm.config.context;
  // Window starts 0, T, 2T, …: window w predicts tokens w·T + 1 … min(w·T + T, n − 1).
  let windows: { start: number; length: number }[] = [];
  for (let s = 0; s + 1 < stream.length; s += T)
    windows.push({ start: s, length: Math.min(T, stream.length - 1 - s) });
  if (maxTokens !== undefined && maxTokens < stream.length - 1) {
    const full = windows.filter((w) => w.length === T);
    const want = Math.min(full.length, Math.ceil(maxTokens / T));
    windows =
      want === 0
        ? [{ start: 0, length: Math.min(maxTokens, stream.length - 1) }]
        : Array.from({ length: want }, (_, i) => full[Math.floor((i * full.length) / want)]!);
  }
  let total = 0;
  let count = 0;
  const run = (group: { start: number; length: number }[]) => {
    const L = group[0]!.length;
    const B = group.length;
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    group.forEach((w, b) => {
      inputs.set(stream.subarray(w.start, w.start + L), b * L);
      targets.set(stream.subarray(w.start + 1, w.start + 1 + L), b * L);
    });
    const sum = tf.tidy(() => {
      const x = tf.tensor2d(inputs, [B, L], 'int32');
      const y = tf.tensor2d(targets, [B, L], 'int32');
      return tf.mul(languageModelLoss(lm, x, y, forward), B * L);
    });
    total += sum.dataSync()[0]!;
    sum.dispose();
    count += B * L;
  };
  const full = windows.filter((w) => w.length === T);
  for (let i = 0; i < full.length; i += batchSize) run(full.slice(i, i + batchSize));
  for (const w of windows) if (w.length !== T) run([w]);
  const loss = total / count;
  if (!Number.isFinite(loss)) {
    throw new Error(`perplexity: the model's cross-entropy is ${loss}; its weights are not finite.`);
  }
  return { perplexity: Math.exp(loss), loss, bitsPerChar: loss / Math.LN2, tokens: count };
}

// ---------------------------------------------------------------------------------------------
// Optimiser and schedule.

export interface PretrainSettings {
  steps: number;
  batchSize: number;
  /** Peak learning rate. */
  learningRate: number;
  warmupSteps: number;
  /** The cosine decay ends at this fraction of the peak. */
  minLearningRate: number;
  weightDecay: number;
  /** Gradients are scaled down to this global L2 norm when larger. */
  clipNorm: number;
  /** Seed of the batch stream. */
  seed: number;
}

export const DEFAULT_PRETRAIN: PretrainSettings = {
  steps: 3000,
  batchSize: 32,
  learningRate: 2e-3,
  warmupSteps: 100,
  minLearningRate: 0.1,
  weightDecay: 0.01,
  clipNorm: 1,
  seed: 0,
};

/** The learning rate of (0-based) step `step`: linear warm-up, then cosine to minLearningRate·lr. */
export function learningRateAt(
  step: number,
  s: Pick<PretrainSettings, 'steps' | 'learningRate' | 'warmupSteps' | 'minLearningRate'>,
): number {
  const warm = Math.min(s.warmupSteps, s.steps);
  if (step < warm) return (s.learningRate * (step + 1)) / warm;
  const span = Math.max(1, s.steps - warm);
  const progress = Math.min(1, (step - warm) / span);
  const floor = s.learningRate * s.minLearningRate;
  return floor + (s.learningRate - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** Serialisable optimiser state: steps taken and the two moment tensors per variable. */
export interface OptimizerState {
  step: number;
  /** `m/<i>` then `v/<i>` for every variable i, in the model's variable order. */
  tensors: { name: string; tensor: tf.Tensor }[];
}

/**
 * AdamW with the bias corrections computed in double precision from the step count, so its state
 * is just (t, m, v) and a restored optimiser continues exactly where the saved one stopped.
 */
export class AdamW {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private readonly decay: boolean[];
  /** Steps taken. */
  t = 0;

  constructor(
    readonly variables: readonly tf.Variable[],
    readonly options: { beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number } = {},
  ) {
    this.m = variables.map((x) => tf.variable(tf.zerosLike(x), false));
    this.v = variables.map((x) => tf.variable(tf.zerosLike(x), false));
    // Decay matrices (kernels, embeddings), not biases or LayerNorm gains.
    this.decay = variables.map((x) => x.rank >= 2);
  }

  /** One update with these gradients (same order as `variables`), after global-norm clipping. */
  apply(grads: readonly tf.Tensor[], learningRate: number, clipNorm = Infinity): void {
    const b1 = this.options.beta1 ?? 0.9;
    const b2 = this.options.beta2 ?? 0.95;
    const eps = this.options.epsilon ?? 1e-8;
    const wd = this.options.weightDecay ?? 0;
    this.t++;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    tf.tidy(() => {
      let scale: tf.Tensor | null = null;
      if (Number.isFinite(clipNorm)) {
        const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
        scale = tf.minimum(1, tf.div(clipNorm, tf.maximum(norm, 1e-12)));
      }
      grads.forEach((g0, i) => {
        const g = scale ? tf.mul(g0, scale) : g0;
        const m = tf.add(tf.mul(this.m[i]!, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[i]!, b2), tf.mul(tf.square(g), 1 - b2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        const x = this.variables[i]!;
        let update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        if (wd > 0 && this.decay[i]) update = tf.add(update, tf.mul(x, wd));
        x.assign(tf.sub(x, tf.mul(update, learningRate)));
      });
    });
  }

  /** The state to save (the tensors are the optimiser's own: encode them before the next step). */
  state(): OptimizerState {
    return {
      step: this.t,
      tensors: [
        ...this.m.map((tensor, i) => ({ name: `m/${i}`, tensor })),
        ...this.v.map((tensor, i) => ({ name: `v/${i}`, tensor })),
      ],
    };
  }

  /** Restore a saved state; its tensors must match the variables in number and shape. */
  restore(state: OptimizerState): void {
    const n = this.variables.length;
    const byName = new Map(state.tensors.map((t) => [t.name, t.tensor]));
    if (state.tensors.length !== 2 * n || !Number.isInteger(state.step) || state.step < 0) {
      throw new LanguageModelInputError(
        `the optimizer state holds ${state.tensors.length} tensors at step ${state.step} for a model of ${n} variables ` +
          `(expected ${2 * n}): it belongs to another model or is damaged.`,
      );
    }
    for (let i = 0; i < n; i++) {
      for (const [kind, into] of [
        ['m', this.m],
        ['v', this.v],
      ] as const) {
        const t = byName.get(`${kind}/${i}`);
        if (!t || !tf.util.arraysEqual(t.shape, this.variables[i]!.shape)) {
          throw new LanguageModelInputError(
            `the optimizer state's ${kind}/${i} is missing or has shape [${t?.shape.join(', ') ?? ''}] for a ` +
              `variable of shape [${this.variables[i]!.shape.join(', ')}]: it belongs to another model or is damaged.`,
          );
        }
        into[i]!.assign(t);
      }
    }
    this.t = state.step;
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/** The optimiser state as bytes and weight specs (tfjs's weight encoding), to store next to a model. */
export async function encodeOptimizerState(
  s: OptimizerState,
): Promise<{ step: number; specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer }> {
  const { data, specs } = await tf.io.encodeWeights(s.tensors);
  return { step: s.step, specs, data };
}

/** The optimiser state of `encodeOptimizerState`'s output (tensors to dispose after `restore`). */
export function decodeOptimizerState(e: {
  step: number;
  specs: tf.io.WeightsManifestEntry[];
  data: ArrayBuffer;
}): OptimizerState {
  let map: tf.NamedTensorMap;
  try {
    map = tf.io.decodeWeights(e.data, e.specs);
  } catch (err) {
    throw new LanguageModelInputError(`the optimizer state cannot be decoded (${(err as Error).message}).`);
  }
  return { step: e.step, tensors: Object.entries(map).map(([name, tensor]) => ({ name, tensor })) };
}

// ---------------------------------------------------------------------------------------------
// The training loop, one step at a time (the caller owns timing, progress and checkpoints).

export class Pretrainer {
  readonly optimizer: AdamW;
  private readonly variables: tf.Variable[];

  constructor(
    readonly lm: LanguageModel,
    readonly train: Int32Array,
    readonly settings: PretrainSettings,
  ) {
    if (train.length < lm.config.context + 1) {
      throw new LanguageModelInputError(
        `the training text has ${train.length} tokens, fewer than one window of ${lm.config.context + 1}.`,
      );
    }
    this.variables = lm.trainableVariables;
    if (this.variables.length === 0) {
      throw new LanguageModelInputError('the language model has no trainable weights (is it frozen?).');
    }
    this.optimizer = new AdamW(this.variables, { weightDecay: settings.weightDecay });
  }

  /** Steps taken so far (restored with the optimiser state). */
  get step(): number {
    return this.optimizer.t;
  }

  /** One training step; returns its loss (a scalar the caller disposes). */
  trainStep(): tf.Scalar {
    const s = this.settings;
    const lr = learningRateAt(this.step, s);
    const windows = batchWindows(this.train, this.lm.config.context, s.batchSize, s.seed, this.step);
    const { inputs, targets } = windowsToTensors(windows, s.batchSize, this.lm.config.context);
    try {
      const { value, grads } = tf.variableGrads(
        () => languageModelLoss(this.lm, inputs, targets, { training: true }),
        this.variables,
      );
      this.optimizer.apply(
        this.variables.map((v) => grads[v.name]!),
        lr,
        s.clipNorm,
      );
      tf.dispose(grads);
      return value;
    } finally {
      tf.dispose([inputs, targets]);
    }
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
