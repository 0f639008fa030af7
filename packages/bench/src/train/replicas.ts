/**
 * The trainer shell: R seeds of one configuration trained as one batched tfjs computation.
 *
 * Parameters carry a leading replica axis ([R, …]); every unit's `forward` handles it, the loss is
 * the sum of per-replica losses, so gradients and Adam's moments stay exactly per replica: a seed's
 * record does not depend on which seeds shared its batch. Per-op overhead dominates these tiny
 * models in tfjs, which is why batching seeds pays.
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitDef } from '@nalm/units';
import { initParams, resolveOptions, Rng, unitSparsityError } from '@nalm/units';
import type { RunConfig, Schedule } from '../config.js';
import { canonicalJson, configKey } from '../config.js';
import { getModel } from '../models/registry.js';
import type { ModelLayer, ModelTraining, RegularizerWeight, ReinitRule } from '../models/registry.js';
import type { NoiseContext } from '../models/snmu.js';
import type { EvalPoint, RunRecord } from '../record.js';
import { RECORD_VERSION } from '../record.js';
import { curveOutcome } from '../success.js';
import type { StaticTaskInstance } from '../tasks/static.js';
import { createStaticTask, evaluationInputs } from '../tasks/static.js';
import { Arena, kernelsLoaded } from '../fast/wasm.js';
import { LossBuffer, stalled } from './reinit.js';
import { scheduleValue } from './schedule.js';
import { nextTick } from '../tick.js';

/** One replica: a configuration, a seed and that configuration's success threshold. */
export interface ReplicaSpec {
  config: RunConfig;
  seed: number;
  threshold: number;
}

export interface TrainProgress {
  /** Iterations done by the batch so far. */
  iteration: number;
  iterations: number;
  /** Replicas still training (not diverged). */
  alive: number;
  replicas: number;
  /** Per replica: is its extrapolation MSE at its best step so far below the threshold? */
  solved: boolean[];
}

export interface TrainReplicasOptions {
  /**
   * The replicas to train together. They may differ in seed and in the task (operation, ranges,
   * subsets) but must share everything that shapes the computation: see `batchKey`.
   */
  replicas: readonly ReplicaSpec[];
  /** Called after every evaluation. */
  onProgress?: (p: TrainProgress) => void;
  /** Checked after every evaluation; when it returns true, training stops and nothing is returned. */
  shouldStop?: () => boolean;
  /**
   * Most elements ([R, C, I]) of one evaluation chunk (default 4,000,000): bounds memory for many
   * replicas. Records do not depend on it (tested).
   */
  evalChunkElements?: number;
}

interface LayerState {
  layer: ModelLayer;
  vars: Record<string, tf.Variable>;
  /** Raw parameter entries of one replica (a regulariser weight may depend on it). */
  paramCount: number;
  /** Per replica: the stream of this layer's training noise (layers that declare `noise`). */
  noise: Rng[] | null;
}

const EVAL_CHUNK_ELEMENTS = 4_000_000;

/**
 * What replicas trained in one batch must share: the model, its shape and every training
 * hyper-parameter. Task details (operation, ranges, subsets) may differ per replica, since data and
 * targets are made per replica.
 */
export function batchKey(c: RunConfig): string {
  return canonicalJson({
    model: c.model,
    inputSize: c.task.inputSize,
    hidden: c.hidden,
    batch: c.batch,
    lr: c.lr,
    iterations: c.iterations,
    evalEvery: c.evalEvery,
    schedule: c.schedule,
    oobWeight: c.oobWeight,
  });
}

/** Assemble the record of one replica from its evaluation curve (shared by every trainer). */
export function buildRecord(
  { config, seed, threshold }: ReplicaSpec,
  curve: EvalPoint[],
  diverged: { step: number; reason: string } | null,
  iterations: number,
): RunRecord {
  return {
    v: RECORD_VERSION,
    key: configKey(config),
    config,
    seed,
    threshold,
    curve,
    ...curveOutcome(curve, threshold),
    diverged,
    iterations,
  };
}

