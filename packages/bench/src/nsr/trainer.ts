/**
 * Trains R replicas of one NSR-task model as one batched tfjs computation: full batch, mean
 * absolute error, Adam. Replicas share the model, the task kind and every training
 * hyper-parameter (`nsrBatchKey`); operation and seed may differ. Training sets of different sizes
 * (equality tasks are balanced and smaller) are padded and masked, so each replica's loss is exactly
 * the MAE over its own examples and a record depends only on its configuration and seed.
 */
import * as tf from '@tensorflow/tfjs';
import { canonicalJson } from '../config.js';
import type { NsrPointResult, NsrRecord, NsrRunConfig, RegularizersOn } from './config.js';
import { NSR_RECORD_VERSION, nsrConfigKey, nsrModelOptions, regularizersAt } from './config.js';
import type { ModelVars } from './models.js';
import {
  architectureOutput,
  constrainVars,
  createVars,
  modelLayers,
  regularizationPenalty,
} from './models.js';
import { maxResolvedValue } from './resolution.js';
import type { NsrData } from './tasks.js';
import { testData, testPoints, trainingData } from './tasks.js';
import { nextTick } from '../tick.js';

export interface NsrReplica {
  config: NsrRunConfig;
  seed: number;
}

export interface NsrTrainProgress {
  epoch: number;
  epochs: number;
  replicas: number;
  /** Mean over replicas of the current training MAE. */
  meanLoss: number;
}

export interface NsrTrainOptions {
  replicas: readonly NsrReplica[];
  /** Called every `progressEvery` epochs (default 1000). */
  onProgress?: (p: NsrTrainProgress) => void;
  progressEvery?: number;
  /** Checked at every progress point; true stops training and returns null. */
  shouldStop?: () => boolean;
}

/** What replicas of one batch must share. */
export function nsrBatchKey(c: NsrRunConfig): string {
  const points = testPoints(c.task).map((p) => [p.exponent, p.length]);
  return canonicalJson({
    kind: c.task.kind,
    model: c.model,
    epochs: c.epochs,
    lr: c.lr,
    zeta: c.zeta,
    redundancy: c.redundancy ?? 1,
    selectionPenalty: c.selectionPenalty ?? 0,
    regularizeFrom: c.regularizeFrom,
    selectionFrom: c.selectionFrom ?? c.regularizeFrom,
    mlpInit: c.mlpInit ?? null,
    numeric: c.numeric,
    points,
  });
}

/** Stack per-replica data [n_r, W] into [R, N, W] (N = max n_r), targets and a 1/n_r mask. */
function stack(sets: readonly NsrData[]): {
  x: Float32Array;
  y: Float32Array;
  w: Float32Array;
  N: number;
  W: number;
} {
  const R = sets.length;
  const W = sets[0]!.width;
  const N = Math.max(...sets.map((s) => s.n));
  const x = new Float32Array(R * N * W);
  const y = new Float32Array(R * N);
  const w = new Float32Array(R * N);
  sets.forEach((s, r) => {
    x.set(s.x, r * N * W);
    y.set(s.y, r * N);
    w.fill(1 / s.n, r * N, r * N + s.n);
  });
  return { x, y, w, N, W };
}

/** Score predictions of each replica against its own labels (the first n_r rows). */
function score(
  sets: readonly NsrData[],
  pred: Float32Array | Float64Array,
  gate: Float32Array | Float64Array | null,
  N: number,
): { correct: number; success: boolean; meanError: number; maxError: number; gateSuccess: boolean | null }[] {
  return sets.map((s, r) => {
    let correct = 0;
    let sum = 0;
    let max = 0;
    // The branches are interchangeable (a model may learn them swapped with the gate inverted), so
    // the gate is right when it separates the two cases consistently, either way round.
    let gateOk = true;
    let gateInverted = true;
    for (let i = 0; i < s.n; i++) {
      const e = Math.abs(pred[r * N + i]! - s.y[i]!);
      if (e < 0.5) correct++;
      sum += e;
      if (!(e <= max)) max = e; // NaN sticks
      if (s.gate && gate) {
        if (!(Math.abs(gate[r * N + i]! - s.gate[i]!) < 0.5)) gateOk = false;
        if (!(Math.abs(gate[r * N + i]! - (1 - s.gate[i]!)) < 0.5)) gateInverted = false;
      }
    }
    return {
      correct,
      success: correct === s.n,
      meanError: sum / s.n,
      maxError: max,
      gateSuccess: s.gate && gate ? gateOk || gateInverted : null,
    };
  });
}

/** Run `fn` and free every tensor it made (tf.tidy only returns tensors; this returns plain data). */
function scoped<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}

/** A trained model kept alive: predictions for new inputs, its parameters, and `dispose`. */
export interface TrainedNsrModel {
  records: NsrRecord[];
  /** Predictions of replica `r` for rows of inputs (float32, as trained); `gate` for piecewise. */
  predict(rows: readonly (readonly number[])[], r?: number): { pred: number[]; gate: number[] | null };
  /** Raw parameter values of replica `r` by layer and parameter name. */
  params(r?: number): Record<string, Record<string, number[]>>;
  dispose(): void;
}

export async function trainNsrReplicas(opts: NsrTrainOptions): Promise<NsrRecord[] | null> {
  if (opts.replicas.length === 0) return [];
  const m = await trainNsrModel(opts);
  if (m === null) return null;
  m.dispose();
  return m.records;
}

