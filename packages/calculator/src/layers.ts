/**
 * The gated calculator as a tfjs layer, and the slot readout it shares with host answer heads.
 *
 * Slot attention (one formula, `slotAttention`): for each slot s a learned query q_s attends over
 * the T positions of the hidden states H (keys H·W_k), and a per-slot linear head classifies the
 * pooled vector: logits_s = W_s · Σ_t softmax_t(q_s·k_t/√d_k) h_t + b_s.
 *
 * GatedCalculator (shared/spec/calculator.md): slot attention over H reads the operand digits
 * (right-aligned, D slots per operand), one sign per operand and the operator; argmax of every head
 * → integers → the exact calculator (arith.ts) → the result's digit-bit/sign/invalid features →
 * proj(result) = features·W_out + b_out, added through a per-position gate:
 * H' = H + σ(H·w_g + b_g) ⊙ proj(result). The gate bias starts at −4 (σ ≈ 0.018), so an inserted
 * calculator leaves its host almost unchanged. The calculator stage is not differentiable: the
 * operand heads learn from the auxiliary loss (`operandLoss`), the output mapping from the host's
 * task loss, and the gate from the task loss or (`detachGate`) only from a target on the gate
 * output.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@nalm/units';
import type { CalcResult } from './arith.js';
import { OPERATORS, calculate, digitsOf, resultFeatureSize, resultFeatures } from './arith.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** The tensors of one slot-attention block. */
export interface SlotParams {
  keyW: tf.Tensor; // [d, dk]
  queries: tf.Tensor; // [S, dk]
  headW: tf.Tensor; // [S, d, C]
  headB: tf.Tensor; // [S, C]
}

/** Where the keys of `slotAttention` come from and which positions it may attend to. */
export interface SlotAttentionOptions {
  /**
   * Key inputs [B, T, e] (default: h itself, e = d): keys are keys·W_k, so keyW is [e, dk]. The
   * transformer insertion passes a window of hidden states here (igc.ts, `keyWindow`).
   */
  keys?: tf.Tensor;
  /** Additive mask [B, T] on the scores: 0 where a position may be read, −1e9 where not. */
  mask?: tf.Tensor;
}

/**
 * Per-slot logits [B, S, C] and attention weights [B, S, T] of hidden states h [B, T, d]:
 * logits_s = W_s · Σ_t softmax_t(q_s·k_t/√d_k + mask_t) h_t + b_s with k_t = keys_t·W_k.
 */
export function slotAttention(
  h: tf.Tensor,
  p: SlotParams,
  options: SlotAttentionOptions = {},
): { logits: tf.Tensor3D; attention: tf.Tensor3D } {
  return tf.tidy(() => {
    const [B, T] = h.shape as [number, number, number];
    const keys = options.keys ?? h;
    const e = keys.shape[2]!;
    const [S, dk] = p.queries.shape as [number, number];
    // (K·W_k)·Qᵀ computed as K·(W_k·Qᵀ): the [B·T, ·] product is the expensive one.
    let scores = tf.reshape(
      tf.matMul(tf.reshape(keys, [B * T, e]), tf.matMul(p.keyW, p.queries, false, true)),
      [B, T, S],
    );
    scores = tf.mul(scores, 1 / Math.sqrt(dk));
    if (options.mask) scores = tf.add(scores, tf.reshape(options.mask, [B, T, 1]));
    const attention = tf.softmax(tf.transpose(scores, [0, 2, 1])) as tf.Tensor3D;
    const pooled = tf.matMul(attention, h as tf.Tensor3D); // [B, S, d]
    const perSlot = tf.matMul(tf.transpose(pooled, [1, 0, 2]), p.headW as tf.Tensor3D); // [S, B, C]
    const logits = tf.add(tf.transpose(perSlot, [1, 0, 2]), p.headB) as tf.Tensor3D;
    return { logits, attention };
  });
}

/**
 * The gate per position, g = σ(H·w_g + r + b_g): h [B, T, d], w [d, 1], b [1] → [B, T, 1]. The
 * optional `rowBias` r [B, 1] is one term per row, shared by its positions (IGC adds what its
 * operator slot read).
 */
export function gateValues(h: tf.Tensor, w: tf.Tensor, b: tf.Tensor, rowBias?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T, d] = h.shape as [number, number, number];
    const hw = tf.reshape(tf.matMul(tf.reshape(h, [B * T, d]), w), [B, T, 1]);
    const pre = rowBias ? tf.add(hw, tf.reshape(rowBias, [B, 1, 1])) : hw;
    return tf.sigmoid(tf.add(pre, b)) as tf.Tensor3D;
  });
}

/** x with a zero gradient (tfjs has no stop_gradient op). */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

