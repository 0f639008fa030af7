/**
 * Fused gated NAU/NMU kernel (`gatedNauNmuDef` in models/gated.ts): z = g ⊙ NAU(x) + (1 − g) ⊙ NMU(x),
 * g = σ(x · G), separate weights. Composed from the NAU and NMU kernels, so their formulas stay in
 * one place here too. Raw parameters: W_add, W_mul, G, each [I, O].
 */
import type { GatedOptions } from '../models/gated.js';
import type { FastLayer, KernelArgs, Row } from './kernel.js';
import { maxNaN, room, sigmoid, transposeInto } from './kernel.js';
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
  // Per-row state of the current rows.
  private za = new Float64Array(0);
  private zm = new Float64Array(0);
  private gate = new Float64Array(0);
  private da = new Float64Array(0);
  private dm = new Float64Array(0);
  private dLogit = new Float64Array(0);
  private dInA = new Float64Array(0);
  private dInM = new Float64Array(0);

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

  forward(x: Row, rows: number, out: Float64Array): void {
    const { gt, inputSize: I, outputSize: O } = this;
    const n = rows * O;
    const za = (this.za = room(this.za, n));
    const zm = (this.zm = room(this.zm, n));
    const gate = (this.gate = room(this.gate, n));
    this.nau.forward(x, rows, za);
    this.nmu.forward(x, rows, zm);
    for (let b = 0; b < rows; b++) {
      for (let o = 0; o < O; o++) {
        let logit = 0;
        for (let i = 0; i < I; i++) logit += x[b * I + i]! * gt[o * I + i]!;
        const k = b * O + o;
        const gv = sigmoid(logit);
        gate[k] = gv;
        out[k] = gv * za[k]! + (1 - gv) * zm[k]!;
      }
    }
  }

  backward(x: Row, rows: number, dOut: Float64Array, dIn: Float64Array | null): void {
    const { za, zm, gate, gt, ggt, inputSize: I, outputSize: O } = this;
    const n = rows * O;
    const da = (this.da = room(this.da, n));
    const dm = (this.dm = room(this.dm, n));
    const dLogit = (this.dLogit = room(this.dLogit, n));
    for (let k = 0; k < n; k++) {
      const d = dOut[k]!;
      const gv = gate[k]!;
      da[k] = d * gv;
      dm[k] = d * (1 - gv);
      dLogit[k] = d * (za[k]! - zm[k]!) * (gv * (1 - gv));
    }
    const dInA = dIn ? (this.dInA = room(this.dInA, rows * I)) : null;
    const dInM = dIn ? (this.dInM = room(this.dInM, rows * I)) : null;
    this.nau.backward(x, rows, da, dInA);
    this.nmu.backward(x, rows, dm, dInM);
    for (let b = 0; b < rows; b++) {
      for (let i = 0; i < I; i++) {
        const xi = x[b * I + i]!;
        let back = 0;
        for (let o = 0, k = i; o < O; o++, k += I) {
          const d = dLogit[b * O + o]!;
          ggt[k] = ggt[k]! + xi * d;
          back += d * gt[k]!;
        }
        if (dIn) dIn[b * I + i] = dInA![b * I + i]! + dInM![b * I + i]! + back;
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
