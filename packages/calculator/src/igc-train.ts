/**
 * Training and evaluating a module inserted into the frozen transformer host (igc.ts): the
 * calculator, or the baseline's adapter, on the same data with the same budget. Browser-safe; the
 * `nalm calc igc-train` / `igc-eval` commands (@nalm/cli) own files, progress and resuming.
 *
 * Data of step s (a function of (seed, s) only, so a resumed run takes the steps an uninterrupted
 * one would): B rows, of which round(B · textShare) are windows of ordinary text from the corpus's
 * training split (`batchWindows`) and the rest questions from the arithmetic task's training
 * stream (`createTask(...).trainStream`: the 20 BIG-bench subtasks and a share of copy/count
 * questions), each as `<bos>Q: <question>\nA: <answer>\n` (`igcPrompt`). Rows are padded at the end
 * to the longest question; text windows have that length too.
 *
 * Loss (the same for both variants, plus the calculator's own supervision):
 * - answer: mean next-token cross-entropy over the answer characters and the closing newline of
 *   every question row (the positions m … m + |answer|, m the marker's last token);
 * - text (weight `textWeight`): mean next-token cross-entropy over the text windows: a module that
 *   harms the host's text prediction pays for it;
 * - calculator only, read-out (weight `auxWeight`): `operandLoss`, the cross-entropy of the read-out
 *   heads against the question's true operands and operator (arithmetic rows), plus the
 *   cross-entropy of each slot's attention against the position it should read (`slotPositions`:
 *   the generator knows where each digit is). With operand labels alone, each slot of each seed
 *   had to find its position by itself, and some did not: on the pretrained host, seed 1 read the
 *   first operand's 10^3 digit from a diffuse attention over 'is ' (38–53% right) while seed 0
 *   found it; a slot whose label is mostly 0 (digit absent) can settle on any non-digit;
 * - calculator only, gate (weight `gateWeight`): a hinge on the gate's logit z (margin
 *   `gateMargin`, as the small host's trainer): z ≥ m where the module writes the result of an
 *   arithmetic question, z ≤ −m at the answer positions of copy/count questions (there the host
 *   must answer alone) and z ≤ −m at every other position (questions, text); each of the three sets
 *   is averaged over its own positions.
 * The calculator computes with the true operands during training (teacher forcing throughout):
 * the character embedding then learns what makes the frozen host emit each character independently
 * of how well the read-out reads yet; at evaluation the read-out's own operands are used.
 *
 * Optimiser: AdamW without weight decay (pretrain.ts), gradients clipped to a global norm, linear
 * warm-up then cosine decay (`learningRateAt`).
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '@nalm/units';
import { LanguageModelInputError } from './char-tokenizer.js';
import type { SubtaskScore } from './host.js';
import type { InsertedModule } from './igc.js';
import { IgcCalculator, answerText, igcPrompt, markerEnd, ANSWER_MARKER } from './igc.js';
import type { Operands } from './layers.js';
import { operandLabels, operandLoss, operandSlots } from './layers.js';
import type { Perplexity } from './pretrain.js';
import { AdamW, batchWindows, heldOutPerplexity, learningRateAt } from './pretrain.js';
import type { ArithmeticTask, Item } from './task.js';
import { ARITH_SUBTASKS, MAX_DIGITS, NON_ARITH_SUBTASKS, arithmeticSpans, parseQuestion } from './task.js';
import type { LanguageModel } from './transformer.js';

export interface IgcTrainSettings {
  steps: number;
  batchSize: number;
  /** Share of text windows in a batch. */
  textShare: number;
  learningRate: number;
  warmupSteps: number;
  /** The cosine decay ends at this fraction of the peak. */
  minLearningRate: number;
  clipNorm: number;
  textWeight: number;
  auxWeight: number;
  gateWeight: number;
  gateMargin: number;
  /** Seed of the data stream (the module's initial weights come from its own config seed). */
  seed: number;
}

