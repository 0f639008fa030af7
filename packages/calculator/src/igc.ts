/**
 * The gated calculator inserted into the pretrained transformer language model, as IGC does it
 * (shared/spec/calculator.md, issue 16): the host is frozen, the module sits after block k and
 * replaces the hidden states there, H' = H + g ⊙ W, and the frozen blocks after k and the frozen
 * head generate the answer character by character.
 *
 * The module (`IgcCalculator`, a plain set of tfjs variables, not a tfjs layer: it needs the token
 * ids and returns its read-out and gate next to H'):
 *
 * 1. Read-out (input mapping). The question is the prompt `Q: <question>\nA: ` (`igcPrompt`); the
 *    read-out may look at the prompt's positions only (up to the space of the answer marker
 *    `\nA: `), so what it reads does not change while the answer is generated. The slot layout and
 *    heads are the ones of `GatedCalculator` (`operandSlots`: D digit slots per operand, right
 *    aligned, a sign per operand, the operator), through the same `slotAttention` formula. The
 *    keys: a slot cannot find "the tens digit of the first number" in the hidden state of that
 *    digit alone, since a causal host has not yet seen where the number ends; so the key of
 *    position t is computed from the hidden states at t, t + 1, …, t + window − 1 (inside the
 *    prompt; `keyWindow`, window = D + 2: a digit, the digits after it, the character after the
 *    number and one more). This key window is the only addition to the GatedCalculator's read-out,
 *    is learned (one key matrix per offset) and sees nothing but the host's hidden states: no
 *    digit-place or number-ordinal features, unlike the small from-scratch host (host.ts). The
 *    value pooled at a position is its character (one-hot over the tokenizer's ids) beside its
 *    hidden state: what a digit slot must return is the attended character's identity, and with
 *    either half alone training settled in poor optima (measured; see `apply`).
 * 2. Exact stage: argmax of every head → integers → `calculate` (arith.ts, BigInt) → the result
 *    text (`-123`; invalid results, e.g. a division by zero, have none).
 * 3. Output mapping, the write cursor. The answer is generated most significant digit first, one
 *    character per step, so each answer position needs one character of the result, not the whole
 *    result: at prompt position m (the marker's space) + j the module writes the embedding E[c] of
 *    the result's character j (c ∈ 0–9, '-'), at j = length the embedding of the newline that ends
 *    the answer, and nothing (exactly 0) at every other position and in rows without a marker.
 *    The cursor j is the distance to the answer marker in the token ids: a structural rule of the
 *    prompt format, not learned (see the README's "what differs from IGC").
 * 4. Gate g_t = σ(LN(H_t)·w_g + r_op·u_g + b_g): the GatedCalculator's formula on the LayerNorm of
 *    H without a gain (as the read-out reads it) plus what the operator slot pooled, r_op (its
 *    value vector, gradient stopped), so the gate knows whether the question named an operator;
 *    b_g = −4 at the start: H' = H + g ⊙ E[c]. Where the module writes nothing, H' = H whatever g
 *    is; with g forced to 0 (`forceGate`) H' = H everywhere, so the host's logits come out bit for
 *    bit.
 *
 * No adapter: the only trainable parameters are the read-out (key windows, queries, heads), the
 * character embedding E (12 × d) and the gate (d + (V + d) + 1). The frozen blocks after k and the frozen head
 * must turn E[c] into the logit of c; E is free to be any vector, and the head is a linear map of a
 * LayerNorm, so every character whose output column is extreme can be reached by a large enough
 * E[c]. If a host ever cannot, a small output adapter is the fallback (not implemented: none was
 * needed at the scales tested).
 *
 * The baseline (`ResidualAdapter`): the same frozen host with a trainable position-wise MLP
 * inserted at the same place, h + W₂·GELU(W₁·LN(h) + b₁) + b₂ (W₂ = 0 at the start, so it starts
 * as the host), of a hidden width that gives it about the calculator's parameter count
 * (`adapterWidthFor`).
 *
 * Both serialise to a config and named weight tensors (`encodeInsertedModule` /
 * `decodeInsertedModule`), which the CLI stores as module.json + module.bin.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@nalm/units';
import type { CalcResult } from './arith.js';
import { OPERATORS, calculate } from './arith.js';
import type { CharTokenizer } from './char-tokenizer.js';
import { LanguageModelInputError } from './char-tokenizer.js';
import type { Operands, SlotParams } from './layers.js';
import { decodeOperands, gateValues, operandSlots, slotAttention, stopGradient } from './layers.js';
import { layerNorm, linear } from './transformer.js';
import { gelu } from './transformer.js';

// ---------------------------------------------------------------------------------------------
// The prompt format.

/** The characters between the question and its answer; the write cursor counts from its last one. */
export const ANSWER_MARKER = '\nA: ';

