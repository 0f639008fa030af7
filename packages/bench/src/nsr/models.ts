/**
 * Models of the NSR tasks, built from the units' definitions (no formula is repeated here).
 *
 * A *gate* decides: it maps candidates [R, B, S] to y ∈ (0, 1) of shape [R, B, 1]. Three gates:
 * - `nsr`: the Neural Status Register (units/src/nsr.ts), S = 2 or 5, redundancy 1, scale ζ;
 * - `mlp`: the reference's two-layer baseline, σ(σ(x·W1 + b1)·W2 + b2) with 20 hidden units;
 * - `nau-gate`: the reference's NAU comparator, σ(b + (x·clamp(W1))·clamp(W2)), 20 hidden units —
 *   a linear decision, so it can learn an ordering but not equality.
 * An *architecture* puts a gate to work on a task (see `architectureOutput`): compare returns y;
 * piecewise mixes two NAU branches (each x·clamp(W) + b, Xavier-normal init as the reference) by y; min runs h ← y·h + (1 − y)·x_i;
 * count adds 1 − y for each later element compared with the first.
 *
 * Every parameter carries a leading replica axis [R, …], so R seeds (and operations) train as one
 * computation; each replica's loss and gradients are its own.
 */
import * as tf from '@tensorflow/tfjs';
import type { Params, UnitDef, UnitShape } from '@nalm/units';
import { initParams, nauDef, nsrDef, resolveOptions } from '@nalm/units';
import type { DenseInit } from '../models/dense.js';
import { denseDef } from '../models/dense.js';
import type { NsrTaskKind } from './tasks.js';
import { inputSizeOf } from './tasks.js';

export type NsrModelName = 'nsr' | 'mlp' | 'nau-gate';
export const NSR_MODELS: readonly NsrModelName[] = ['nsr', 'mlp', 'nau-gate'];
export const NSR_MODEL_LABEL: Readonly<Record<NsrModelName, string>> = {
  nsr: 'NSR',
  mlp: 'MLP',
  'nau-gate': 'NAU gate',
};

/** Hidden width of the MLP and NAU-gate baselines (the reference's 2 × redundancy 10). */
export const BASELINE_HIDDEN = 20;

/** A per-output bias z = x + b (zero init): the NAU has none, the branches and gates need one. */
export const biasDef: UnitDef<object> = {
  name: 'bias',
  className: 'NsrBias',
  defaults: {},
  params: ({ units }) => [{ name: 'b', shape: [units] }],
  init: (param) => new Float32Array(param.shape.reduce((a, b) => a * b, 1)),
  forward: (p: Params, x: tf.Tensor) => tf.add(x, x.rank === 3 ? tf.expandDims(p.b!, 1) : p.b!),
  effectiveWeights: () => ({}),
};

/**
 * The piecewise task's NAU branches as the reference's NAU_ALU: the NAU with its weight drawn
 * Xavier-normal, std √(2 / (I + O)) = 0.577 for [5, 1] (models.py `NAU_ALU.init`), where the NAU's
 * own init is U[−0.5, 0.5] (std 0.29, the NAU paper's range). Forward, clamp and regulariser are
 * the NAU's. Same name, so the seed streams are the NAU's.
 */
export const nauBranchDef: UnitDef<object> = {
  ...(nauDef as unknown as UnitDef<object>),
  init(param, _shape, _opts, rng) {
    const [fanIn, fanOut] = param.shape as [number, number];
    const n = fanIn * fanOut;
    return rng.fillNormal(new Float32Array(n), 0, Math.sqrt(2 / (fanIn + fanOut))) as Float32Array;
  },
};

/**
 * The counting architecture's NSR (count += 1 − y per element): the NSR with its zero-bit weight
 * starting at W0 = −1 instead of the reference's Xavier-normal draw; every other initial value is
 * the NSR's. Counting needs W0 < 0 at the end (an equal pair has q = 1 and must give y → 0; fitted
 * seeds end near W0 ≈ −30). A seed that starts with W0 ≥ 0 slides into the constant "never equal"
 * predictor (count 0, the MAE-optimal constant: 55–66% of the training counts are 0) and stays
 * there, its operand selections collapsed (p1 = p2, d ≡ 0, the sigmoid saturated). At the
 * reference's 50,000 epochs, no seed with W0 ≥ 0 at init fitted (0 of 18, the reference code's runs
 * and ours); a sign-fixed draw −|W0| still lost the seeds with |W0| ≲ 0.36 (27 of 30 fit); W0 = −1
 * fits 30 of 30 (benchmarks/reproductions/nsr.md). Same name as the NSR, so the seed streams are
 * the NSR's.
 */
