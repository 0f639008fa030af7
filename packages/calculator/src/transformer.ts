/**
 * A small decoder-only transformer language model (GPT-style) as tfjs layers, the host that IGC's
 * claim is about (shared/spec/calculator.md, issue 16): token + learned position embedding →
 * L pre-LayerNorm blocks (causal multi-head self-attention, then a GELU MLP, each added to the
 * residual stream) → final LayerNorm → logits over the character vocabulary (char-tokenizer.ts).
 *
 * Block ℓ: x ← x + Wo·Attn(LN₁(x)) ; x ← x + W₂·GELU(W₁·LN₂(x)), with
 * Attn = softmax(QKᵀ/√d_h + M)·V per head and M the causal mask (0 on and below the diagonal,
 * −1e9 above: position t sees positions ≤ t only).
 *
 * Three layer classes, registered with tfjs so `tf.loadLayersModel` rebuilds them:
 * `LmEmbedding`, `LmBlock`, `LmHead`. Weights are initialised from the config's seed with the
 * package's xoshiro128** stream (N(0, 0.02), the residual output projections scaled by 1/√(2L)),
 * so one seed gives the same model on every backend and machine.
 *
 * `LanguageModel` holds the tfjs model with its tokenizer and is what the later IGC steps use: it
 * runs the layers one by one, so a caller can read the hidden states after any block k
 * (`hiddenStates`) and add a module's output there (`forward(ids, { insertAfter: k, insert })`,
 * also in `generate`); `freeze()` makes every host weight non-trainable; `generate` is plain greedy
 * decoding that recomputes the whole prefix at every step (no KV cache: the contexts are short).
 *
 * Browser-safe: saving and loading go through any tfjs IOHandler (`saveLanguageModel`,
 * `loadLanguageModel`); the model's config and tokenizer travel in the model.json's metadata.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, deriveSeed } from '@nalm/units';
import type { CharTokenizerJSON } from './char-tokenizer.js';
import { CharTokenizer, LanguageModelInputError } from './char-tokenizer.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

// ---------------------------------------------------------------------------------------------
// Configuration.

export interface LmConfig {
  /** Token ids 0 … vocabSize − 1 (the tokenizer's). */
  vocabSize: number;
  /** Longest input in tokens (the learned position table's length). */
  context: number;
  /** Transformer blocks L. */
  layers: number;
  /** Width d of the residual stream. */
  dim: number;
  /** Attention heads H (d must be a multiple of H). */
  heads: number;
  /** Hidden width of each MLP as a multiple of d. */
  mlpRatio: number;
  /** Seed of the initial weights. */
  seed: number;
}

/**
 * The default host: 4 blocks of width 96, 4 heads, a context of 64 characters (a BIG-bench question
 * with its answer needs at most 45), 472k parameters. `nalm calc pretrain` trains it for 3000 steps
 * in about 40 minutes on this project's 2-core machine (1.3 steps/s measured with tfjs-wasm, which
 * uses one core).
 */
export const DEFAULT_LM: Omit<LmConfig, 'vocabSize' | 'seed'> = {
  context: 64,
  layers: 4,
  dim: 96,
  heads: 4,
  mlpRatio: 4,
};

function checkInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new LanguageModelInputError(
      `language model: '${name}' must be a whole number in [${min}, ${max}], got ${String(value)}.`,
    );
  }
  return value;
}