/** The prompt of a question: `Q: What is 132 plus 762?\nA: ` (BIG-bench's few-shot format). */
export function igcPrompt(question: string): string {
  return `Q: ${question}${ANSWER_MARKER}`;
}

/** The answer as generated: the integer's digits, '-' first when negative (newline ends it). */
export const answerText = (answer: bigint): string => answer.toString();

/** Output characters the module can write: the ten digits, the minus sign, the newline. */
export const OUTPUT_CHARS = '0123456789-\n';

/**
 * The index m of the answer marker's last token in a row of token ids (the position whose logits
 * give the answer's first character), or −1 when the row has no marker. The first marker counts.
 */
export function markerEnd(ids: ArrayLike<number>, marker: Int32Array, from = 0, to = ids.length): number {
  const L = marker.length;
  for (let t = from; t + L <= to; t++) {
    let ok = true;
    for (let i = 0; i < L && ok; i++) ok = ids[t + i] === marker[i];
    if (ok) return t + L - 1;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

function seeded(shape: number[], std: number, rng: Rng): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  const init = std === 0 ? new Float32Array(n) : rng.fillNormal(new Float32Array(n), 0, std);
  return tf.variable(tf.tensor(init, shape), true);
}

function positive(value: unknown, name: string, who: string, max = 1 << 20): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new LanguageModelInputError(
      `${who}: '${name}' must be a whole number in [1, ${max}], got ${String(value)}.`,
    );
  }
  return value;
}

function seedOf(value: unknown, who: string): number {
  const s = value ?? 0;
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s >= 2 ** 32) {
    throw new LanguageModelInputError(
      `${who}: 'seed' must be a whole number in [0, 2^32), got ${String(value)}.`,
    );
  }
  return s;
}

/** What the transformer's forward pass calls (`ForwardOptions.insert`). */
export type InsertFn = (h: tf.Tensor3D, ids: tf.Tensor2D, training: boolean) => tf.Tensor3D;

/** A trainable module inserted into the frozen host: what the trainer, the evaluation and the files need. */
export interface InsertedModule {
  readonly kind: 'calculator' | 'adapter';
  /** Trainable variables in a fixed order (the optimiser state follows it). */
  readonly variables: readonly tf.Variable[];
  readonly parameterCount: number;
  /** H' of hidden states h [B, T, d] (token ids [B, T]); for `LanguageModel.forward`'s `insert`. */
  readonly insert: InsertFn;
  config(): Record<string, unknown>;
  dispose(): void;
}

// ---------------------------------------------------------------------------------------------
// The calculator module.

export interface IgcCalculatorConfig {
  /** Width d of the host's hidden states. */
  dim: number;
  /** Most digits per operand (D). */
  operandDigits: number;
  /** Most digits of a result; larger results are invalid (nothing written). Default 2D. */
  resultDigits: number;
  /** Key width of the read-out's attention. */
  keyDim: number;
  /** Hidden states per key (t … t + window − 1); default D + 2. */
  window: number;
  /** Initial gate bias b_g (σ(−4) ≈ 0.018). */
  gateBias: number;
  seed: number;
}

export function resolveIgcConfig(c: Partial<IgcCalculatorConfig> & { dim: number }): IgcCalculatorConfig {
  const who = 'IgcCalculator';
  const operandDigits = positive(c.operandDigits ?? 5, 'operandDigits', who, 18);
  const gateBias = c.gateBias ?? -4;
  if (typeof gateBias !== 'number' || !Number.isFinite(gateBias)) {
    throw new LanguageModelInputError(`${who}: 'gateBias' must be a finite number, got ${String(gateBias)}.`);
  }
  return {
    dim: positive(c.dim, 'dim', who),
    operandDigits,
    resultDigits: positive(c.resultDigits ?? 2 * operandDigits, 'resultDigits', who, 36),
    keyDim: positive(c.keyDim ?? 32, 'keyDim', who),
    window: positive(c.window ?? operandDigits + 2, 'window', who, 64),
    gateBias,
    seed: seedOf(c.seed, who),
  };
}

