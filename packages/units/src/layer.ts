/**
 * The layer shell: one generic tfjs Layer built from a UnitDef. Named subclasses (NAU, NMU, …) in
 * the unit files keep the tfjs look (`new NAU({ units: 2 })`) and the serialisation class names.
 */
import * as tf from '@tensorflow/tfjs';
import type { Params, UnitDef } from './unit.js';
import { initParams, outputSize, resolveOptions, unitSparsityError } from './unit.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** Weights of the regularisers a unit returns, e.g. `{ sparsity: 0.01 }`; missing names weigh 0. */
export type RegularizationWeights = Readonly<Record<string, number>>;

export interface UnitLayerBaseArgs extends LayerArgs {
  /** Output width O (ignored by units with a fixed width such as the NSR). */
  units?: number;
  /** Seed of the initialiser; the same seed gives the same weights. Random when omitted. */
  seed?: number;
  /** Constant weights of the unit's named regularisers, added to the training loss by `fit`. */
  regularization?: RegularizationWeights;
}

export type UnitLayerArgs<O extends object> = UnitLayerBaseArgs & Partial<O>;

const LAYER_KEYS = new Set(['units', 'seed', 'regularization']);
/**
 * The arguments tfjs's own Layer accepts (`LayerArgs`), plus `customObjects`, which tfjs adds to a
 * config it deserialises; anything else must be a unit option.
 */
const TFJS_LAYER_KEYS = new Set([
  'customObjects',
  'inputShape',
  'batchInputShape',
  'batchSize',
  'dtype',
  'name',
  'trainable',
  'weights',
  'inputDType',
]);

export class UnitLayer<O extends object = object> extends tf.layers.Layer {
  readonly def: UnitDef<O>;
  readonly units: number;
  readonly seed: number;
  readonly options: O;
  readonly regularization: RegularizationWeights;
  private unitVars: Record<string, tf.LayerVariable> = {};