/** A complete, checked config from a partial one (DEFAULT_LM fills the gaps; seed 0). */
export function resolveLmConfig(c: Partial<LmConfig> & { vocabSize: number }): LmConfig {
  const r: LmConfig = {
    vocabSize: checkInt(c.vocabSize, 'vocabSize', 2, 1 << 20),
    context: checkInt(c.context ?? DEFAULT_LM.context, 'context', 1, 1 << 16),
    layers: checkInt(c.layers ?? DEFAULT_LM.layers, 'layers', 1, 256),
    dim: checkInt(c.dim ?? DEFAULT_LM.dim, 'dim', 1, 1 << 14),
    heads: checkInt(c.heads ?? DEFAULT_LM.heads, 'heads', 1, 1024),
    mlpRatio: checkInt(c.mlpRatio ?? DEFAULT_LM.mlpRatio, 'mlpRatio', 1, 64),
    seed: checkInt(c.seed ?? 0, 'seed', 0, 2 ** 32 - 1),
  };
  if (r.dim % r.heads !== 0) {
    throw new LanguageModelInputError(
      `language model: dim ${r.dim} is not a multiple of heads ${r.heads}; pick dim = heads × head width (e.g. ${r.heads * Math.max(1, Math.round(r.dim / r.heads))}).`,
    );
  }
  return r;
}

/** Trainable parameters of a config (embeddings, blocks, head). */
export function parameterCount(c: LmConfig): number {
  const d = c.dim;
  const m = c.mlpRatio * d;
  const block = 4 * d + 4 * (d * d + d) + (d * m + m) + (m * d + d);
  return c.vocabSize * d + c.context * d + c.layers * block + 2 * d + d * c.vocabSize + c.vocabSize;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces.

const INIT_STD = 0.02;

function seededNormal(shape: number[], std: number, rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.fillNormal(new Float32Array(n), 0, std), shape);
}

type WeightInit = { kind: 'normal'; std: number } | { kind: 'zeros' } | { kind: 'ones' };

type AddWeight = (
  name: string,
  shape: number[],
  dtype: 'float32',
  init: ReturnType<typeof tf.initializers.zeros>,
) => tf.LayerVariable;

/** Add a weight to a layer (through its `addWeight`) and write its seeded initial value. */
function addInitialised(addWeight: AddWeight, name: string, shape: number[], init: WeightInit, rng: Rng) {
  const initializer = init.kind === 'ones' ? tf.initializers.ones() : tf.initializers.zeros();
  const v = addWeight(name, shape, 'float32', initializer);
  if (init.kind === 'normal') {
    const t = seededNormal(shape, init.std, rng);
    v.write(t);
    t.dispose();
  }
  return v;
}

/**
 * x·W + b for x [N, K], W [K, M], b [M], with a gradient that transposes explicitly: tfjs-wasm's
 * matMul is fast (XNNPACK) only for plain 2-D products; with a transposed operand, as tfjs's own
 * matMul gradient uses, it is 10–20× slower (measured: [4096, 128]ᵀ·[4096, 512] 480 ms against
 * 22 ms for transpose + product).
 */
export const linear = tf.customGrad(((
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
  save: tf.GradSaveFunc,
) => {
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      // The bias gradient Σ_rows dy as a product too (a reduction over axis 0 transposes first).
      const db = tf.reshape(tf.matMul(tf.ones([1, dy.shape[0]]), dy), [dy.shape[1]]);
      return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy), db];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
  x: tf.Tensor,
  w: tf.Tensor,
  b: tf.Tensor,
) => tf.Tensor2D;

/** x·W for x [N, K], W [K, M], with the same explicit-transpose gradient as `linear`. */
export const matMul2d = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
  x: tf.Tensor,
  w: tf.Tensor,
) => tf.Tensor2D;

/** LayerNorm over the last axis: (x − mean)/√(var + 1e-5)·γ + β. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), -1, true);
    return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
  });
}

/** GELU, the exact form x·Φ(x) = ½x(1 + erf(x/√2)). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** The additive causal mask [T, T]: 0 where key ≤ query, −1e9 above the diagonal. */
export function causalMask(T: number): tf.Tensor2D {
  const m = new Float32Array(T * T);
  for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) m[q * T + k] = -1e9;
  return tf.tensor2d(m, [T, T]);
}

function positiveInt(value: unknown, name: string, who: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new LanguageModelInputError(`${who}: '${name}' must be a positive integer, got ${String(value)}.`);
  }
  return value;
}

