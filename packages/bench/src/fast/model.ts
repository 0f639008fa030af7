/**
 * A model of fused layer kernels for one replica: flat raw parameters and gradients, the batch loop
 * (each layer forward and backward on the whole batch as one block), evaluation and Adam. Layers are
 * composed generically, so any n-layer model whose units all have kernels (see registry.ts) runs
 * here; a first layer made of linear forms runs its heavy loops in wasm SIMD.
 */
import type { UnitDef } from '@nalm/units';
import type { ModelLayer } from '../models/registry.js';
import type { FastLayer } from './kernel.js';
import { FormLayer, maxNaN, room } from './kernel.js';
import { kernelFor } from './registry.js';
import type { LaneFiller } from '../tasks/lanes.js';
import { Arena } from './wasm.js';

/** A layer with resolved options and its initial raw parameters (`def.params` order, row-major). */
export interface FastLayerInit {
  layer: ModelLayer;
  params: Float64Array;
}

/**
 * The batched first layer: the wasm buffers of a `FormLayer` at position 0. Its sums for all rows
 * (and their weight gradients) run in the SIMD kernels; its head runs in TypeScript.
 */
interface FirstLayerBatch {
  layer: FormLayer;
  arena: Arena;
  /** Per form: f32 copy of its weights [rows, I], and its offset within a row's sums. */
  wPtr: number[];
  sumOff: number[];
  /** Sums per row (all forms). */
  width: number;
  /** Rows the buffers below hold. */
  capacity: number;
  /** Training batch input [capacity, I], its logs per ε, sums and d loss / d sums [capacity, width]. */
  xPtr: number;
  logPtr: Map<number, number>;
  /** Per form: where its training input is (xPtr or the logs of its ε). */
  formIn: number[];
  sPtr: number;
  dsPtr: number;
  /** d loss / d sums as float64 [capacity, width], demoted into `dsPtr` by the kernel. */
  ds64Ptr: number;
  /** Scratch for one form's weight gradient [rows, I]. */
  gPtr: number;
  /** The step kernel's targets [capacity] and results [sse, head gradients] (float64). */
  yPtr: number;
  stepOutPtr: number;
  /**
   * Views of the buffers above (`capacity` rows), made on `viewBuffer` (the arena's memory when they
   * were made): a training step reuses them instead of making or looking up views.
   */
  views: TrainViews | null;
}

interface TrainViews {
  viewBuffer: ArrayBuffer;
  y: Float64Array;
  stepOut: Float64Array;
  x: Float32Array;
  s: Float32Array;
  ds64: Float64Array;
  /** Per form: its f32 weights and its weight-gradient scratch. */
  w: Float32Array[];
  g: Float32Array[];
}

/** Rows per chunk when evaluating a constant set through the batched first layer. */
const EVAL_CHUNK = 1024;

/** The first n values of `a`: `a` itself when it has n (no subarray per training step). */
function prefix<A extends Float32Array | Float64Array>(a: A, n: number): A {
  return a.length === n ? a : (a.subarray(0, n) as A);
}

/** Float64 copies of constant inputs for the row path (evaluation sets), freed with the array. */
const widenedInputs = new WeakMap<Float32Array, Float64Array>();

export class FastModel {
  readonly layers: FastLayer[];
  /** All raw parameters, layer by layer, each in `def.params` order. */
  readonly p: Float64Array;
  /** Gradient of the last `lossAndGrad`, same layout as `p`. */
  readonly g: Float64Array;
  /** Per layer: [offset, length] in `p`. */
  readonly slices: [number, number][];
  /** Per layer: outputs and d loss / d outputs of the current block of rows, [rows, O]. */
  private acts: Float64Array[];
  private deltas: Float64Array[];
  private readonly outWidth: number;
  /** The current block's inputs widened to float64 (unbatched first layer). */
  private xWide = new Float64Array(0);
  /** `inputBuffer` without a batched first layer. */
  private xIn = new Float32Array(0);
  private readonly first: FirstLayerBatch | null;
  /** The first layer's sums as float64, [rows, width] (unless its head is the identity). */
  private sums64 = new Float64Array(0);
  /** `stepPairHead`'s head (0 NMU, 1 linear) when the model is one it computes whole, else −1. */
  private readonly pairHead: number;

