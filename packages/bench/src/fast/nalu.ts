/**
 * Fused NALU kernel (units.md "NALU"; `naluDef` in @nalm/units):
 * a = x · W, m = exp(log(|x| + ε) · W_m), g = σ(x · G [+ b]), z = g ⊙ a + (1 − g) ⊙ m, with
 * W = tanh(Ŵ) ⊙ σ(M̂) and W_m = W (shared, the default) or its own NAC weights (`separateWeights`).
 * Raw parameters in `naluDef.params` order: W_hat, M_hat, [W_hat_m, M_hat_m], G, [gate_bias].
 */
import type { NaluOptions } from '@nalm/units';
import type { KernelArgs, LinearForm } from './kernel.js';
import { FormLayer, maxNaN, room, sigmoid, transposeInto } from './kernel.js';
import { NacWeights } from './nac.js';

export class NaluKernel extends FormLayer {
  readonly forms: readonly LinearForm[];
  private readonly nac: NacWeights;
  /** The multiplicative path's weights: `nac` itself when shared. */
  private readonly nacM: NacWeights;
  private readonly p: Float64Array;
  private readonly g: Float64Array;
  private readonly gOff: number;
  /** Offset of gate_bias, or −1 without a gate bias. */
  private readonly bOff: number;
  /** G transposed [O, I] and its gradient. */
  private readonly gt: Float64Array;
  private readonly ggt: Float64Array;
  private readonly gb: Float64Array;
  // Per-row state of the current rows, [rows, O].
  private a = new Float64Array(0);
  private m = new Float64Array(0);
  private gate = new Float64Array(0);

  constructor({ inputSize: I, units: O, options, p, g }: KernelArgs<NaluOptions>) {
    super(I, O);
    this.p = p;
    this.g = g;
    const n = I * O;
    this.nac = new NacWeights(p, g, 0, n, I, O);
    this.nacM = options.separateWeights ? new NacWeights(p, g, 2 * n, 3 * n, I, O) : this.nac;
    this.gOff = options.separateWeights ? 4 * n : 2 * n;
    this.bOff = options.gateBias ? this.gOff + n : -1;
    this.gt = new Float64Array(n);
    this.ggt = new Float64Array(n);
    this.gb = new Float64Array(O);
    // Sums: a = x · W, the gate's logits x · G, and the log-space sums log(|x| + ε) · W_m.
    this.forms = [
      { input: 'x', eps: 0, rows: O, w: this.nac.w, gw: this.nac.gw },
      { input: 'x', eps: 0, rows: O, w: this.gt, gw: this.ggt },
      { input: 'log', eps: options.epsilon, rows: O, w: this.nacM.w, gw: this.nacM.gw },
    ];
  }

  prepare(): void {
    this.nac.prepare();
    if (this.nacM !== this.nac) this.nacM.prepare();
    transposeInto(this.p, this.gOff, this.inputSize, this.outputSize, this.gt);
  }

  zeroGrad(): void {
    this.nac.gw.fill(0);
    this.nacM.gw.fill(0);
    this.ggt.fill(0);
    this.gb.fill(0);
  }

  /** z = g ⊙ a + (1 − g) ⊙ m with g = σ(x · G [+ b]) and m = exp(log-space sum). */
  forwardSums(s: Float64Array, rows: number, out: Float64Array): void {
    const { p, bOff, outputSize: O } = this;
    const a = (this.a = room(this.a, rows * O));
    const m = (this.m = room(this.m, rows * O));
    const gate = (this.gate = room(this.gate, rows * O));
    for (let b = 0; b < rows; b++) {
      const sb = 3 * O * b;
      for (let o = 0; o < O; o++) {
        const k = b * O + o;
        const av = s[sb + o]!;
        const gv = sigmoid(bOff >= 0 ? s[sb + O + o]! + p[bOff + o]! : s[sb + O + o]!);
        const mv = Math.exp(s[sb + 2 * O + o]!);
        a[k] = av;
        m[k] = mv;
        gate[k] = gv;
        out[k] = gv * av + (1 - gv) * mv;
      }
    }
  }

  backwardSums(dOut: Float64Array, rows: number, ds: Float64Array): void {
    const { a, m, gate, gb, outputSize: O } = this;
    for (let b = 0; b < rows; b++) {
      const sb = 3 * O * b;
      for (let o = 0; o < O; o++) {
        const k = b * O + o;
        const d = dOut[k]!;
        const gv = gate[k]!;
        const dLogit = d * (a[k]! - m[k]!) * (gv * (1 - gv));
        ds[sb + o] = d * gv;
        ds[sb + O + o] = dLogit;
        ds[sb + 2 * O + o] = d * (1 - gv) * m[k]!; // d loss / d (log-space sum)
        gb[o] = gb[o]! + dLogit;
      }
    }
  }

  finishGrad(): void {
    const { g, ggt, gb, gOff, bOff, inputSize: I, outputSize: O } = this;
    this.nac.chain();
    if (this.nacM !== this.nac) this.nacM.chain();
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) g[gOff + i * O + o] = ggt[o * I + i]!;
    if (bOff >= 0) for (let o = 0; o < O; o++) g[bOff + o] = gb[o]!;
  }

  sparsityError(): number {
    const e = this.nac.sparsityError();
    return this.nacM === this.nac ? e : maxNaN(e, this.nacM.sparsityError());
  }
}