function inputOf(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

function singleShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
  return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
}

// ---------------------------------------------------------------------------------------------
// Layers.

export interface LmEmbeddingArgs extends LayerArgs {
  vocabSize: number;
  context: number;
  dim: number;
  seed: number;
}

/**
 * Token ids [B, T] → token embedding + learned position embedding [B, T, d]. The token lookup is
 * a one-hot product (tfjs's wasm backend has no gradient kernel for a gather), cheap at a
 * character vocabulary. T above the context is an error.
 */
export class LmEmbedding extends tf.layers.Layer {
  static readonly className = 'NalmLmEmbedding';
  readonly vocabSize: number;
  readonly context: number;
  readonly dim: number;
  readonly seed: number;
  private tokens: tf.LayerVariable | null = null;
  private positions: tf.LayerVariable | null = null;

  constructor(args: LmEmbeddingArgs) {
    const { vocabSize, context, dim, seed, ...rest } = args;
    delete (rest as Record<string, unknown>).customObjects;
    super(rest);
    this.vocabSize = positiveInt(vocabSize, 'vocabSize', 'LmEmbedding');
    this.context = positiveInt(context, 'context', 'LmEmbedding');
    this.dim = positiveInt(dim, 'dim', 'LmEmbedding');
    this.seed = seed;
  }

  private adder(): AddWeight {
    return (name, shape, dtype, init) => this.addWeight(name, shape, dtype, init);
  }