/** Throw unless every replica can share one batch (same `batchKey`); `who` names the trainer. */
export function assertSharedBatch(specs: readonly ReplicaSpec[], who: string): void {
  const key0 = batchKey(specs[0]!.config);
  for (const s of specs) {
    if (batchKey(s.config) !== key0) {
      throw new Error(`${who}: replicas in one batch must share ${key0}; got ${batchKey(s.config)}.`);
    }
  }
}

/**
 * Gradient clipping per replica (grads carry the replica axis first): first the global L2 norm of
 * each replica's gradient is scaled down to at most `maxNorm` (torch's clip_grad_norm_, with its
 * 1e−6), then every entry is clipped to [−maxValue, maxValue] (clip_grad_value_).
 */
export function clipGradients(
  grads: tf.NamedTensorMap,
  maxNorm: number | undefined,
  maxValue: number | undefined,
): tf.NamedTensorMap {
  if (maxNorm === undefined && maxValue === undefined) return grads;
  let out = grads;
  if (maxNorm !== undefined) {
    const entries = Object.entries(out);
    const sq = entries.map(([, g]) =>
      g.rank > 1
        ? tf.sum(
            tf.square(g),
            Array.from({ length: g.rank - 1 }, (_, i) => i + 1),
          )
        : tf.square(g),
    );
    const norm = tf.sqrt(tf.addN(sq));
    const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
    out = Object.fromEntries(
      entries.map(([k, g]) => [k, tf.mul(g, tf.reshape(scale, [-1, ...g.shape.slice(1).map(() => 1)]))]),
    );
  }
  if (maxValue !== undefined) {
    out = Object.fromEntries(
      Object.entries(out).map(([k, g]) => [k, tf.clipByValue(g, -maxValue, maxValue)]),
    );
  }
  return out;
}

/**
 * Train a batch of replicas (see `TrainReplicasOptions`) and return one record per replica, or null
 * when `shouldStop` said so. The steps, each a function below:
 *
 * 1. `withGhost`: a lone replica trains next to a copy of itself (wasm's kernel choice, see there).
 * 2. `prepareBatch`: per-replica parameters stacked on a replica axis (`initLayers`), task
 *    instances and evaluation sets, Adam, the buffers and the per-replica bookkeeping.
 * 3. Every `evalEvery` iterations, `evaluate` appends a point to each live replica's curve and
 *    the caller hears `progressOf`; training stops here when asked.
 * 4. Otherwise one `trainStep`: draw each replica's batch, the loss (MSE + regularisers), clip,
 *    Adam, the units' constraints; then `markDiverged` stops replicas whose loss is not finite and
 *    `reinitStalled` re-draws the parameters of stalled ones (iNALU).
 * 5. `buildRecord` per replica (the ghost's dropped); the tensors are disposed in every case.
 */
export async function trainReplicas(opts: TrainReplicasOptions): Promise<RunRecord[] | null> {
  if (opts.replicas.length === 0) return [];
  assertSharedBatch(opts.replicas, 'trainReplicas');
  const b = prepareBatch(withGhost(opts.replicas), opts.replicas.length);
  try {
    const { iterations, evalEvery } = b.config;
    for (let t = 0; t <= iterations; t++) {
      if (t % evalEvery === 0) {
        evaluate(b, t, opts.evalChunkElements ?? EVAL_CHUNK_ELEMENTS);
        opts.onProgress?.(progressOf(b, t));
        await nextTick(); // let signals and I/O through between evaluations
        if (opts.shouldStop?.()) return null;
      }
      if (t === iterations || alive(b) === 0) break;
      const losses = trainStep(b, t);
      markDiverged(b, t, losses);
      reinitStalled(b, t);
    }
    return opts.replicas.map((spec, r) =>
      buildRecord(spec, b.curves[r]!, b.diverged[r]!, b.iterationsDone[r]!),
    );
  } finally {
    tf.dispose(b.varList);
    b.optimizer.dispose();
  }
}

/**
 * The wasm backend multiplies a single pair of matrices with XNNPACK but a batch of them with its
 * own blocked loop; the two sum long dot products (I > 48) in different orders, so a lone replica
 * would get records ≈1e−7 away from the same seed in a batch. A ghost copy of the replica keeps
 * every batch on the batched kernel; its record is dropped.
 */
function withGhost(replicas: readonly ReplicaSpec[]): readonly ReplicaSpec[] {
  return replicas.length === 1 ? [replicas[0]!, replicas[0]!] : replicas;
}

