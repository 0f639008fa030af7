/**
 * A model of fused layer kernels for one replica: flat raw parameters and gradients, the row loop
 * (forward, backward, gradient accumulation — the batch is never materialised beyond the task's own
 * buffer), evaluation and Adam. Layers are composed generically, so any n-layer model whose units all
 * have kernels (see registry.ts) runs here.
 */
import type { UnitDef } from '@nalm/units';
import type { ModelLayer } from '../models/registry.js';
import type { FastLayer } from './kernel.js';
import { maxNaN } from './kernel.js';
import { kernelFor } from './registry.js';

/** A layer with resolved options and its initial raw parameters (`def.params` order, row-major). */
export interface FastLayerInit {
  layer: ModelLayer;
  params: Float64Array;
}

export class FastModel {
  readonly layers: FastLayer[];
  /** All raw parameters, layer by layer, each in `def.params` order. */
  readonly p: Float64Array;
  /** Gradient of the last `lossAndGrad`, same layout as `p`. */
  readonly g: Float64Array;
  /** Per layer: [offset, length] in `p`. */
  readonly slices: [number, number][];
  private readonly acts: Float64Array[];
  private readonly deltas: Float64Array[];
  private readonly outWidth: number;
  /** The current batch widened to float64. */
  private xBatch = new Float64Array(0);

  constructor(init: readonly FastLayerInit[]) {
    const total = init.reduce((s, l) => s + l.params.length, 0);
    this.p = new Float64Array(total);
    this.g = new Float64Array(total);
    this.slices = [];
    this.layers = [];
    let off = 0;
    for (const { layer, params } of init) {
      const factory = kernelFor(layer.def);
      if (!factory) throw new Error(`fast path: no fused kernel for unit '${layer.def.name}'.`);
      const n = params.length;
      this.p.set(params, off);
      this.slices.push([off, n]);
      this.layers.push(
        factory({
          inputSize: layer.shape.inputSize,
          units: layer.shape.units,
          options: layer.options as never,
          p: this.p.subarray(off, off + n),
          g: this.g.subarray(off, off + n),
        }),
      );
      off += n;
    }
    this.acts = this.layers.map((l) => new Float64Array(l.outputSize));
    this.deltas = this.layers.map((l) => new Float64Array(l.outputSize));
    this.outWidth = this.layers[this.layers.length - 1]!.outputSize;
    this.prepare();
  }

  /** Recompute the effective weights from `p` (after any change of `p`). */
  prepare(): void {
    for (const l of this.layers) l.prepare();
  }

  /** Forward one row; returns the output buffer (reused: copy what you keep). */
  forwardRow(x: Float64Array, off: number, cache?: Float64Array): Float64Array {
    const layers = this.layers;
    const acts = this.acts;
    let input = x;
    let inOff = off;
    for (let k = 0; k < layers.length; k++) {
      layers[k]!.forward(input, inOff, acts[k]!, k === 0 ? cache : undefined);
      input = acts[k]!;
      inOff = 0;
    }
    return acts[layers.length - 1]!;
  }

  /**
   * Loss of one batch — mean over the batch (and outputs) of the squared error, plus the weighted
   * regularisers — with its gradient w.r.t. the raw parameters in `g`. Assumes `prepare()` was called
   * since `p` last changed. Targets `y` broadcast over the outputs, as the tfjs trainer's [B, 1] does.
   */
  lossAndGrad(
    x: Float32Array,
    y: Float64Array,
    batch: number,
    sparsityWeight: number,
    oobWeight: number,
  ): number {
    const layers = this.layers;
    const acts = this.acts;
    const deltas = this.deltas;
    const L = layers.length;
    const I = layers[0]!.inputSize;
    const O = this.outWidth;
    const last = acts[L - 1]!;
    const dLast = deltas[L - 1]!;
    const scale = 2 / (batch * O);
    for (const l of layers) l.zeroGrad();
    if (this.xBatch.length < batch * I) this.xBatch = new Float64Array(batch * I);
    const xb = this.xBatch;
    xb.set(batch * I === x.length ? x : x.subarray(0, batch * I));
    let sse = 0;
    for (let b = 0, off = 0; b < batch; b++, off += I) {
      this.forwardRow(xb, off);
      const t = y[b]!;
      for (let o = 0; o < O; o++) {
        const diff = last[o]! - t;
        sse += diff * diff;
        dLast[o] = scale * diff;
      }
      for (let k = L - 1; k >= 0; k--) {
        const input = k === 0 ? xb : acts[k - 1]!;
        layers[k]!.backward(input, k === 0 ? off : 0, deltas[k]!, k === 0 ? null : deltas[k - 1]!);
      }
    }
    let loss = sse / (batch * O);
    for (const l of layers) l.finishGrad();
    if (sparsityWeight !== 0 || oobWeight !== 0) {
      for (const l of layers) loss += l.regularize(sparsityWeight, oobWeight);
    }
    return loss;
  }

  /** MSE over n rows of `x` against `targets` (broadcast over the outputs). */
  mse(x: Float64Array, targets: Float64Array, n: number): number {
    const I = this.layers[0]!.inputSize;
    const O = this.outWidth;
    // Evaluation inputs never change: the first layer may precompute per-input values once.
    const cache = this.layers[0]!.inputCache?.(x);
    let acc = 0;
    for (let r = 0, off = 0; r < n; r++, off += I) {
      const out = this.forwardRow(x, off, cache);
      const t = targets[r]!;
      for (let o = 0; o < O; o++) {
        const d = out[o]! - t;
        acc += d * d;
      }
    }
    return acc / (n * O);
  }

  constrain(): void {
    for (const l of this.layers) l.constrain();
  }

  sparsityError(): number {
    let m = -Infinity;
    for (const l of this.layers) m = maxNaN(m, l.sparsityError());
    return m;
  }
}

/**
 * Adam as tfjs (and PyTorch) compute it: m ← β1 m + (1 − β1) g, v ← β2 v + (1 − β2) g²,
 * p ← p − lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε), with β^t kept as a running product like
 * tfjs's accBeta.
 */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private accBeta1: number;
  private accBeta2: number;

  constructor(
    n: number,
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
  ) {
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
    this.accBeta1 = beta1;
    this.accBeta2 = beta2;
  }

  step(p: Float64Array, g: Float64Array): void {
    const { m, v, beta1, beta2, epsilon, lr } = this;
    const c1 = 1 - this.accBeta1;
    const c2 = 1 - this.accBeta2;
    const k1 = 1 - beta1;
    const k2 = 1 - beta2;
    for (let k = 0; k < p.length; k++) {
      const gk = g[k]!;
      const mk = beta1 * m[k]! + k1 * gk;
      const vk = beta2 * v[k]! + k2 * (gk * gk);
      m[k] = mk;
      v[k] = vk;
      p[k] = p[k]! - (lr * (mk / c1)) / (Math.sqrt(vk / c2) + epsilon);
    }
    this.accBeta1 *= beta1;
    this.accBeta2 *= beta2;
  }
}

/** The units of a model that the fast path can run, or null if any layer has no kernel. */
export function allLayersFused(layers: readonly ModelLayer[]): boolean {
  return layers.length > 0 && layers.every((l) => kernelFor(l.def as UnitDef<never>) !== undefined);
}