/** Per row of a batch: the marker's end, the operands used, the result and what is written where. */
export interface IgcRowInfo {
  /** Index of the marker's last token, −1 without a marker. */
  marker: number;
  /** Operands decoded by the read-out. */
  decoded: Operands;
  /** Operands the calculator used (the teacher's in a teacher-forced training call). */
  used: Operands;
  result: CalcResult;
  /** The characters written from the marker on (the result's text and a newline; '' if invalid). */
  written: string;
}

/** What one call of the module computed (tensors: the caller disposes them or a tidy does). */
export interface IgcOutput {
  /** H' [B, T, d]. */
  out: tf.Tensor3D;
  /** Read-out logits [B, 2D + 3, 10]. */
  logits: tf.Tensor3D;
  /** Gate [B, T, 1] (its gradient reaches only w_g and b_g, as in GatedCalculator). */
  gate: tf.Tensor3D;
  /** The read-out's attention [B, 2D + 3, T] (what `slotPositions` supervises in training). */
  attention: tf.Tensor3D;
  /** Where the module writes: 1 at (row, position) pairs with a character, else 0 ([B·T]). */
  writes: Float32Array;
  rows: IgcRowInfo[];
}

/**
 * The key inputs of the read-out: for every position t the hidden states at t … t + W − 1 side by
 * side ([B, T, W·d]); positions outside the readable ones (`readable` [B, T, 1], 0/1) are zeros.
 */
export function keyWindow(h: tf.Tensor3D, readable: tf.Tensor, window: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T, d] = h.shape;
    const hm = tf.mul(h, readable);
    if (window === 1) return hm as tf.Tensor3D;
    const padded = tf.pad(hm, [
      [0, 0],
      [0, window - 1],
      [0, 0],
    ]);
    const parts = Array.from({ length: window }, (_, o) => tf.slice(padded, [0, o, 0], [B, T, d]));
    return tf.concat(parts, 2) as tf.Tensor3D;
  });
}

export class IgcCalculator implements InsertedModule {
  readonly kind = 'calculator' as const;
  readonly cfg: IgcCalculatorConfig;
  readonly nOps = OPERATORS.length;
  private readonly markerIds: Int32Array;
  private readonly charIds: Int32Array;
  private readonly vocabSize: number;
  readonly keyW: tf.Variable; // [window·d, dk]
  readonly queries: tf.Variable; // [S, dk]
  readonly headW: tf.Variable; // [S, V + d, 10]: value = [one-hot character, hidden state] (V: the tokenizer's ids)
  readonly headB: tf.Variable; // [S, 10]
  readonly embedding: tf.Variable; // [12, d]: E of OUTPUT_CHARS
  readonly gateW: tf.Variable; // [d, 1]
  readonly gateU: tf.Variable; // [V + d, 1]: the gate's view of what the operator slot read
  readonly gateB: tf.Variable; // [1]
  private readonly unitGain: tf.Tensor;
  private readonly zeroBias: tf.Tensor;
  /**
   * Teacher forcing: while set, a training call computes with these operands (null rows use the
   * decoded ones). The trainer sets it per step.
   */
  teacher: readonly (Operands | null)[] | null = null;
  /** A constant gate instead of σ(H·w_g + b_g) (0: the host exactly); for tests and inspection. */
  forceGate: number | null = null;
  /** Rows of the last call (for inspection: what was read, computed and written). */
  lastRows: IgcRowInfo[] = [];

