/**
 * Fused NAC+ kernel: z = x · W, W = tanh(Ŵ) ⊙ σ(M̂) recomputed from the raw parameters every step
 * (units.md "NAC+"; `nacDef` in @nalm/units). Raw parameters: W_hat, M_hat, each [I, O]. The weight
 * squashing (`NacWeights`) is shared with the NAC• and NALU kernels.
 */
import type { NacOptions } from '@nalm/units';
import type { KernelArgs, LinearForm } from './kernel.js';
import { FormLayer, maxNaN, sigmoid, sparsityOf } from './kernel.js';

/**
 * W = tanh(Ŵ) ⊙ σ(M̂) for raw slices `p[wOff ..]` (Ŵ) and `p[mOff ..]` (M̂), kept transposed [O, I],
 * with the chain rule back to the raw parameters: ∂W/∂Ŵ = (1 − tanh²Ŵ) σ(M̂), ∂W/∂M̂ = tanh(Ŵ) σ(1 − σ).
 */
export class NacWeights {
  /** Effective W, [O, I]. */
  readonly w: Float64Array;
  /** Gradient w.r.t. the effective W, [O, I] (accumulated by the owner). */
  readonly gw: Float64Array;
  private readonly th: Float64Array;
  private readonly sg: Float64Array;

  constructor(
    private readonly p: Float64Array,
    private readonly g: Float64Array,
    private readonly wOff: number,
    private readonly mOff: number,
    private readonly I: number,
    private readonly O: number,
  ) {
    const n = I * O;
    this.w = new Float64Array(n);
    this.gw = new Float64Array(n);
    this.th = new Float64Array(n);
    this.sg = new Float64Array(n);
  }

  prepare(): void {
    const { p, w, th, sg, wOff, mOff, I, O } = this;
    for (let i = 0; i < I; i++) {
      for (let o = 0; o < O; o++) {
        const t = Math.tanh(p[wOff + i * O + o]!);
        const s = sigmoid(p[mOff + i * O + o]!);
        const k = o * I + i;
        th[k] = t;
        sg[k] = s;
        w[k] = t * s;
      }
    }
  }

  /** Raw gradients from `gw` (overwrites g at both slices). */
  chain(): void {
    const { g, gw, th, sg, wOff, mOff, I, O } = this;
    for (let i = 0; i < I; i++) {
      for (let o = 0; o < O; o++) {
        const k = o * I + i;
        const t = th[k]!;
        const s = sg[k]!;
        const d = gw[k]!;
        g[wOff + i * O + o] = d * s * (1 - t * t);
        g[mOff + i * O + o] = d * t * (s * (1 - s));
      }
    }
  }

  sparsityError(): number {
    let m = -Infinity;
    for (const v of this.w) m = maxNaN(m, sparsityOf(v));
    return m;
  }
}

export class NacKernel extends FormLayer {
  readonly forms: readonly LinearForm[];
  private readonly nac: NacWeights;

  constructor({ inputSize, units, p, g }: KernelArgs<NacOptions>) {
    super(inputSize, units);
    this.nac = new NacWeights(p, g, 0, inputSize * units, inputSize, units);
    this.forms = [{ input: 'x', eps: 0, rows: units, w: this.nac.w, gw: this.nac.gw }];
  }

  prepare(): void {
    this.nac.prepare();
  }

  zeroGrad(): void {
    this.nac.gw.fill(0);
  }

  /** z = x · W: the sums are the output. */
  override readonly identityHead = true;

  forwardSums(s: Float64Array, rows: number, out: Float64Array): void {
    out.set(s.subarray(0, rows * this.outputSize));
  }

  backwardSums(dOut: Float64Array, rows: number, ds: Float64Array): void {
    ds.set(dOut.subarray(0, rows * this.outputSize));
  }

  /** A 2 → 1 NAC+ as an output layer: the linear head of the wasm step kernel. */
  pairHeadKind(): number {
    return this.inputSize === 2 && this.outputSize === 1 ? 1 : -1;
  }

  pairHeadWeights(): Float64Array {
    return this.nac.w;
  }

  setPairHeadGrad(g0: number, g1: number): void {
    this.nac.gw[0] = g0;
    this.nac.gw[1] = g1;
  }

  finishGrad(): void {
    this.nac.chain();
  }

  sparsityError(): number {
    return this.nac.sparsityError();
  }
}
