/**
 * The fused training path for the built-in units: the same contract as the generic tfjs trainer
 * (`trainReplicas`), without tfjs's per-op overhead, which dominates these tiny models
 * (shared/spec/performance.md). Per batch and layer, one call on a block of rows:
 * - a first layer made of linear forms (NAU, NAC+, NAC•, NALU, dense) computes its weighted sums and
 *   their weight gradients for the whole batch in WebAssembly SIMD (float32, wasm.ts), draws the
 *   batch straight into wasm memory (the task's lane stream, bit-identical to its JavaScript
 *   definition) and computes log(|x| + ε) there; its per-row head runs in TypeScript;
 * - the other layers (and a first layer without forms, e.g. an NMU) run in TypeScript in float64.
 * Records therefore differ slightly from the float32 tfjs path; each path is deterministic, and a
 * replica's record does not depend on which replicas share the call (they are trained one after
 * the other, each with its own parameters, optimiser state and data stream).
 */
import * as tf from '@tensorflow/tfjs';
import type { UnitDef } from '@nalm/units';
import { initParams, resolveOptions } from '@nalm/units';
import type { RunConfig } from '../config.js';
import type { ModelLayer } from '../models/registry.js';
import { getModel } from '../models/registry.js';
import type { EvalPoint, RunRecord } from '../record.js';
import { curveOutcome } from '../success.js';
import type { StaticTaskInstance } from '../tasks/static.js';
import { createStaticTask, evaluationInputs } from '../tasks/static.js';
import type { ReplicaSpec, TrainReplicasOptions } from '../train/replicas.js';
import { assertSharedBatch, buildRecord } from '../train/replicas.js';
import { scheduleValue } from '../train/schedule.js';
import { Adam, FastModel, allLayersFused } from './model.js';
import { Arena } from './wasm.js';
import { nextTick } from '../tick.js';

export { Adam, FastModel, allLayersFused, type FastLayerInit } from './model.js';
export type { FastLayer, KernelArgs, LinearForm } from './kernel.js';
export { FormLayer } from './kernel.js';
export { Arena } from './wasm.js';
export { kernelFor } from './registry.js';

/** The model's layers with their options resolved (defaults filled in, validated). */
function resolvedLayers(config: RunConfig): ModelLayer[] {
  const model = getModel(config.model);
  return model.layers(config.task.inputSize, config.hidden).map((l) => ({
    ...l,
    options: resolveOptions(l.def as UnitDef<object>, l.options),
  }));
}

/** True when every layer of the configuration's model has a fused kernel (and the shapes chain). */
export function fastPathSupports(config: RunConfig): boolean {
  let layers: ModelLayer[];
  try {
    if (config.task.kind !== 'static') return false;
    layers = resolvedLayers(config);
  } catch {
    return false;
  }
  if (!allLayersFused(layers)) return false;
  for (let k = 0; k < layers.length; k++) {
    const { def, shape, options } = layers[k]!;
    if (def.outputSize && def.outputSize(shape, options as never) !== shape.units) return false;
    const want = k === 0 ? config.task.inputSize : layers[k - 1]!.shape.units;
    if (shape.inputSize !== want) return false;
  }
  // The loss compares every output with the scalar target (the tfjs trainer's [B, 1] target).
  return layers[layers.length - 1]!.shape.units === 1;
}

/**
 * The replica's model at its initial parameters: `initParams` exactly as `trainReplicas` seeds it
 * (float32 values, used as float64). Needs an initialised tfjs backend (`await tf.ready()`).
 */
export function initialFastModel(config: RunConfig, seed: number, arena?: Arena): FastModel {
  return new FastModel(
    resolvedLayers(config).map((layer, li) => {
      const tensors = initParams(layer.def, layer.shape, layer.options as never, seed, ['layer', li]);
      const parts = layer.def.params(layer.shape, layer.options as never).map((spec) => {
        const v = tensors[spec.name]!.dataSync();
        return v as Float32Array;
      });
      for (const t of Object.values(tensors)) t.dispose();
      const params = new Float64Array(parts.reduce((s, v) => s + v.length, 0));
      let off = 0;
      for (const v of parts) {
        params.set(v, off);
        off += v.length;
      }
      return { layer, params };
    }),
    arena,
  );
}

interface EvalSet {
  /** The shared evaluation inputs (the models copy them once into their arena). */
  x: Float32Array;
  y: Float64Array;
  n: number;
}

interface Replica {
  spec: ReplicaSpec;
  model: FastModel;
  adam: Adam;
  task: StaticTaskInstance;
  interpolation: EvalSet;
  extrapolation: EvalSet;
  curve: EvalPoint[];
  diverged: { step: number; reason: string } | null;
  iterations: number;
}

/**
 * Train the replicas with the fused kernels. Same semantics as `trainReplicas`: initial parameters
 * from `initParams`, each replica's own data stream, evaluation at every multiple of `evalEvery`
 * (including 0, before that iteration's update), Adam, constraints after every step, a replica with
 * a non-finite loss stopped at that iteration, `onProgress`/`shouldStop` after every evaluation.
 * Throws if `fastPathSupports` is false for the configuration.
 */