  /**
   * `arena`: where the batched first layer keeps its buffers; pass one arena to all replicas of a
   * training call so they share the evaluation sets. A first layer that is not a `FormLayer` (e.g.
   * an NMU) runs in JavaScript on the widened inputs.
   */
  constructor(init: readonly FastLayerInit[], arena?: Arena) {
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
    this.acts = this.layers.map(() => new Float64Array(0));
    this.deltas = this.layers.map(() => new Float64Array(0));
    this.outWidth = this.layers[this.layers.length - 1]!.outputSize;
    const l0 = this.layers[0]!;
    if (l0 instanceof FormLayer) {
      const a = arena ?? new Arena();
      const I = l0.inputSize;
      const sumOff: number[] = [];
      let width = 0;
      for (const f of l0.forms) {
        sumOff.push(width);
        width += f.rows;
      }
      this.first = {
        layer: l0,
        arena: a,
        wPtr: l0.forms.map((f) => a.allocF32(f.rows * I)),
        sumOff,
        width,
        capacity: 0,
        xPtr: 0,
        logPtr: new Map(),
        formIn: [],
        sPtr: 0,
        dsPtr: 0,
        ds64Ptr: 0,
        gPtr: a.allocF32(Math.max(...l0.forms.map((f) => f.rows)) * I),
        yPtr: 0,
        stepOutPtr: a.allocF32(6),
        views: null,
      };
    } else {
      this.first = null;
    }
    // NAU/NAC+ (I → 2) then a 2 → 1 NMU or linear head: the whole batch in one wasm pass.
    const head = this.layers[1];
    const f0 = l0 instanceof FormLayer ? l0.forms[0] : undefined;
    this.pairHead =
      this.first !== null &&
      this.layers.length === 2 &&
      l0 instanceof FormLayer &&
      l0.identityHead &&
      l0.forms.length === 1 &&
      f0!.input === 'x' &&
      f0!.rows === 2 &&
      head!.pairHeadWeights !== undefined &&
      head!.setPairHeadGrad !== undefined
        ? (head!.pairHeadKind?.() ?? -1)
        : -1;
    this.prepare();
  }

  /** Recompute the effective weights from `p` (after any change of `p`). */
  prepare(): void {
    const fb = this.first;
    const layers = this.layers;
    if (fb && fb.layer.prepareF32) {
      // The first layer writes its float32 copies itself, in the pass that computes them.
      fb.layer.prepareF32(this.trainViews(fb).w);
      for (let k = 1; k < layers.length; k++) layers[k]!.prepare();
      return;
    }
    for (const l of layers) l.prepare();
    if (fb) {
      const forms = fb.layer.forms;
      const w = this.trainViews(fb).w;
      for (let k = 0; k < forms.length; k++) {
        // A loop: set() converting float64 to float32 has a large fixed cost for a few weights.
        const src = forms[k]!.w;
        const dst = w[k]!;
        for (let j = 0; j < src.length; j++) dst[j] = src[j]!;
      }
    }
  }

  /** The training buffers' views, made anew only after the memory grew or the capacity changed. */
  private trainViews(fb: FirstLayerBatch): TrainViews {
    const v = fb.views;
    const buffer = fb.arena.memoryBuffer;
    if (v !== null && v.viewBuffer === buffer) return v;
    const I = fb.layer.inputSize;
    const W = fb.width;
    const rows = fb.capacity;
    const forms = fb.layer.forms;
    const f32 = (ptr: number, n: number) => new Float32Array(buffer, ptr, n);
    return (fb.views = {
      viewBuffer: buffer,
      y: new Float64Array(buffer, fb.yPtr, rows),
      stepOut: new Float64Array(buffer, fb.stepOutPtr, 3),
      x: f32(fb.xPtr, rows * I),
      s: f32(fb.sPtr, rows * W),
      ds64: new Float64Array(buffer, fb.ds64Ptr, rows * W),
      w: forms.map((f, k) => f32(fb.wPtr[k]!, f.rows * I)),
      g: forms.map((f) => f32(fb.gPtr, f.rows * I)),
    });
  }