  override build(): void {
    const rng = new Rng(this.seed, 'lm-embedding');
    this.tokens = addInitialised(this.adder(), 'token_embedding', [this.vocabSize, this.dim], normal(), rng);
    this.positions = addInitialised(
      this.adder(),
      'position_embedding',
      [this.context, this.dim],
      normal(),
      rng,
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const ids = inputOf(inputs);
      if (ids.rank !== 2) {
        throw new LanguageModelInputError(
          `LmEmbedding: expected token ids of shape [batch, tokens], received [${ids.shape.join(', ')}].`,
        );
      }
      const [B, T] = ids.shape as [number, number];
      if (T > this.context) {
        throw new LanguageModelInputError(
          `${T} tokens do not fit the language model's context of ${this.context}; shorten the input ` +
            `(or pretrain a model with a longer --context).`,
        );
      }
      const oneHot = tf.oneHot(tf.reshape(tf.cast(ids, 'int32'), [B * T]) as tf.Tensor1D, this.vocabSize);
      const tok = tf.reshape(matMul2d(oneHot, this.tokens!.read()), [B, T, this.dim]);
      return tf.add(tok, tf.slice(this.positions!.read(), [0, 0], [T, this.dim]));
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = singleShape(inputShape);
    return [s[0] ?? null, s[1] ?? null, this.dim];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      vocabSize: this.vocabSize,
      context: this.context,
      dim: this.dim,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(LmEmbedding);

const normal = (std = INIT_STD): WeightInit => ({ kind: 'normal', std });

export interface LmBlockArgs extends LayerArgs {
  heads: number;
  mlpRatio: number;
  /** Blocks in the model (scales the residual projections' init by 1/√(2L)). */
  depth: number;
  seed: number;
}

/** One pre-LayerNorm transformer block with causal multi-head self-attention: [B, T, d] → [B, T, d]. */
export class LmBlock extends tf.layers.Layer {
  static readonly className = 'NalmLmBlock';
  readonly heads: number;
  readonly mlpRatio: number;
  readonly depth: number;
  readonly seed: number;
  private w: Record<
    | 'ln1Gamma'
    | 'ln1Beta'
    | 'qKernel'
    | 'qBias'
    | 'kKernel'
    | 'kBias'
    | 'vKernel'
    | 'vBias'
    | 'projKernel'
    | 'projBias'
    | 'ln2Gamma'
    | 'ln2Beta'
    | 'fcKernel'
    | 'fcBias'
    | 'outKernel'
    | 'outBias',
    tf.LayerVariable
  > | null = null;

  constructor(args: LmBlockArgs) {
    const { heads, mlpRatio, depth, seed, ...rest } = args;
    delete (rest as Record<string, unknown>).customObjects;
    super(rest);
    this.heads = positiveInt(heads, 'heads', 'LmBlock');
    this.mlpRatio = positiveInt(mlpRatio, 'mlpRatio', 'LmBlock');
    this.depth = positiveInt(depth, 'depth', 'LmBlock');
    this.seed = seed;
  }

  private adder(): AddWeight {
    return (name, shape, dtype, init) => this.addWeight(name, shape, dtype, init);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const d = singleShape(inputShape)[2];
    if (d == null) throw new LanguageModelInputError('LmBlock: the feature width of its input is unknown.');
    if (d % this.heads !== 0) {
      throw new LanguageModelInputError(`LmBlock: width ${d} is not a multiple of heads ${this.heads}.`);
    }
    const m = this.mlpRatio * d;
    const rng = new Rng(this.seed, 'lm-block');
    const residual = normal(INIT_STD / Math.sqrt(2 * this.depth));
    const add = (name: string, shape: number[], init: WeightInit) =>
      addInitialised(this.adder(), name, shape, init, rng);
    this.w = {
      ln1Gamma: add('ln1_gamma', [d], { kind: 'ones' }),
      ln1Beta: add('ln1_beta', [d], { kind: 'zeros' }),
      qKernel: add('q_kernel', [d, d], normal()),
      qBias: add('q_bias', [d], { kind: 'zeros' }),
      kKernel: add('k_kernel', [d, d], normal()),
      kBias: add('k_bias', [d], { kind: 'zeros' }),
      vKernel: add('v_kernel', [d, d], normal()),
      vBias: add('v_bias', [d], { kind: 'zeros' }),
      projKernel: add('proj_kernel', [d, d], residual),
      projBias: add('proj_bias', [d], { kind: 'zeros' }),
      ln2Gamma: add('ln2_gamma', [d], { kind: 'ones' }),
      ln2Beta: add('ln2_beta', [d], { kind: 'zeros' }),
      fcKernel: add('fc_kernel', [d, m], normal()),
      fcBias: add('fc_bias', [m], { kind: 'zeros' }),
      outKernel: add('out_kernel', [m, d], residual),
      outBias: add('out_bias', [d], { kind: 'zeros' }),
    };
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = inputOf(inputs);
      const [B, T, d] = x.shape as [number, number, number];
      const H = this.heads;
      const dh = d / H;
      const w = this.w!;
      const r = (v: tf.LayerVariable) => v.read();
      // Attention: Q, K, V of all heads (three products: splitting one [d, 3d] product copies
      // the whole activation per part on wasm), then [B·H, T, d_h] per head.
      const a = tf.reshape(layerNorm(x, r(w.ln1Gamma), r(w.ln1Beta)), [B * T, d]);
      const heads = (kernel: tf.LayerVariable, bias: tf.LayerVariable) =>
        tf.reshape(tf.transpose(tf.reshape(linear(a, r(kernel), r(bias)), [B, T, H, dh]), [0, 2, 1, 3]), [
          B * H,
          T,
          dh,
        ]) as tf.Tensor3D;
      const q = heads(w.qKernel, w.qBias);
      const k = heads(w.kKernel, w.kBias);
      const v = heads(w.vKernel, w.vBias);
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), causalMask(T));
      const attended = tf.matMul(tf.softmax(scores), v); // [B·H, T, d_h]
      const merged = tf.reshape(tf.transpose(tf.reshape(attended, [B, H, T, dh]), [0, 2, 1, 3]), [B * T, d]);
      const attnOut = linear(merged, r(w.projKernel), r(w.projBias));
      const x1 = tf.add(x, tf.reshape(attnOut, [B, T, d]));
      // MLP.
      const b = tf.reshape(layerNorm(x1, r(w.ln2Gamma), r(w.ln2Beta)), [B * T, d]);
      const hidden = gelu(linear(b, r(w.fcKernel), r(w.fcBias)));
      const mlpOut = linear(hidden, r(w.outKernel), r(w.outBias));
      return tf.add(x1, tf.reshape(mlpOut, [B, T, d]));
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return singleShape(inputShape);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      heads: this.heads,
      mlpRatio: this.mlpRatio,
      depth: this.depth,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(LmBlock);

export interface LmHeadArgs extends LayerArgs {
  vocabSize: number;
  seed: number;
}

/** Final LayerNorm and the output projection: [B, T, d] → logits [B, T, vocabSize]. */
export class LmHead extends tf.layers.Layer {
  static readonly className = 'NalmLmHead';
  readonly vocabSize: number;
  readonly seed: number;
  private gamma: tf.LayerVariable | null = null;
  private beta: tf.LayerVariable | null = null;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: LmHeadArgs) {
    const { vocabSize, seed, ...rest } = args;
    delete (rest as Record<string, unknown>).customObjects;
    super(rest);
    this.vocabSize = positiveInt(vocabSize, 'vocabSize', 'LmHead');
    this.seed = seed;
  }

  private adder(): AddWeight {
    return (name, shape, dtype, init) => this.addWeight(name, shape, dtype, init);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const d = singleShape(inputShape)[2];
    if (d == null) throw new LanguageModelInputError('LmHead: the feature width of its input is unknown.');
    const rng = new Rng(this.seed, 'lm-head');
    this.gamma = addInitialised(this.adder(), 'ln_gamma', [d], { kind: 'ones' }, rng);
    this.beta = addInitialised(this.adder(), 'ln_beta', [d], { kind: 'zeros' }, rng);
    this.kernel = addInitialised(this.adder(), 'kernel', [d, this.vocabSize], normal(), rng);
    this.bias = addInitialised(this.adder(), 'bias', [this.vocabSize], { kind: 'zeros' }, rng);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = inputOf(inputs);
      const [B, T, d] = x.shape as [number, number, number];
      const n = tf.reshape(layerNorm(x, this.gamma!.read(), this.beta!.read()), [B * T, d]);
      const logits = linear(n, this.kernel!.read(), this.bias!.read());
      return tf.reshape(logits, [B, T, this.vocabSize]);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = singleShape(inputShape);
    return [s[0] ?? null, s[1] ?? null, this.vocabSize];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), vocabSize: this.vocabSize, seed: this.seed };
  }
}
tf.serialization.registerClass(LmHead);

