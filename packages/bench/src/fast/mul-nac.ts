/**
 * Fused NAC• kernel: z = exp(log(|x| + ε) · W), W = tanh(Ŵ) ⊙ σ(M̂) (units.md "NAC•"; `mulNacDef`
 * in @nalm/units). ∂z_o/∂W_io = z_o l_i with l_i = log(|x_i| + ε); ∂z_o/∂x_i = z_o W_io |x_i|'/(|x_i| + ε)
 * with tfjs's |x|' = step(x, −1) (−1 at 0).
 */
import type { MulNacOptions } from '@nalm/units';
import type { KernelArgs, LinearForm } from './kernel.js';
import { FormLayer, room } from './kernel.js';
import { NacWeights } from './nac.js';

export class MulNacKernel extends FormLayer {
  readonly forms: readonly LinearForm[];
  private readonly nac: NacWeights;
  /** Outputs of the current rows. */
  private z = new Float64Array(0);

  constructor({ inputSize, units, options, p, g }: KernelArgs<MulNacOptions>) {
    super(inputSize, units);
    this.nac = new NacWeights(p, g, 0, inputSize * units, inputSize, units);
    this.forms = [{ input: 'log', eps: options.epsilon, rows: units, w: this.nac.w, gw: this.nac.gw }];
  }

  prepare(): void {
    this.nac.prepare();
  }

  zeroGrad(): void {
    this.nac.gw.fill(0);
  }

  /** z = exp(s), s the log-space sums. */
  forwardSums(s: Float64Array, rows: number, out: Float64Array): void {
    const n = rows * this.outputSize;
    const z = (this.z = room(this.z, n));
    for (let k = 0; k < n; k++) out[k] = z[k] = Math.exp(s[k]!);
  }

  /** ∂z/∂s = z. */
  backwardSums(dOut: Float64Array, rows: number, ds: Float64Array): void {
    const n = rows * this.outputSize;
    for (let k = 0; k < n; k++) ds[k] = dOut[k]! * this.z[k]!;
  }

  finishGrad(): void {
    this.nac.chain();
  }

  sparsityError(): number {
    return this.nac.sparsityError();
  }
}