  /** Draws training data straight into `inputBuffer` (SIMD), or undefined without a batched first layer. */
  get filler(): LaneFiller | undefined {
    return this.first?.arena;
  }

  /**
   * Where to write a training batch of `rows` rows (row-major [rows, I], float32) so that
   * `lossAndGrad` reads it without a copy. Take it anew before each batch (a view of wasm memory).
   */
  inputBuffer(rows: number): Float32Array {
    const I = this.layers[0]!.inputSize;
    const fb = this.first;
    if (!fb) {
      if (this.xIn.length < rows * I) this.xIn = new Float32Array(rows * I);
      return this.xIn.length === rows * I ? this.xIn : this.xIn.subarray(0, rows * I);
    }
    this.ensureCapacity(fb, rows);
    const x = this.trainViews(fb).x;
    return x.length === rows * I ? x : x.subarray(0, rows * I);
  }

  private ensureCapacity(fb: FirstLayerBatch, rows: number): void {
    if (rows <= fb.capacity) return;
    const I = fb.layer.inputSize;
    const a = fb.arena;
    fb.capacity = rows;
    fb.xPtr = a.allocF32(rows * I);
    fb.logPtr.clear();
    for (const f of fb.layer.forms) {
      if (f.input === 'log' && !fb.logPtr.has(f.eps)) fb.logPtr.set(f.eps, a.allocF32(rows * I));
    }
    fb.formIn = fb.layer.forms.map((f) => (f.input === 'log' ? fb.logPtr.get(f.eps)! : fb.xPtr));
    fb.sPtr = a.allocF32(rows * fb.width);
    fb.dsPtr = a.allocF32(rows * fb.width);
    fb.ds64Ptr = a.allocF32(2 * rows * fb.width);
    fb.yPtr = a.allocF32(2 * rows);
    a.reserveTargets(rows);
    fb.views = null;
  }

  /** Make the per-layer block buffers hold `rows` rows. */
  private blockRoom(rows: number): void {
    const layers = this.layers;
    for (let k = 0; k < layers.length; k++) {
      this.acts[k] = room(this.acts[k]!, rows * layers[k]!.outputSize);
      this.deltas[k] = room(this.deltas[k]!, rows * layers[k]!.outputSize);
    }
  }

  /**
   * Forward a block of `rows` rows through the first layer from its float32 sums `s` (the batched
   * path: a view of wasm memory of exactly rows · width sums), or from the float64 inputs `x` (the
   * JavaScript path), then through the others.
   */
  private forwardBlock(rows: number, x: Float64Array | null, s: Float32Array | null): Float64Array {
    const layers = this.layers;
    const acts = this.acts;
    const fb = this.first;
    if (fb) {
      // set() widens float32 several times faster than a JavaScript loop.
      if (fb.layer.identityHead) {
        acts[0]!.set(s!);
      } else {
        const sums64 = (this.sums64 = room(this.sums64, s!.length));
        sums64.set(s!);
        fb.layer.forwardSums(sums64, rows, acts[0]!);
      }
    } else {
      layers[0]!.forward(x!, rows, acts[0]!);
    }
    for (let k = 1; k < layers.length; k++) layers[k]!.forward(acts[k - 1]!, rows, acts[k]!);
    return acts[layers.length - 1]!;
  }

