/**
 * The contract of a fused layer kernel (plain JavaScript, float64), the third shell around the unit
 * definitions of `@nalm/units` (architecture.md): same formulas as the units' tfjs `forward`, with a
 * hand-written backward pass. Parity with the tfjs units is proven by `test/fast-parity.test.ts`.
 *
 * One kernel instance belongs to one replica and one layer. It reads and writes that layer's slice
 * of the replica's flat parameter and gradient arrays (`p`, `g`: the raw parameters in the order of
 * `def.params`, each row-major `[I, O]` like the tfjs tensors). Internally kernels keep the
 * *effective* weights transposed (`[O, I]`) so the row loops are contiguous.
 *
 * A training step is: `prepare()` (effective weights from the raw parameters, once per step),
 * `zeroGrad()`, then per row `forward` → `backward` (gradients accumulate w.r.t. the effective
 * weights), then `finishGrad()` (chain to the raw parameters, overwriting `g`), `regularize()` (adds
 * the weighted regularisers' sub-gradients to `g`), the optimiser step, and `constrain()`.
 */

/**
 * Row inputs are float64 only: the trainer widens the task's float32 batch once per step (a native
 * copy), so every kernel loop sees one array type and V8 keeps its element accesses monomorphic.
 */
export type Row = Float64Array;

export interface FastLayer {
  readonly inputSize: number;
  readonly outputSize: number;
  /** Effective weights (and any per-step constants) from the current raw parameters. */
  prepare(): void;
  /** Clear the accumulated effective-weight gradients. */
  zeroGrad(): void;
  /**
   * One row: `x[xOff .. xOff + I)` → `out[0 .. O)`. Keeps what `backward` of this row needs.
   * `cache`, when given, is this kernel's `inputCache` of `x` (same offsets).
   */
  forward(x: Row, xOff: number, out: Float64Array, cache?: Float64Array): void;
  /**
   * Optional: per-element values of a *constant* input (the evaluation sets) that `forward` would
   * otherwise recompute for every row of every evaluation of every replica — e.g. log(|x| + ε),
   * which dominates NALU's evaluation cost. Must equal what `forward` computes, bit for bit.
   */
  inputCache?(x: Row): Float64Array;
  /**
   * Backward of the row last passed to `forward` (same `x`, `xOff`): accumulate the gradients of
   * the effective weights for `dOut`, and write the input gradient to `dIn` unless it is null.
   */
  backward(x: Row, xOff: number, dOut: Float64Array, dIn: Float64Array | null): void;
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

/** z_o = Σ_i x_i w[o, i] for w transposed [O, I]. */
export function matVec(x: Row, xOff: number, w: Float64Array, I: number, O: number, out: Float64Array): void {
  if (O === 2) {
    // The hidden width of every benchmark model: one pass over the row.
    let a0 = 0;
    let a1 = 0;
    for (let i = 0; i < I; i++) {
      const xi = x[xOff + i]!;
      a0 += xi * w[i]!;
      a1 += xi * w[I + i]!;
    }
    out[0] = a0;
    out[1] = a1;
    return;
  }
  for (let o = 0, base = 0; o < O; o++, base += I) {
    let acc = 0;
    for (let i = 0; i < I; i++) acc += x[xOff + i]! * w[base + i]!;
    out[o] = acc;
  }
}

/** gw[o, i] += x_i d_o (outer-product accumulation, gw transposed [O, I]). */
export function addOuter(
  x: Row,
  xOff: number,
  d: Float64Array,
  I: number,
  O: number,
  gw: Float64Array,
): void {
  if (O === 2) {
    const d0 = d[0]!;
    const d1 = d[1]!;
    for (let i = 0; i < I; i++) {
      const xi = x[xOff + i]!;
      gw[i] = gw[i]! + xi * d0;
      gw[I + i] = gw[I + i]! + xi * d1;
    }
    return;
  }
  for (let o = 0, base = 0; o < O; o++, base += I) {
    const dO = d[o]!;
    for (let i = 0; i < I; i++) gw[base + i] = gw[base + i]! + x[xOff + i]! * dO;
  }
}

/** dIn_i = Σ_o w[o, i] d_o. */
export function matTVec(w: Float64Array, d: Float64Array, I: number, O: number, dIn: Float64Array): void {
  for (let i = 0; i < I; i++) dIn[i] = 0;
  for (let o = 0, base = 0; o < O; o++, base += I) {
    const dO = d[o]!;
    for (let i = 0; i < I; i++) dIn[i] = dIn[i]! + w[base + i]! * dO;
  }
}
