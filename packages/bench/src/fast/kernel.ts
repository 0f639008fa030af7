/**
 * The contract of a fused layer kernel (TypeScript, float64), the third shell around the unit
 * definitions of `@nalm/units` (architecture.md): same formulas as the units' tfjs `forward`, with a
 * hand-written backward pass. Parity with the tfjs units is proven by `test/fast-parity.test.ts`.
 *
 * One kernel instance belongs to one replica and one layer. It reads and writes that layer's slice
 * of the replica's flat parameter and gradient arrays (`p`, `g`: the raw parameters in the order of
 * `def.params`, each row-major `[I, O]` like the tfjs tensors). Internally kernels keep the
 * *effective* weights transposed (`[O, I]`) so the row loops are contiguous.
 *
 * A training step is: `prepare()` (effective weights from the raw parameters, once per step),
 * `zeroGrad()`, then `forward` → `backward` on the batch as one block of rows (gradients accumulate
 * w.r.t. the effective weights), then `finishGrad()` (chain to the raw parameters, overwriting `g`), `regularize()` (adds
 * the weighted regularisers' sub-gradients to `g`), the optimiser step, and `constrain()`.
 */

/**
 * Inputs of the JavaScript loops are float64 only: the trainer widens float32 data once per batch
 * (a native copy), so every kernel loop sees one array type and V8 keeps its accesses monomorphic.
 */
export type Row = Float64Array;

/**
 * A layer works on a block of rows at a time (row-major [rows, I] in, [rows, O] out): one call per
 * layer per batch keeps the per-row cost to the arithmetic, which matters for small inputs (the
 * simple task's I = 4), where call overhead per row would dominate.
 */
export interface FastLayer {
  readonly inputSize: number;
  readonly outputSize: number;
  /**
   * The weighted sums the layer starts from, when it is "linear forms + a per-row head" (NAU, NAC+,
   * NAC•, NALU, dense). As a first layer such a layer runs batched: the sums of all rows and their
   * weight gradients are computed by the wasm SIMD kernels (model.ts), only the head in TypeScript.
   */
  readonly forms?: readonly LinearForm[];
  /** Effective weights (and any per-step constants) from the current raw parameters. */
  prepare(): void;
  /** Clear the accumulated effective-weight gradients. */
  zeroGrad(): void;
  /** Rows [0, rows) of x → out. Keeps what `backward` of these rows needs. */
  forward(x: Row, rows: number, out: Float64Array): void;
  /**
   * Backward of the rows last passed to `forward` (same x): accumulate the gradients of the
   * effective weights for `dOut` ([rows, O]), and write the input gradients ([rows, I]) to `dIn`
   * unless it is null.
   */
  backward(x: Row, rows: number, dOut: Float64Array, dIn: Float64Array | null): void;
  /** Chain the accumulated effective-weight gradients to the raw parameters (overwrites `g`). */
  finishGrad(): void;
  /**
   * Add `sparsityWeight · sparsity + oobWeight · oob` to the loss (returned) and its sub-gradient to
   * `g`. A weight of 0 skips that term entirely (as the tfjs trainer does).
   */
  regularize(sparsityWeight: number, oobWeight: number): number;
  /** Post-step projection ("clip" mode). */
  constrain(): void;
  /** max over the effective weights of min(|w|, |1 − |w||) (units.md "sparsity error"). */
  sparsityError(): number;
  /**
   * Optional, for a 2 → 1 output layer that the wasm step kernel (`stepPairHead`) can compute whole:
   * 0 for the NMU's product, 1 for a linear head (NAU, NAC+), −1 (or absent) otherwise.
   */
  pairHeadKind?(): number;
  /** The two effective weights the head uses (current after `prepare`). */
  pairHeadWeights?(): Float64Array;
  /** Store the batch's gradients of the two effective weights (as `backward` after `zeroGrad` would). */
  setPairHeadGrad?(g0: number, g1: number): void;
}

/**
 * `rows` weighted sums of one input row: s[r] = Σ_i in_i · w[r, i], with `in` the inputs themselves
 * ('x') or log(|x| + ε) ('log').
 */
export interface LinearForm {
  readonly input: 'x' | 'log';
  /** ε of the 'log' input (unused for 'x'). */
  readonly eps: number;
  readonly rows: number;
  /** Effective weights [rows, I], recomputed by the layer's `prepare`. */
  readonly w: Float64Array;
  /** d loss / d w, [rows, I], accumulated over the batch (the same array as another form's = shared weights). */
  readonly gw: Float64Array;
}

