/**
 * A small host model of standard tfjs layers, with or without the gated calculator, its trainer and
 * its evaluation on the arithmetic text task.
 *
 * Host: character embedding + place embedding + number-ordinal embedding (the tokenizer's
 * features, one Dense on their one-hots) → + a Dense summary of the whole text at every position
 * → a position-wise ReLU block with a residual connection → hidden states H [B, T, d]
 * → (GatedCalculator) → a second ReLU block with a residual connection → answer head (SlotReadout:
 * one slot per answer digit and one for the sign). The baseline is the same graph without the
 * calculator, from the same seed.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '@nalm/units';
import type { Operands } from './layers.js';
import { GatedCalculator, SlotReadout, decodeOperands, operandLabels, operandLoss } from './layers.js';
import type { ArithmeticTask } from './task.js';
import type { Encoded } from './task.js';
import {
  ARITH_SUBTASKS,
  MAX_NUMBERS,
  NON_ARITH_SUBTASKS,
  Tokenizer,
  VOCAB_SIZE,
  answerLabels,
  answerOf,
} from './task.js';

export interface HostConfig {
  withCalculator: boolean;
  seed: number;
  /** Hidden width d. */
  hidden?: number;
  maxLength?: number;
  operandDigits?: number;
  resultDigits?: number;
}

export type ResolvedHostConfig = Required<HostConfig>;

export function resolveHostConfig(c: HostConfig): ResolvedHostConfig {
  const operandDigits = c.operandDigits ?? 5;
  return {
    withCalculator: c.withCalculator,
    seed: c.seed,
    hidden: c.hidden ?? 64,
    maxLength: c.maxLength ?? 16,
    operandDigits,
    resultDigits: c.resultDigits ?? 2 * operandDigits,
  };
}

/**
 * The host as a LayersModel with input [B, T, F] (`Tokenizer.oneHot`) and outputs
 * [answer logits [B, R + 1, 10]] or, with the calculator, [answer logits, operand logits, gate].
 */
export function buildHostModel(config: HostConfig): tf.LayersModel {
  const c = resolveHostConfig(config);
  const tok = new Tokenizer({ maxLength: c.maxLength, maxDigits: c.operandDigits });
  const T = c.maxLength;
  const d = c.hidden;
  const s = (part: string) => deriveSeed(c.seed, 'calc-host', part);
  const input = tf.input({ shape: [T, tok.featureSize], name: 'features' });
  // Token + place + ordinal embeddings: one Dense without bias on their concatenated one-hots.
  const x = tf.layers
    .dense({
      units: d,
      useBias: false,
      name: 'embed',
      kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 1, seed: s('embed') }),
    })
    .apply(input) as tf.SymbolicTensor;
  // Context: a summary of the whole text (mean over positions → Dense) added at every position,
  // then a position-wise ReLU block with a residual connection. Cheap on purpose: a kernel-3
  // convolution (shifts + Dense; tfjs-wasm has no Conv1D gradient) tripled the step time, and the
  // tokenizer's place and ordinal features already say where each digit sits.
  const summary = tf.layers
    .dense({
      units: d,
      activation: 'relu',
      name: 'summary',
      kernelInitializer: tf.initializers.glorotUniform({ seed: s('summary') }),
    })
    .apply(tf.layers.globalAveragePooling1d({ name: 'mean' }).apply(x)) as tf.SymbolicTensor;
  const z = tf.layers
    .add({ name: 'with_context' })
    .apply([
      x,
      tf.layers.repeatVector({ n: T, name: 'broadcast' }).apply(summary) as tf.SymbolicTensor,
    ]) as tf.SymbolicTensor;
  // A position-wise ReLU block with a residual connection: x + relu(Dense(x)).
  const reluBlock = (input: tf.SymbolicTensor, name: string, sumName: string) => {
    const branch = tf.layers
      .dense({
        units: d,
        activation: 'relu',
        name,
        kernelInitializer: tf.initializers.glorotUniform({ seed: s(name) }),
      })
      .apply(input) as tf.SymbolicTensor;
    return tf.layers.add({ name: sumName }).apply([input, branch]) as tf.SymbolicTensor;
  };
  let h = reluBlock(z, 'block', 'hidden');
  const outputs: tf.SymbolicTensor[] = [];
  let extra: tf.SymbolicTensor[] = [];
  if (c.withCalculator) {
    const calc = new GatedCalculator({
      operandDigits: c.operandDigits,
      resultDigits: c.resultDigits,
      seed: s('calculator'),
      // The trainer's gate target (which the generator knows) is the gate's only teacher.
      detachGate: true,
      name: 'calculator',
    });
    const [h2, operandLogits, gate] = calc.apply(h) as tf.SymbolicTensor[];
    h = h2!;
    extra = [operandLogits!, gate!];
  }
  // A second ReLU block, after the calculator: the answer head's classifiers are linear and must
  // read a digit token on copy inputs but the result's bits on arithmetic ones (where the digit
  // under their attention is noise); the block gives them a non-linearity in between.
  h = reluBlock(h, 'post_block', 'post_hidden');
  const answer = new SlotReadout({
    slots: c.resultDigits + 1,
    classes: 10,
    seed: s('answer'),
    name: 'answer',
  }).apply(h) as tf.SymbolicTensor;
  outputs.push(answer, ...extra);
  return tf.model({ inputs: input, outputs, name: c.withCalculator ? 'host_calc' : 'host' });
}

