/**
 * Fused NMU kernel: z_o = Π_i (W_io x_i + 1 − W_io) (units.md "NMU"; `nmuDef` in @nalm/units).
 * The forward uses the stored W as is; it is clamped to [0, 1] after every step in "clip" mode.
 * ∂z_o/∂W_io = (x_i − 1) · Π_{j≠i} f_jo and ∂z_o/∂x_i = W_io · Π_{j≠i} f_jo, both from prefix and
 * suffix products — never by dividing by a factor, which can be 0 (the tfjs gradient of `prod` is
 * the same exclusive-cumprod product).
 */
import type { NmuOptions } from '@nalm/units';
import type { FastLayer, KernelArgs, Row } from './kernel.js';
import {
  absGrad,
  clamp,
  maxNaN,
  sparsityOf,
  sparsityTerm,
  sparsityTermGrad,
  transposeInto,
} from './kernel.js';

export class NmuKernel implements FastLayer {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly opts: NmuOptions;
  private readonly p: Float64Array;
  private readonly g: Float64Array;
  /** W transposed [O, I]. */
  private readonly wt: Float64Array;
  private readonly ge: Float64Array;
  /** Suffix products of one output's factors (scratch, length I + 1). */
  private readonly suffix: Float64Array;

  constructor({ inputSize, units, options, p, g }: KernelArgs<NmuOptions>) {
    this.inputSize = inputSize;
    this.outputSize = units;
    this.opts = options;
    this.p = p;
    this.g = g;
    this.wt = new Float64Array(inputSize * units);
    this.ge = new Float64Array(inputSize * units);
    this.suffix = new Float64Array(inputSize + 1);
  }

  prepare(): void {
    transposeInto(this.p, 0, this.inputSize, this.outputSize, this.wt);
  }

  zeroGrad(): void {
    this.ge.fill(0);
  }

  forward(x: Row, rows: number, out: Float64Array): void {
    const { wt, inputSize: I, outputSize: O } = this;
    if (I === 2) {
      // Two inputs (every two-layer benchmark model's output layer): the loop below unrolled; its
      // first factor times the initial 1 is that factor exactly, so the product is f0 · f1.
      for (let o = 0, base = 0; o < O; o++, base += 2) {
        const w0 = wt[base]!;
        const w1 = wt[base + 1]!;
        const c0 = 1 - w0;
        const c1 = 1 - w1;
        for (let b = 0; b < rows; b++) out[b * O + o] = (w0 * x[2 * b]! + c0) * (w1 * x[2 * b + 1]! + c1);
      }
      return;
    }
    for (let b = 0; b < rows; b++) {
      const xo = b * I;
      for (let o = 0, base = 0; o < O; o++, base += I) {
        let prod = 1;
        for (let i = 0; i < I; i++) {
          const w = wt[base + i]!;
          prod *= w * x[xo + i]! + (1 - w);
        }
        out[b * O + o] = prod;
      }
    }
  }

  backward(x: Row, rows: number, dOut: Float64Array, dIn: Float64Array | null): void {
    const { wt, ge, suffix, inputSize: I, outputSize: O } = this;
    if (dIn) dIn.fill(0, 0, rows * I);
    if (I === 2) {
      // The hidden width of every two-layer benchmark model: the same products as below (prefix 1
      // and suffix f1 for input 0, prefix f0 and suffix 1 for input 1), without the scratch array.
      // Output by output, so that an output's two weight gradients add up in registers; every sum
      // still adds its terms in the same order (rows in order for ge, outputs in order for dIn).
      for (let o = 0, base = 0; o < O; o++, base += 2) {
        const w0 = wt[base]!;
        const w1 = wt[base + 1]!;
        const c0 = 1 - w0;
        const c1 = 1 - w1;
        let g0 = ge[base]!;
        let g1 = ge[base + 1]!;
        for (let b = 0; b < rows; b++) {
          const x0 = x[2 * b]!;
          const x1 = x[2 * b + 1]!;
          const d = dOut[b * O + o]!;
          const others0 = d * (w1 * x1 + c1);
          const others1 = d * (w0 * x0 + c0);
          g0 += others0 * (x0 - 1);
          g1 += others1 * (x1 - 1);
          if (dIn) {
            dIn[2 * b] = dIn[2 * b]! + others0 * w0;
            dIn[2 * b + 1] = dIn[2 * b + 1]! + others1 * w1;
          }
        }
        ge[base] = g0;
        ge[base + 1] = g1;
      }
      return;
    }
    for (let b = 0; b < rows; b++) {
      const xo = b * I;
      for (let o = 0, base = 0; o < O; o++, base += I) {
        suffix[I] = 1;
        for (let i = I - 1; i >= 0; i--) {
          const w = wt[base + i]!;
          suffix[i] = suffix[i + 1]! * (w * x[xo + i]! + (1 - w));
        }
        const d = dOut[b * O + o]!;
        let prefix = 1;
        for (let i = 0; i < I; i++) {
          const w = wt[base + i]!;
          const xi = x[xo + i]!;
          const others = d * (prefix * suffix[i + 1]!);
          ge[base + i] = ge[base + i]! + others * (xi - 1);
          if (dIn) dIn[xo + i] = dIn[xo + i]! + others * w;
          prefix *= w * xi + (1 - w);
        }
      }
    }
  }

  pairHeadKind(): number {
    return this.inputSize === 2 && this.outputSize === 1 ? 0 : -1;
  }

  pairHeadWeights(): Float64Array {
    return this.wt;
  }

  setPairHeadGrad(g0: number, g1: number): void {
    this.ge[0] = g0;
    this.ge[1] = g1;
  }

  finishGrad(): void {
    const { g, ge, inputSize: I, outputSize: O } = this;
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) g[i * O + o] = ge[o * I + i]!;
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
      let d = 0;
      if (sparsityWeight !== 0) {
        // mean over entries of the term in W itself
        sparsity += sparsityTerm(w, squared);
        d += ks * sparsityTermGrad(w, squared);
      }
      if (withOob) {
        // mean(relu(|w − 0.5| − 0.5))
        const c = w - 0.5;
        const e = Math.abs(c) - 0.5;
        if (e > 0) {
          oob += e;
          d += ko * absGrad(c);
        }
      }
      g[k] = g[k]! + d;
    }
    let value = 0;
    if (sparsityWeight !== 0) value += sparsityWeight * (sparsity / n);
    if (withOob) value += oobWeight * (oob / n);
    return value;
  }

  constrain(): void {
    if (this.opts.oobMode !== 'clip') return;
    const p = this.p;
    for (let k = 0; k < p.length; k++) p[k] = clamp(p[k]!, 0, 1);
  }

  sparsityError(): number {
    let m = -Infinity;
    for (const w of this.wt) m = maxNaN(m, sparsityOf(clamp(w, 0, 1)));
    return m;
  }
}
