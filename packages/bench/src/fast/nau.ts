/**
 * Fused NAU kernel: z = x · clamp(W, −1, 1) (units.md "NAU"; formula of `nauDef` in @nalm/units).
 * Raw parameter: W [I, O]. Sub-gradients follow tfjs autodiff of the same expressions: clipByValue
 * passes the gradient inclusively at ±1, |W|' = step(W, −1) (−1 at 0), minimum(a, b)' goes to a on
 * ties, relu'(0) = 0.
 */
import type { NauOptions } from '@nalm/units';
import type { KernelArgs, LinearForm } from './kernel.js';
import { FormLayer, absGrad, clamp, maxNaN, sparsityOf, sparsityTerm, sparsityTermGrad } from './kernel.js';

export class NauKernel extends FormLayer {
  readonly forms: readonly LinearForm[];
  private readonly opts: NauOptions;
  private readonly p: Float64Array;
  private readonly g: Float64Array;
  /** clamp(W, −1, 1), transposed [O, I]. */
  private readonly we: Float64Array;
  /** Gradient w.r.t. the clamped weights, [O, I]. */
  private readonly ge: Float64Array;

  constructor({ inputSize, units, options, p, g }: KernelArgs<NauOptions>) {
    super(inputSize, units);
    this.opts = options;
    this.p = p;
    this.g = g;
    this.we = new Float64Array(inputSize * units);
    this.ge = new Float64Array(inputSize * units);
    this.forms = [{ input: 'x', eps: 0, rows: units, w: this.we, gw: this.ge }];
  }

  prepare(): void {
    const { p, we, inputSize: I, outputSize: O } = this;
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) we[o * I + i] = clamp(p[i * O + o]!, -1, 1);
  }

  /** `prepare` and the float32 copy of the one form's weights in one pass (every training step). */
  override prepareF32(w32: readonly Float32Array[]): void {
    const { p, we, inputSize: I, outputSize: O } = this;
    const dst = w32[0]!;
    for (let i = 0; i < I; i++) {
      for (let o = 0; o < O; o++) {
        const v = clamp(p[i * O + o]!, -1, 1);
        we[o * I + i] = v;
        dst[o * I + i] = v;
      }
    }
  }

  zeroGrad(): void {
    this.ge.fill(0);
  }

  /** z = x · clamp(W): the sums are the output. */
  override readonly identityHead = true;

  forwardSums(s: Float64Array, rows: number, out: Float64Array): void {
    out.set(s.subarray(0, rows * this.outputSize));
  }

  backwardSums(dOut: Float64Array, rows: number, ds: Float64Array): void {
    ds.set(dOut.subarray(0, rows * this.outputSize));
  }

  /** A 2 → 1 NAU as an output layer: the linear head of the wasm step kernel. */
  pairHeadKind(): number {
    return this.inputSize === 2 && this.outputSize === 1 ? 1 : -1;
  }

  pairHeadWeights(): Float64Array {
    return this.we;
  }

  setPairHeadGrad(g0: number, g1: number): void {
    this.ge[0] = g0;
    this.ge[1] = g1;
  }

  finishGrad(): void {
    const { p, g, ge, inputSize: I, outputSize: O } = this;
    for (let i = 0; i < I; i++) {
      for (let o = 0; o < O; o++) {
        const w = p[i * O + o]!;
        g[i * O + o] = w >= -1 && w <= 1 ? ge[o * I + i]! : 0;
      }
    }
  }

  override regularize(sparsityWeight: number, oobWeight: number): number {
    const { p, g } = this;
    const n = this.inputSize * this.outputSize;
    const squared = this.opts.regularizer === 'squared';
    const withOob = this.opts.oobMode === 'regularized' && oobWeight !== 0;
    let sparsity = 0;
    let oob = 0;
    const ks = sparsityWeight / n;
    const ko = oobWeight / n;
    for (let k = 0; k < n; k++) {
      const w = p[k]!;
      const a = Math.abs(w);
      const sgn = absGrad(w);
      let d = 0;
      if (sparsityWeight !== 0) {
        // mean over entries of the term in a = |W|
        sparsity += sparsityTerm(a, squared);
        d += ks * sparsityTermGrad(a, squared);
      }
      if (withOob) {
        // mean(relu(a − 1))
        const e = a - 1;
        if (e > 0) {
          oob += e;
          d += ko;
        }
      }
      g[k] = g[k]! + d * sgn;
    }
    let value = 0;
    if (sparsityWeight !== 0) value += sparsityWeight * (sparsity / n);
    if (withOob) value += oobWeight * (oob / n);
    return value;
  }

  override constrain(): void {
    if (this.opts.oobMode !== 'clip') return;
    const p = this.p;
    for (let k = 0; k < p.length; k++) p[k] = clamp(p[k]!, -1, 1);
  }

  sparsityError(): number {
    let m = -Infinity;
    for (const w of this.we) m = maxNaN(m, sparsityOf(w));
    return m;
  }
}