/** Everything one batch's training reads and updates; `real` replicas are reported (no ghost). */
interface ReplicaBatch {
  specs: readonly ReplicaSpec[];
  real: number;
  config: RunConfig;
  seeds: number[];
  /** Replicas (R), inputs (I) and examples per step (B). */
  R: number;
  I: number;
  B: number;
  /** The sparsity schedule λ(t) (null: the model has no sparsity regulariser). */
  schedule: Schedule | null;
  training: ModelTraining;
  layers: LayerState[];
  varList: tf.Variable[];
  hasOobRegularizer: boolean;
  customWeights: Readonly<Record<string, RegularizerWeight>>;
  tasks: StaticTaskInstance[];
  evalSets: EvalSet[];
  optimizer: tf.Optimizer;
  /** The fused path's wasm kernels draw the inputs and targets when they are loaded (see `inputBuffer`). */
  filler: Arena | undefined;
  /** Buffers of one step's inputs, targets and (per noisy layer) noise, all replicas. */
  xBuf: Float32Array;
  yBuf: Float64Array;
  yBuf32: Float32Array;
  noiseBufs: (Float32Array | null)[];
  curves: EvalPoint[][];
  diverged: ({ step: number; reason: string } | null)[];
  iterationsDone: number[];
  reinit: { rule: ReinitRule; buffers: LossBuffer[]; counts: number[] } | null;
}

interface EvalSet {
  which: 'interpolation' | 'extrapolation';
  /** Per replica: n inputs of width I. */
  xs: Float32Array[];
  n: number;
  targets: Float64Array[];
}

function prepareBatch(specs: readonly ReplicaSpec[], real: number): ReplicaBatch {
  const config = specs[0]!.config;
  const seeds = specs.map((s) => s.seed);
  const R = specs.length;
  const I = config.task.inputSize;
  const B = config.batch;
  const model = getModel(config.model);
  const layers = initLayers(model.layers(I, config.hidden), seeds);
  const tasks = specs.map((s) => createStaticTask(s.config.task, s.seed));
  const training = model.training ?? {};
  const { filler, xBuf } = inputBuffer(R * B * I, B);
  return {
    specs,
    real,
    config,
    seeds,
    R,
    I,
    B,
    schedule: config.schedule ?? model.schedule,
    training,
    layers,
    varList: layers.flatMap((l) => Object.values(l.vars)),
    hasOobRegularizer: layers.some(
      (l) => (l.layer.options as { oobMode?: string }).oobMode === 'regularized',
    ),
    customWeights: training.regularizers ?? {},
    tasks,
    evalSets: (['interpolation', 'extrapolation'] as const).map((which) => {
      const xs = specs.map((s) => evaluationInputs(s.config.task, which));
      const n = xs[0]!.length / I;
      return { which, xs, n, targets: tasks.map((t, r) => t.targets(xs[r]!, n)) };
    }),
    optimizer: tf.train.adam(config.lr, 0.9, 0.999, 1e-8),
    filler,
    xBuf,
    yBuf: new Float64Array(R * B),
    yBuf32: new Float32Array(R * B),
    // Input width of every layer (layer k reads layer k − 1's output).
    noiseBufs: layers.map((l) => (l.noise ? new Float32Array(R * B * l.layer.shape.inputSize) : null)),
    curves: seeds.map(() => []),
    diverged: seeds.map(() => null),
    iterationsDone: seeds.map(() => config.iterations),
    reinit: training.reinit
      ? { rule: training.reinit, buffers: seeds.map(() => new LossBuffer()), counts: seeds.map(() => 0) }
      : null,
  };
}

/**
 * The step's input buffer: in the memory of the fused path's wasm kernels when they are loaded, so
 * that their SIMD `fillLanes` and `subsetTargets` draw the batch (bit-identical to the JavaScript
 * stream, tested in wasm-kernels.test.ts; at I = 100 drawing was a quarter of a tfjs step), else a
 * plain array. Everything is allocated here, before the view is made: the arena's memory never
 * grows after, so the view stays valid.
 */