/** `a` if it holds n values, else a new array of at least n (per-row state that grows with the block). */
export function room<A extends Float64Array>(a: A, n: number): A {
  return a.length >= n ? a : (new Float64Array(Math.max(n, 2 * a.length)) as A);
}

/**
 * A layer made of linear forms and a per-row head. Subclasses define the forms (in `prepare` order)
 * and the head over a block of rows; the JavaScript forward/backward here and the batched
 * first-layer path of `FastModel` both call that one head, so its formula exists once.
 */
export abstract class FormLayer implements FastLayer {
  abstract readonly forms: readonly LinearForm[];
  private sums = new Float64Array(0);
  private ds = new Float64Array(0);
  /** log(|x| + ε) of the current rows, per form ([forms, rows, I]; only 'log' forms use theirs). */
  private logs = new Float64Array(0);

  constructor(
    readonly inputSize: number,
    readonly outputSize: number,
  ) {}

  private sumCountCache = -1;

  /** Sums per row (all forms, in order): the row stride of `s` in the head. */
  get sumCount(): number {
    if (this.sumCountCache < 0) this.sumCountCache = this.forms.reduce((n, f) => n + f.rows, 0);
    return this.sumCountCache;
  }

  /**
   * True when the head is the identity (one sum per output, z = the sums: NAU, NAC+). The batch
   * paths then compute the sums straight into the output array and use d loss / d z as d loss / d s,
   * skipping `forwardSums`'s and `backwardSums`'s copies (which stay the head's definition).
   */
  readonly identityHead: boolean = false;

  /** Outputs of `rows` rows from their sums `s` ([rows, sumCount]); keeps what `backwardSums` needs. */
  abstract forwardSums(s: Float64Array, rows: number, out: Float64Array): void;
  /** d loss / d s of the rows last passed to `forwardSums`; accumulates gradients not in the forms (biases). */
  abstract backwardSums(dOut: Float64Array, rows: number, ds: Float64Array): void;
  abstract prepare(): void;
  /**
   * Optional: `prepare()`, also writing each form's effective weights rounded to float32 into
   * `w32[form]` (the batched first layer's copies) in the same pass.
   */
  prepareF32?(w32: readonly Float32Array[]): void;
  abstract zeroGrad(): void;
  abstract finishGrad(): void;
  abstract sparsityError(): number;

  regularize(_sparsityWeight: number, _oobWeight: number): number {
    return 0;
  }

  constrain(): void {}

  forward(x: Row, rows: number, out: Float64Array): void {
    const I = this.inputSize;
    const forms = this.forms;
    const W = this.sumCount;
    const identity = this.identityHead;
    const s = identity ? out : (this.sums = room(this.sums, rows * W));
    const logs = (this.logs = room(this.logs, forms.length * rows * I));
    let r0 = 0;
    for (let k = 0; k < forms.length; k++) {
      const f = forms[k]!;
      let inp = x;
      let base = 0;
      if (f.input === 'log') {
        // Kept per form for `backward` (forms may differ in ε).
        base = k * rows * I;
        for (let j = 0; j < rows * I; j++) logs[base + j] = Math.log(Math.abs(x[j]!) + f.eps);
        inp = logs;
      }
      const w = f.w;
      if (I === 2 && f.rows === 1) {
        // A two-input output layer (every two-layer benchmark model): the loop below, unrolled.
        const w0 = w[0]!;
        const w1 = w[1]!;
        for (let b = 0; b < rows; b++) s[b * W + r0] = inp[base + 2 * b]! * w0 + inp[base + 2 * b + 1]! * w1;
      } else {
        for (let b = 0; b < rows; b++) {
          const xo = base + b * I;
          for (let r = 0, wo = 0; r < f.rows; r++, wo += I) {
            let acc = 0;
            for (let i = 0; i < I; i++) acc += inp[xo + i]! * w[wo + i]!;
            s[b * W + r0 + r] = acc;
          }
        }
      }
      r0 += f.rows;
    }
    if (!identity) this.forwardSums(s, rows, out);
  }