export const nsrCountDef: UnitDef<object> = {
  ...(nsrDef as unknown as UnitDef<object>),
  init(param, shape, opts, rng) {
    const v = (nsrDef as unknown as UnitDef<object>).init(param, shape, opts, rng);
    return param.name === 'W_zero' ? v.fill(-1) : v;
  },
};

export interface LayerSpec {
  /** Unique within a model: 'gate.nsr', 'true.W', … */
  name: string;
  def: UnitDef<object>;
  shape: UnitShape;
  options: object;
}

export interface ModelOptions {
  /** NSR scale ζ (see resolution.ts: ζ = 1/step). */
  zeta: number;
  /** NSR redundancy R: operand pairs compared in parallel (1 if absent). */
  redundancy?: number;
  /** The MLP's init (config.ts `mlpInit`): absent, stable-nalu's Linear init. */
  mlpInit?: Extract<DenseInit, 'torch-linear'>;
}

function layer(name: string, def: UnitDef<never>, shape: UnitShape, options: object = {}): LayerSpec {
  const d = def as unknown as UnitDef<object>;
  return { name, def: d, shape, options: resolveOptions(d, options) };
}

function gateLayers(kind: NsrTaskKind, model: NsrModelName, S: number, opts: ModelOptions): LayerSpec[] {
  switch (model) {
    case 'nsr':
      return [
        layer(
          'gate.nsr',
          (kind === 'count' ? nsrCountDef : nsrDef) as UnitDef<never>,
          { inputSize: S, units: 1 },
          { zeta: opts.zeta, redundancy: opts.redundancy ?? 1 },
        ),
      ];
    case 'mlp': {
      // Without mlpInit, denseDef's own default (stable-nalu).
      const init = opts.mlpInit ? { init: opts.mlpInit } : {};
      return [
        layer('gate.l1', denseDef as UnitDef<never>, { inputSize: S, units: BASELINE_HIDDEN }, init),
        layer('gate.l2', denseDef as UnitDef<never>, { inputSize: BASELINE_HIDDEN, units: 1 }, init),
      ];
    }
    case 'nau-gate':
      return [
        layer('gate.w1', nauDef as UnitDef<never>, { inputSize: S, units: BASELINE_HIDDEN }),
        layer('gate.w2', nauDef as UnitDef<never>, { inputSize: BASELINE_HIDDEN, units: 1 }),
        layer('gate.b', biasDef as UnitDef<never>, { inputSize: 1, units: 1 }),
      ];
  }
}

/** Every layer of a model on a task: the gate and, for piecewise, the two NAU branches. */
export function modelLayers(kind: NsrTaskKind, model: NsrModelName, opts: ModelOptions): LayerSpec[] {
  const layers = gateLayers(kind, model, inputSizeOf(kind), opts);
  if (kind === 'piecewise') {
    for (const branch of ['true', 'false']) {
      layers.push(layer(`${branch}.W`, nauBranchDef as UnitDef<never>, { inputSize: 5, units: 1 }));
      layers.push(layer(`${branch}.b`, biasDef as UnitDef<never>, { inputSize: 1, units: 1 }));
    }
  }
  return layers;
}

export type ModelVars = Record<string, Record<string, tf.Variable>>;

/** Variables [R, …] of R replicas, each initialised from its own seed (independent of the others). */
export function createVars(layers: readonly LayerSpec[], seeds: readonly number[]): ModelVars {
  const vars: ModelVars = {};
  for (const l of layers) {
    const perSeed = seeds.map((s) => initParams(l.def, l.shape, l.options, s, ['nsr-task', l.name]));
    vars[l.name] = {};
    for (const spec of l.def.params(l.shape, l.options)) {
      vars[l.name]![spec.name] = tf.variable(tf.stack(perSeed.map((p) => p[spec.name]!)), true);
    }
    perSeed.forEach((p) => tf.dispose(Object.values(p)));
  }
  return vars;
}