  constructor(def: UnitDef<O>, args: UnitLayerArgs<O>) {
    // Split tfjs layer args from the unit's own options (which are flat, tfjs-style).
    const layerArgs: Record<string, unknown> = {};
    const unitOpts: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(args ?? {})) {
      if (TFJS_LAYER_KEYS.has(k)) layerArgs[k] = v;
      // Unknown keys go to the unit's options, where resolveOptions rejects them by name (tfjs's
      // Layer would silently ignore a misspelt option such as `gatebias`).
      else if (!LAYER_KEYS.has(k)) unitOpts[k] = v;
    }
    super(layerArgs as LayerArgs);
    this.def = def;
    this.options = resolveOptions(def, unitOpts as Partial<O>);
    const fixed = def.outputSize?.({ inputSize: 1, units: 1 }, this.options);
    if (fixed !== undefined && args?.units !== undefined && args.units !== fixed) {
      throw new Error(
        `${def.className}: this unit always has ${fixed} outputs; omit 'units' (got ${String(args.units)}).`,
      );
    }
    const units = args?.units ?? fixed;
    if (units === undefined || !Number.isInteger(units) || units < 1) {
      throw new Error(`${def.className}: 'units' must be a positive integer, got ${String(args?.units)}.`);
    }
    this.units = units;
    if (args?.seed !== undefined && !Number.isInteger(args.seed)) {
      throw new Error(`${def.className}: 'seed' must be an integer, got ${args.seed}.`);
    }
    this.seed = args?.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.regularization = { ...(args?.regularization ?? {}) };
    for (const [name, w] of Object.entries(this.regularization)) {
      if (!Number.isFinite(w) || w < 0) {
        throw new Error(
          `${def.className}: regularization weight '${name}' must be a finite number >= 0, got ${w}.`,
        );
      }
    }
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inputSize = shape[shape.length - 1];
    if (shape.length !== 2 || inputSize == null) {
      throw new Error(
        `${this.def.className}: expected input of shape [batch, features], received [${shape.map((d) => d ?? 'null').join(', ')}]. ` +
          'Give the first layer an inputShape of [features].',
      );
    }
    const unitShape = { inputSize, units: this.units };
    const initial = initParams(this.def, unitShape, this.options, this.seed);
    for (const spec of this.def.params(unitShape, this.options)) {
      const v = this.addWeight(spec.name, spec.shape, 'float32', tf.initializers.zeros());
      v.write(initial[spec.name]!);
      this.unitVars[spec.name] = v;
    }
    // Name check now rather than at the first loss evaluation inside fit.
    const known = tf.tidy(() => Object.keys(this.def.regularizers?.(initial, this.options) ?? {}));
    for (const name of Object.keys(this.regularization)) {
      if (!known.includes(name)) {
        throw new Error(
          `${this.def.className}: no regulariser named '${name}'. This unit has: ${known.join(', ') || '(none)'}.`,
        );
      }
    }
    tf.dispose(Object.values(initial));
    if (Object.values(this.regularization).some((w) => w > 0)) {
      this.addLoss(() => this.regularizationLoss());
    }
    this.built = true;
  }

  /** Current raw parameters (the variables' values, not copies). */
  params(): Params {
    const out: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(this.unitVars)) out[k] = v.read();
    return out;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return this.def.forward(this.params(), x, this.options, { training: kwargs?.training === true });
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inputSize = shape[shape.length - 1] ?? 0;
    return [...shape.slice(0, -1), outputSize(this.def, { inputSize, units: this.units }, this.options)];
  }

  /** Σ weight · regulariser over the named regularisers given in `regularization`. */
  regularizationLoss(): tf.Scalar {
    return tf.tidy(() => {
      const regs = this.def.regularizers?.(this.params(), this.options) ?? {};
      let total: tf.Tensor = tf.scalar(0);
      for (const [name, w] of Object.entries(this.regularization)) {
        const r = regs[name];
        if (!r) {
          throw new Error(
            `${this.def.className}: no regulariser named '${name}'. This unit has: ${Object.keys(regs).join(', ') || '(none)'}.`,
          );
        }
        if (w > 0) total = tf.add(total, tf.mul(w, r));
      }
      return total as tf.Scalar;
    });
  }

  /** Project the parameters back into their allowed range (the post-step "clip"). */
  applyConstraints(): void {
    if (!this.def.constrain || !this.built) return;
    tf.tidy(() => {
      const updated = this.def.constrain!(this.params(), this.options);
      for (const [k, t] of Object.entries(updated)) this.unitVars[k]!.write(t);
    });
  }

  /** Effective weights (after squashing/clamping), as new tensors owned by the caller. */
  effectiveWeights(): Record<string, tf.Tensor> {
    return tf.tidy(() => this.def.effectiveWeights(this.params(), this.options));
  }

  /** The unit's sparsity error (max over effective weights of min(|w|, |1 − |w||) unless the unit says otherwise). */
  sparsityError(): number {
    const e = tf.tidy(() => unitSparsityError(this.def, this.params(), this.options));
    const value = e.dataSync()[0]!;
    e.dispose(); // tidy keeps what it returns: without this every call would leak a scalar
    return value;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      seed: this.seed,
      regularization: { ...this.regularization },
      ...(this.options as tf.serialization.ConfigDict),
    };
  }
}

/** Every unit layer inside a model (nested models included). */
export function unitLayers(model: tf.LayersModel): UnitLayer[] {
  const out: UnitLayer[] = [];
  const visit = (layers: tf.layers.Layer[]) => {
    for (const l of layers) {
      if (l instanceof UnitLayer) out.push(l);
      else if (l instanceof tf.LayersModel) visit(l.layers);
    }
  };
  visit(model.layers);
  return out;
}

/** Apply every unit layer's post-step constraint. tfjs's `fit` never applies weight constraints. */
export function applyUnitConstraints(model: tf.LayersModel): void {
  for (const l of unitLayers(model)) l.applyConstraints();
}

/** Sparsity error of a whole model: the max over its unit layers. */
export function modelSparsityError(model: tf.LayersModel): number {
  return Math.max(...unitLayers(model).map((l) => l.sparsityError()));
}

/**
 * A `fit` callback that clamps unit weights after every optimiser step, as the units are meant to
 * be trained: `model.fit(x, y, { callbacks: [new ConstrainUnits()] })`.
 */
export class ConstrainUnits extends tf.Callback {
  override async onBatchEnd(): Promise<void> {
    applyUnitConstraints(this.model as tf.LayersModel);
  }
}