  backward(x: Row, rows: number, dOut: Float64Array, dIn: Float64Array | null): void {
    const I = this.inputSize;
    const W = this.sumCount;
    let ds = dOut;
    if (!this.identityHead) {
      ds = this.ds = room(this.ds, rows * W);
      this.backwardSums(dOut, rows, ds);
    }
    if (dIn) dIn.fill(0, 0, rows * I);
    const forms = this.forms;
    let r0 = 0;
    for (let k = 0; k < forms.length; k++) {
      const f = forms[k]!;
      const log = f.input === 'log';
      const inp = log ? this.logs : x;
      const base = log ? k * rows * I : 0;
      const { w, gw } = f;
      if (f.rows === 1 && I === 2 && !log) {
        // A two-input output layer on x (NAU, NAC+, dense): the loop below unrolled, the weight
        // gradients adding up in registers (the same terms in the same order).
        const w0 = w[0]!;
        const w1 = w[1]!;
        let g0 = gw[0]!;
        let g1 = gw[1]!;
        for (let b = 0; b < rows; b++) {
          const d = ds[b * W + r0]!;
          const x0 = x[2 * b]!;
          const x1 = x[2 * b + 1]!;
          g0 += x0 * d;
          g1 += x1 * d;
          if (dIn) {
            dIn[2 * b] = dIn[2 * b]! + w0 * d;
            dIn[2 * b + 1] = dIn[2 * b + 1]! + w1 * d;
          }
        }
        gw[0] = g0;
        gw[1] = g1;
        r0 += 1;
        continue;
      }
      if (f.rows === 1) {
        // One sum per row (an output layer): the loop below without its inner loop over sums.
        for (let b = 0; b < rows; b++) {
          const d = ds[b * W + r0]!;
          const xo = b * I;
          for (let i = 0; i < I; i++) {
            gw[i] = gw[i]! + inp[base + xo + i]! * d;
            if (dIn) {
              const back = w[i]! * d;
              const xi = x[xo + i]!;
              dIn[xo + i] = dIn[xo + i]! + (log ? (back / (Math.abs(xi) + f.eps)) * absGrad(xi) : back);
            }
          }
        }
        r0 += 1;
        continue;
      }
      for (let b = 0; b < rows; b++) {
        for (let i = 0; i < I; i++) {
          const v = inp[base + b * I + i]!;
          let back = 0;
          for (let r = 0, wk = i; r < f.rows; r++, wk += I) {
            const d = ds[b * W + r0 + r]!;
            gw[wk] = gw[wk]! + v * d;
            back += w[wk]! * d;
          }
          if (dIn) {
            const xi = x[b * I + i]!;
            // d log(|x| + ε)/dx with tfjs's |x|' = step(x, −1) (−1 at 0).
            dIn[b * I + i] = dIn[b * I + i]! + (log ? (back / (Math.abs(xi) + f.eps)) * absGrad(xi) : back);
          }
        }
      }
      r0 += f.rows;
    }
  }
}

/** Everything a kernel factory gets: the layer's shape, resolved options and parameter slices. */
export interface KernelArgs<O> {
  inputSize: number;
  units: number;
  options: O;
  /** This layer's raw parameters (a view into the replica's flat array), `def.params` order. */
  p: Float64Array;
  /** This layer's raw gradients, same layout as `p`. */
  g: Float64Array;
}

/**
 * The sparsity regulariser's per-weight term of units.md as a function of v (|W| for the NAU, W for
 * the NMU): linear min(v, 1 − v) or squared v²(1 − v)².
 */
export function sparsityTerm(v: number, squared: boolean): number {
  const b = 1 - v;
  return squared ? v * v * (b * b) : v <= b ? v : b;
}

/** d sparsityTerm / dv; ties of the linear min go to v, as tfjs's minimum gradient does. */
export function sparsityTermGrad(v: number, squared: boolean): number {
  const b = 1 - v;
  return squared ? 2 * v * (b * b) - 2 * (v * v) * b : v <= b ? 1 : -1;
}

/** d|x|/dx as tfjs's Abs gradient computes it: step(x, −1), i.e. +1 for x > 0, else −1 (also at 0). */
export function absGrad(x: number): number {
  return x > 0 ? 1 : -1;
}

/** Logistic sigmoid, as tfjs's cpu kernel: 1 / (1 + e^−x). */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** clipByValue; NaN stays NaN. */
export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** min(|w|, |1 − |w||) for one effective weight; combine with `maxNaN`. */
export function sparsityOf(w: number): number {
  const a = Math.abs(w);
  const b = Math.abs(1 - a);
  return a < b ? a : b;
}

/** max that propagates NaN (a NaN weight makes the sparsity error NaN, never silently small). */
export function maxNaN(a: number, b: number): number {
  return a !== a || b !== b ? NaN : a > b ? a : b;
}

/** Transpose a row-major [I, O] slice starting at `off` into `out` as [O, I]. */
export function transposeInto(src: Float64Array, off: number, I: number, O: number, out: Float64Array): void {
  for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) out[o * I + i] = src[off + i * O + o]!;
}
