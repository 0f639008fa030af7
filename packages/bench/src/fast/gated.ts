/**
 * Fused gated NAU/NMU kernel (`gatedNauNmuDef` in models/gated.ts): z = g ⊙ NAU(x) + (1 − g) ⊙ NMU(x),
 * g = σ(x · G), separate weights. Composed from the NAU and NMU kernels, so their formulas stay in
 * one place here too. Raw parameters: W_add, W_mul, G, each [I, O].
 */
import type { GatedOptions } from '../models/gated.js';
import type { FastLayer, KernelArgs, Row } from './kernel.js';
import { addOuter, matVec, maxNaN, sigmoid, transposeInto } from './kernel.js';
import { NauKernel } from './nau.js';
import { NmuKernel } from './nmu.js';

export class GatedKernel implements FastLayer {
  readonly inputSize: number;
  readonly outputSize: number;
  private readonly nau: NauKernel;
  private readonly nmu: NmuKernel;
  private readonly p: Float64Array;
  private readonly g: Float64Array;
  private readonly gt: Float64Array;
  private readonly ggt: Float64Array;
  private readonly za: Float64Array;
  private readonly zm: Float64Array;
  private readonly gate: Float64Array;
  private readonly da: Float64Array;
  private readonly dm: Float64Array;
  private readonly dLogit: Float64Array;
  private readonly dInA: Float64Array;
  private readonly dInM: Float64Array;

  constructor({ inputSize: I, units: O, options, p, g }: KernelArgs<GatedOptions>) {
    this.inputSize = I;
    this.outputSize = O;
    const n = I * O;
    const sub = (k: number) => ({
      inputSize: I,
      units: O,
      options,
      p: p.subarray(k * n, (k + 1) * n),
      g: g.subarray(k * n, (k + 1) * n),
    });
    this.nau = new NauKernel(sub(0));
    this.nmu = new NmuKernel(sub(1));
    this.p = p;
    this.g = g;
    this.gt = new Float64Array(n);
    this.ggt = new Float64Array(n);
    this.za = new Float64Array(O);
    this.zm = new Float64Array(O);
    this.gate = new Float64Array(O);
    this.da = new Float64Array(O);
    this.dm = new Float64Array(O);
    this.dLogit = new Float64Array(O);
    this.dInA = new Float64Array(I);
    this.dInM = new Float64Array(I);
  }

  prepare(): void {
    this.nau.prepare();
    this.nmu.prepare();
    transposeInto(this.p, 2 * this.inputSize * this.outputSize, this.inputSize, this.outputSize, this.gt);
  }

  zeroGrad(): void {
    this.nau.zeroGrad();
    this.nmu.zeroGrad();
    this.ggt.fill(0);
  }

  forward(x: Row, xOff: number, out: Float64Array): void {
    const { za, zm, gate, inputSize: I, outputSize: O } = this;
    this.nau.forward(x, xOff, za);
    this.nmu.forward(x, xOff, zm);
    matVec(x, xOff, this.gt, I, O, gate);
    for (let o = 0; o < O; o++) {
      const gv = sigmoid(gate[o]!);
      gate[o] = gv;
      out[o] = gv * za[o]! + (1 - gv) * zm[o]!;
    }
  }

  backward(x: Row, xOff: number, dOut: Float64Array, dIn: Float64Array | null): void {
    const { za, zm, gate, da, dm, dLogit, dInA, dInM, gt, inputSize: I, outputSize: O } = this;
    for (let o = 0; o < O; o++) {
      const d = dOut[o]!;
      const gv = gate[o]!;
      da[o] = d * gv;
      dm[o] = d * (1 - gv);
      dLogit[o] = d * (za[o]! - zm[o]!) * (gv * (1 - gv));
    }
    this.nau.backward(x, xOff, da, dIn ? dInA : null);
    this.nmu.backward(x, xOff, dm, dIn ? dInM : null);
    addOuter(x, xOff, dLogit, I, O, this.ggt);
    if (dIn) {
      for (let i = 0; i < I; i++) {
        let acc = dInA[i]! + dInM[i]!;
        for (let o = 0, k = i; o < O; o++, k += I) acc += dLogit[o]! * gt[k]!;
        dIn[i] = acc;
      }
    }
  }

  finishGrad(): void {
    this.nau.finishGrad();
    this.nmu.finishGrad();
    const { g, ggt, inputSize: I, outputSize: O } = this;
    const off = 2 * I * O;
    for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) g[off + i * O + o] = ggt[o * I + i]!;
  }

  regularize(sparsityWeight: number, oobWeight: number): number {
    return this.nau.regularize(sparsityWeight, oobWeight) + this.nmu.regularize(sparsityWeight, oobWeight);
  }

  constrain(): void {
    this.nau.constrain();
    this.nmu.constrain();
  }

  sparsityError(): number {
    return maxNaN(this.nau.sparsityError(), this.nmu.sparsityError());
  }
}