function inputBuffer(count: number, rows: number): { filler: Arena | undefined; xBuf: Float32Array } {
  if (!kernelsLoaded()) return { filler: undefined, xBuf: new Float32Array(count) };
  const arena = new Arena();
  const ptr = arena.allocF32(count);
  arena.reserveTargets(rows);
  return { filler: arena, xBuf: new Float32Array(arena.memoryBuffer, ptr, count) };
}

/** Each layer's parameters for every seed, stacked on a leading replica axis ([R, …]). */
function initLayers(modelLayers: readonly ModelLayer[], seeds: readonly number[]): LayerState[] {
  return modelLayers.map((l, li) => {
    const options = resolveOptions(l.def as UnitDef<object>, l.options);
    const layer = { ...l, options };
    const specsOfLayer = l.def.params(l.shape, options as never);
    const perSeed = seeds.map((s) => initParams(l.def, l.shape, options as never, s, ['layer', li]));
    const vars: Record<string, tf.Variable> = {};
    for (const spec of specsOfLayer) {
      vars[spec.name] = tf.variable(tf.stack(perSeed.map((p) => p[spec.name]!)), true);
    }
    perSeed.forEach((p) => tf.dispose(Object.values(p)));
    const paramCount = specsOfLayer.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    const noise = l.noise ? seeds.map((s) => new Rng(s, 'noise', 'layer', li)) : null;
    return { layer, vars, paramCount, noise };
  });
}

/** Replicas still training, the ghost not counted. */
function alive(b: ReplicaBatch): number {
  return b.diverged.slice(0, b.real).filter((d) => d === null).length;
}

function progressOf(b: ReplicaBatch, t: number): TrainProgress {
  return {
    iteration: t,
    iterations: b.config.iterations,
    alive: alive(b),
    replicas: b.real,
    solved: b.curves.slice(0, b.real).map((c, r) => curveOutcome(c, b.specs[r]!.threshold).solved),
  };
}

/** The model's output for [R, n, I] inputs: the layers in order, each with its replica axis. */
function forward(
  b: ReplicaBatch,
  x: tf.Tensor,
  isTraining: boolean,
  noise: (tf.Tensor | null)[] = [],
): tf.Tensor {
  return b.layers.reduce((h, l, li) => {
    const ctx: NoiseContext = { training: isTraining, ...(noise[li] ? { noise: noise[li]! } : {}) };
    return l.layer.def.forward(l.vars, h, l.layer.options as never, ctx);
  }, x);
}

/** Training noise of every noisy layer for this step, each replica from its own stream. */
function drawNoise(b: ReplicaBatch): (tf.Tensor | null)[] {
  return b.layers.map((l, li) => {
    const buf = b.noiseBufs[li];
    if (!l.noise || !buf || !l.layer.noise) return null;
    const w = l.layer.shape.inputSize;
    for (let r = 0; r < b.R; r++) {
      if (b.diverged[r]) continue;
      l.noise[r]!.fillUniform(
        buf.subarray(r * b.B * w, (r + 1) * b.B * w),
        l.layer.noise.lo,
        l.layer.noise.hi,
      );
    }
    return tf.tensor3d(buf, [b.R, b.B, w]);
  });
}

/** Append (step, interpolation MSE, extrapolation MSE, sparsity error) to each live replica's curve. */
function evaluate(b: ReplicaBatch, step: number, chunkElements: number): void {
  const [interpolation, extrapolation] = b.evalSets.map((set) => evaluationMse(b, set, chunkElements));
  const sparsity = modelSparsityError(b);
  for (let r = 0; r < b.R; r++) {
    if (b.diverged[r]) continue;
    b.curves[r]!.push({
      step,
      interpolation: interpolation![r]!,
      extrapolation: extrapolation![r]!,
      sparsityError: sparsity[r]!,
    });
  }
}