// ---------------------------------------------------------------------------------------------
// The model.

/** How a forward pass runs: training mode, a module inserted after block k, logits of the last position only. */
export interface ForwardOptions {
  /** Passed to every layer and to `insert` (the host itself has no dropout: its output is the same). */
  training?: boolean;
  /**
   * Where `insert` acts: on the hidden states after `insertAfter` blocks (0 = the embeddings,
   * L = after the last block, before the final LayerNorm).
   */
  insertAfter?: number;
  /**
   * Replaces the hidden states h [B, T, d] at `insertAfter` by insert(h, …), e.g. h + g ⊙ module(h);
   * it also gets the token ids and whether this is a training call.
   */
  insert?: (h: tf.Tensor3D, ids: tf.Tensor2D, training: boolean) => tf.Tensor3D;
  /** Only the last position's logits ([B, 1, V]): what generation needs. */
  lastOnly?: boolean;
}

export interface GenerateOptions extends Pick<ForwardOptions, 'insertAfter' | 'insert'> {
  /** Most tokens to generate per prompt (default 32). */
  maxNewTokens?: number;
  /** Characters that end a continuation (not included in it; default newline). */
  stop?: string;
  /** Start each prompt with `<bos>`, as every pretraining document does (default true). */
  bos?: boolean;
}

