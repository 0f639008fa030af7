/**
 * The unit contract and the generic layer shell.
 *
 * A unit is a plain `UnitDef` object (one file per unit) that knows its maths and nothing about
 * training loops. Its `forward` is a pure function of (parameters, input) and accepts a leading
 * replica axis: parameters `[R, …]` with input `[R, B, I]` compute R independent models at once,
 * which is how the benchmark trains many seeds in one computation. The tfjs layer below and the
 * benchmark's trainer both call the same `forward`, so the formula lives in exactly one place.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from './rng.js';

/** Raw parameters by name. Without a replica axis `[…shape]`; with one `[R, …shape]`. */
export type Params = Readonly<Record<string, tf.Tensor>>;

export interface ParamSpec {
  name: string;
  /** Shape of one model's parameter (no replica axis). */
  shape: number[];
}

/** Width of a unit: I inputs, O outputs. */
export interface UnitShape {
  inputSize: number;
  units: number;
}

export interface ForwardContext {
  /** Training-time behaviour differs for a few units (e.g. sNMU noise); default false. */
  training?: boolean;
}

export interface UnitDef<O extends object = object> {
  /** Registry name, e.g. 'nau'. */
  readonly name: string;
  /** Layer class name used for tfjs serialisation, e.g. 'NAU'. */
  readonly className: string;
  readonly defaults: Readonly<O>;
  /** Output width; defaults to `shape.units`. The NSR, for one, always returns 2 columns. */
  outputSize?(shape: UnitShape, opts: O): number;
  /** Names and shapes of the raw parameters. */
  params(shape: UnitShape, opts: O): ParamSpec[];
  /** Seeded initial values of one parameter (row-major, length = product of its shape). */
  init(param: ParamSpec, shape: UnitShape, opts: O, rng: Rng): Float32Array;
  /** z = f(p, x). x is [B, I] (or [R, B, I] with a replica axis on every parameter). */
  forward(p: Params, x: tf.Tensor, opts: O, ctx?: ForwardContext): tf.Tensor;
  /** Post-step projection ("clip" mode): new values for the parameters it changes. */
  constrain?(p: Params, opts: O): Record<string, tf.Tensor>;
  /** Regularisers as named scalars (a vector [R] with a replica axis). */
  regularizers?(p: Params, opts: O): Record<string, tf.Tensor>;
  /** Weights after squashing/clamping: what the sparsity error and a reader look at. */
  effectiveWeights(p: Params, opts: O): Record<string, tf.Tensor>;
  /**
   * The unit's sparsity error (a scalar, or [R] with a replica axis) where the reference scores it
   * differently from the default `sparsityErrorOf(effectiveWeights)` (iNALU, NPU: a mean of
   * per-matrix maxima). Read it through `unitSparsityError`.
   */
  sparsityError?(p: Params, opts: O): tf.Tensor;
  /** Throw on invalid options (message names the option and the fix). */
  validateOptions?(opts: O): void;
}

/** The options of a unit with its defaults filled in and validated. */
export function resolveOptions<O extends object>(def: UnitDef<O>, opts: Partial<O> | undefined): O {
  const merged = { ...def.defaults } as O;
  for (const [k, v] of Object.entries(opts ?? {})) {
    if (v === undefined) continue;
    if (!(k in def.defaults)) {
      const known = Object.keys(def.defaults);
      throw new Error(
        `${def.className}: unknown option '${k}'. Known options: ${known.length ? known.join(', ') : '(none)'}.`,
      );
    }
    (merged as Record<string, unknown>)[k] = v;
  }
  def.validateOptions?.(merged);
  return merged;
}

/** Initial values of every parameter of one model, seeded per (seed, unit, parameter). */
export function initParams<O extends object>(
  def: UnitDef<O>,
  shape: UnitShape,
  opts: O,
  seed: number,
  scope: ReadonlyArray<number | string> = [],
): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const spec of def.params(shape, opts)) {
    const rng = new Rng(seed, ...scope, def.name, spec.name);
    out[spec.name] = tf.tensor(def.init(spec, shape, opts, rng), spec.shape, 'float32');
  }
  return out;
}