export const DEFAULT_IGC_TRAIN: Omit<IgcTrainSettings, 'seed'> = {
  // On the pretrained host (4 blocks, width 96) the read-out of 5-digit operands still improved
  // between 2,000 and 3,000 steps (about 16 minutes on one core).
  steps: 3000,
  batchSize: 32,
  textShare: 0.25,
  // The module reads LayerNorm'd hidden states, so its rate does not depend on the host's scale;
  // on tiny hosts 1e-2 taught the read-out within 300 steps where 3e-3 needed three times as many.
  learningRate: 1e-2,
  warmupSteps: 50,
  minLearningRate: 0.1,
  clipNorm: 1,
  textWeight: 1,
  auxWeight: 1,
  gateWeight: 1,
  gateMargin: 6,
};

/** The token rows of one step and what each loss counts. */
export interface IgcBatch {
  B: number;
  T: number;
  inputs: Int32Array;
  targets: Int32Array;
  /** 1 at the answer positions of question rows (the answer's characters and its newline). */
  answerMask: Float32Array;
  /** 1 at every position of text rows. */
  textMask: Float32Array;
  /** Gate targets: open where the calculator writes a result, closed at copy/count answers, closed elsewhere. */
  gateOn: Float32Array;
  gateOffAnswer: Float32Array;
  gateOffRest: Float32Array;
  /** The question of each row (null: a text window). */
  items: (Item | null)[];
}

/**
 * Where each read-out slot should look in the prompt of an arithmetic question (token positions of
 * `<bos>Q: <question>\nA: `; null for other questions): digit k of an operand at its k-th character
 * from the right, a digit the operand does not have, and the operand's sign, at the character
 * before the number (a space: what reads as 0 and +); the operator at its word's first letter.
 * Training only: at inference the read-out finds the positions itself.
 */
export function slotPositions(text: string, D: number): Int32Array | null {
  const q = arithmeticSpans(text);
  if (!q || !/^\d+$/.test(q.a.text) || !/^\d+$/.test(q.b.text)) return null;
  const offset = 1 + igcPrompt(text).indexOf(text); // <bos>, then the prompt's prefix
  const L = operandSlots(D);
  const out = new Int32Array(L.count);
  for (let k = 0; k < D; k++) {
    for (const [slot, n] of [
      [L.aDigits, q.a],
      [L.bDigits, q.b],
    ] as const) {
      out[slot + k] = offset + (k < n.text.length ? n.start + n.text.length - 1 - k : n.start - 1);
    }
  }
  out[L.aSign] = offset + q.a.start - 1;
  out[L.bSign] = offset + q.b.start - 1;
  out[L.op] = offset + q.word.start;
  return out;
}

/** The token ids of a question with its answer: `<bos>Q: …\nA: <answer>\n`. */
export function questionIds(lm: LanguageModel, item: Item): Int32Array {
  return lm.encode(`${igcPrompt(item.text)}${answerText(item.answer)}\n`);
}

/** Rows of question items and text windows of step `step`. */
export function igcBatch(
  lm: LanguageModel,
  task: ArithmeticTask,
  text: Int32Array,
  settings: Pick<IgcTrainSettings, 'batchSize' | 'textShare' | 'seed'>,
  step: number,
): IgcBatch {
  const B = settings.batchSize;
  const nText = Math.round(B * settings.textShare);
  const nQ = B - nText;
  const next = task.trainStream(deriveSeed(settings.seed, 'igc-step', step));
  const items = Array.from({ length: nQ }, next);
  const seqs = items.map((it) => questionIds(lm, it));
  // Inputs are a sequence without its last token: T = longest question − 1.
  const T = Math.max(...seqs.map((s) => s.length - 1), 8);
  const marker = lm.tokenizer.encode(ANSWER_MARKER);
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  const answerMask = new Float32Array(B * T);
  const textMask = new Float32Array(B * T);
  const gateOn = new Float32Array(B * T);
  const gateOffAnswer = new Float32Array(B * T);
  const gateOffRest = new Float32Array(B * T);
  seqs.forEach((s, r) => {
    const o = r * T;
    inputs.set(s.subarray(0, s.length - 1), o);
    targets.set(s.subarray(1), o);
    const m = markerEnd(s, marker);
    const arith = items[r]!.operands !== null;
    for (let t = 0; t < s.length - 1; t++) {
      if (t >= m) {
        answerMask[o + t] = 1;
        (arith ? gateOn : gateOffAnswer)[o + t] = 1;
      } else gateOffRest[o + t] = 1;
    }
  });
  if (nText > 0) {
    const windows = batchWindows(text, T, nText, deriveSeed(settings.seed, 'igc-text'), step);
    for (let i = 0; i < nText; i++) {
      const r = nQ + i;
      const w = windows.subarray(i * (T + 1), (i + 1) * (T + 1));
      inputs.set(w.subarray(0, T), r * T);
      targets.set(w.subarray(1), r * T);
      textMask.fill(1, r * T, (r + 1) * T);
      gateOffRest.fill(1, r * T, (r + 1) * T);
    }
  }
  return {
    B,
    T,
    inputs,
    targets,
    answerMask,
    textMask,
    gateOn,
    gateOffAnswer,
    gateOffRest,
    items: [...items, ...Array.from({ length: nText }, () => null)],
  };
}