export class LanguageModel {
  constructor(
    readonly model: tf.LayersModel,
    readonly tokenizer: CharTokenizer,
    readonly config: LmConfig,
  ) {
    if (tokenizer.vocabSize !== config.vocabSize) {
      throw new LanguageModelInputError(
        `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary ${config.vocabSize}.`,
      );
    }
  }

  get embedding(): LmEmbedding {
    return this.model.getLayer('embedding') as LmEmbedding;
  }

  /** The transformer blocks in order (block_0 … block_{L−1}). */
  get blocks(): LmBlock[] {
    return Array.from({ length: this.config.layers }, (_, i) => this.model.getLayer(`block_${i}`) as LmBlock);
  }

  get head(): LmHead {
    return this.model.getLayer('head') as LmHead;
  }

  /** The model's trainable variables, in a fixed order (the optimizer state follows it). */
  get trainableVariables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  get parameterCount(): number {
    return this.model.countParams();
  }

  /** Every host weight becomes non-trainable (an inserted module trains alone); `unfreeze` undoes it. */
  freeze(): void {
    for (const l of this.model.layers) l.trainable = false;
  }

  unfreeze(): void {
    for (const l of this.model.layers) l.trainable = true;
  }

  /** Token ids of a text ([bos] + characters), checked against the context. */
  encode(text: string, options: { bos?: boolean } = {}): Int32Array {
    const bos = options.bos ?? true;
    const ids = this.tokenizer.encode(text, { bos });
    if (ids.length > this.config.context) {
      throw new LanguageModelInputError(
        `the text has ${ids.length} tokens${bos ? ' (with <bos>)' : ''}; the language model's context is ${this.config.context}. ` +
          `Shorten it (or pretrain a model with a longer --context).`,
      );
    }
    return ids;
  }

  private checkInsertAfter(k: number): void {
    if (!Number.isInteger(k) || k < 0 || k > this.config.layers) {
      throw new LanguageModelInputError(
        `insertAfter must be a whole number from 0 (the embeddings) to ${this.config.layers} (after the last block), got ${k}.`,
      );
    }
  }

