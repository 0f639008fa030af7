/**
 * Fused dense kernel with bias (the Linear and ReLU baselines; `denseDef` in models/dense.ts):
 * z = act(x · W + b). Raw parameters: W [I, O], b [O]. relu'(0) = 0 as in tfjs.
 */
import type { DenseOptions } from '../models/dense.js';
import type { FastLayer, KernelArgs, Row } from './kernel.js';
import { addOuter, matTVec, maxNaN, sparsityOf, transposeInto } from './kernel.js';

export class DenseKernel implements FastLayer {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly relu: boolean;
  private readonly p: Float64Array;
  private readonly g: Float64Array;
  private readonly wt: Float64Array;
  private readonly gwt: Float64Array;
  private readonly gb: Float64Array;
  /** Pre-activation of the current row. */
  private readonly u: Float64Array;
  private readonly du: Float64Array;

  constructor({ inputSize, units, options, p, g }: KernelArgs<DenseOptions>) {
    this.inputSize = inputSize;
    this.outputSize = units;
    this.relu = options.activation === 'relu';
    this.p = p;
    this.g = g;
    this.wt = new Float64Array(inputSize * units);
    this.gwt = new Float64Array(inputSize * units);
    this.gb = new Float64Array(units);
    this.u = new Float64Array(units);
    this.du = new Float64Array(units);
  }

  prepare(): void {
    transposeInto(this.p, 0, this.inputSize, this.outputSize, this.wt);
  }

  zeroGrad(): void {
    this.gwt.fill(0);
    this.gb.fill(0);
  }

  forward(x: Row, xOff: number, out: Float64Array): void {
    const { wt, u, p, relu, inputSize: I, outputSize: O } = this;
    const bOff = I * O;
    for (let o = 0, base = 0; o < O; o++, base += I) {
      let acc = 0;
      for (let i = 0; i < I; i++) acc += x[xOff + i]! * wt[base + i]!;
      const v = acc + p[bOff + o]!;
      u[o] = v;
      out[o] = relu ? (v < 0 ? 0 : v) : v;
    }
  }

  backward(x: Row, xOff: number, dOut: Float64Array, dIn: Float64Array | null): void {
    const { u, du, gb, relu, inputSize: I, outputSize: O } = this;
    for (let o = 0; o < O; o++) {
      const d = relu ? (u[o]! > 0 ? dOut[o]! : 0) : dOut[o]!;
      du[o] = d;
      gb[o] = gb[o]! + d;
    }
    addOuter(x, xOff, du, I, O, this.gwt);
    if (dIn) matTVec(this.wt, du, I, O, dIn);
  }

  finishGrad(): void {
    const { g, gwt, gb, inputSize: I, outputSize: O } = this;
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) g[i * O + o] = gwt[o * I + i]!;
    for (let o = 0; o < O; o++) g[I * O + o] = gb[o]!;
  }

  regularize(): number {
    return 0;
  }

  constrain(): void {}

  sparsityError(): number {
    let m = -Infinity;
    for (const w of this.wt) m = maxNaN(m, sparsityOf(w));
    return m;
  }
}
