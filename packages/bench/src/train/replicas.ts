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
import type { RunConfig } from '../config.js';
import { canonicalJson, configKey } from '../config.js';
import { getModel } from '../models/registry.js';
import type { ModelLayer, RegularizerWeight } from '../models/registry.js';
import type { NoiseContext } from '../models/snmu.js';
import type { EvalPoint, RunRecord } from '../record.js';
import { RECORD_VERSION } from '../record.js';
import { curveOutcome } from '../success.js';
import { createStaticTask, evaluationInputs } from '../tasks/static.js';
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

export async function trainReplicas(opts: TrainReplicasOptions): Promise<RunRecord[] | null> {
  if (opts.replicas.length === 0) return [];
  assertSharedBatch(opts.replicas, 'trainReplicas');
  // The wasm backend multiplies a single pair of matrices with XNNPACK but a batch of them with its
  // own blocked loop; the two sum long dot products (I > 48) in different orders, so a lone replica
  // would get records ≈1e−7 away from the same seed in a batch. A ghost copy of the replica keeps
  // every batch on the batched kernel; its record is dropped.
  const ghost = opts.replicas.length === 1;
  const specs = ghost ? [opts.replicas[0]!, opts.replicas[0]!] : opts.replicas;
  const R = specs.length;
  const config = specs[0]!.config;
  const seeds = specs.map((s) => s.seed);
  const I = config.task.inputSize;
  const B = config.batch;
  const model = getModel(config.model);
  const schedule = config.schedule ?? model.schedule;
  const training = model.training ?? {};
  const layers: LayerState[] = model.layers(I, config.hidden).map((l, li) => {
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
  const varList = layers.flatMap((l) => Object.values(l.vars));
  const hasOobRegularizer = layers.some(
    (l) => (l.layer.options as { oobMode?: string }).oobMode === 'regularized',
  );
  const customWeights: Readonly<Record<string, RegularizerWeight>> = training.regularizers ?? {};
  const hasCustomWeights = Object.keys(customWeights).length > 0;

  // Input width of every layer (layer k reads layer k − 1's output), for the noise buffers.
  const noiseBufs = layers.map((l) => (l.noise ? new Float32Array(R * B * l.layer.shape.inputSize) : null));
  /** Training noise of every noisy layer for this step, each replica from its own stream. */
  const drawNoise = (): (tf.Tensor | null)[] =>
    layers.map((l, li) => {
      const buf = noiseBufs[li];
      if (!l.noise || !buf || !l.layer.noise) return null;
      const w = l.layer.shape.inputSize;
      for (let r = 0; r < R; r++) {
        if (diverged[r]) continue;
        l.noise[r]!.fillUniform(buf.subarray(r * B * w, (r + 1) * B * w), l.layer.noise.lo, l.layer.noise.hi);
      }
      return tf.tensor3d(buf, [R, B, w]);
    });

  const forward = (x: tf.Tensor, isTraining: boolean, noise: (tf.Tensor | null)[] = []): tf.Tensor =>
    layers.reduce((h, l, li) => {
      const ctx: NoiseContext = { training: isTraining, ...(noise[li] ? { noise: noise[li]! } : {}) };
      return l.layer.def.forward(l.vars, h, l.layer.options as never, ctx);
    }, x);

  const tasks = specs.map((s) => createStaticTask(s.config.task, s.seed));
  const evalSets = (['interpolation', 'extrapolation'] as const).map((which) => {
    const xs = specs.map((s) => evaluationInputs(s.config.task, which));
    const n = xs[0]!.length / I;
    return { which, xs, n, targets: tasks.map((t, r) => t.targets(xs[r]!, n)) };
  });

  const optimizer = tf.train.adam(config.lr, 0.9, 0.999, 1e-8);
  const xBuf = new Float32Array(R * B * I);
  const yBuf = new Float64Array(R * B);
  const yBuf32 = new Float32Array(R * B);
  const curves: EvalPoint[][] = seeds.map(() => []);
  const diverged: ({ step: number; reason: string } | null)[] = seeds.map(() => null);
  const iterationsDone = seeds.map(() => config.iterations);
  /** Replicas still training, the ghost not counted. */
  const alive = () => diverged.slice(0, opts.replicas.length).filter((d) => d === null).length;
  const reinit = training.reinit
    ? { rule: training.reinit, buffers: seeds.map(() => new LossBuffer()), counts: seeds.map(() => 0) }
    : null;

  /**
   * Fresh initial values for replica r (its k-th re-initialisation), seeded by (seed, layer, k) so
   * the record stays a function of configuration and seed. Adam's moments are kept, as in the
   * reference (it re-draws the parameters in place).
   */
  const reinitialise = (r: number, k: number) => {
    tf.tidy(() => {
      // (not tf.oneHot: it needs a depth ≥ 2, and a batch may hold one replica)
      const mask = tf.tensor1d(
        Array.from({ length: R }, (_, i) => (i === r ? 1 : 0)),
        'bool',
      );
      for (const [li, l] of layers.entries()) {
        const fresh = initParams(l.layer.def, l.layer.shape, l.layer.options as never, seeds[r]!, [
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
  };

  const evaluate = (step: number) => {
    const mse = evalSets.map(() => new Float64Array(R));
    for (const [si, set] of evalSets.entries()) {
      const chunk = Math.max(
        1,
        Math.min(set.n, Math.floor((opts.evalChunkElements ?? EVAL_CHUNK_ELEMENTS) / (R * I))),
      );
      const buf = new Float32Array(R * chunk * I);
      for (let start = 0; start < set.n; start += chunk) {
        const c = Math.min(chunk, set.n - start);
        for (let r = 0; r < R; r++) buf.set(set.xs[r]!.subarray(start * I, (start + c) * I), r * c * I);
        const pred = tf.tidy(() =>
          forward(tf.tensor3d(buf.subarray(0, R * c * I), [R, c, I]), false).dataSync(),
        );
        // One running sum per replica in point order: the chunk size depends on R, so per-chunk
        // partial sums would make the MSE's last bits depend on the batch mates.
        const out = mse[si]!;
        for (let r = 0; r < R; r++) {
          const t = set.targets[r]!;
          let acc = out[r]!;
          for (let i = 0; i < c; i++) {
            const d = pred[r * c + i]! - t[start + i]!;
            acc += d * d;
          }
          out[r] = acc;
        }
      }
      for (let r = 0; r < R; r++) mse[si]![r] = mse[si]![r]! / set.n;
    }
    // The model's sparsity error is the max over its layers of each unit's own rule (stable-nalu's
    // reader takes the max of every layer's 'W/sparsity_error').
    const sparsity = tf.tidy(() =>
      layers
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
    for (let r = 0; r < R; r++) {
      if (diverged[r]) continue;
      curves[r]!.push({
        step,
        interpolation: mse[0]![r]!,
        extrapolation: mse[1]![r]!,
        sparsityError: sparsity[r]!,
      });
    }
  };

  const solvedSoFar = () => curves.map((c, r) => curveOutcome(c, specs[r]!.threshold).solved);

  for (let t = 0; t <= config.iterations; t++) {
    if (t % config.evalEvery === 0) {
      evaluate(t);
      opts.onProgress?.({
        iteration: t,
        iterations: config.iterations,
        alive: alive(),
        replicas: opts.replicas.length,
        solved: solvedSoFar().slice(0, opts.replicas.length),
      });
      // Let signals and I/O through between evaluations.
      await nextTick();
      if (opts.shouldStop?.()) {
        dispose();
        return null;
      }
    }
    if (t === config.iterations || alive() === 0) break;

    for (let r = 0; r < R; r++) {
      if (diverged[r]) continue; // a stopped replica's slot keeps stale data; its slice is independent
      tasks[r]!.nextBatch(xBuf.subarray(r * B * I, (r + 1) * B * I), yBuf.subarray(r * B, (r + 1) * B), B);
    }
    yBuf32.set(yBuf);
    const lambda = scheduleValue(schedule, t);
    // Per-replica weights of the model's own regularisers (they may depend on the replica's
    // operation and its latest validation MSE); a stopped replica gets 0.
    const custom: Record<string, Float32Array[]> = {};
    let anyCustom = false;
    if (hasCustomWeights) {
      for (const [name, weight] of Object.entries(customWeights)) {
        custom[name] = layers.map((l) => {
          const w = new Float32Array(R);
          for (let r = 0; r < R; r++) {
            if (diverged[r]) continue;
            const last = curves[r]![curves[r]!.length - 1];
            w[r] = weight({
              t,
              op: specs[r]!.config.task.op,
              interpolation: last ? last.interpolation : NaN,
              paramCount: l.paramCount,
            });
            if (w[r] !== 0) anyCustom = true;
          }
          return w;
        });
      }
    }
    const withRegularizers = lambda > 0 || (hasOobRegularizer && config.oobWeight > 0) || anyCustom;
    let perReplica: tf.Tensor | null = null;
    tf.tidy(() => {
      const x = tf.tensor3d(xBuf, [R, B, I]);
      const y = tf.tensor3d(yBuf32, [R, B, 1]);
      const noise = drawNoise();
      const { grads } = optimizer.computeGradients(() => {
        const pred = forward(x, true, noise);
        let loss: tf.Tensor = tf.mean(tf.squaredDifference(pred, y), [1, 2]);
        if (withRegularizers) {
          for (const [li, l] of layers.entries()) {
            const regs = l.layer.def.regularizers?.(l.vars, l.layer.options as never);
            if (!regs) continue;
            for (const [name, value] of Object.entries(regs)) {
              const perLayer = custom[name]?.[li];
              if (perLayer) {
                if (anyCustom) loss = tf.add(loss, tf.mul(tf.tensor1d(perLayer), value));
                continue;
              }
              const w = name === 'sparsity' ? lambda : name === 'oob' ? config.oobWeight : 1;
              if (w !== 0) loss = tf.add(loss, tf.mul(w, value));
            }
          }
        }
        perReplica = tf.keep(loss);
        return tf.sum(loss) as tf.Scalar;
      }, varList);
      const clipped = clipGradients(grads, training.clipGradNorm, training.clipGradValue);
      optimizer.applyGradients(Object.entries(clipped).map(([name, tensor]) => ({ name, tensor })));
      for (const l of layers) {
        const updated = l.layer.def.constrain?.(l.vars, l.layer.options as never) ?? {};
        for (const [k, v] of Object.entries(updated)) l.vars[k]!.assign(v);
      }
    });
    const losses = (perReplica as tf.Tensor | null)!.dataSync();
    (perReplica as tf.Tensor | null)!.dispose();
    for (let r = 0; r < R; r++) {
      if (!diverged[r] && !Number.isFinite(losses[r]!)) {
        diverged[r] = { step: t, reason: `non-finite training loss (${losses[r]}) at iteration ${t}` };
        iterationsDone[r] = t;
      }
    }
    if (reinit) {
      for (let r = 0; r < R; r++) {
        if (diverged[r]) continue;
        const buffer = reinit.buffers[r]!;
        buffer.push(curves[r]![curves[r]!.length - 1]!.interpolation);
        if (stalled(reinit.rule, buffer, t)) {
          reinitialise(r, ++reinit.counts[r]!);
          buffer.clear();
        }
      }
    }
  }

  const records = opts.replicas.map((spec, r) =>
    buildRecord(spec, curves[r]!, diverged[r]!, iterationsDone[r]!),
  );
  dispose();
  return records;

  function dispose() {
    tf.dispose(varList);
    optimizer.dispose();
  }
}