  constructor(config: Partial<IgcCalculatorConfig> & { dim: number }, tokenizer: CharTokenizer) {
    this.cfg = resolveIgcConfig(config);
    const { dim: d, keyDim: dk, window: W } = this.cfg;
    this.markerIds = tokenizer.encode(ANSWER_MARKER);
    this.charIds = tokenizer.encode(OUTPUT_CHARS);
    this.vocabSize = tokenizer.vocabSize;
    const S = operandSlots(this.cfg.operandDigits).count;
    const rng = new Rng(this.cfg.seed, 'igc-calculator');
    this.keyW = seeded([W * d, dk], 1 / Math.sqrt(W * d), rng);
    // Zero queries: every slot starts with uniform attention (see layers.ts, addSlotWeights).
    this.queries = seeded([S, dk], 0, rng);
    // Each half of a value (one-hot character, unit-variance hidden state) starts with logits of
    // standard deviation 1.
    const V = this.vocabSize;
    const headInit = new Float32Array(S * (V + d) * 10);
    for (let i = 0; i < headInit.length; i++) {
      headInit[i] = rng.normal() * (Math.floor(i / 10) % (V + d) < V ? 1 : 1 / Math.sqrt(d));
    }
    this.headW = tf.variable(tf.tensor(headInit, [S, V + d, 10]), true);
    this.headB = seeded([S, 10], 0, rng);
    this.embedding = seeded([OUTPUT_CHARS.length, d], 1, rng);
    this.gateW = seeded([d, 1], 0.01, rng);
    this.gateU = seeded([this.vocabSize + d, 1], 0.01, rng);
    this.gateB = tf.variable(tf.tensor1d([this.cfg.gateBias]), true);
    this.unitGain = tf.ones([d]);
    this.zeroBias = tf.zeros([d]);
  }

  get variables(): tf.Variable[] {
    return [
      this.keyW,
      this.queries,
      this.headW,
      this.headB,
      this.embedding,
      this.gateW,
      this.gateU,
      this.gateB,
    ];
  }

  get parameterCount(): number {
    return this.variables.reduce((a, v) => a + v.size, 0);
  }

  config(): Record<string, unknown> {
    return { ...this.cfg };
  }

  compute(r: Operands): CalcResult {
    return calculate(r.a, r.b, r.op, this.cfg.operandDigits, this.cfg.resultDigits);
  }

  private slotParams(): SlotParams {
    return { keyW: this.keyW, queries: this.queries, headW: this.headW, headB: this.headB };
  }

