/**
 * Fused NAC• kernel: z = exp(log(|x| + ε) · W), W = tanh(Ŵ) ⊙ σ(M̂) (units.md "NAC•"; `mulNacDef`
 * in @nalm/units). ∂z_o/∂W_io = z_o l_i with l_i = log(|x_i| + ε); ∂z_o/∂x_i = z_o W_io |x_i|'/(|x_i| + ε)
 * with tfjs's |x|' = step(x, −1) (−1 at 0).
 */
import type { MulNacOptions } from '@nalm/units';
import type { FastLayer, KernelArgs, Row } from './kernel.js';
import { absGrad, addOuter } from './kernel.js';
import { NacWeights } from './nac.js';

export class MulNacKernel implements FastLayer {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly eps: number;
  private readonly nac: NacWeights;
  /** log(|x| + ε) of the current row. */
  private readonly l: Float64Array;
  /** Outputs of the current row. */
  private readonly z: Float64Array;
  /** d loss / d (log-space sum) of the current row. */
  private readonly ds: Float64Array;

  constructor({ inputSize, units, options, p, g }: KernelArgs<MulNacOptions>) {
    this.inputSize = inputSize;
    this.outputSize = units;
    this.eps = options.epsilon;
    this.nac = new NacWeights(p, g, 0, inputSize * units, inputSize, units);
    this.l = new Float64Array(inputSize);
    this.z = new Float64Array(units);
    this.ds = new Float64Array(units);
  }

  prepare(): void {
    this.nac.prepare();
  }

  zeroGrad(): void {
    this.nac.gw.fill(0);
  }

  forward(x: Row, xOff: number, out: Float64Array): void {
    const { l, z, eps, inputSize: I, outputSize: O } = this;
    const w = this.nac.w;
    for (let i = 0; i < I; i++) l[i] = Math.log(Math.abs(x[xOff + i]!) + eps);
    for (let o = 0, base = 0; o < O; o++, base += I) {
      let s = 0;
      for (let i = 0; i < I; i++) s += l[i]! * w[base + i]!;
      const v = Math.exp(s);
      z[o] = v;
      out[o] = v;
    }
  }

  backward(x: Row, xOff: number, dOut: Float64Array, dIn: Float64Array | null): void {
    const { l, z, ds, eps, inputSize: I, outputSize: O } = this;
    for (let o = 0; o < O; o++) ds[o] = dOut[o]! * z[o]!;
    addOuter(l, 0, ds, I, O, this.nac.gw);
    if (dIn) {
      const w = this.nac.w;
      for (let i = 0; i < I; i++) {
        let acc = 0;
        for (let o = 0; o < O; o++) acc += ds[o]! * w[o * I + i]!;
        const xi = x[xOff + i]!;
        dIn[i] = (acc / (Math.abs(xi) + eps)) * absGrad(xi);
      }
    }
  }

  finishGrad(): void {
    this.nac.chain();
  }

  regularize(): number {
    return 0;
  }

  constrain(): void {}

  sparsityError(): number {
    return this.nac.sparsityError();
  }
}