/** The calculator layer of a host model, or null for the baseline. */
export function calculatorOf(model: tf.LayersModel): GatedCalculator | null {
  return (model.layers.find((l) => l instanceof GatedCalculator) as GatedCalculator | undefined) ?? null;
}

/** Host configuration read back from a (loaded) model. */
export function hostConfigOf(model: tf.LayersModel): {
  maxLength: number;
  operandDigits: number;
  resultDigits: number;
} {
  const maxLength = model.inputs[0]!.shape[1]!;
  const answer = model.layers.find((l) => l instanceof SlotReadout) as SlotReadout | undefined;
  if (!answer)
    throw new Error('hostConfigOf: this model has no SlotReadout answer head; is it a calculator host?');
  const resultDigits = answer.slots - 1;
  const calc = calculatorOf(model);
  const F = model.inputs[0]!.shape[2]!;
  // The input width fixes the tokenizer's digit count (vocabulary + places + ordinals).
  const operandDigits = calc?.operandDigits ?? F - VOCAB_SIZE - (MAX_NUMBERS + 1) - 1;
  return { maxLength, operandDigits, resultDigits };
}

/**
 * Where the gate target applies, [n·T] row-major, 1 where a position belongs to the set: `on`
 * (the digit tokens of arithmetic inputs: open), `offInputs` (the tokens of non-arithmetic inputs:
 * closed) and `offRest` (the question words and the padding: closed). Open on the digits only, not
 * on the whole question: the answer head then has to look at the digits to see the result on
 * arithmetic inputs, as it does to copy a number. (With the result on every token, its units and
 * tens slots settled on the question's first word, constant and so without noise beside the
 * result, and copy inputs, whose first word carries no digit, failed: 12–21% exact on one seed.)
 * The closed positions of non-arithmetic inputs are a set of their own, so that the many easy
 * closed positions (padding, words) do not dilute the push on them: their digits look like an
 * arithmetic question's, and the gate must tell them apart by context alone.
 */
export function gateTargetMasks(
  e: Encoded,
  items: readonly { operands: unknown }[],
): { on: Float32Array; offInputs: Float32Array; offRest: Float32Array } {
  const T = e.maxLength;
  const on = new Float32Array(e.n * T);
  const offInputs = new Float32Array(e.n * T);
  const offRest = new Float32Array(e.n * T);
  for (let i = 0; i < e.n; i++) {
    const arith = items[i]!.operands !== null;
    for (let k = i * T; k < (i + 1) * T; k++) {
      if (arith && e.places[k]! > 0) on[k] = 1;
      else if (!arith && e.tokens[k] !== 0) offInputs[k] = 1;
      else offRest[k] = 1;
    }
  }
  return { on, offInputs, offRest };
}

/** The model input [n, T, F] of texts. */
function inputsOf(tok: Tokenizer, texts: readonly string[]): { x: tf.Tensor3D; e: Encoded } {
  const e = tok.encode(texts);
  const x = tf.tensor3d(tok.oneHot(e), [e.n, e.maxLength, tok.featureSize]);
  return { x, e };
}