/** Per replica, the MSE over one evaluation set, predicted in chunks of at most `chunkElements`. */
function evaluationMse(b: ReplicaBatch, set: EvalSet, chunkElements: number): Float64Array {
  const { R, I } = b;
  const mse = new Float64Array(R);
  const chunk = Math.max(1, Math.min(set.n, Math.floor(chunkElements / (R * I))));
  const buf = new Float32Array(R * chunk * I);
  for (let start = 0; start < set.n; start += chunk) {
    const c = Math.min(chunk, set.n - start);
    for (let r = 0; r < R; r++) buf.set(set.xs[r]!.subarray(start * I, (start + c) * I), r * c * I);
    // dataSync outside tidy: tidy walks what its function returns looking for tensors, and a
    // typed array of R·c predictions is walked element by element.
    const predT = tf.tidy(() => forward(b, tf.tensor3d(buf.subarray(0, R * c * I), [R, c, I]), false));
    const pred = predT.dataSync();
    predT.dispose();
    // One running sum per replica in point order: the chunk size depends on R, so per-chunk
    // partial sums would make the MSE's last bits depend on the batch mates.
    for (let r = 0; r < R; r++) {
      const t = set.targets[r]!;
      let acc = mse[r]!;
      for (let i = 0; i < c; i++) {
        const d = pred[r * c + i]! - t[start + i]!;
        acc += d * d;
      }
      mse[r] = acc;
    }
  }
  for (let r = 0; r < R; r++) mse[r] = mse[r]! / set.n;
  return mse;
}

/**
 * The model's sparsity error per replica: the max over its layers of each unit's own rule
 * (stable-nalu's reader takes the max of every layer's 'W/sparsity_error').
 */
function modelSparsityError(b: ReplicaBatch): Float32Array | Int32Array | Uint8Array {
  return tf.tidy(() =>
    b.layers
      // A layer without weights to score (none of the built-ins) does not take part.
      .filter(
        (l) =>
          l.layer.def.sparsityError ||
          Object.keys(l.layer.def.effectiveWeights(l.vars, l.layer.options as never)).length > 0,
      )
      .map((l) => unitSparsityError(l.layer.def, l.vars, l.layer.options as never))
      .reduce((acc, t) => tf.maximum(acc, t))
      .dataSync(),
  );
}

/**
 * Per-replica weights of the model's own regularisers at step t, name → per layer → [R] (they may
 * depend on the replica's operation and its latest validation MSE; a stopped replica gets 0), and
 * whether any is non-zero.
 */
function customRegularizerWeights(
  b: ReplicaBatch,
  t: number,
): { weights: Record<string, Float32Array[]>; any: boolean } {
  const weights: Record<string, Float32Array[]> = {};
  let any = false;
  for (const [name, weight] of Object.entries(b.customWeights)) {
    weights[name] = b.layers.map((l) => {
      const w = new Float32Array(b.R);
      for (let r = 0; r < b.R; r++) {
        if (b.diverged[r]) continue;
        const last = b.curves[r]![b.curves[r]!.length - 1];
        w[r] = weight({
          t,
          op: b.specs[r]!.config.task.op,
          interpolation: last ? last.interpolation : NaN,
          paramCount: l.paramCount,
        });
        if (w[r] !== 0) any = true;
      }
      return w;
    });
  }
  return { weights, any };
}

/**
 * One optimisation step of every replica: its next training batch, the loss (MSE, plus λ(t)·sparsity,
 * the out-of-bound weight and the model's own regularisers when any is on), gradient clipping,
 * Adam, the units' post-step constraints. Returns each replica's loss.
 */
function trainStep(b: ReplicaBatch, t: number): Float32Array | Int32Array | Uint8Array {
  const { R, B, I, config } = b;
  for (let r = 0; r < R; r++) {
    if (b.diverged[r]) continue; // a stopped replica's slot keeps stale data; its slice is independent
    b.tasks[r]!.nextBatch(
      b.xBuf.subarray(r * B * I, (r + 1) * B * I),
      b.yBuf.subarray(r * B, (r + 1) * B),
      B,
      b.filler,
    );
  }
  b.yBuf32.set(b.yBuf);
  const lambda = scheduleValue(b.schedule, t);
  const custom = customRegularizerWeights(b, t);
  const withRegularizers = lambda > 0 || (b.hasOobRegularizer && config.oobWeight > 0) || custom.any;
  let perReplica: tf.Tensor | null = null;
  tf.tidy(() => {
    const x = tf.tensor3d(b.xBuf, [R, B, I]);
    const y = tf.tensor3d(b.yBuf32, [R, B, 1]);
    const noise = drawNoise(b);
    const { grads } = b.optimizer.computeGradients(() => {
      const pred = forward(b, x, true, noise);
      let loss: tf.Tensor = tf.mean(tf.squaredDifference(pred, y), [1, 2]);
      if (withRegularizers) loss = addRegularizers(b, loss, lambda, custom);
      perReplica = tf.keep(loss);
      return tf.sum(loss) as tf.Scalar;
    }, b.varList);
    const clipped = clipGradients(grads, b.training.clipGradNorm, b.training.clipGradValue);
    b.optimizer.applyGradients(Object.entries(clipped).map(([name, tensor]) => ({ name, tensor })));
    for (const l of b.layers) {
      const updated = l.layer.def.constrain?.(l.vars, l.layer.options as never) ?? {};
      for (const [k, v] of Object.entries(updated)) l.vars[k]!.assign(v);
    }
  });
  const kept = perReplica as tf.Tensor | null;
  const losses = kept!.dataSync();
  kept!.dispose();
  return losses;
}

