/**
 * Fused NALU kernel (units.md "NALU"; `naluDef` in @nalm/units):
 * a = x · W, m = exp(log(|x| + ε) · W_m), g = σ(x · G [+ b]), z = g ⊙ a + (1 − g) ⊙ m, with
 * W = tanh(Ŵ) ⊙ σ(M̂) and W_m = W (shared, the default) or its own NAC weights (`separateWeights`).
 * Raw parameters in `naluDef.params` order: W_hat, M_hat, [W_hat_m, M_hat_m], G, [gate_bias].
 */
import type { NaluOptions } from '@nalm/units';
import type { FastLayer, KernelArgs, Row } from './kernel.js';
import { absGrad, addOuter, maxNaN, sigmoid, transposeInto } from './kernel.js';
import { NacWeights } from './nac.js';

/** Logs of constant inputs (evaluation sets), keyed by the array and ε; freed with the array. */
const logCache = new WeakMap<Row, Map<number, Float64Array>>();

export class NaluKernel implements FastLayer {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly eps: number;
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
  // Per-row state.
  private readonly l: Float64Array;
  private readonly a: Float64Array;
  private readonly m: Float64Array;
  private readonly gate: Float64Array;
  private readonly da: Float64Array;
  private readonly dm: Float64Array;
  private readonly dLogit: Float64Array;

  constructor({ inputSize: I, units: O, options, p, g }: KernelArgs<NaluOptions>) {
    this.inputSize = I;
    this.outputSize = O;
    this.eps = options.epsilon;
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
    this.l = new Float64Array(I);
    this.a = new Float64Array(O);
    this.m = new Float64Array(O);
    this.gate = new Float64Array(O);
    this.da = new Float64Array(O);
    this.dm = new Float64Array(O);
    this.dLogit = new Float64Array(O);
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

  /** log(|x| + ε) of a constant input, computed once per (array, ε) and shared by all replicas. */
  inputCache(x: Row): Float64Array {
    let byEps = logCache.get(x);
    if (!byEps) logCache.set(x, (byEps = new Map()));
    let logs = byEps.get(this.eps);
    if (!logs) {
      logs = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) logs[i] = Math.log(Math.abs(x[i]!) + this.eps);
      byEps.set(this.eps, logs);
    }
    return logs;
  }

  forward(x: Row, xOff: number, out: Float64Array, cache?: Float64Array): void {
    const { l, a, m, gate, gt, eps, p, bOff, inputSize: I, outputSize: O } = this;
    const w = this.nac.w;
    const wm = this.nacM.w;
    if (O === 2) {
      // The hidden width of the benchmark models: one pass over the row for all six sums.
      let sa0 = 0;
      let sa1 = 0;
      let sm0 = 0;
      let sm1 = 0;
      let sg0 = 0;
      let sg1 = 0;
      for (let i = 0; i < I; i++) {
        const xi = x[xOff + i]!;
        const li = cache ? cache[xOff + i]! : Math.log(Math.abs(xi) + eps);
        l[i] = li;
        sa0 += xi * w[i]!;
        sa1 += xi * w[I + i]!;
        sm0 += li * wm[i]!;
        sm1 += li * wm[I + i]!;
        sg0 += xi * gt[i]!;
        sg1 += xi * gt[I + i]!;
      }
      a[0] = sa0;
      a[1] = sa1;
      m[0] = Math.exp(sm0);
      m[1] = Math.exp(sm1);
      if (bOff >= 0) {
        sg0 += p[bOff]!;
        sg1 += p[bOff + 1]!;
      }
      gate[0] = sigmoid(sg0);
      gate[1] = sigmoid(sg1);
      out[0] = gate[0] * sa0 + (1 - gate[0]) * m[0];
      out[1] = gate[1] * sa1 + (1 - gate[1]) * m[1];
      return;
    }
    for (let i = 0; i < I; i++) l[i] = cache ? cache[xOff + i]! : Math.log(Math.abs(x[xOff + i]!) + eps);
    for (let o = 0, base = 0; o < O; o++, base += I) {
      let sa = 0;
      let sm = 0;
      let sg = 0;
      for (let i = 0; i < I; i++) {
        const xi = x[xOff + i]!;
        sa += xi * w[base + i]!;
        sm += l[i]! * wm[base + i]!;
        sg += xi * gt[base + i]!;
      }
      if (bOff >= 0) sg += p[bOff + o]!;
      const gv = sigmoid(sg);
      const mv = Math.exp(sm);
      a[o] = sa;
      m[o] = mv;
      gate[o] = gv;
      out[o] = gv * sa + (1 - gv) * mv;
    }
  }

  backward(x: Row, xOff: number, dOut: Float64Array, dIn: Float64Array | null): void {
    const { l, a, m, gate, da, dm, dLogit, gt, gb, eps, inputSize: I, outputSize: O } = this;
    for (let o = 0; o < O; o++) {
      const d = dOut[o]!;
      const gv = gate[o]!;
      da[o] = d * gv;
      dm[o] = d * (1 - gv) * m[o]!; // d loss / d (log-space sum)
      dLogit[o] = d * (a[o]! - m[o]!) * (gv * (1 - gv));
      gb[o] = gb[o]! + dLogit[o]!;
    }
    if (O === 2 && this.nacM === this.nac) {
      // Shared weights: ∂/∂W[o, i] = x_i da_o + l_i dm_o, with the gate in the same pass.
      const gw = this.nac.gw;
      const ggt = this.ggt;
      const da0 = da[0]!;
      const da1 = da[1]!;
      const dm0 = dm[0]!;
      const dm1 = dm[1]!;
      const dg0 = dLogit[0]!;
      const dg1 = dLogit[1]!;
      for (let i = 0; i < I; i++) {
        const xi = x[xOff + i]!;
        const li = l[i]!;
        gw[i] = gw[i]! + (xi * da0 + li * dm0);
        gw[I + i] = gw[I + i]! + (xi * da1 + li * dm1);
        ggt[i] = ggt[i]! + xi * dg0;
        ggt[I + i] = ggt[I + i]! + xi * dg1;
      }
    } else {
      addOuter(x, xOff, da, I, O, this.nac.gw);
      addOuter(l, 0, dm, I, O, this.nacM.gw);
      addOuter(x, xOff, dLogit, I, O, this.ggt);
    }
    if (dIn) {
      const w = this.nac.w;
      const wm = this.nacM.w;
      for (let i = 0; i < I; i++) {
        let lin = 0;
        let logPath = 0;
        for (let o = 0, k = i; o < O; o++, k += I) {
          lin += da[o]! * w[k]! + dLogit[o]! * gt[k]!;
          logPath += dm[o]! * wm[k]!;
        }
        const xi = x[xOff + i]!;
        dIn[i] = lin + (logPath / (Math.abs(xi) + eps)) * absGrad(xi);
      }
    }
  }

  finishGrad(): void {
    const { g, ggt, gb, gOff, bOff, inputSize: I, outputSize: O } = this;
    if (this.nacM === this.nac) {
      this.nac.chain();
    } else {
      this.nac.chain();
      this.nacM.chain();
    }
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) g[gOff + i * O + o] = ggt[o * I + i]!;
    if (bOff >= 0) for (let o = 0; o < O; o++) g[bOff + o] = gb[o]!;
  }

  regularize(): number {
    return 0;
  }

  constrain(): void {}

  sparsityError(): number {
    const e = this.nac.sparsityError();
    return this.nacM === this.nac ? e : maxNaN(e, this.nacM.sparsityError());
  }
}