// ---------------------------------------------------------------------------------------------
// Training.

export interface TrainOptions {
  task: ArithmeticTask;
  /** Training seed: data order (the host's init comes from the model's own seed). */
  seed: number;
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  /** Steps during which the calculator computes with the true operands (teacher forcing). */
  teacherSteps?: number;
  /** Weight of the auxiliary operand loss. */
  auxWeight?: number;
  /**
   * Weight of the gate's target loss (`gateTargetMasks`): a hinge on the gate's logit towards
   * ≥ gateMargin on the operand digits of arithmetic inputs and ≤ −gateMargin everywhere else,
   * each of its three sets averaged over its own positions (the generator knows which inputs have operands, as it
   * does for the auxiliary loss). The host's gate learns from this target only (`detachGate`).
   */
  gatePenalty?: number;
  /** Margin m of the gate target on the gate's logit: ≥ m where open, ≤ −m where closed. */
  gateMargin?: number;
  /** The learning rate decays linearly to 10% over the last `decayFraction` of the steps. */
  decayFraction?: number;
  /** Stop early after this much wall time (ms). */
  timeBudgetMs?: number;
  onProgress?: (p: { step: number; steps: number; loss: number; elapsedMs: number }) => void;
  progressEvery?: number;
}

/** The resolved numeric settings of a training run (what a run directory records). */
export type TrainSettings = Required<
  Pick<
    TrainOptions,
    | 'steps'
    | 'batchSize'
    | 'learningRate'
    | 'teacherSteps'
    | 'auxWeight'
    | 'gatePenalty'
    | 'gateMargin'
    | 'decayFraction'
  >
>;

export interface TrainSummary {
  steps: number;
  wallMs: number;
  finalLoss: number;
  stoppedByBudget: boolean;
  options: TrainSettings;
}

export const DEFAULT_TRAIN = {
  steps: 3000,
  batchSize: 128,
  learningRate: 3e-3,
  teacherSteps: 400,
  auxWeight: 1,
  gatePenalty: 1,
  gateMargin: 6,
  decayFraction: 0.5,
};

/**
 * Train a host on the task's training stream with Adam. Loss: answer cross-entropy (mean over
 * answer slots) + auxWeight · operand loss (arithmetic rows) + gatePenalty · gate target loss
 * (open on the operand digits of arithmetic rows, closed elsewhere). The learning rate decays
 * linearly to 10% over the last steps. For the first `teacherSteps` steps the calculator uses the
 * true operands, so the output mapping learns to use exact results while the input mapping is
 * still learning to read.
 */