  /** Logits [B, T, V] (or [B, 1, V] with `lastOnly`) of token ids [B, T] (ids from the tokenizer). */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const { insert, insertAfter, training = false, lastOnly = false } = options;
    if (insert && insertAfter === undefined) {
      throw new LanguageModelInputError(
        'forward: give insertAfter (which block the inserted module follows).',
      );
    }
    if (insertAfter !== undefined) this.checkInsertAfter(insertAfter);
    return tf.tidy(() => {
      const kwargs = { training };
      let h = this.embedding.apply(ids, kwargs) as tf.Tensor3D;
      const blocks = this.blocks;
      for (let k = 0; k <= blocks.length; k++) {
        if (insert && k === insertAfter) h = insert(h, ids, training);
        if (k < blocks.length) h = blocks[k]!.apply(h, kwargs) as tf.Tensor3D;
      }
      if (lastOnly) {
        const [B, T, d] = h.shape;
        h = tf.slice(h, [0, T - 1, 0], [B, 1, d]);
      }
      return this.head.apply(h, kwargs) as tf.Tensor3D;
    });
  }

  /** Hidden states [B, T, d] after `after` blocks (0 = the embeddings). */
  hiddenStates(ids: tf.Tensor2D, after: number): tf.Tensor3D {
    this.checkInsertAfter(after);
    return tf.tidy(() => {
      let h = this.embedding.apply(ids) as tf.Tensor3D;
      for (const b of this.blocks.slice(0, after)) h = b.apply(h) as tf.Tensor3D;
      return h;
    });
  }

  /**
   * Logits [B, T, V] from hidden states h [B, T, d] after `after` blocks: the remaining blocks and
   * the head. `forward(ids, { insertAfter: k, insert })` is `continueFrom(insert(hiddenStates(ids, k)), k)`;
   * a trainer that needs more than h' from its module (its read-out logits, its gate) runs the two
   * halves itself.
   */
  continueFrom(h: tf.Tensor3D, after: number, options: { training?: boolean } = {}): tf.Tensor3D {
    this.checkInsertAfter(after);
    return tf.tidy(() => {
      const kwargs = { training: options.training ?? false };
      let x = h;
      for (const b of this.blocks.slice(after)) x = b.apply(x, kwargs) as tf.Tensor3D;
      return this.head.apply(x, kwargs) as tf.Tensor3D;
    });
  }

  /**
   * Greedy continuations of prompts: at every step the whole prefix is run again (no KV cache)
   * and the most likely next character appended, until a `stop` character or `maxNewTokens`.
   * Prompts of equal length run as one batch. A prompt plus maxNewTokens beyond the context is an
   * error (checked before anything runs).
   */
  generate(prompts: readonly string[], options: GenerateOptions = {}): string[] {
    const maxNew = options.maxNewTokens ?? 32;
    if (!Number.isInteger(maxNew) || maxNew < 1) {
      throw new LanguageModelInputError(
        `generate: maxNewTokens must be a positive whole number, got ${maxNew}.`,
      );
    }
    const stop = new Set<number>();
    for (const c of options.stop ?? '\n') {
      const id = this.tokenizer.idOf(c);
      if (id === undefined) {
        throw new LanguageModelInputError(
          `generate: the stop character ${JSON.stringify(c)} is not in the alphabet.`,
        );
      }
      stop.add(id);
    }
    const encoded = prompts.map((p) => this.tokenizer.encode(p, { bos: options.bos ?? true }));
    encoded.forEach((ids, i) => {
      if (ids.length + maxNew > this.config.context) {
        throw new LanguageModelInputError(
          `generate: prompt ${i} has ${ids.length} tokens; with maxNewTokens ${maxNew} that exceeds the ` +
            `context of ${this.config.context}. Lower maxNewTokens to at most ${this.config.context - ids.length} ` +
            `or shorten the prompt.`,
        );
      }
      if (ids.length === 0)
        throw new LanguageModelInputError(`generate: prompt ${i} is empty; give text or bos: true.`);
    });
    const out: string[] = new Array<string>(prompts.length).fill('');
    const byLength = new Map<number, number[]>();
    encoded.forEach((ids, i) => byLength.set(ids.length, [...(byLength.get(ids.length) ?? []), i]));
    for (const [len, rows] of byLength) {
      const n = rows.length;
      const seqs = rows.map((i) => Array.from(encoded[i]!));
      const generated: number[][] = rows.map(() => []);
      const done = rows.map(() => false);
      for (let step = 0; step < maxNew && done.some((d) => !d); step++) {
        const T = len + step;
        const next = tf.tidy(() => {
          const ids = tf.tensor2d(Int32Array.from(seqs.flat()), [n, T], 'int32');
          const logits = this.forward(ids, {
            lastOnly: true,
            insert: options.insert,
            insertAfter: options.insertAfter,
          });
          return tf.argMax(tf.reshape(logits, [n, this.config.vocabSize]), -1);
        });
        const ids = next.dataSync();
        next.dispose();
        for (let r = 0; r < n; r++) {
          const id = ids[r]!;
          seqs[r]!.push(id);
          if (done[r]) continue;
          if (stop.has(id)) done[r] = true;
          else generated[r]!.push(id);
        }
      }
      rows.forEach((i, r) => (out[i] = this.tokenizer.decode(generated[r]!)));
    }
    return out;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** A new language model with seeded initial weights. */
export function buildLanguageModel(
  config: Partial<LmConfig> & { vocabSize?: number },
  tokenizer: CharTokenizer = new CharTokenizer(),
): LanguageModel {
  const c = resolveLmConfig({ ...config, vocabSize: config.vocabSize ?? tokenizer.vocabSize });
  const s = (...parts: (string | number)[]) => deriveSeed(c.seed, 'lm', ...parts);
  const input = tf.input({ shape: [null], dtype: 'int32', name: 'ids' });
  let h = new LmEmbedding({
    vocabSize: c.vocabSize,
    context: c.context,
    dim: c.dim,
    seed: s('embedding'),
    name: 'embedding',
  }).apply(input) as tf.SymbolicTensor;
  for (let i = 0; i < c.layers; i++) {
    h = new LmBlock({
      heads: c.heads,
      mlpRatio: c.mlpRatio,
      depth: c.layers,
      seed: s('block', i),
      name: `block_${i}`,
    }).apply(h) as tf.SymbolicTensor;
  }
  const logits = new LmHead({ vocabSize: c.vocabSize, seed: s('head'), name: 'head' }).apply(
    h,
  ) as tf.SymbolicTensor;
  return new LanguageModel(tf.model({ inputs: input, outputs: logits, name: 'nalm_lm' }), tokenizer, c);
}

// ---------------------------------------------------------------------------------------------
// Saving and loading (any tfjs IOHandler: files through @nalm/units/node, http, IndexedDB, memory).

const METADATA_KEY = 'nalmLanguageModel';
const MODEL_FORMAT = 'nalm-language-model';
const MODEL_VERSION = 1;

interface LmMetadata {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  config: LmConfig;
  tokenizer: CharTokenizerJSON;
}

/** Save the model with its config and tokenizer (in model.json's userDefinedMetadata). */
export async function saveLanguageModel(
  lm: LanguageModel,
  handler: tf.io.IOHandler,
): Promise<tf.io.SaveResult> {
  const meta: LmMetadata = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_VERSION,
    config: lm.config,
    tokenizer: lm.tokenizer.toJSON(),
  };
  lm.model.setUserDefinedMetadata({ [METADATA_KEY]: meta });
  return lm.model.save(handler);
}