  /** The first layer's sums of `rows` rows into `sPtr`; form f reads its input at `inPtr[f] + byteOff`. */
  private firstSums(
    fb: FirstLayerBatch,
    inPtr: readonly number[],
    byteOff: number,
    sPtr: number,
    rows: number,
  ) {
    const k = fb.arena.k;
    const I = fb.layer.inputSize;
    const forms = fb.layer.forms;
    for (let f = 0; f < forms.length; f++) {
      k.sums(inPtr[f]! + byteOff, fb.wPtr[f]!, sPtr, rows, I, forms[f]!.rows, fb.width, fb.sumOff[f]!);
    }
  }

  /**
   * Loss of one batch — mean over the batch (and outputs) of the squared error, plus the weighted
   * regularisers — with its gradient w.r.t. the raw parameters in `g`. Assumes `prepare()` was called
   * since `p` last changed. Targets `y` broadcast over the outputs, as the tfjs trainer's [B, 1] does.
   * `x` may be the array `inputBuffer(batch)` returned (no copy) or any other float32 array.
   */
  lossAndGrad(
    x: Float32Array,
    y: Float64Array,
    batch: number,
    sparsityWeight: number,
    oobWeight: number,
  ): number {
    const layers = this.layers;
    const L = layers.length;
    const I = layers[0]!.inputSize;
    const O = this.outWidth;
    for (const l of layers) l.zeroGrad();
    const fb = this.first;
    if (fb) this.ensureCapacity(fb, batch);
    const views = fb ? this.trainViews(fb) : null;
    let out: Float64Array;
    if (fb && views && this.pairHead >= 0) {
      // The whole batch in one wasm pass (stepPairHead): the same numbers as the path below.
      const k = fb.arena.k;
      const xv = views.x;
      if (x !== xv && (x.buffer !== xv.buffer || x.byteOffset !== xv.byteOffset)) {
        xv.set(x.subarray(0, batch * I));
      }
      // A native copy (the targets of a training batch fill y exactly; else a loop over the batch).
      const yv = views.y;
      if (y.length === batch && yv.length === batch) yv.set(y);
      else for (let b = 0; b < batch; b++) yv[b] = y[b]!;
      const head = layers[1]!;
      const hw = head.pairHeadWeights!();
      k.stepPairHead(
        fb.xPtr,
        fb.wPtr[0]!,
        fb.yPtr,
        fb.gPtr,
        fb.stepOutPtr,
        batch,
        I,
        this.pairHead,
        hw[0]!,
        hw[1]!,
        2 / batch,
      );
      const so = views.stepOut;
      head.setPairHeadGrad!(so[1]!, so[2]!);
      const gv = views.g[0]!;
      const gw = fb.layer.forms[0]!.gw;
      for (let j = 0; j < gv.length; j++) gw[j] = gw[j]! + gv[j]!;
      let loss = so[0]! / batch;
      for (const l of layers) l.finishGrad();
      if (sparsityWeight !== 0 || oobWeight !== 0) {
        for (const l of layers) loss += l.regularize(sparsityWeight, oobWeight);
      }
      return loss;
    }
    // The per-layer block buffers (the whole-batch kernel above needs none).
    this.blockRoom(batch);
    if (fb && views) {
      const k = fb.arena.k;
      const xv = views.x;
      if (x !== xv && (x.buffer !== xv.buffer || x.byteOffset !== xv.byteOffset)) {
        xv.set(x.subarray(0, batch * I));
      }
      if (fb.logPtr.size > 0) fb.logPtr.forEach((ptr, eps) => k.logAbs(fb.xPtr, ptr, batch * I, eps));
      this.firstSums(fb, fb.formIn, 0, fb.sPtr, batch);
      out = this.forwardBlock(batch, null, prefix(views.s, batch * fb.width));
    } else {
      this.xWide = room(this.xWide, batch * I);
      this.xWide.set(batch * I === x.length ? x : x.subarray(0, batch * I));
      out = this.forwardBlock(batch, this.xWide, null);
    }
    const dLast = this.deltas[L - 1]!;
    const scale = 2 / (batch * O);
    let sse = 0;
    if (O === 1) {
      // One output (every benchmark model): the loop below without its inner loop.
      for (let b = 0; b < batch; b++) {
        const diff = out[b]! - y[b]!;
        sse += diff * diff;
        dLast[b] = scale * diff;
      }
    } else {
      for (let b = 0; b < batch; b++) {
        const t = y[b]!;
        for (let o = 0; o < O; o++) {
          const diff = out[b * O + o]! - t;
          sse += diff * diff;
          dLast[b * O + o] = scale * diff;
        }
      }
    }
    // d loss / d sums of a batched first layer go to wasm memory (float64, then demoted to the
    // kernel's float32); with an identity head they are the second layer's input gradients, which
    // that layer then writes there directly.
    const identityFirst = fb !== null && views !== null && fb.layer.identityHead && L > 1;
    for (let kk = L - 1; kk >= 1; kk--) {
      const dIn = kk === 1 && identityFirst ? views.ds64 : this.deltas[kk - 1]!;
      layers[kk]!.backward(this.acts[kk - 1]!, batch, this.deltas[kk]!, dIn);
    }
    if (fb && views) {
      const k = fb.arena.k;
      const W = fb.width;
      if (!identityFirst) fb.layer.backwardSums(this.deltas[0]!, batch, views.ds64);
      k.demote(fb.ds64Ptr, fb.dsPtr, batch * W);
      const forms = fb.layer.forms;
      for (let f = 0; f < forms.length; f++) {
        const form = forms[f]!;
        k.sumsGrad(fb.formIn[f]!, fb.dsPtr, fb.gPtr, batch, I, form.rows, W, fb.sumOff[f]!);
        const gv = views.g[f]!;
        const gw = form.gw;
        for (let j = 0; j < gv.length; j++) gw[j] = gw[j]! + gv[j]!;
      }
    } else {
      layers[0]!.backward(this.xWide, batch, this.deltas[0]!, null);
    }
    let loss = sse / (batch * O);
    for (const l of layers) l.finishGrad();
    if (sparsityWeight !== 0 || oobWeight !== 0) {
      for (const l of layers) loss += l.regularize(sparsityWeight, oobWeight);
    }
    return loss;
  }