  /**
   * Read, compute, write: hidden states h [B, T, d] after block k and their token ids [B, T].
   * `training` enables teacher forcing.
   */
  apply(h: tf.Tensor3D, ids: tf.Tensor2D, training = false): IgcOutput {
    const [B, T, d] = h.shape;
    if (d !== this.cfg.dim) {
      throw new LanguageModelInputError(
        `IgcCalculator: built for hidden states of width ${this.cfg.dim}, got ${d}; build it with the host's dim.`,
      );
    }
    const idv = ids.dataSync();
    const markers = Array.from({ length: B }, (_, b) => markerEnd(idv, this.markerIds, b * T, (b + 1) * T));
    const rel = markers.map((m, b) => (m < 0 ? -1 : m - b * T));
    // The read-out sees the prompt only (positions ≤ m); rows without a marker see every position.
    const readable = new Float32Array(B * T);
    rel.forEach((m, b) => readable.fill(1, b * T, b * T + (m < 0 ? T : m + 1)));
    const C = OUTPUT_CHARS.length;
    const writes = new Float32Array(B * T);
    let rows: IgcRowInfo[] = [];
    const tensors = tf.tidy(() => {
      // What the module reads (read-out and gate) is the LayerNorm of H without a learned gain:
      // a frozen host's residual stream has whatever scale pretraining gave it at block k (an
      // untrained one ≈ 0.02, a trained one ≫ 1), and the module's learning rate should not
      // depend on it. What it writes is added to H itself.
      const hn = layerNorm(h, this.unitGain, this.zeroBias) as tf.Tensor3D;
      const readT = tf.tensor3d(readable, [B, T, 1]);
      const mask = tf.mul(tf.sub(1, tf.reshape(readT, [B, T])), -1e9);
      const keys = keyWindow(hn, readT, this.cfg.window);
      // Keys are windows of hidden states (where is each digit?); a value is the attended position's
      // character beside its hidden state (which digit is it?). Measured on the pretrained host,
      // 2,000 steps, seed 0: with hidden states alone as values the read-out settled on a few anchor
      // positions and decoded digits from their causal context, which blurs with distance (the
      // second operand's 10^3 and 10^4 digits read 55–64% right); with the character alone,
      // slots locked onto a fixed non-digit that answers 'digit absent' (saturated attention, no
      // gradient left to move it: 10–20%). Both together: the worst slot 62%, every other ≥ 88%;
      // with the attention also supervised (igc-train.ts, `slotPositions`), 100% for 3 seeds.
      const values = tf.concat([tf.oneHot(ids, this.vocabSize).toFloat(), hn], 2);
      const { logits, attention } = slotAttention(values, this.slotParams(), { keys, mask });
      const decoded = decodeOperands(logits.dataSync(), B, this.cfg.operandDigits, this.nOps);
      const teacher = training ? this.teacher : null;
      if (teacher && teacher.length !== B) {
        throw new Error(`IgcCalculator: teacher operands for ${teacher.length} rows, batch has ${B}.`);
      }
      // Which character goes where: one-hot rows of E's classes, zero rows where nothing is written.
      const onehot = new Float32Array(B * T * C);
      rows = decoded.map((dec, b) => {
        const used = teacher?.[b] ?? dec;
        const result = this.compute(used);
        const m = rel[b]!;
        const written = m < 0 || result.invalid ? '' : `${answerText(result.value)}\n`;
        for (let j = 0; j < written.length && m + j < T; j++) {
          const k = b * T + m + j;
          onehot[k * C + OUTPUT_CHARS.indexOf(written[j]!)] = 1;
          writes[k] = 1;
        }
        return { marker: m, decoded: dec, used, result, written };
      });
      this.lastRows = rows;
      const write = tf.reshape(tf.matMul(tf.tensor2d(onehot, [B * T, C]), this.embedding), [B, T, d]);
      // The gate sees its position's hidden state and what the operator slot read (detached: the
      // gate's target must not move the read-out). From the hidden state alone the gate told
      // 'What is 2 plus 3?' from 'Repeat 4821.' badly at block 2 of 4: closed on 38% of 1-digit
      // additions whose operands were read right.
      const opRead = stopGradient(
        tf.reshape(
          tf.matMul(tf.slice(attention, [0, operandSlots(this.cfg.operandDigits).op, 0], [B, 1, T]), values),
          [B, -1],
        ),
      );
      const gate =
        this.forceGate === null
          ? gateValues(hn, this.gateW, this.gateB, tf.matMul(opRead, this.gateU))
          : (tf.fill([B, T, 1], this.forceGate) as tf.Tensor3D);
      const out = tf.add(h, tf.mul(gate, write)) as tf.Tensor3D;
      return { out, logits, gate, attention };
    });
    return { ...tensors, writes, rows };
  }

  readonly insert: InsertFn = (h, ids, training) => {
    const o = this.apply(h, ids, training);
    tf.dispose([o.logits, o.gate, o.attention]);
    return o.out;
  };

  dispose(): void {
    tf.dispose([...this.variables, this.unitGain, this.zeroBias]);
  }
}

// ---------------------------------------------------------------------------------------------
// The baseline's adapter.

export interface ResidualAdapterConfig {
  dim: number;
  /** Hidden width r of the MLP. */
  width: number;
  seed: number;
}

/** Hidden width of an adapter of about `parameters` parameters on width d: d·r + r + r·d + d. */
export function adapterWidthFor(parameters: number, dim: number): number {
  return Math.max(1, Math.round((parameters - dim) / (2 * dim + 1)));
}

export class ResidualAdapter implements InsertedModule {
  readonly kind = 'adapter' as const;
  readonly cfg: ResidualAdapterConfig;
  readonly w1: tf.Variable;
  readonly b1: tf.Variable;
  readonly w2: tf.Variable;
  readonly b2: tf.Variable;
  private readonly ones: tf.Tensor;
  private readonly zeros: tf.Tensor;

  constructor(config: ResidualAdapterConfig) {
    const who = 'ResidualAdapter';
    this.cfg = {
      dim: positive(config.dim, 'dim', who),
      width: positive(config.width, 'width', who),
      seed: seedOf(config.seed, who),
    };
    const { dim: d, width: r } = this.cfg;
    const rng = new Rng(this.cfg.seed, 'igc-adapter');
    this.w1 = seeded([d, r], 1 / Math.sqrt(d), rng);
    this.b1 = seeded([r], 0, rng);
    // Zero output: the adapter starts as the identity, the host unchanged.
    this.w2 = seeded([r, d], 0, rng);
    this.b2 = seeded([d], 0, rng);
    this.ones = tf.ones([d]);
    this.zeros = tf.zeros([d]);
  }