export function outputSize<O extends object>(def: UnitDef<O>, shape: UnitShape, opts: O): number {
  return def.outputSize ? def.outputSize(shape, opts) : shape.units;
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared by unit definitions. Each works with and without a replica axis.

/** Mean over the weight axes (the last two): a scalar for one model, [R] for replicas. */
export function weightMean(t: tf.Tensor): tf.Tensor {
  return tf.mean(t, [t.rank - 2, t.rank - 1]);
}

/** Max over the weight axes (the last two). */
export function weightMax(t: tf.Tensor): tf.Tensor {
  return tf.max(t, [t.rank - 2, t.rank - 1]);
}

/** A per-output vector ([O] or [R, O]) shaped to broadcast against [B, O] / [R, B, O]. */
export function broadcastRow(v: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return x.rank === 3 ? tf.expandDims(v, 1) : v;
}

/**
 * Check an input's rank and width against a weight `[I, …]` or, with a replica axis, `[R, I, …]`.
 * The message names the unit, the expected and the received shape (tfjs's own matMul error names
 * neither the layer nor the fix).
 */
export function checkInput(className: string, x: tf.Tensor, weight: tf.Tensor, weightRank = 2): void {
  const inputSize = weight.shape[weight.rank - weightRank] as number;
  const replicas = weight.rank > weightRank ? (weight.shape[0] as number) : null;
  const want = replicas === null ? `[batch, ${inputSize}]` : `[${replicas}, batch, ${inputSize}]`;
  const got = `[${x.shape.join(', ')}]`;
  const wantRank = replicas === null ? 2 : 3;
  if (x.rank !== wantRank) {
    const fix =
      replicas === null
        ? 'Pass a rank-2 tensor [batch, features].'
        : 'With replicated parameters the input needs the same leading replica axis.';
    throw new Error(
      `${className}: expected input of shape ${want}, received ${got} (rank ${x.rank}). ${fix}`,
    );
  }
  if (x.shape[x.rank - 1] !== inputSize || (replicas !== null && x.shape[0] !== replicas)) {
    throw new Error(
      `${className}: expected input of shape ${want}, received ${got}. ` +
        `The last axis must have ${inputSize} features to match the layer's weights` +
        (replicas === null ? '.' : ` and the first axis ${replicas} replicas.`),
    );
  }
}

/** Input width implied by a parameter of shape [..., I, O] (works with a replica axis). */
export function inputWidth(w: tf.Tensor): number {
  return w.shape[w.rank - 2] as number;
}

/** The sparsity error of a set of effective weights: max over all entries of min(|w|, |1 − |w||). */
export function sparsityErrorOf(weights: readonly tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => {
    const perWeight = weights.map((w) => {
      const a = tf.abs(w);
      return weightMax(tf.minimum(a, tf.abs(tf.sub(1, a))));
    });
    return perWeight.reduce((acc, t) => tf.maximum(acc, t));
  });
}

/** Per-matrix sparsity errors (max over each weight's entries), averaged: iNALU's and the NPU's rule. */
export function meanSparsityErrorOf(weights: readonly tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => {
    const perWeight = weights.map((w) => sparsityErrorOf([w]));
    return tf.div(tf.addN(perWeight), perWeight.length);
  });
}

/** A unit's sparsity error: its own rule where it has one, else the max over its effective weights. */
export function unitSparsityError<O extends object>(def: UnitDef<O>, p: Params, opts: O): tf.Tensor {
  return tf.tidy(() =>
    def.sparsityError
      ? def.sparsityError(p, opts)
      : sparsityErrorOf(Object.values(def.effectiveWeights(p, opts))),
  );
}

/**
 * Uniform U[lo, hi) values from a seeded generator.
 */
export function uniformValues(n: number, lo: number, hi: number, rng: Rng): Float32Array {
  return rng.fillUniform(new Float32Array(n), lo, hi) as Float32Array;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