/** Mean of v over the positions where mask is 1 (0 when there are none). */
function maskedMean(v: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.div(tf.sum(tf.mul(v, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
}

export interface IgcLossParts {
  total: number;
  answer: number;
  text: number;
  operands: number | null;
  gate: number | null;
}

/** The loss of a batch (a scalar tensor) and its parts as tensors (for the progress line). */
export function igcLoss(
  lm: LanguageModel,
  module: InsertedModule,
  insertAfter: number,
  batch: IgcBatch,
  settings: Pick<IgcTrainSettings, 'textWeight' | 'auxWeight' | 'gateWeight' | 'gateMargin'>,
  training = true,
): { total: tf.Scalar; parts: tf.Scalar[] } {
  const { B, T } = batch;
  const ids = tf.tensor2d(batch.inputs, [B, T], 'int32');
  const V = lm.config.vocabSize;
  try {
    const h = lm.hiddenStates(ids, insertAfter);
    let out: tf.Tensor3D;
    let extra: tf.Scalar[] = [];
    if (module instanceof IgcCalculator) {
      module.teacher = training ? batch.items.map((it) => it?.operands ?? null) : null;
      let o;
      try {
        o = module.apply(h, ids, training);
      } finally {
        module.teacher = null;
      }
      out = o.out;
      const D = module.cfg.operandDigits;
      const ops = batch.items.map((it) => it?.operands ?? null) as (Operands | null)[];
      const labels = tf.tensor2d(operandLabels(ops, D), [B, operandSlots(D).count], 'int32');
      const rowMask = tf.tensor1d(ops.map((r) => (r ? 1 : 0)));
      // Each supervised slot's attention: −log of its weight at the target position.
      const S = operandSlots(D).count;
      const at = new Float32Array(B * S * T);
      let supervised = 0;
      batch.items.forEach((it, r) => {
        const pos = it?.operands ? slotPositions(it.text, D) : null;
        pos?.forEach((p, sl) => {
          if (p < T) {
            at[(r * S + sl) * T + p] = 1;
            supervised++;
          }
        });
      });
      const attnLoss = tf.div(
        tf.neg(tf.sum(tf.mul(tf.log(tf.add(o.attention, 1e-9)), tf.tensor3d(at, [B, S, T])))),
        Math.max(supervised, 1),
      );
      const aux = tf.add(operandLoss(o.logits, labels, rowMask), attnLoss) as tf.Scalar;
      const g = tf.reshape(o.gate, [B * T]);
      const z = tf.sub(tf.log(tf.maximum(g, 1e-7)), tf.log(tf.maximum(tf.sub(1, g), 1e-7)));
      const m = settings.gateMargin;
      const on = tf.tensor1d(batch.gateOn);
      const offA = tf.tensor1d(batch.gateOffAnswer);
      const offR = tf.tensor1d(batch.gateOffRest);
      // The two closed sets weigh half each: the answer positions of arithmetic and of copy/count
      // questions look alike until the gate has learned to tell the questions apart, and with equal
      // weights their pushes cancel there while the rest closes the gate everywhere (measured: the
      // gate at arithmetic answers fell from 0.018 to 0.004 in 150 steps and the answer loss never moved).
      const gateLoss = tf.addN([
        maskedMean(tf.relu(tf.sub(m, z)), on),
        tf.mul(maskedMean(tf.relu(tf.add(z, m)), offA), 0.5),
        tf.mul(maskedMean(tf.relu(tf.add(z, m)), offR), 0.5),
      ]) as tf.Scalar;
      extra = [aux, gateLoss];
    } else {
      out = module.insert(h, ids, training);
    }
    const logits = lm.continueFrom(out, insertAfter, { training });
    const logp = tf.logSoftmax(tf.reshape(logits, [B * T, V]));
    const ce = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(batch.targets, 'int32'), V)), -1));
    const answer = maskedMean(ce, tf.tensor1d(batch.answerMask));
    const textL = maskedMean(ce, tf.tensor1d(batch.textMask));
    let total = tf.add(answer, tf.mul(textL, settings.textWeight)) as tf.Scalar;
    if (extra.length === 2) {
      total = tf.addN([
        total,
        tf.mul(extra[0]!, settings.auxWeight),
        tf.mul(extra[1]!, settings.gateWeight),
      ]) as tf.Scalar;
    }
    return { total, parts: [answer, textL, ...extra] };
  } finally {
    ids.dispose();
  }
}