/** The per-replica loss plus every layer's regularisers, each with its weight at this step. */
function addRegularizers(
  b: ReplicaBatch,
  loss: tf.Tensor,
  lambda: number,
  custom: { weights: Record<string, Float32Array[]>; any: boolean },
): tf.Tensor {
  let out = loss;
  for (const [li, l] of b.layers.entries()) {
    const regs = l.layer.def.regularizers?.(l.vars, l.layer.options as never);
    if (!regs) continue;
    for (const [name, value] of Object.entries(regs)) {
      const perLayer = custom.weights[name]?.[li];
      if (perLayer) {
        if (custom.any) out = tf.add(out, tf.mul(tf.tensor1d(perLayer), value));
        continue;
      }
      const w = name === 'sparsity' ? lambda : name === 'oob' ? b.config.oobWeight : 1;
      if (w !== 0) out = tf.add(out, tf.mul(w, value));
    }
  }
  return out;
}

/** A replica whose loss is not finite stops here; its record says where and why. */
function markDiverged(b: ReplicaBatch, t: number, losses: ArrayLike<number>): void {
  for (let r = 0; r < b.R; r++) {
    if (!b.diverged[r] && !Number.isFinite(losses[r]!)) {
      b.diverged[r] = { step: t, reason: `non-finite training loss (${losses[r]}) at iteration ${t}` };
      b.iterationsDone[r] = t;
    }
  }
}

/** iNALU: a replica whose validation loss stalled gets fresh parameters (`reinitialise`). */
function reinitStalled(b: ReplicaBatch, t: number): void {
  const reinit = b.reinit;
  if (!reinit) return;
  for (let r = 0; r < b.R; r++) {
    if (b.diverged[r]) continue;
    const buffer = reinit.buffers[r]!;
    const curve = b.curves[r]!;
    buffer.push(curve[curve.length - 1]!.interpolation);
    if (stalled(reinit.rule, buffer, t)) {
      reinitialise(b, r, ++reinit.counts[r]!);
      buffer.clear();
    }
  }
}

/**
 * Fresh initial values for replica r (its k-th re-initialisation), seeded by (seed, layer, k) so
 * the record stays a function of configuration and seed. Adam's moments are kept, as in the
 * reference (it re-draws the parameters in place).
 */
function reinitialise(b: ReplicaBatch, r: number, k: number): void {
  const { R } = b;
  tf.tidy(() => {
    // (not tf.oneHot: it needs a depth ≥ 2, and a batch may hold one replica)
    const mask = tf.tensor1d(
      Array.from({ length: R }, (_, i) => (i === r ? 1 : 0)),
      'bool',
    );
    for (const [li, l] of b.layers.entries()) {
      const fresh = initParams(l.layer.def, l.layer.shape, l.layer.options as never, b.seeds[r]!, [
        'layer',
        li,
        'reinit',
        k,
      ]);
      for (const [name, v] of Object.entries(l.vars)) {
        const m = tf.reshape(mask, [R, ...v.shape.slice(1).map(() => 1)]);
        v.assign(
          tf.where(tf.broadcastTo(m, v.shape), tf.broadcastTo(tf.expandDims(fresh[name]!, 0), v.shape), v),
        );
      }
    }
  });
}
