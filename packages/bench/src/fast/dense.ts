/**
 * Fused dense kernel with bias (the Linear and ReLU baselines; `denseDef` in models/dense.ts):
 * z = act(x · W + b), act ∈ {linear, ReLU, ReLU6}. Raw parameters: W [I, O], b [O]. The derivative
 * is 1 on (0, ∞) for ReLU and on (0, 6] for ReLU6, else 0: tfjs's relu and relu6 gradients.
 */
import type { DenseOptions } from '../models/dense.js';
import type { KernelArgs, LinearForm } from './kernel.js';
import { FormLayer, maxNaN, room, sparsityOf, transposeInto } from './kernel.js';

export class DenseKernel extends FormLayer {
  readonly forms: readonly LinearForm[];
  /** Upper clip of the activation: ∞ for ReLU, 6 for ReLU6; null for linear. */
  private readonly cap: number | null;
  private readonly p: Float64Array;
  private readonly g: Float64Array;
  private readonly wt: Float64Array;
  private readonly gwt: Float64Array;
  private readonly gb: Float64Array;
  /** Pre-activations of the current rows, [rows, O]. */
  private u = new Float64Array(0);

  constructor({ inputSize, units, options, p, g }: KernelArgs<DenseOptions>) {
    super(inputSize, units);
    this.cap = options.activation === 'relu' ? Infinity : options.activation === 'relu6' ? 6 : null;
    this.p = p;
    this.g = g;
    this.wt = new Float64Array(inputSize * units);
    this.gwt = new Float64Array(inputSize * units);
    this.gb = new Float64Array(units);
    this.forms = [{ input: 'x', eps: 0, rows: units, w: this.wt, gw: this.gwt }];
  }

  prepare(): void {
    transposeInto(this.p, 0, this.inputSize, this.outputSize, this.wt);
  }

  zeroGrad(): void {
    this.gwt.fill(0);
    this.gb.fill(0);
  }

  /** z = act(s + b). */
  forwardSums(s: Float64Array, rows: number, out: Float64Array): void {
    const { p, cap, inputSize: I, outputSize: O } = this;
    const u = (this.u = room(this.u, rows * O));
    for (let b = 0; b < rows; b++) {
      for (let o = 0; o < O; o++) {
        const k = b * O + o;
        const v = s[k]! + p[I * O + o]!;
        u[k] = v;
        out[k] = cap === null ? v : v < 0 ? 0 : v > cap ? cap : v;
      }
    }
  }

  backwardSums(dOut: Float64Array, rows: number, ds: Float64Array): void {
    const { u, gb, cap, outputSize: O } = this;
    for (let b = 0; b < rows; b++) {
      for (let o = 0; o < O; o++) {
        const k = b * O + o;
        const d = cap === null ? dOut[k]! : u[k]! > 0 && u[k]! <= cap ? dOut[k]! : 0;
        ds[k] = d;
        gb[o] = gb[o]! + d;
      }
    }
  }

  finishGrad(): void {
    const { g, gwt, gb, inputSize: I, outputSize: O } = this;
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) g[i * O + o] = gwt[o * I + i]!;
    for (let o = 0; o < O; o++) g[I * O + o] = gb[o]!;
  }

  sparsityError(): number {
    let m = -Infinity;
    for (const w of this.wt) m = maxNaN(m, sparsityOf(w));
    return m;
  }
}