export async function fastTrainReplicas(opts: TrainReplicasOptions): Promise<RunRecord[] | null> {
  const specs = opts.replicas;
  const R = specs.length;
  if (R === 0) return [];
  const config = specs[0]!.config;
  assertSharedBatch(specs, 'fastTrainReplicas');
  if (!fastPathSupports(config)) {
    throw new Error(
      `fastTrainReplicas: model '${config.model}' has a layer without a fused kernel; use trainReplicas.`,
    );
  }
  // initParams hands its values over as tfjs tensors, which need an initialised backend.
  await tf.ready();
  if (!Number.isInteger(config.evalEvery) || config.evalEvery < 1) {
    throw new RangeError(`fastTrainReplicas: evalEvery must be an integer ≥ 1, got ${config.evalEvery}.`);
  }
  const I = config.task.inputSize;
  const B = config.batch;
  const schedule = config.schedule ?? getModel(config.model).schedule;
  const hasOobRegularizer = resolvedLayers(config).some(
    (l) => (l.options as { oobMode?: string }).oobMode === 'regularized',
  );
  const evalSet = (spec: ReplicaSpec, task: StaticTaskInstance, which: 'interpolation' | 'extrapolation') => {
    const x = evaluationInputs(spec.config.task, which);
    const n = x.length / I;
    return { x, n, y: task.targets(x, n) };
  };
  // One wasm arena for the call: the replicas' buffers and one copy of each evaluation set.
  const arena = new Arena();
  const replicas: Replica[] = specs.map((spec) => {
    const model = initialFastModel(spec.config, spec.seed, arena);
    const task = createStaticTask(spec.config.task, spec.seed);
    return {
      spec,
      model,
      adam: new Adam(model.p.length, config.lr, 0.9, 0.999, 1e-8, arena),
      task,
      interpolation: evalSet(spec, task, 'interpolation'),
      extrapolation: evalSet(spec, task, 'extrapolation'),
      curve: [],
      diverged: null,
      iterations: config.iterations,
    };
  });
  const yBuf = new Float64Array(B);

  const evaluate = (step: number) => {
    for (const r of replicas) {
      if (r.diverged) continue;
      r.model.prepare();
      r.curve.push({
        step,
        interpolation: r.model.mse(r.interpolation.x, r.interpolation.y, r.interpolation.n),
        extrapolation: r.model.mse(r.extrapolation.x, r.extrapolation.y, r.extrapolation.n),
        sparsityError: r.model.sparsityError(),
      });
    }
  };

  /** Iterations [from, to) of one replica; returns false if it diverged. */
  const train = (r: Replica, from: number, to: number) => {
    const { model, adam, task } = r;
    for (let t = from; t < to; t++) {
      // The model's own input buffer (wasm memory for a batched first layer): no copy.
      const xBuf = model.inputBuffer(B);
      task.nextBatch(xBuf, yBuf, B, model.filler);
      const lambda = scheduleValue(schedule, t);
      const withRegularizers = lambda > 0 || (hasOobRegularizer && config.oobWeight > 0);
      model.prepare();
      const loss = model.lossAndGrad(
        xBuf,
        yBuf,
        B,
        withRegularizers ? lambda : 0,
        withRegularizers ? config.oobWeight : 0,
      );
      if (!Number.isFinite(loss)) {
        r.diverged = { step: t, reason: `non-finite training loss (${loss}) at iteration ${t}` };
        r.iterations = t;
        return;
      }
      adam.step(model.p, model.g);
      model.constrain();
    }
  };

  const alive = () => replicas.reduce((n, r) => n + (r.diverged ? 0 : 1), 0);
  const every = config.evalEvery;
  let t = 0;
  for (;;) {
    if (t % every === 0) {
      evaluate(t);
      opts.onProgress?.({
        iteration: t,
        iterations: config.iterations,
        alive: alive(),
        replicas: R,
        solved: replicas.map((r) => curveOutcome(r.curve, r.spec.threshold).solved),
      });
      // Let signals and I/O through between evaluations.
      await nextTick();
      if (opts.shouldStop?.()) return null;
    }
    if (t === config.iterations || alive() === 0) break;
    const next = Math.min(config.iterations, (Math.floor(t / every) + 1) * every);
    for (const r of replicas) if (!r.diverged) train(r, t, next);
    if (alive() === 0) {
      // The lock-step tfjs loop stops at the iteration after the last divergence, evaluating (and
      // reporting progress) there only if that iteration is an evaluation step.
      const lastDeath = Math.max(
        ...replicas.map((r) => (r.diverged && r.diverged.step >= t ? r.diverged.step : -1)),
      );
      if (lastDeath + 1 < next) break;
    }
    t = next;
  }
  return replicas.map((r) => buildRecord(r.spec, r.curve, r.diverged, r.iterations));
}

/** The fused path in the shape `runSweep` takes (`SweepOptions.fast`). */
export const fastTrainer = { supports: fastPathSupports, train: fastTrainReplicas } as const;