  get variables(): tf.Variable[] {
    return [this.w1, this.b1, this.w2, this.b2];
  }

  get parameterCount(): number {
    return this.variables.reduce((a, v) => a + v.size, 0);
  }

  config(): Record<string, unknown> {
    return { ...this.cfg };
  }

  readonly insert: InsertFn = (h) =>
    tf.tidy(() => {
      const [B, T, d] = h.shape;
      const x = tf.reshape(layerNorm(h, this.ones, this.zeros), [B * T, d]);
      const y = linear(gelu(linear(x, this.w1, this.b1)), this.w2, this.b2);
      return tf.add(h, tf.reshape(y, [B, T, d])) as tf.Tensor3D;
    });

  dispose(): void {
    tf.dispose([...this.variables, this.ones, this.zeros]);
  }
}

// ---------------------------------------------------------------------------------------------
// Serialisation: a config and named weights (tfjs's weight encoding), for any storage.

const MODULE_FORMAT = 'nalm-igc-module';
// 2: read-out values [character, hidden state] (head [S, V + d, 10]) and the gate's operator view (gateU).
const MODULE_VERSION = 2;

export interface EncodedModule {
  json: {
    format: typeof MODULE_FORMAT;
    formatVersion: number;
    kind: InsertedModule['kind'];
    config: Record<string, unknown>;
    specs: tf.io.WeightsManifestEntry[];
  };
  data: ArrayBuffer;
}

export async function encodeInsertedModule(m: InsertedModule): Promise<EncodedModule> {
  const named = m.variables.map((v, i) => ({ name: `w${i}`, tensor: v as tf.Tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  return {
    json: { format: MODULE_FORMAT, formatVersion: MODULE_VERSION, kind: m.kind, config: m.config(), specs },
    data,
  };
}

/** The module of `encodeInsertedModule`'s output; anything malformed is a LanguageModelInputError. */
export function decodeInsertedModule(e: EncodedModule, tokenizer: CharTokenizer): InsertedModule {
  const j = e.json as Partial<EncodedModule['json']> | null;
  if (j?.format === MODULE_FORMAT && j.formatVersion === 1) {
    throw new LanguageModelInputError(
      `this module was trained by an older nalm (format version 1: a read-out without character values ` +
        `and a gate without the operator view); train it again with 'nalm calc igc-train'.`,
    );
  }
  if (!j || j.format !== MODULE_FORMAT || j.formatVersion !== MODULE_VERSION) {
    throw new LanguageModelInputError(
      `not an inserted module of format ${MODULE_FORMAT} version ${MODULE_VERSION}; write one with 'nalm calc igc-train'.`,
    );
  }
  const cfg = (j.config ?? {}) as Record<string, number>;
  let m: InsertedModule;
  if (j.kind === 'calculator') m = new IgcCalculator(cfg as unknown as IgcCalculatorConfig, tokenizer);
  else if (j.kind === 'adapter') m = new ResidualAdapter(cfg as unknown as ResidualAdapterConfig);
  else throw new LanguageModelInputError(`unknown inserted module kind ${JSON.stringify(j.kind)}.`);
  let map: tf.NamedTensorMap;
  try {
    map = tf.io.decodeWeights(e.data, j.specs ?? []);
  } catch (err) {
    m.dispose();
    throw new LanguageModelInputError(`the module's weights cannot be decoded (${(err as Error).message}).`);
  }
  try {
    m.variables.forEach((v, i) => {
      const t = map[`w${i}`];
      if (!t || !tf.util.arraysEqual(t.shape, v.shape)) {
        throw new LanguageModelInputError(
          `the module's weight w${i} is missing or has shape [${t?.shape.join(', ') ?? ''}] where [${v.shape.join(', ')}] is expected; its files do not match its config.`,
        );
      }
      v.assign(t);
    });
  } catch (err) {
    m.dispose();
    throw err;
  } finally {
    tf.dispose(Object.values(map));
  }
  return m;
}