  /**
   * MSE over n rows of the constant input `x` (an evaluation set) against `targets` (broadcast over
   * the outputs), in blocks of EVAL_CHUNK rows. With a batched first layer, `x` (and its logs) are
   * copied into the arena once and shared by the arena's models.
   */
  mse(x: Float32Array, targets: Float64Array, n: number): number {
    const I = this.layers[0]!.inputSize;
    const O = this.outWidth;
    const fb = this.first;
    let inPtr: number[] = [];
    let sPtr = 0;
    let xw: Float64Array | undefined;
    if (fb) {
      const a = fb.arena;
      inPtr = fb.layer.forms.map((f) => (f.input === 'log' ? a.constantLogs(x, f.eps) : a.constantInput(x)));
      sPtr = this.evalSums(fb);
    } else {
      xw = widenedInputs.get(x);
      if (!xw) widenedInputs.set(x, (xw = Float64Array.from(x)));
    }
    this.blockRoom(Math.min(n, EVAL_CHUNK));
    let acc = 0;
    for (let r0 = 0; r0 < n; r0 += EVAL_CHUNK) {
      const rows = Math.min(EVAL_CHUNK, n - r0);
      let out: Float64Array;
      if (fb) {
        this.firstSums(fb, inPtr, 4 * r0 * I, sPtr, rows);
        out = this.forwardBlock(rows, null, fb.arena.f32(sPtr, rows * fb.width));
      } else {
        out = this.forwardBlock(rows, xw!.subarray(r0 * I, (r0 + rows) * I), null);
      }
      for (let b = 0; b < rows; b++) {
        const t = targets[r0 + b]!;
        for (let o = 0; o < O; o++) {
          const d = out[b * O + o]! - t;
          acc += d * d;
        }
      }
    }
    return acc / (n * O);
  }