function seededNormal(shape: number[], std: number, rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.fillNormal(new Float32Array(n), 0, std), shape);
}

function shapeOf(inputShape: tf.Shape | tf.Shape[], who: string): [number | null, number | null, number] {
  const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  const d = shape[2];
  if (shape.length !== 3 || d == null) {
    throw new Error(
      `${who}: expected hidden states of shape [batch, positions, features], received [${shape.map((x) => x ?? 'null').join(', ')}].`,
    );
  }
  return [shape[0] ?? null, shape[1] ?? null, d];
}

function checkPositiveInt(value: unknown, name: string, who: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`${who}: '${name}' must be a positive integer, got ${String(value)}.`);
  }
  return value;
}

type AddWeight = (name: string, shape: number[]) => tf.LayerVariable;

/** Adds the four slot-attention weights to a layer (through its `addWeight`), initialised from `rng`. */
function addSlotWeights(addWeight: AddWeight, d: number, S: number, C: number, dk: number, rng: Rng) {
  const add = (name: string, shape: number[], std: number) => {
    const v = addWeight(name, shape);
    const init = std === 0 ? tf.zeros(shape) : seededNormal(shape, std, rng);
    v.write(init);
    init.dispose();
    return v;
  };
  return {
    keyW: add('key_kernel', [d, dk], 1 / Math.sqrt(d)),
    // Zero queries: every slot starts with uniform attention. A random query can start anti-aligned
    // with the key it must find; softmax then gives that position ~0 weight and ~0 gradient, and
    // the slot never finds it (measured: one seed's units digit of operand A stayed on a diffuse
    // attention over the other digits and was read 80–95% right after 3,000 steps).
    queries: add('queries', [S, dk], 0),
    headW: add('head_kernel', [S, d, C], 1 / Math.sqrt(d)),
    headB: add('head_bias', [S, C], 0),
  };
}

type SlotVars = ReturnType<typeof addSlotWeights>;
const readSlot = (v: SlotVars): SlotParams => ({
  keyW: v.keyW.read(),
  queries: v.queries.read(),
  headW: v.headW.read(),
  headB: v.headB.read(),
});

// ---------------------------------------------------------------------------------------------

export interface SlotReadoutArgs extends LayerArgs {
  slots: number;
  classes: number;
  keyDim?: number;
  seed?: number;
}

/**
 * A per-slot classifier over hidden states: [B, T, d] → logits [B, slots, classes]. Host models
 * use it as their answer head (one slot per answer digit and one for the sign).
 */
export class SlotReadout extends tf.layers.Layer {
  static readonly className = 'NalmSlotReadout';
  readonly slots: number;
  readonly classes: number;
  readonly keyDim: number;
  readonly seed: number;
  private vars: SlotVars | null = null;

  constructor(args: SlotReadoutArgs) {
    const { slots, classes, keyDim, seed, ...rest } = args;
    delete (rest as Record<string, unknown>).customObjects;
    super(rest);
    this.slots = checkPositiveInt(slots, 'slots', 'SlotReadout');
    this.classes = checkPositiveInt(classes, 'classes', 'SlotReadout');
    this.keyDim = checkPositiveInt(keyDim ?? 32, 'keyDim', 'SlotReadout');
    this.seed = seed ?? Math.floor(Math.random() * 2 ** 32);
  }