/** The LanguageModel of a loaded tfjs model, checked against its metadata. */
export function languageModelOf(model: tf.LayersModel): LanguageModel {
  const meta = (model.getUserDefinedMetadata() as Record<string, unknown> | undefined)?.[METADATA_KEY] as
    Partial<LmMetadata> | undefined;
  if (!meta || meta.format !== MODEL_FORMAT) {
    throw new LanguageModelInputError(
      `this model is not a nalm language model (its model.json has no "${METADATA_KEY}" metadata); ` +
        `save one with saveLanguageModel or 'nalm calc pretrain'.`,
    );
  }
  if (meta.formatVersion !== MODEL_VERSION) {
    throw new LanguageModelInputError(
      `language model format version ${String(meta.formatVersion)} is not supported (this nalm reads version ${MODEL_VERSION}).`,
    );
  }
  const tokenizer = CharTokenizer.fromJSON(meta.tokenizer);
  const config = resolveLmConfig(meta.config ?? { vocabSize: -1 });
  const lm = new LanguageModel(model, tokenizer, config);
  const has = (name: string, cls: new (...a: never[]) => tf.layers.Layer) => {
    let layer: tf.layers.Layer | undefined;
    try {
      layer = model.getLayer(name);
    } catch {
      layer = undefined;
    }
    if (!(layer instanceof cls)) {
      throw new LanguageModelInputError(
        `the saved model has no ${cls.name} named '${name}'; its files do not match its metadata.`,
      );
    }
  };
  has('embedding', LmEmbedding);
  for (let i = 0; i < config.layers; i++) has(`block_${i}`, LmBlock);
  has('head', LmHead);
  if (lm.embedding.context !== config.context || lm.embedding.dim !== config.dim) {
    throw new LanguageModelInputError(
      "the saved model's embedding does not match its metadata's context and dim.",
    );
  }
  return lm;
}

/** Load a model saved by `saveLanguageModel` (or `nalm calc pretrain`) from a tfjs IOHandler. */
export async function loadLanguageModel(handler: tf.io.IOHandler): Promise<LanguageModel> {
  return languageModelOf(await tf.loadLayersModel(handler));
}