export async function trainHost(model: tf.LayersModel, o: TrainOptions): Promise<TrainSummary> {
  const opts = {
    steps: o.steps ?? DEFAULT_TRAIN.steps,
    batchSize: o.batchSize ?? DEFAULT_TRAIN.batchSize,
    learningRate: o.learningRate ?? DEFAULT_TRAIN.learningRate,
    teacherSteps: o.teacherSteps ?? DEFAULT_TRAIN.teacherSteps,
    auxWeight: o.auxWeight ?? DEFAULT_TRAIN.auxWeight,
    gatePenalty: o.gatePenalty ?? DEFAULT_TRAIN.gatePenalty,
    gateMargin: o.gateMargin ?? DEFAULT_TRAIN.gateMargin,
    decayFraction: o.decayFraction ?? DEFAULT_TRAIN.decayFraction,
  };
  const cfg = hostConfigOf(model);
  const tok = new Tokenizer({ maxLength: cfg.maxLength, maxDigits: cfg.operandDigits });
  const calc = calculatorOf(model);
  const next = o.task.trainStream(o.seed);
  const optimizer = tf.train.adam(opts.learningRate);
  const started = Date.now();
  let loss = NaN;
  let step = 0;
  let stoppedByBudget = false;
  const every = o.progressEvery ?? 100;
  try {
    for (; step < opts.steps; step++) {
      if (o.timeBudgetMs !== undefined && Date.now() - started > o.timeBudgetMs) {
        stoppedByBudget = true;
        break;
      }
      const items = Array.from({ length: opts.batchSize }, next);
      const ops: (Operands | null)[] = items.map((i) => i.operands);
      const B = items.length;
      const { x, e } = inputsOf(
        tok,
        items.map((i) => i.text),
      );
      const yAnswer = tf.tensor2d(answerLabels(items, cfg.resultDigits), [B, cfg.resultDigits + 1], 'int32');
      const S = 2 * cfg.operandDigits + 3;
      const yOps = tf.tensor2d(operandLabels(ops, cfg.operandDigits), [B, S], 'int32');
      const mask = tf.tensor1d(ops.map((r) => (r ? 1 : 0)));
      const masks = gateTargetMasks(e, items);
      const [onMask, offInputsMask, offRestMask] = [masks.on, masks.offInputs, masks.offRest].map((m) =>
        tf.tensor2d(m, [B, e.maxLength]),
      ) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const decayStart = opts.steps * (1 - opts.decayFraction);
      const lr =
        step < decayStart
          ? opts.learningRate
          : opts.learningRate * (1 - (0.9 * (step - decayStart)) / Math.max(1, opts.steps - decayStart));
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      if (calc) calc.teacher = step < opts.teacherSteps ? ops : null;
      const lossT = optimizer.minimize(() => {
        const res = model.apply(x, { training: true }) as tf.Tensor | tf.Tensor[];
        const outs = Array.isArray(res) ? res : [res];
        const ans = outs[0]!;
        let total = tf.mean(
          tf.neg(tf.sum(tf.mul(tf.oneHot(yAnswer, 10), tf.logSoftmax(ans)), -1)),
        ) as tf.Scalar;
        if (calc) {
          total = tf.add(total, tf.mul(opts.auxWeight, operandLoss(outs[1]!, yOps, mask)));
          const g = tf.squeeze(outs[2]!, [2]);
          // A hinge on the gate's logit z = log g − log(1 − g) with margin m (6: g ≥ 0.9975 on,
          // ≤ 0.0025 off, so a closed gate passes next to nothing): unlike mean(g) its gradient
          // does not vanish where σ saturates (a gate that opened everywhere can still close), and
          // unlike cross-entropy it stops pushing once the margin is met (an unbounded push inflates H and wrecks the input mapping's attention).
          const z = tf.sub(tf.log(tf.maximum(g, 1e-7)), tf.log(tf.maximum(tf.sub(1, g), 1e-7)));
          const hinge = (mask: tf.Tensor, v: tf.Tensor) =>
            tf.div(tf.sum(tf.mul(mask, tf.relu(v))), tf.maximum(tf.sum(mask), 1));
          const m = opts.gateMargin;
          const closed = tf.add(z, m);
          const gateLoss = tf.addN([
            hinge(onMask, tf.sub(m, z)),
            hinge(offInputsMask, closed),
            hinge(offRestMask, closed),
          ]);
          total = tf.add(total, tf.mul(opts.gatePenalty, gateLoss));
        }
        return total as tf.Scalar;
      }, true);
      if (calc) calc.teacher = null;
      if ((step + 1) % every === 0 || step + 1 === opts.steps) {
        loss = (await lossT!.data())[0]!;
        o.onProgress?.({ step: step + 1, steps: opts.steps, loss, elapsedMs: Date.now() - started });
      }
      tf.dispose([lossT!, x, yAnswer, yOps, mask, onMask, offInputsMask, offRestMask]);
    }
  } finally {
    if (calc) calc.teacher = null;
    optimizer.dispose();
  }
  return { steps: step, wallMs: Date.now() - started, finalLoss: loss, stoppedByBudget, options: opts };
}

// ---------------------------------------------------------------------------------------------
// Inference and evaluation.

export interface Prediction {
  answer: bigint;
  /** Decoded operands (calculator models only). */
  operands: Operands | null;
  /** Mean gate value over the text's tokens (calculator models only). */
  gate: number | null;
  /** Mean gate value over the text's digit tokens (calculator models only). */
  gateOnDigits: number | null;
}