function apply(layers: readonly LayerSpec[], vars: ModelVars, name: string, x: tf.Tensor): tf.Tensor {
  const l = layers.find((v) => v.name === name)!;
  return l.def.forward(vars[name]!, x, l.options);
}

/** The gate's y ∈ (0, 1): [R, B, S] → [R, B, 1]. */
export function gateOutput(
  model: NsrModelName,
  layers: readonly LayerSpec[],
  vars: ModelVars,
  x: tf.Tensor,
): tf.Tensor {
  switch (model) {
    case 'nsr': {
      const yy = apply(layers, vars, 'gate.nsr', x);
      return tf.slice(yy, [0, 0, 0], [-1, -1, 1]);
    }
    case 'mlp': {
      const h = tf.sigmoid(apply(layers, vars, 'gate.l1', x));
      return tf.sigmoid(apply(layers, vars, 'gate.l2', h));
    }
    case 'nau-gate': {
      const h = apply(layers, vars, 'gate.w1', x);
      return tf.sigmoid(apply(layers, vars, 'gate.b', apply(layers, vars, 'gate.w2', h)));
    }
  }
}

/**
 * The model's prediction [R, B, 1] for inputs [R, B, W], and (piecewise) the gate's y.
 * compare: y. piecewise: y·(x·W_t + b_t) + (1 − y)·(x·W_f + b_f). min: h₀ = x₀,
 * h ← y·h + (1 − y)·x_i with y = gate([h, x_i]). count: Σ_i (1 − gate([x₀, x_i])).
 */
export function architectureOutput(
  kind: NsrTaskKind,
  model: NsrModelName,
  layers: readonly LayerSpec[],
  vars: ModelVars,
  x: tf.Tensor,
): { pred: tf.Tensor; gate: tf.Tensor | null } {
  const gate = (c: tf.Tensor) => gateOutput(model, layers, vars, c);
  switch (kind) {
    case 'compare': {
      const y = gate(x);
      return { pred: y, gate: y };
    }
    case 'piecewise': {
      const y = gate(x);
      const t = apply(layers, vars, 'true.b', apply(layers, vars, 'true.W', x));
      const f = apply(layers, vars, 'false.b', apply(layers, vars, 'false.W', x));
      return { pred: tf.add(tf.mul(y, t), tf.mul(tf.sub(1, y), f)), gate: y };
    }
    case 'min': {
      const cols = tf.split(x, x.shape[2]!, 2);
      let h = cols[0]!;
      for (let i = 1; i < cols.length; i++) {
        const y = gate(tf.concat([h, cols[i]!], 2));
        h = tf.add(tf.mul(y, h), tf.mul(tf.sub(1, y), cols[i]!));
      }
      return { pred: h, gate: null };
    }
    case 'count': {
      const cols = tf.split(x, x.shape[2]!, 2);
      let count: tf.Tensor = tf.zerosLike(cols[0]!);
      for (let i = 1; i < cols.length; i++) {
        count = tf.add(count, tf.sub(1, gate(tf.concat([cols[0]!, cols[i]!], 2))));
      }
      return { pred: count, gate: null };
    }
  }
}

/**
 * The regularisation term per replica [R]: the NAU layers' sparsity regularisers summed (weight 1, the
 * reference's; `sparsity` false leaves them out), plus `selectionWeight` × the NSR's selection entropy
 * (units/src/nsr.ts; 0: the reference).
 */
export function regularizationPenalty(
  layers: readonly LayerSpec[],
  vars: ModelVars,
  R: number,
  selectionWeight = 0,
  sparsity = true,
): tf.Tensor {
  let total: tf.Tensor = tf.zeros([R]);
  for (const l of layers) {
    const regs = l.def.regularizers?.(vars[l.name]!, l.options);
    if (regs?.sparsity && sparsity) total = tf.add(total, regs.sparsity);
    if (regs?.selection && selectionWeight > 0)
      total = tf.add(total, tf.mul(regs.selection, selectionWeight));
  }
  return total;
}

/** Post-step constraints (the NAU's clamp to [−1, 1]). */
export function constrainVars(layers: readonly LayerSpec[], vars: ModelVars): void {
  for (const l of layers) {
    const updated = l.def.constrain?.(vars[l.name]!, l.options) ?? {};
    for (const [k, v] of Object.entries(updated)) vars[l.name]![k]!.assign(v);
  }
}