  private zeroWeight: AddWeight = (name, shape) =>
    this.addWeight(name, shape, 'float32', tf.initializers.zeros());

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, , d] = shapeOf(inputShape, 'SlotReadout');
    this.vars = addSlotWeights(
      this.zeroWeight,
      d,
      this.slots,
      this.classes,
      this.keyDim,
      new Rng(this.seed, 'slot-readout'),
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const h = Array.isArray(inputs) ? inputs[0]! : inputs;
      return slotAttention(h, readSlot(this.vars!)).logits;
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [B] = shapeOf(inputShape, 'SlotReadout');
    return [B, this.slots, this.classes];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      slots: this.slots,
      classes: this.classes,
      keyDim: this.keyDim,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(SlotReadout);

// ---------------------------------------------------------------------------------------------

/** Decoded operands of one input. */
export interface Operands {
  readonly a: bigint;
  readonly b: bigint;
  readonly op: number;
}

/**
 * Slot layout of the input mapping for D operand digits: A's digits (units first) in slots
 * [0, D), B's in [D, 2D), A's sign at 2D, B's at 2D + 1, the operator at 2D + 2.
 */
export function operandSlots(D: number) {
  return { aDigits: 0, bDigits: D, aSign: 2 * D, bSign: 2 * D + 1, op: 2 * D + 2, count: 2 * D + 3 };
}

/** Labels of the input mapping's slots for a batch ([n × (2D + 3)]); null rows stay 0. */
export function operandLabels(rows: readonly (Operands | null)[], D: number): Int32Array {
  const L = operandSlots(D);
  const out = new Int32Array(rows.length * L.count);
  rows.forEach((r, i) => {
    if (!r) return;
    const o = i * L.count;
    const da = digitsOf(r.a, D);
    const db = digitsOf(r.b, D);
    for (let j = 0; j < D; j++) {
      out[o + L.aDigits + j] = da[j]!;
      out[o + L.bDigits + j] = db[j]!;
    }
    out[o + L.aSign] = r.a < 0n ? 1 : 0;
    out[o + L.bSign] = r.b < 0n ? 1 : 0;
    out[o + L.op] = r.op;
  });
  return out;
}

const argmax = (v: ArrayLike<number>, o: number, n: number): number => {
  let best = 0;
  for (let c = 1; c < n; c++) if (v[o + c]! > v[o + best]!) best = c;
  return best;
};

/** Operands decoded from input-mapping logits ([n × S × 10], row-major): argmax of every head. */
export function decodeOperands(logits: ArrayLike<number>, n: number, D: number, nOps: number): Operands[] {
  const L = operandSlots(D);
  const C = 10;
  const out: Operands[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * L.count * C;
    const digit = (slot: number) => argmax(logits, o + slot * C, 10);
    let a = 0n;
    let b = 0n;
    for (let j = D - 1; j >= 0; j--) {
      a = a * 10n + BigInt(digit(L.aDigits + j));
      b = b * 10n + BigInt(digit(L.bDigits + j));
    }
    if (argmax(logits, o + L.aSign * C, 2) === 1) a = -a;
    if (argmax(logits, o + L.bSign * C, 2) === 1) b = -b;
    out.push({ a, b, op: argmax(logits, o + L.op * C, nOps) });
  }
  return out;
}

export interface GatedCalculatorArgs extends LayerArgs {
  /** Most digits per operand (D). */
  operandDigits?: number;
  /** Result digit slots of the output mapping (R); larger results are "invalid". Default 2D. */
  resultDigits?: number;
  /** Key width of the input mapping's attention. */
  keyDim?: number;
  /** Initial gate bias b_g (nearly closed: σ(−4) ≈ 0.018). */
  gateBias?: number;
  /**
   * The gate learns only from a target loss on the gate output, never from the host's task loss
   * (default false: the task loss trains it too). Use it when the data says which inputs hold
   * arithmetic: otherwise the task loss opens the gate on non-arithmetic inputs wherever the
   * calculator's (unsupervised) reading happens to help, e.g. `Repeat 4821.` read as 4821 + 0.
   */
  detachGate?: boolean;
  seed?: number;
}

/**
 * The gated calculator: hidden states [B, T, d] → [H' [B, T, d], operand logits [B, 2D + 3, 10],
 * gate [B, T, 1]]. Any host can insert it between two of its layers and feed the operand logits to
 * `operandLoss`.
 */
export class GatedCalculator extends tf.layers.Layer {
  static readonly className = 'NalmGatedCalculator';
  readonly operandDigits: number;
  readonly resultDigits: number;
  readonly keyDim: number;
  readonly gateBias: number;
  readonly detachGate: boolean;
  readonly seed: number;
  readonly nOps = OPERATORS.length;
  /**
   * Teacher forcing: while set and the call is a training call, the calculator computes with these
   * operands (rows that are null use the decoded ones). The trainer sets it per step.
   */
  teacher: readonly (Operands | null)[] | null = null;
  /** The operands decoded by the last call (for inspection). */
  lastDecoded: Operands[] = [];
  private slot: SlotVars | null = null;
  private outW: tf.LayerVariable | null = null;
  private outB: tf.LayerVariable | null = null;
  private gateW: tf.LayerVariable | null = null;
  private gateB: tf.LayerVariable | null = null;

  constructor(args: GatedCalculatorArgs = {}) {
    const { operandDigits, resultDigits, keyDim, gateBias, detachGate, seed, ...rest } = args;
    delete (rest as Record<string, unknown>).customObjects;
    super(rest);
    this.operandDigits = checkPositiveInt(operandDigits ?? 5, 'operandDigits', 'GatedCalculator');
    this.resultDigits = checkPositiveInt(
      resultDigits ?? 2 * this.operandDigits,
      'resultDigits',
      'GatedCalculator',
    );
    this.keyDim = checkPositiveInt(keyDim ?? 32, 'keyDim', 'GatedCalculator');
    this.gateBias = gateBias ?? -4;
    if (!Number.isFinite(this.gateBias)) throw new Error(`GatedCalculator: 'gateBias' must be finite.`);
    this.detachGate = detachGate ?? false;
    if (typeof this.detachGate !== 'boolean')
      throw new Error(`GatedCalculator: 'detachGate' must be true or false, got ${String(detachGate)}.`);
    this.seed = seed ?? Math.floor(Math.random() * 2 ** 32);
  }

  get featureSize(): number {
    return resultFeatureSize(this.resultDigits);
  }

  private zeroWeight: AddWeight = (name, shape) =>
    this.addWeight(name, shape, 'float32', tf.initializers.zeros());

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, , d] = shapeOf(inputShape, 'GatedCalculator');
    const rng = new Rng(this.seed, 'gated-calculator');
    const S = operandSlots(this.operandDigits).count;
    this.slot = addSlotWeights(this.zeroWeight, d, S, 10, this.keyDim, rng);
    const F = this.featureSize;
    const w = seededNormal([F, d], 1 / Math.sqrt(F / 4), rng);
    this.outW = this.addWeight('out_kernel', [F, d], 'float32', tf.initializers.zeros());
    this.outW.write(w);
    w.dispose();
    this.outB = this.addWeight('out_bias', [d], 'float32', tf.initializers.zeros());
    const g = seededNormal([d, 1], 0.01, rng);
    this.gateW = this.addWeight('gate_kernel', [d, 1], 'float32', tf.initializers.zeros());
    this.gateW.write(g);
    g.dispose();
    this.gateB = this.addWeight(
      'gate_bias',
      [1],
      'float32',
      tf.initializers.constant({ value: this.gateBias }),
    );
    this.built = true;
  }

  /** The exact stage for a batch of operands: the output mapping's input features [n × F]. */
  resultFeatures(rows: readonly Operands[]): Float32Array {
    const F = this.featureSize;
    const out = new Float32Array(rows.length * F);
    rows.forEach((r, i) => resultFeatures(this.compute(r), this.resultDigits, out, i * F));
    return out;
  }

  compute(r: Operands): CalcResult {
    return calculate(r.a, r.b, r.op, this.operandDigits, this.resultDigits);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor[] {
    return tf.tidy(() => {
      const h = Array.isArray(inputs) ? inputs[0]! : inputs;
      const [B, , d] = h.shape as [number, number, number];
      const { logits } = slotAttention(h, readSlot(this.slot!));
      // The non-differentiable stage: argmax → integers → exact result (JS BigInt).
      const decoded = decodeOperands(logits.dataSync(), B, this.operandDigits, this.nOps);
      this.lastDecoded = decoded;
      const teacher = kwargs?.training === true ? this.teacher : null;
      if (teacher && teacher.length !== B) {
        throw new Error(`GatedCalculator: teacher operands for ${teacher.length} rows, batch has ${B}.`);
      }
      const used = teacher ? decoded.map((r, i) => teacher[i] ?? r) : decoded;
      const features = tf.tensor2d(this.resultFeatures(used), [B, this.featureSize]);
      const proj = tf.add(tf.matMul(features, this.outW!.read()), this.outB!.read()); // [B, d]
      const gateOf = (hs: tf.Tensor) => gateValues(hs, this.gateW!.read(), this.gateB!.read());
      const gate = this.detachGate ? stopGradient(gateOf(h)) : gateOf(h);
      const out = tf.add(h, tf.mul(gate, tf.reshape(proj, [B, 1, d])));
      // The gate output (for inspection and for a gate target loss) has the same values, but its
      // gradient reaches only w_g and b_g: a loss on it cannot reshape the host's hidden states
      // (pushing H apart for the gate measurably wrecked the input mapping's reading).
      return [out, logits, gateOf(stopGradient(h))];
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    const [B, T, d] = shapeOf(inputShape, 'GatedCalculator');
    return [
      [B, T, d],
      [B, operandSlots(this.operandDigits).count, 10],
      [B, T, 1],
    ];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      operandDigits: this.operandDigits,
      resultDigits: this.resultDigits,
      keyDim: this.keyDim,
      gateBias: this.gateBias,
      detachGate: this.detachGate,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(GatedCalculator);

/**
 * The auxiliary loss: mean cross-entropy of the input mapping's heads against the true operands,
 * over the rows with `mask` 1 (arithmetic inputs). Sign heads use classes {0, 1}, the operator
 * head the first nOps classes (the other logits are trained towards −∞ like any wrong class).
 */
export function operandLoss(logits: tf.Tensor, labels: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(labels, 10), tf.logSoftmax(logits)), -1)); // [B, S]
    const perRow = tf.mean(ce, -1);
    return tf.div(tf.sum(tf.mul(perRow, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
  });
}