  private evalSPtr = -1;

  private evalSums(fb: FirstLayerBatch): number {
    if (this.evalSPtr < 0) this.evalSPtr = fb.arena.allocF32(EVAL_CHUNK * fb.width);
    return this.evalSPtr;
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
 * tfjs's accBeta. Given an arena, m and v live in its memory and the step runs in the wasm kernel
 * `adam` (the same operations in the same order, two parameters per SIMD instruction, so the same
 * doubles); p and g are copied in and p out, which costs far less than the divisions it halves.
 */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private accBeta1: number;
  private accBeta2: number;
  private readonly wasm: AdamBuffers | null;

  constructor(
    n: number,
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
    arena?: Arena,
  ) {
    // A few parameters (the simple task's) step as fast in JavaScript as the copies would cost.
    this.wasm =
      arena !== undefined && n >= ADAM_WASM_MIN
        ? {
            arena,
            n,
            pPtr: arena.allocF32(2 * n),
            gPtr: arena.allocF32(2 * n),
            mPtr: arena.allocF32(2 * n),
            vPtr: arena.allocF32(2 * n),
            viewBuffer: null,
            p: null,
            g: null,
          }
        : null;
    this.m = new Float64Array(this.wasm ? 0 : n);
    this.v = new Float64Array(this.wasm ? 0 : n);
    this.accBeta1 = beta1;
    this.accBeta2 = beta2;
  }

  step(p: Float64Array, g: Float64Array): void {
    const { m, v, beta1, beta2, epsilon, lr } = this;
    const c1 = 1 - this.accBeta1;
    const c2 = 1 - this.accBeta2;
    const k1 = 1 - beta1;
    const k2 = 1 - beta2;
    const w = this.wasm;
    if (w !== null) {
      if (p.length !== w.n || g.length !== w.n) {
        throw new RangeError(`Adam.step: p and g must hold ${w.n} values`);
      }
      const buffer = w.arena.memoryBuffer;
      if (w.viewBuffer !== buffer || w.p === null || w.g === null) {
        w.viewBuffer = buffer;
        w.p = new Float64Array(buffer, w.pPtr, w.n);
        w.g = new Float64Array(buffer, w.gPtr, w.n);
      }
      w.p.set(p);
      w.g.set(g);
      w.arena.k.adam(w.pPtr, w.gPtr, w.mPtr, w.vPtr, w.n, lr, beta1, beta2, k1, k2, c1, c2, epsilon);
      p.set(w.p);
    } else {
      for (let k = 0; k < p.length; k++) {
        const gk = g[k]!;
        const mk = beta1 * m[k]! + k1 * gk;
        const vk = beta2 * v[k]! + k2 * (gk * gk);
        m[k] = mk;
        v[k] = vk;
        p[k] = p[k]! - (lr * (mk / c1)) / (Math.sqrt(vk / c2) + epsilon);
      }
    }
    this.accBeta1 *= beta1;
    this.accBeta2 *= beta2;
  }
}

/** Fewest parameters for which `Adam` uses the wasm kernel (when it has an arena). */
const ADAM_WASM_MIN = 32;

/** An `Adam`'s state in wasm memory: p and g staging, m and v; views remade when the memory grew. */
interface AdamBuffers {
  arena: Arena;
  n: number;
  pPtr: number;
  gPtr: number;
  mPtr: number;
  vPtr: number;
  viewBuffer: ArrayBuffer | null;
  p: Float64Array | null;
  g: Float64Array | null;
}

/** The units of a model that the fast path can run, or null if any layer has no kernel. */
export function allLayersFused(layers: readonly ModelLayer[]): boolean {
  return layers.length > 0 && layers.every((l) => kernelFor(l.def as UnitDef<never>) !== undefined);
}