/** As `trainNsrReplicas`, but the caller keeps the trained model (and must `dispose` it). */
export async function trainNsrModel(opts: NsrTrainOptions): Promise<TrainedNsrModel | null> {
  const specs = opts.replicas;
  const R = specs.length;
  if (R === 0) throw new Error('trainNsrReplicas: no replicas to train.');
  const c0 = specs[0]!.config;
  const key0 = nsrBatchKey(c0);
  for (const s of specs) {
    if (nsrBatchKey(s.config) !== key0)
      throw new Error(
        `trainNsrReplicas: replicas of one batch must share ${key0}; got ${nsrBatchKey(s.config)}.`,
      );
  }
  const { kind } = c0.task;
  const model = c0.model;
  const layers = modelLayers(kind, model, nsrModelOptions(c0));
  const vars: ModelVars = createVars(
    layers,
    specs.map((s) => s.seed),
  );
  const varList = Object.values(vars).flatMap((v) => Object.values(v));
  const optimizer = tf.train.adam(c0.lr, 0.9, 0.999, 1e-8);
  const every = opts.progressEvery ?? 1000;

  const train = specs.map((s) => trainingData(s.config.task, s.seed));
  const T = stack(train);
  const xT = tf.tensor3d(T.x, [R, T.N, T.W]);
  const yT = tf.tensor3d(T.y, [R, T.N, 1]);
  const wT = tf.tensor3d(T.w, [R, T.N, 1]);
  const diverged: ({ epoch: number; reason: string } | null)[] = specs.map(() => null);

  const perReplicaLoss = (on: RegularizersOn | null): tf.Tensor => {
    const { pred } = architectureOutput(kind, model, layers, vars, xT);
    let loss = tf.sum(tf.mul(wT, tf.abs(tf.sub(pred, yT))), [1, 2]);
    if (on?.sparsity || on?.selection)
      loss = tf.add(
        loss,
        regularizationPenalty(layers, vars, R, on.selection ? (c0.selectionPenalty ?? 0) : 0, on.sparsity),
      );
    return loss;
  };

  const checkLosses = (epoch: number): number => {
    const losses = scoped(() => perReplicaLoss(null).dataSync());
    let sum = 0;
    losses.forEach((l, r) => {
      if (!Number.isFinite(l) && diverged[r] === null)
        diverged[r] = { epoch, reason: `non-finite training loss (${l}) at epoch ${epoch}` };
      sum += l;
    });
    return sum / R;
  };

  const dispose = () => {
    tf.dispose([xT, yT, wT, ...varList]);
    optimizer.dispose();
  };

  for (let epoch = 1; epoch <= c0.epochs; epoch++) {
    const on = regularizersAt(c0, epoch);
    tf.tidy(() => {
      optimizer.minimize(() => tf.sum(perReplicaLoss(on)) as tf.Scalar, false, varList);
      constrainVars(layers, vars);
    });
    if (epoch % every === 0 || epoch === c0.epochs) {
      const meanLoss = checkLosses(epoch);
      opts.onProgress?.({ epoch, epochs: c0.epochs, replicas: R, meanLoss });
      await nextTick();
      if (opts.shouldStop?.()) {
        dispose();
        return null;
      }
    }
  }

  // Final training loss and fit, then every test point.
  const trainFit = scoped(() => {
    const { pred } = architectureOutput(kind, model, layers, vars, xT);
    return score(train, pred.dataSync() as Float32Array, null, T.N);
  });
  const finalLoss = scoped(() => perReplicaLoss(null).dataSync());
  const points = testPoints(c0.task);
  const limit = maxResolvedValue(c0.numeric);
  const results: NsrPointResult[][] = specs.map(() => []);
  for (let pi = 0; pi < points.length; pi++) {
    const sets = specs.map((s) => testData(s.config.task, testPoints(s.config.task)[pi]!, s.seed));
    const D = stack(sets);
    const { pred, gate } = scoped(() => {
      const out = architectureOutput(kind, model, layers, vars, tf.tensor3d(D.x, [R, D.N, D.W]));
      return {
        pred: out.pred.dataSync() as Float32Array,
        gate: out.gate ? (out.gate.dataSync() as Float32Array) : null,
      };
    });
    score(sets, pred, kind === 'piecewise' ? gate : null, D.N).forEach((sc, r) => {
      const p = testPoints(specs[r]!.config.task)[pi]!;
      results[r]!.push({
        exponent: p.exponent,
        length: p.length,
        label: p.label,
        items: sets[r]!.n,
        ...sc,
        beyondPrecision: p.maxValue > limit,
      });
    });
  }
  const records: NsrRecord[] = specs.map((s, r) => ({
    v: NSR_RECORD_VERSION,
    kind: 'nsr',
    key: nsrConfigKey(s.config),
    config: s.config,
    seed: s.seed,
    trainLoss: finalLoss[r]!,
    trainSolved: trainFit[r]!.success,
    diverged: diverged[r]!,
    points: results[r]!,
  }));
  return {
    records,
    predict(rows, r = 0) {
      const n = rows.length;
      const W = T.W;
      const x = new Float32Array(R * n * W);
      rows.forEach((row, i) => {
        if (row.length !== W) throw new Error(`predict: each row needs ${W} values, got ${row.length}.`);
        x.set(row, (r * n + i) * W);
      });
      return scoped(() => {
        const out = architectureOutput(kind, model, layers, vars, tf.tensor3d(x, [R, n, W]));
        const pick = (t: tf.Tensor) => Array.from(t.dataSync().subarray(r * n, (r + 1) * n));
        return { pred: pick(out.pred), gate: out.gate && kind === 'piecewise' ? pick(out.gate) : null };
      });
    },
    params(r = 0) {
      const out: Record<string, Record<string, number[]>> = {};
      for (const [name, ps] of Object.entries(vars)) {
        out[name] = {};
        for (const [k, v] of Object.entries(ps)) {
          const size = v.size / R;
          out[name]![k] = Array.from(v.dataSync().subarray(r * size, (r + 1) * size));
        }
      }
      return out;
    },
    dispose,
  };
}