/** One step at a time (the caller owns timing, progress and checkpoints), like `Pretrainer`. */
export class IgcTrainer {
  readonly optimizer: AdamW;

  constructor(
    readonly lm: LanguageModel,
    readonly module: InsertedModule,
    readonly insertAfter: number,
    readonly task: ArithmeticTask,
    readonly text: Int32Array,
    readonly settings: IgcTrainSettings,
  ) {
    if (lm.trainableVariables.length > 0) {
      throw new LanguageModelInputError(
        'the host is not frozen: call lm.freeze() first (only the inserted module trains).',
      );
    }
    if (!Number.isInteger(insertAfter) || insertAfter < 0 || insertAfter > lm.config.layers) {
      throw new LanguageModelInputError(
        `insertAfter must be a whole number from 0 to ${lm.config.layers}, got ${insertAfter}.`,
      );
    }
    this.optimizer = new AdamW(module.variables, { weightDecay: 0 });
  }

  get step(): number {
    return this.optimizer.t;
  }

  /** One step; returns its loss parts as numbers. */
  trainStep(): IgcLossParts {
    const s = this.settings;
    const lr = learningRateAt(this.step, s);
    const batch = igcBatch(this.lm, this.task, this.text, s, this.step);
    const vars = this.module.variables as tf.Variable[];
    let parts: tf.Scalar[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const r = igcLoss(this.lm, this.module, this.insertAfter, batch, s, true);
      parts = r.parts.map((p) => tf.keep(p));
      return r.total;
    }, vars);
    this.optimizer.apply(
      vars.map((v) => grads[v.name] ?? tf.zerosLike(v)),
      lr,
      s.clipNorm,
    );
    const numbers = [value, ...parts].map((t) => t.dataSync()[0]!);
    tf.dispose([value, ...parts, ...Object.values(grads)]);
    return {
      total: numbers[0]!,
      answer: numbers[1]!,
      text: numbers[2]!,
      operands: numbers[3] ?? null,
      gate: numbers[4] ?? null,
    };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Answers and evaluation.

export interface IgcAnswer {
  question: string;
  /** The generated continuation up to the newline. */
  generated: string;
  /** The generated integer, or null when the continuation is not one (a defined answer, never NaN). */
  value: bigint | null;
  /** What the calculator read and computed (calculator only). */
  read: Operands | null;
  invalid: boolean | null;
}

/** The generated integer of a continuation, or null. */
export const parseAnswer = (s: string): bigint | null => (/^-?\d+$/.test(s) ? BigInt(s) : null);

/**
 * Answers to questions by greedy generation with the module inserted after block k (module null:
 * the host alone). Every question is checked first (`parseQuestion`): a malformed question, an
 * operand longer than `maxDigits` and a division by zero are an ArithmeticInputError naming it.
 */
export function answerQuestions(
  lm: LanguageModel,
  module: InsertedModule | null,
  insertAfter: number,
  questions: readonly string[],
  options: { maxDigits?: number } = {},
): IgcAnswer[] {
  const maxDigits =
    options.maxDigits ?? (module instanceof IgcCalculator ? module.cfg.operandDigits : MAX_DIGITS);
  for (const q of questions) parseQuestion(q, maxDigits);
  const prompts = questions.map(igcPrompt);
  const maxNew = module instanceof IgcCalculator ? module.cfg.resultDigits + 2 : 2 * maxDigits + 2;
  const generated = lm.generate(prompts, {
    maxNewTokens: maxNew,
    ...(module ? { insertAfter, insert: module.insert } : {}),
  });
  const reads = module instanceof IgcCalculator ? readOperands(lm, module, insertAfter, questions) : null;
  return questions.map((question, i) => ({
    question,
    generated: generated[i]!,
    value: parseAnswer(generated[i]!),
    read: reads?.[i]?.decoded ?? null,
    invalid: reads ? reads[i]!.result.invalid : null,
  }));
}

/** The read-out's operands and the exact result for question prompts (one forward pass, padded). */
export function readOperands(
  lm: LanguageModel,
  calc: IgcCalculator,
  insertAfter: number,
  questions: readonly string[],
  batchSize = 128,
): { decoded: Operands; result: ReturnType<IgcCalculator['compute']> }[] {
  const out: { decoded: Operands; result: ReturnType<IgcCalculator['compute']> }[] = [];
  for (let s = 0; s < questions.length; s += batchSize) {
    const chunk = questions.slice(s, s + batchSize).map((q) => lm.encode(igcPrompt(q)));
    const T = Math.max(...chunk.map((c) => c.length));
    const ids = new Int32Array(chunk.length * T);
    // Padding after the marker is never read (the read-out sees the prompt only).
    chunk.forEach((c, r) => ids.set(c, r * T));
    tf.tidy(() => {
      const x = tf.tensor2d(ids, [chunk.length, T], 'int32');
      const o = calc.apply(lm.hiddenStates(x, insertAfter), x, false);
      for (const r of o.rows) out.push({ decoded: r.decoded, result: r.result });
    });
  }
  return out;
}

/** The transformer host's per-subtask score: the same fields as the small host's (host.ts). */
export type IgcSubtaskResult = SubtaskScore;

export interface IgcEvaluation {
  subtasks: IgcSubtaskResult[];
  /** Mean gate (calculator): where it writes the result of arithmetic questions, over their prompts, at copy/count answers, on held-out text. */
  gate: {
    arithmeticAnswer: number;
    arithmeticPrompt: number;
    nonArithmeticAnswer: number;
    text: number;
  } | null;
  /** Held-out text perplexity with the module inserted. */
  perplexity: Perplexity;
}

export interface IgcEvalOptions {
  insertAfter: number;
  task: ArithmeticTask;
  /** Held-out text (token ids) for the perplexity and the gate on text. */
  heldOut: Int32Array;
  /** Held-out characters for the perplexity (evenly spaced windows; default: all). */
  evalTokens?: number;
  /** Test items per subtask at most (default: the task's). */
  itemsPerSubtask?: number;
  onSubtask?: (name: string, done: number, total: number) => void;
}

/** Mean gate over masked positions of teacher-forced question rows and of text windows. */
function gateMeans(
  lm: LanguageModel,
  calc: IgcCalculator,
  k: number,
  items: readonly Item[],
  heldOut: Int32Array,
): NonNullable<IgcEvaluation['gate']> {
  const sums = {
    arithmeticAnswer: [0, 0],
    arithmeticPrompt: [0, 0],
    nonArithmeticAnswer: [0, 0],
    text: [0, 0],
  };
  const marker = lm.tokenizer.encode(ANSWER_MARKER);
  const add = (key: keyof typeof sums, v: number) => {
    sums[key][0]! += v;
    sums[key][1]! += 1;
  };
  for (let s = 0; s < items.length; s += 128) {
    const chunk = items.slice(s, s + 128);
    const seqs = chunk.map((it) => questionIds(lm, it));
    const T = Math.max(...seqs.map((q) => q.length));
    const ids = new Int32Array(chunk.length * T);
    seqs.forEach((q, r) => ids.set(q, r * T));
    const g = tf.tidy(() => {
      const x = tf.tensor2d(ids, [chunk.length, T], 'int32');
      return calc.apply(lm.hiddenStates(x, k), x, false).gate.dataSync();
    });
    seqs.forEach((q, r) => {
      const m = markerEnd(q, marker);
      const arith = chunk[r]!.operands !== null;
      for (let t = 0; t < q.length - 1; t++) {
        const v = g[r * T + t]!;
        if (t < m) {
          if (arith) add('arithmeticPrompt', v);
        } else add(arith ? 'arithmeticAnswer' : 'nonArithmeticAnswer', v);
      }
    });
  }
  const C = lm.config.context;
  const windows = Math.min(32, Math.floor(heldOut.length / C));
  if (windows > 0) {
    const ids = new Int32Array(windows * C);
    for (let w = 0; w < windows; w++) {
      const start = Math.floor((w * (heldOut.length - C)) / Math.max(1, windows - 1 || 1));
      ids.set(heldOut.subarray(start, start + C), w * C);
    }
    const g = tf.tidy(() => {
      const x = tf.tensor2d(ids, [windows, C], 'int32');
      return calc.apply(lm.hiddenStates(x, k), x, false).gate.dataSync();
    });
    for (const v of g) add('text', v);
  }
  const mean = (key: keyof typeof sums) => sums[key][0]! / Math.max(1, sums[key][1]!);
  return {
    arithmeticAnswer: mean('arithmeticAnswer'),
    arithmeticPrompt: mean('arithmeticPrompt'),
    nonArithmeticAnswer: mean('nonArithmeticAnswer'),
    text: mean('text'),
  };
}

/**
 * Exact match per subtask (20 arithmetic, then copy and count) by greedy generation, the
 * calculator's read-out accuracy and gate means, and the held-out perplexity with the module.
 */
export function evaluateIgc(
  lm: LanguageModel,
  module: InsertedModule | null,
  o: IgcEvalOptions,
): IgcEvaluation {
  const k = o.insertAfter;
  const calc = module instanceof IgcCalculator ? module : null;
  const all = [...ARITH_SUBTASKS, ...NON_ARITH_SUBTASKS];
  const subtasks: IgcSubtaskResult[] = [];
  const gateItems: Item[] = [];
  all.forEach((st, si) => {
    let items = o.task.test.get(st.name) ?? [];
    if (o.itemsPerSubtask !== undefined) items = items.slice(0, o.itemsPerSubtask);
    const answers = answerQuestions(
      lm,
      module,
      k,
      items.map((i) => i.text),
    );
    let correct = 0;
    let opsOk = 0;
    let opOk = 0;
    items.forEach((it, i) => {
      const a = answers[i]!;
      if (a.value !== null && a.value === it.answer && a.generated === answerText(it.answer)) correct++;
      if (calc && it.operands && a.read) {
        if (a.read.op === it.operands.op) opOk++;
        if (a.read.op === it.operands.op && a.read.a === it.operands.a && a.read.b === it.operands.b) opsOk++;
      }
    });
    gateItems.push(...items.slice(0, 16));
    const arithmetic = st.kind === 'arith';
    subtasks.push({
      subtask: st.name,
      arithmetic,
      n: items.length,
      correct,
      operandsCorrect: calc && arithmetic ? opsOk : null,
      operatorCorrect: calc && arithmetic ? opOk : null,
    });
    o.onSubtask?.(st.name, si + 1, all.length);
  });
  const gate = calc ? gateMeans(lm, calc, k, gateItems, o.heldOut) : null;
  const perplexity = heldOutPerplexity(lm, o.heldOut, {
    ...(o.evalTokens !== undefined ? { maxTokens: o.evalTokens } : {}),
    ...(module ? { insertAfter: k, insert: module.insert } : {}),
  });
  return { subtasks, gate, perplexity };
}