/** The model's answers to question texts (texts are validated by the tokenizer). */
export function predict(model: tf.LayersModel, texts: readonly string[], batchSize = 500): Prediction[] {
  const cfg = hostConfigOf(model);
  const tok = new Tokenizer({ maxLength: cfg.maxLength, maxDigits: cfg.operandDigits });
  const calc = calculatorOf(model);
  const S = cfg.resultDigits + 1;
  const out: Prediction[] = [];
  for (let start = 0; start < texts.length; start += batchSize) {
    const chunk = texts.slice(start, start + batchSize);
    const { x, e } = inputsOf(tok, chunk);
    const res = model.predict(x) as tf.Tensor | tf.Tensor[];
    const outs = Array.isArray(res) ? res : [res];
    const ansT = tf.argMax(outs[0]!, -1);
    const ansClasses = ansT.dataSync();
    ansT.dispose();
    const opLogits = calc ? outs[1]!.dataSync() : null;
    const gate = calc ? outs[2]!.dataSync() : null;
    const decoded = opLogits ? decodeOperands(opLogits, e.n, cfg.operandDigits, calc!.nOps) : null;
    for (let i = 0; i < e.n; i++) {
      let g: number | null = null;
      let gDigits: number | null = null;
      if (gate) {
        let sum = 0;
        let n = 0;
        let sumDigits = 0;
        let nDigits = 0;
        for (let k = i * e.maxLength; k < (i + 1) * e.maxLength; k++) {
          if (e.tokens[k] === 0) continue;
          sum += gate[k]!;
          n++;
          if (e.places[k]! > 0) {
            sumDigits += gate[k]!;
            nDigits++;
          }
        }
        g = sum / Math.max(1, n);
        gDigits = sumDigits / Math.max(1, nDigits);
      }
      out.push({
        answer: answerOf(Array.from(ansClasses.subarray(i * S, (i + 1) * S)), cfg.resultDigits),
        operands: decoded ? decoded[i]! : null,
        gate: g,
        gateOnDigits: gDigits,
      });
    }
    tf.dispose([x, ...outs]);
  }
  return out;
}

/** Exact match on one subtask, and how well the calculator read its questions (both hosts). */
export interface SubtaskScore {
  subtask: string;
  arithmetic: boolean;
  n: number;
  correct: number;
  /** Items whose operands and operator were all decoded right / the operator only (calculator models, arithmetic only). */
  operandsCorrect: number | null;
  operatorCorrect: number | null;
}

export interface SubtaskResult extends SubtaskScore {
  /** Mean over items of the mean gate value over their tokens (calculator models only). */
  meanGate: number | null;
  /** The same over their digit tokens only, where the result is meant to enter (calculator only). */
  meanGateOnDigits: number | null;
}

/** Exact-match results per test subtask (20 arithmetic, then copy and count). */
export function evaluateHost(model: tf.LayersModel, task: ArithmeticTask): SubtaskResult[] {
  const calc = calculatorOf(model) !== null;
  const out: SubtaskResult[] = [];
  for (const st of [...ARITH_SUBTASKS, ...NON_ARITH_SUBTASKS]) {
    const items = task.test.get(st.name) ?? [];
    const preds = predict(
      model,
      items.map((i) => i.text),
    );
    let correct = 0;
    let opsOk = 0;
    let opOk = 0;
    let gate = 0;
    let gateDigits = 0;
    items.forEach((it, i) => {
      const p = preds[i]!;
      if (p.answer === it.answer) correct++;
      if (calc && it.operands && p.operands) {
        if (p.operands.op === it.operands.op) opOk++;
        if (
          p.operands.op === it.operands.op &&
          p.operands.a === it.operands.a &&
          p.operands.b === it.operands.b
        )
          opsOk++;
      }
      gate += p.gate ?? 0;
      gateDigits += p.gateOnDigits ?? 0;
    });
    const arithmetic = st.kind === 'arith';
    out.push({
      subtask: st.name,
      arithmetic,
      n: items.length,
      correct,
      operandsCorrect: calc && arithmetic ? opsOk : null,
      operatorCorrect: calc && arithmetic ? opOk : null,
      meanGate: calc ? gate / Math.max(1, items.length) : null,
      meanGateOnDigits: calc ? gateDigits / Math.max(1, items.length) : null,
    });
  }
  return out;
}
