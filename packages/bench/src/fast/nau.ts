/**
 * Fused NAU kernel: z = x · clamp(W, −1, 1) (units.md "NAU"; formula of `nauDef` in @nalm/units).
 * Raw parameter: W [I, O]. Sub-gradients follow tfjs autodiff of the same expressions: clipByValue
 * passes the gradient inclusively at ±1, |W|' = step(W, −1) (−1 at 0), minimum(a, b)' goes to a on
 * ties, relu'(0) = 0.
 */
import type { NauOptions } from '@nalm/units';
import type { FastLayer, KernelArgs, Row } from './kernel.js';
import {
  absGrad,
  sparsityTerm,
  sparsityTermGrad,
  addOuter,
  clamp,
  matTVec,
  matVec,
  maxNaN,
  sparsityOf,
} from './kernel.js';

export class NauKernel implements FastLayer {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly opts: NauOptions;
  private readonly p: Float64Array;
  private readonly g: Float64Array;
  /** clamp(W, −1, 1), transposed [O, I]. */
  private readonly we: Float64Array;
  /** Gradient w.r.t. the clamped weights, [O, I]. */
  private readonly ge: Float64Array;

  constructor({ inputSize, units, options, p, g }: KernelArgs<NauOptions>) {
    this.inputSize = inputSize;
    this.outputSize = units;
    this.opts = options;
    this.p = p;
    this.g = g;
    this.we = new Float64Array(inputSize * units);
    this.ge = new Float64Array(inputSize * units);
  }

  prepare(): void {
    const { p, we, inputSize: I, outputSize: O } = this;
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) we[o * I + i] = clamp(p[i * O + o]!, -1, 1);
  }

  zeroGrad(): void {
    this.ge.fill(0);
  }

  forward(x: Row, xOff: number, out: Float64Array): void {
    matVec(x, xOff, this.we, this.inputSize, this.outputSize, out);
  }

  backward(x: Row, xOff: number, dOut: Float64Array, dIn: Float64Array | null): void {
    addOuter(x, xOff, dOut, this.inputSize, this.outputSize, this.ge);
    if (dIn) matTVec(this.we, dOut, this.inputSize, this.outputSize, dIn);
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

  regularize(sparsityWeight: number, oobWeight: number): number {
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

  constrain(): void {
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
