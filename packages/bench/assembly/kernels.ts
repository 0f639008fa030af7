/**
 * WebAssembly SIMD (f32x4) kernels for the fused trainer's heavy loops: the weighted sums of a first
 * layer over a whole batch, their weight gradients, and log(|x| + ε). AssemblyScript, compiled by
 * `pnpm --filter @nalm/bench build:wasm` into wasm/kernels.wasm (committed; a test checks that it is
 * up to date). Also: training data (`fillLanes`), targets, the whole step of the two-layer pair-head
 * models (`stepPairHead`) and Adam (`adam`, float64), each the same operations in the same order as
 * its TypeScript definition. Everything else (the per-row heads, regularisers) stays in TypeScript:
 * it is O(outputs) per row, and keeping it there keeps each formula in one place (src/fast/*.ts).
 *
 * Arrays are f32 unless said otherwise, row-major, addressed by byte pointers into this module's
 * memory, which the TypeScript side manages (src/fast/wasm.ts). Lengths are element counts.
 */

// @ts-expect-error: AssemblyScript built-in, resolved by asc
const HEAP_BASE: usize = __heap_base;

/** First byte that the host may use (everything below is this module's static data). */
export function heapBase(): usize {
  return HEAP_BASE;
}

function hsum(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) +
    f32x4.extract_lane(v, 1) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3))
  );
}

/**
 * s[b·sStride + sOff + k] = Σ_i x[b·n + i] · w[k·n + i] for rows b < rows, k < m: the sums of m
 * weight rows (a layer's [O, I] effective weights) against every input row. Two weight rows at a time
 * and two accumulators each, so four independent add chains hide the add latency.
 */
export function sums(x: usize, w: usize, s: usize, rows: i32, n: i32, m: i32, sStride: i32, sOff: i32): void {
  const n8 = n & ~7;
  const rowBytes = (<usize>n) << 2;
  let b = 0;
  // Short rows (the simple task's I = 4, the single-module task's I = 2) never reach the eight-wide
  // loop: the sums below are scalar chains. Four rows at a time, one per lane, give each row exactly
  // that chain (from 0, i = 0 … n−1, f32 products and adds), four rows per instruction.
  if (n8 == 0) b = sumsShortRows(x, w, s, rows, n, m, sStride, sOff);
  for (; b < rows; b++) {
    const xr = x + <usize>b * rowBytes;
    const sr = s + ((<usize>(b * sStride + sOff)) << 2);
    let k = 0;
    for (; k + 1 < m; k += 2) {
      const w0 = w + <usize>k * rowBytes;
      const w1 = w0 + rowBytes;
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let c0 = f32x4.splat(0);
      let c1 = f32x4.splat(0);
      let i = 0;
      for (; i < n8; i += 8) {
        const o = (<usize>i) << 2;
        const xa = v128.load(xr + o);
        const xb = v128.load(xr + o, 16);
        a0 = f32x4.add(a0, f32x4.mul(xa, v128.load(w0 + o)));
        a1 = f32x4.add(a1, f32x4.mul(xb, v128.load(w0 + o, 16)));
        c0 = f32x4.add(c0, f32x4.mul(xa, v128.load(w1 + o)));
        c1 = f32x4.add(c1, f32x4.mul(xb, v128.load(w1 + o, 16)));
      }
      let t0 = hsum(f32x4.add(a0, a1));
      let t1 = hsum(f32x4.add(c0, c1));
      for (; i < n; i++) {
        const xi = load<f32>(xr + ((<usize>i) << 2));
        t0 += xi * load<f32>(w0 + ((<usize>i) << 2));
        t1 += xi * load<f32>(w1 + ((<usize>i) << 2));
      }
      store<f32>(sr + ((<usize>k) << 2), t0);
      store<f32>(sr + ((<usize>(k + 1)) << 2), t1);
    }
    if (k < m) {
      const w0 = w + <usize>k * rowBytes;
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let i = 0;
      for (; i < n8; i += 8) {
        const o = (<usize>i) << 2;
        a0 = f32x4.add(a0, f32x4.mul(v128.load(xr + o), v128.load(w0 + o)));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(xr + o, 16), v128.load(w0 + o, 16)));
      }
      let t0 = hsum(f32x4.add(a0, a1));
      for (; i < n; i++) t0 += load<f32>(xr + ((<usize>i) << 2)) * load<f32>(w0 + ((<usize>i) << 2));
      store<f32>(sr + ((<usize>k) << 2), t0);
    }
  }
}

/** Column i of rows b … b+3 (row stride rowBytes): x[b·n + i], …, x[(b+3)·n + i]. */
function column(xr: usize, rowBytes: usize, i: i32): v128 {
  const o = (<usize>i) << 2;
  let v = f32x4.splat(load<f32>(xr + o));
  v = f32x4.replace_lane(v, 1, load<f32>(xr + rowBytes + o));
  v = f32x4.replace_lane(v, 2, load<f32>(xr + 2 * rowBytes + o));
  return f32x4.replace_lane(v, 3, load<f32>(xr + 3 * rowBytes + o));
}

/** Lanes 0–3 of v into s[b·sStride + k] for the four rows b … b+3 (sr = row b's k-th sum). */
function storeColumn(sr: usize, sRowBytes: usize, v: v128): void {
  store<f32>(sr, f32x4.extract_lane(v, 0));
  store<f32>(sr + sRowBytes, f32x4.extract_lane(v, 1));
  store<f32>(sr + 2 * sRowBytes, f32x4.extract_lane(v, 2));
  store<f32>(sr + 3 * sRowBytes, f32x4.extract_lane(v, 3));
}

/**
 * `sums` of the first rows & ~3 rows when n < 8, lane j holding row b + j: t = 0, t += x_i · w_i for
 * i = 0 … n−1, the scalar loop of `sums` exactly. Two weight rows at a time share the columns.
 * Returns the first row left to the caller.
 */
function sumsShortRows(
  x: usize,
  w: usize,
  s: usize,
  rows: i32,
  n: i32,
  m: i32,
  sStride: i32,
  sOff: i32,
): i32 {
  const rowBytes = (<usize>n) << 2;
  const sRowBytes = (<usize>sStride) << 2;
  const rows4 = rows & ~3;
  if (n == 4) {
    // The simple task: the four columns of four rows by a 4 × 4 transpose instead of 16 loads.
    for (let b = 0; b < rows4; b += 4) {
      const xr = x + ((<usize>b) << 4);
      const r0 = v128.load(xr);
      const r1 = v128.load(xr, 16);
      const r2 = v128.load(xr, 32);
      const r3 = v128.load(xr, 48);
      const lo01 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
      const lo23 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const hi01 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const hi23 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const c0 = v128.shuffle<f32>(lo01, lo23, 0, 1, 4, 5);
      const c1 = v128.shuffle<f32>(lo01, lo23, 2, 3, 6, 7);
      const c2 = v128.shuffle<f32>(hi01, hi23, 0, 1, 4, 5);
      const c3 = v128.shuffle<f32>(hi01, hi23, 2, 3, 6, 7);
      const sr = s + ((<usize>(b * sStride + sOff)) << 2);
      for (let k = 0; k < m; k++) {
        const wk = w + ((<usize>k) << 4);
        let t = f32x4.splat(0);
        t = f32x4.add(t, f32x4.mul(c0, v128.load32_splat(wk)));
        t = f32x4.add(t, f32x4.mul(c1, v128.load32_splat(wk, 4)));
        t = f32x4.add(t, f32x4.mul(c2, v128.load32_splat(wk, 8)));
        t = f32x4.add(t, f32x4.mul(c3, v128.load32_splat(wk, 12)));
        storeColumn(sr + ((<usize>k) << 2), sRowBytes, t);
      }
    }
    return rows4;
  }
  for (let b = 0; b < rows4; b += 4) {
    const xr = x + <usize>b * rowBytes;
    const sr = s + ((<usize>(b * sStride + sOff)) << 2);
    let k = 0;
    for (; k + 1 < m; k += 2) {
      const w0 = w + <usize>k * rowBytes;
      const w1 = w0 + rowBytes;
      let t0 = f32x4.splat(0);
      let t1 = f32x4.splat(0);
      for (let i = 0; i < n; i++) {
        const col = column(xr, rowBytes, i);
        const o = (<usize>i) << 2;
        t0 = f32x4.add(t0, f32x4.mul(col, f32x4.splat(load<f32>(w0 + o))));
        t1 = f32x4.add(t1, f32x4.mul(col, f32x4.splat(load<f32>(w1 + o))));
      }
      storeColumn(sr + ((<usize>k) << 2), sRowBytes, t0);
      storeColumn(sr + ((<usize>(k + 1)) << 2), sRowBytes, t1);
    }
    if (k < m) {
      const w0 = w + <usize>k * rowBytes;
      let t0 = f32x4.splat(0);
      for (let i = 0; i < n; i++) {
        t0 = f32x4.add(
          t0,
          f32x4.mul(column(xr, rowBytes, i), f32x4.splat(load<f32>(w0 + ((<usize>i) << 2)))),
        );
      }
      storeColumn(sr + ((<usize>k) << 2), sRowBytes, t0);
    }
  }
  return rows4;
}

/**
 * g[k·n + i] = Σ_b x[b·n + i] · d[b·dStride + dOff + k] (overwrites g): the gradient of the sums'
 * weights, given d loss / d s for every row. Accumulates in registers over the rows, eight (then
 * four, then one) inputs and two weight rows at a time (no read-modify-write of g inside the row
 * loop). Every g entry is the chain b = 0 … rows−1 from 0, however wide the step that computes it.
 */
export function sumsGrad(
  x: usize,
  d: usize,
  g: usize,
  rows: i32,
  n: i32,
  m: i32,
  dStride: i32,
  dOff: i32,
): void {
  const n8 = n & ~7;
  const rowBytes = (<usize>n) << 2;
  const dRowBytes = (<usize>dStride) << 2;
  for (let k = 0; k < m; k += 2) {
    const pair = k + 1 < m;
    const dk = d + ((<usize>(dOff + k)) << 2);
    const g0 = g + <usize>k * rowBytes;
    const g1 = g0 + rowBytes;
    let i = 0;
    for (; i < n8; i += 8) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let c0 = f32x4.splat(0);
      let c1 = f32x4.splat(0);
      let xr = x + ((<usize>i) << 2);
      let dr = dk;
      for (let b = 0; b < rows; b++) {
        const xa = v128.load(xr);
        const xb = v128.load(xr, 16);
        const d0 = f32x4.splat(load<f32>(dr));
        a0 = f32x4.add(a0, f32x4.mul(xa, d0));
        a1 = f32x4.add(a1, f32x4.mul(xb, d0));
        if (pair) {
          const d1 = f32x4.splat(load<f32>(dr, 4));
          c0 = f32x4.add(c0, f32x4.mul(xa, d1));
          c1 = f32x4.add(c1, f32x4.mul(xb, d1));
        }
        xr += rowBytes;
        dr += dRowBytes;
      }
      const o = (<usize>i) << 2;
      v128.store(g0 + o, a0);
      v128.store(g0 + o, a1, 16);
      if (pair) {
        v128.store(g1 + o, c0);
        v128.store(g1 + o, c1, 16);
      }
    }
    // Four inputs at a time, each lane its own chain over the rows: the same f32 sums as the scalar
    // loop below, which is all that rows shorter than eight (the simple task's I = 4) would run.
    for (; i + 4 <= n; i += 4) {
      let a0 = f32x4.splat(0);
      let c0 = f32x4.splat(0);
      let xr = x + ((<usize>i) << 2);
      let dr = dk;
      for (let b = 0; b < rows; b++) {
        const xa = v128.load(xr);
        a0 = f32x4.add(a0, f32x4.mul(xa, f32x4.splat(load<f32>(dr))));
        if (pair) c0 = f32x4.add(c0, f32x4.mul(xa, f32x4.splat(load<f32>(dr, 4))));
        xr += rowBytes;
        dr += dRowBytes;
      }
      const o = (<usize>i) << 2;
      v128.store(g0 + o, a0);
      if (pair) v128.store(g1 + o, c0);
    }
    for (; i < n; i++) {
      let t0: f32 = 0;
      let t1: f32 = 0;
      let xr = x + ((<usize>i) << 2);
      let dr = dk;
      for (let b = 0; b < rows; b++) {
        const xi = load<f32>(xr);
        t0 += xi * load<f32>(dr);
        if (pair) t1 += xi * load<f32>(dr, 4);
        xr += rowBytes;
        dr += dRowBytes;
      }
      store<f32>(g0 + ((<usize>i) << 2), t0);
      if (pair) store<f32>(g1 + ((<usize>i) << 2), t1);
    }
  }
}

/**
 * dst[j] = src[j] rounded to f32 (as Math.fround and a Float32Array store round), src f64, for
 * j < count: d loss / d sums come from the TypeScript heads in float64, and V8's converting
 * Float32Array.set is several times slower than a plain copy of the f64 values plus this.
 */
export function demote(src: usize, dst: usize, count: i32): void {
  let j = 0;
  for (; j + 4 <= count; j += 4) {
    const a = f32x4.demote_f64x2_zero(v128.load(src + ((<usize>j) << 3)));
    const b = f32x4.demote_f64x2_zero(v128.load(src + ((<usize>j) << 3), 16));
    v128.store(dst + ((<usize>j) << 2), v128.shuffle<f32>(a, b, 0, 1, 4, 5));
  }
  for (; j < count; j++) store<f32>(dst + ((<usize>j) << 2), <f32>load<f64>(src + ((<usize>j) << 3)));
}

// log(1 + f) for f in [√½ − 1, √2 − 1]: the minimax polynomial of Cephes' logf (~1 ulp in f32).
const P0: f32 = 7.0376836292e-2;
const P1: f32 = -1.151461031e-1;
const P2: f32 = 1.167699874e-1;
const P3: f32 = -1.2420140846e-1;
const P4: f32 = 1.4249322787e-1;
const P5: f32 = -1.6668057665e-1;
const P6: f32 = 2.0000714765e-1;
const P7: f32 = -2.4999993993e-1;
const P8: f32 = 3.3333331174e-1;
// ln 2 split so that e · LN2_HI is exact.
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.1219444e-4;
const SQRT_HALF: f32 = 0.7071067811865476;

/**
 * The constants of `logAbs`, each a scalar that the kernel splats before its loop. Read from memory,
 * so that the optimiser cannot fold them into `v128.const`s inside the loop: V8 materialises each of
 * those anew on every iteration, which made the loop several times slower than its arithmetic.
 */
const LOG_CONSTANTS = memory.data<f32>([
  P0,
  P1,
  P2,
  P3,
  P4,
  P5,
  P6,
  P7,
  P8,
  LN2_HI,
  LN2_LO,
  SQRT_HALF,
  1,
  0.5,
]);
const LOG_INTS = memory.data<i32>([126, 0x007fffff, 0x3f000000, 0x00800000, 0x01000000]);

/** Constant `k` of LOG_CONSTANTS, splat to four lanes. */
function logConst(k: i32): v128 {
  return v128.load32_splat(LOG_CONSTANTS + ((<usize>k) << 2));
}

/**
 * out[j] = log(|x[j]| + eps) for j < count. Lanes whose argument is 0, subnormal, infinite or NaN are
 * redone with the scalar Mathf.log, so the special values are exactly those of log.
 */
export function logAbs(x: usize, out: usize, count: i32, eps: f32): void {
  const count4 = count & ~3;
  const ve = f32x4.splat(eps);
  const p0 = logConst(0);
  const p1 = logConst(1);
  const p2 = logConst(2);
  const p3 = logConst(3);
  const p4 = logConst(4);
  const p5 = logConst(5);
  const p6 = logConst(6);
  const p7 = logConst(7);
  const p8 = logConst(8);
  const ln2Hi = logConst(9);
  const ln2Lo = logConst(10);
  const sqrtHalf = logConst(11);
  const one = logConst(12);
  const half = logConst(13);
  const normalShift = v128.load32_splat(LOG_INTS, 12);
  const normalFloor = v128.load32_splat(LOG_INTS, 16);
  let specials = i32x4.splat(0);
  const bias = v128.load32_splat(LOG_INTS);
  const mantMask = v128.load32_splat(LOG_INTS, 4);
  const halfBits = v128.load32_splat(LOG_INTS, 8);
  let j = 0;
  for (; j < count4; j += 4) {
    const o = (<usize>j) << 2;
    const v = f32x4.add(f32x4.abs(v128.load(x + o)), ve);
    // Not a positive normal finite float: v's bits + 2²³ (as i32, wrapping) below 2²⁴. Normal
    // positive bits [2²³, 0x7f7fffff] map to [2²⁴, 2³¹ − 1]; zero and subnormals below, infinities,
    // NaNs and negative values (sign bit) to negative numbers.
    specials = v128.or(specials, i32x4.lt_s(i32x4.add(v, normalShift), normalFloor));
    // v = 2^e · mant with mant in [0.5, 1); fold mant < √½ to [√½, √2) as 2 · mant, e − 1.
    const bits = i32x4.sub(i32x4.shr_u(v, 23), bias);
    const mant = v128.or(v128.and(v, mantMask), halfBits);
    const small = f32x4.lt(mant, sqrtHalf);
    const e = f32x4.convert_i32x4_s(i32x4.add(bits, small)); // small lanes are −1
    const f = f32x4.sub(f32x4.add(mant, v128.and(mant, small)), one);
    const z = f32x4.mul(f, f);
    // Estrin's scheme: the same polynomial with a dependency chain of four steps instead of eight.
    const z2 = f32x4.mul(z, z);
    const a0 = f32x4.add(p8, f32x4.mul(p7, f));
    const a1 = f32x4.add(p6, f32x4.mul(p5, f));
    const a2 = f32x4.add(p4, f32x4.mul(p3, f));
    const a3 = f32x4.add(p2, f32x4.mul(p1, f));
    const b0 = f32x4.add(a0, f32x4.mul(a1, z));
    const b1 = f32x4.add(a2, f32x4.mul(a3, z));
    const c0 = f32x4.add(b0, f32x4.mul(b1, z2));
    const p = f32x4.add(c0, f32x4.mul(p0, f32x4.mul(z2, z2)));
    let y = f32x4.mul(f32x4.mul(p, z), f);
    y = f32x4.add(y, f32x4.mul(e, ln2Lo));
    y = f32x4.sub(y, f32x4.mul(z, half));
    const r = f32x4.add(f32x4.add(f, y), f32x4.mul(e, ln2Hi));
    v128.store(out + o, r);
  }
  // A group of four with a special lane is redone whole with the scalar log (rare: a second pass
  // instead of a branch per group).
  if (v128.any_true(specials)) {
    for (let g = 0; g < count4; g += 4) {
      const o = (<usize>g) << 2;
      const v = f32x4.add(f32x4.abs(v128.load(x + o)), ve);
      if (v128.any_true(i32x4.lt_s(i32x4.add(v, normalShift), normalFloor))) {
        for (let q = 0; q < 4; q++) {
          const oq = o + ((<usize>q) << 2);
          store<f32>(out + oq, Mathf.log(Mathf.abs(load<f32>(x + oq)) + eps));
        }
      }
    }
  }
  for (; j < count; j++) {
    const o = (<usize>j) << 2;
    store<f32>(out + o, Mathf.log(Mathf.abs(load<f32>(x + o)) + eps));
  }
}

/**
 * A draw's float value: one interval, or two picked by the top bit (see fillLanes). `scale` is 2⁻²⁴
 * and `mask` 0xffffff in every lane, splat by the caller before its loop (see LOG_CONSTANTS).
 */
function drawValue(u: v128, lo0: v128, lo1: v128, w: v128, scale: v128, mask: v128, two: bool): v128 {
  if (two) {
    const pos = f32x4.mul(f32x4.convert_i32x4_s(v128.and(i32x4.shr_u(u, 7), mask)), scale);
    return f32x4.add(v128.bitselect(lo1, lo0, i32x4.shr_s(u, 31)), f32x4.mul(w, pos));
  }
  const pos = f32x4.mul(f32x4.convert_i32x4_s(i32x4.shr_u(u, 8)), scale);
  return f32x4.add(lo0, f32x4.mul(w, pos));
}

const DRAW_SCALE = memory.data<f32>([5.9604644775390625e-8]);
/** 0xffffff (the two-interval position's mask), then xoshiro128**'s multipliers 5 and 9. */
const DRAW_MASK = memory.data<i32>([0xffffff, 5, 9]);

function storeTail(o: usize, v: v128, n: i32): void {
  if (n > 0) store<f32>(o, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(o, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(o, f32x4.extract_lane(v, 2), 8);
  if (n > 3) store<f32>(o, f32x4.extract_lane(v, 3), 12);
}

/**
 * Training data: eight interleaved xoshiro128** lanes (state: 32 u32 at `state`, word-major — s0 of
 * lanes 0–7, then s1, s2, s3), element j from lane j mod 8; every call advances each lane by
 * ceil(count / 8) draws. Two groups of four lanes keep two independent dependency chains in flight.
 * One interval: out = lo0 + width · (u >>> 8) · 2⁻²⁴. Two intervals (`two` ≠ 0): the top bit picks lo0
 * or lo1, bits 7–30 the position. Float32 arithmetic throughout, which src/tasks/lanes.ts
 * reproduces bit for bit in JavaScript (Math.fround).
 */
export function fillLanes(
  state: usize,
  out: usize,
  count: i32,
  lo0: f32,
  lo1: f32,
  width: f32,
  two: i32,
): void {
  let a0 = v128.load(state);
  let b0 = v128.load(state, 16);
  let a1 = v128.load(state, 32);
  let b1 = v128.load(state, 48);
  let a2 = v128.load(state, 64);
  let b2 = v128.load(state, 80);
  let a3 = v128.load(state, 96);
  let b3 = v128.load(state, 112);
  const vlo0 = f32x4.splat(lo0);
  const vlo1 = f32x4.splat(lo1);
  const vw = f32x4.splat(width);
  const scale = v128.load32_splat(DRAW_SCALE);
  const mask = v128.load32_splat(DRAW_MASK);
  const five = v128.load32_splat(DRAW_MASK, 4);
  const nine = v128.load32_splat(DRAW_MASK, 8);
  const isTwo = two != 0;
  for (let j = 0; j < count; j += 8) {
    // xoshiro128**: u = rotl(s1 · 5, 7) · 9, then the state update, for both groups. The products
    // feed only the output, not the state's chain from one step to the next, so i32x4.mul's latency
    // is hidden, and one multiplication costs fewer slots than a shift and an add.
    const ma = i32x4.mul(a1, five);
    const mb = i32x4.mul(b1, five);
    const ra = v128.or(i32x4.shl(ma, 7), i32x4.shr_u(ma, 25));
    const rb = v128.or(i32x4.shl(mb, 7), i32x4.shr_u(mb, 25));
    const ua = i32x4.mul(ra, nine);
    const ub = i32x4.mul(rb, nine);
    const ta = i32x4.shl(a1, 9);
    const tb = i32x4.shl(b1, 9);
    a2 = v128.xor(a2, a0);
    b2 = v128.xor(b2, b0);
    a3 = v128.xor(a3, a1);
    b3 = v128.xor(b3, b1);
    a1 = v128.xor(a1, a2);
    b1 = v128.xor(b1, b2);
    a0 = v128.xor(a0, a3);
    b0 = v128.xor(b0, b3);
    a2 = v128.xor(a2, ta);
    b2 = v128.xor(b2, tb);
    a3 = v128.or(i32x4.shl(a3, 11), i32x4.shr_u(a3, 21));
    b3 = v128.or(i32x4.shl(b3, 11), i32x4.shr_u(b3, 21));
    const va = drawValue(ua, vlo0, vlo1, vw, scale, mask, isTwo);
    const vb = drawValue(ub, vlo0, vlo1, vw, scale, mask, isTwo);
    const o = out + ((<usize>j) << 2);
    if (j + 8 <= count) {
      v128.store(o, va);
      v128.store(o, vb, 16);
    } else {
      storeTail(o, va, count - j);
      storeTail(o + 16, vb, count - j - 4);
    }
  }
  v128.store(state, a0);
  v128.store(state, b0, 16);
  v128.store(state, a1, 32);
  v128.store(state, b1, 48);
  v128.store(state, a2, 64);
  v128.store(state, b2, 80);
  v128.store(state, a3, 96);
  v128.store(state, b3, 112);
}

/** Row r's value of column i as f64, for rows r and r + 1 (lanes 0 and 1; rows rowBytes apart). */
function columnPair(xr: usize, rowBytes: usize, i: i32): v128 {
  const o = (<usize>i) << 2;
  return f64x2.replace_lane(f64x2.splat(<f64>load<f32>(xr + o)), 1, <f64>load<f32>(xr + rowBytes + o));
}

/** The target from the subset sums a and b (per f64 lane): the operation codes of tasks/static.ts. */
function combinePair(code: i32, a: v128, b: v128, k: i32): v128 {
  if (code == 0) return k == 1 ? a : f64x2.add(a, b); // add
  if (code == 1) return k == 1 ? a : f64x2.mul(a, b); // mul
  if (code == 2) return f64x2.sub(a, b); // sub
  if (code == 3) return f64x2.div(a, b); // div
  if (code == 4) return f64x2.mul(a, a); // squared
  return f64x2.sqrt(a); // root
}

/**
 * Columns i … i+3 of rows r and r + 1 (rows rowBytes apart) as f64 pairs, added in column order to
 * `acc`: the same four additions as four `columnPair`s, from two loads.
 */
function addColumns4(acc: v128, xr: usize, rowBytes: usize, i: i32): v128 {
  const o = (<usize>i) << 2;
  const r0 = v128.load(xr + o);
  const r1 = v128.load(xr + rowBytes + o);
  const lo = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const hi = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  acc = f64x2.add(acc, f64x2.promote_low_f32x4(lo));
  acc = f64x2.add(acc, f64x2.promote_low_f32x4(v128.shuffle<f32>(lo, lo, 2, 3, 2, 3)));
  acc = f64x2.add(acc, f64x2.promote_low_f32x4(hi));
  return f64x2.add(acc, f64x2.promote_low_f32x4(v128.shuffle<f32>(hi, hi, 2, 3, 2, 3)));
}

/**
 * The static task's targets (tasks/static.ts `computeTargets`, one or two subsets): for rows r <
 * rows of x (f32, row length n), a = Σ_{i ∈ [s0, e0)} x_i and b = Σ_{i ∈ [s1, e1)} x_i in f64, each
 * from 0 in order of i, and y[r] (f64) = the operation `code` on (a, b) (k = subsets read). The same
 * additions in the same order as the TypeScript loop, so the same doubles. Each row's sum is a chain
 * of dependent additions, so the loop keeps many in flight: eight rows (two per f64x2) and both
 * subsets at a time, four columns per step from vector loads; then four rows, then one.
 */
export function targets(
  x: usize,
  y: usize,
  rows: i32,
  n: i32,
  s0: i32,
  e0: i32,
  s1: i32,
  e1: i32,
  code: i32,
  k: i32,
): void {
  const rowBytes = (<usize>n) << 2;
  const la = e0 - s0;
  const lb = e1 - s1;
  const common = la < lb ? la : lb;
  const common4 = common & ~3;
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    const x0 = x + <usize>r * rowBytes;
    const x1 = x0 + 2 * rowBytes;
    const x2 = x0 + 4 * rowBytes;
    const x3 = x0 + 6 * rowBytes;
    let a0 = f64x2.splat(0);
    let a1 = f64x2.splat(0);
    let a2 = f64x2.splat(0);
    let a3 = f64x2.splat(0);
    let b0 = f64x2.splat(0);
    let b1 = f64x2.splat(0);
    let b2 = f64x2.splat(0);
    let b3 = f64x2.splat(0);
    let t = 0;
    for (; t < common4; t += 4) {
      a0 = addColumns4(a0, x0, rowBytes, s0 + t);
      a1 = addColumns4(a1, x1, rowBytes, s0 + t);
      a2 = addColumns4(a2, x2, rowBytes, s0 + t);
      a3 = addColumns4(a3, x3, rowBytes, s0 + t);
      b0 = addColumns4(b0, x0, rowBytes, s1 + t);
      b1 = addColumns4(b1, x1, rowBytes, s1 + t);
      b2 = addColumns4(b2, x2, rowBytes, s1 + t);
      b3 = addColumns4(b3, x3, rowBytes, s1 + t);
    }
    let ta = t;
    for (; ta + 4 <= la; ta += 4) {
      a0 = addColumns4(a0, x0, rowBytes, s0 + ta);
      a1 = addColumns4(a1, x1, rowBytes, s0 + ta);
      a2 = addColumns4(a2, x2, rowBytes, s0 + ta);
      a3 = addColumns4(a3, x3, rowBytes, s0 + ta);
    }
    for (let i = s0 + ta; i < e0; i++) {
      a0 = f64x2.add(a0, columnPair(x0, rowBytes, i));
      a1 = f64x2.add(a1, columnPair(x1, rowBytes, i));
      a2 = f64x2.add(a2, columnPair(x2, rowBytes, i));
      a3 = f64x2.add(a3, columnPair(x3, rowBytes, i));
    }
    let tb = t;
    for (; tb + 4 <= lb; tb += 4) {
      b0 = addColumns4(b0, x0, rowBytes, s1 + tb);
      b1 = addColumns4(b1, x1, rowBytes, s1 + tb);
      b2 = addColumns4(b2, x2, rowBytes, s1 + tb);
      b3 = addColumns4(b3, x3, rowBytes, s1 + tb);
    }
    for (let i = s1 + tb; i < e1; i++) {
      b0 = f64x2.add(b0, columnPair(x0, rowBytes, i));
      b1 = f64x2.add(b1, columnPair(x1, rowBytes, i));
      b2 = f64x2.add(b2, columnPair(x2, rowBytes, i));
      b3 = f64x2.add(b3, columnPair(x3, rowBytes, i));
    }
    const o = y + ((<usize>r) << 3);
    v128.store(o, combinePair(code, a0, b0, k));
    v128.store(o, combinePair(code, a1, b1, k), 16);
    v128.store(o, combinePair(code, a2, b2, k), 32);
    v128.store(o, combinePair(code, a3, b3, k), 48);
  }
  for (; r + 4 <= rows; r += 4) {
    const xr = x + <usize>r * rowBytes;
    const xq = xr + 2 * rowBytes;
    let a0 = f64x2.splat(0);
    let a1 = f64x2.splat(0);
    let b0 = f64x2.splat(0);
    let b1 = f64x2.splat(0);
    for (let i = s0; i < e0; i++) {
      a0 = f64x2.add(a0, columnPair(xr, rowBytes, i));
      a1 = f64x2.add(a1, columnPair(xq, rowBytes, i));
    }
    for (let i = s1; i < e1; i++) {
      b0 = f64x2.add(b0, columnPair(xr, rowBytes, i));
      b1 = f64x2.add(b1, columnPair(xq, rowBytes, i));
    }
    const o = y + ((<usize>r) << 3);
    v128.store(o, combinePair(code, a0, b0, k));
    v128.store(o, combinePair(code, a1, b1, k), 16);
  }
  for (; r < rows; r++) {
    const xr = x + <usize>r * rowBytes;
    let a: f64 = 0;
    for (let i = s0; i < e0; i++) a += <f64>load<f32>(xr + ((<usize>i) << 2));
    let b: f64 = 0;
    for (let i = s1; i < e1; i++) b += <f64>load<f32>(xr + ((<usize>i) << 2));
    store<f64>(
      y + ((<usize>r) << 3),
      f64x2.extract_lane(combinePair(code, f64x2.splat(a), f64x2.splat(b), k), 0),
    );
  }
}

/**
 * A whole training step's batch work for the two-layer models whose first layer is a linear form
 * with the identity head and two outputs (NAU or NAC+, I → 2) and whose second layer is a 2 → 1 NMU
 * (`head` 0) or NAU/NAC+ (`head` 1) with effective weights hw0, hw1 — every benchmark model but the
 * NALU's — row by row while the row is in cache: the row's two sums (f32, exactly as `sums`), the
 * head and the squared error in f64 (exactly as src/fast/nmu.ts and kernel.ts compute them), the
 * head's input gradients rounded to f32 (as `demote`), and the first layer's weight gradient
 * accumulated over the rows (f32, each entry the chain b = 0 … rows−1 from 0, as `sumsGrad`).
 * One pass over the batch instead of three, and no TypeScript per row.
 *
 * x: [rows, n] f32; w: [2, n] f32; y: [rows] f64 targets; g: [2, n] f32 (overwritten);
 * out: f64 [sse, Σ d/dw0 of the head, Σ d/dw1 of the head] (the head's weight gradients, each the
 * chain over the rows from 0). `scale` = 2 / rows (the MSE's derivative factor).
 */
export function stepPairHead(
  x: usize,
  w: usize,
  y: usize,
  g: usize,
  out: usize,
  rows: i32,
  n: i32,
  head: i32,
  hw0: f64,
  hw1: f64,
  scale: f64,
): void {
  const n8 = n & ~7;
  const n4 = n & ~3;
  const rowBytes = (<usize>n) << 2;
  const w0 = w;
  const w1 = w + rowBytes;
  const g0 = g;
  const g1 = g + rowBytes;
  memory.fill(g, 0, rowBytes << 1);
  const c0 = 1 - hw0;
  const c1 = 1 - hw1;
  let sse: f64 = 0;
  let G0: f64 = 0;
  let G1: f64 = 0;
  if (n == 4) {
    // The simple task: the weights in registers, the weight gradient accumulated in registers over
    // the rows (the same f32 chains as the memory version below, without its store-to-load latency
    // per row).
    const wa0 = load<f32>(w0);
    const wa1 = load<f32>(w0, 4);
    const wa2 = load<f32>(w0, 8);
    const wa3 = load<f32>(w0, 12);
    const wb0 = load<f32>(w1);
    const wb1 = load<f32>(w1, 4);
    const wb2 = load<f32>(w1, 8);
    const wb3 = load<f32>(w1, 12);
    let gv0 = f32x4.splat(0);
    let gv1 = f32x4.splat(0);
    for (let b = 0; b < rows; b++) {
      const xr = x + ((<usize>b) << 4);
      const x0 = load<f32>(xr);
      const x1 = load<f32>(xr, 4);
      const x2 = load<f32>(xr, 8);
      const x3 = load<f32>(xr, 12);
      let t0: f32 = 0;
      t0 += x0 * wa0;
      t0 += x1 * wa1;
      t0 += x2 * wa2;
      t0 += x3 * wa3;
      let t1: f32 = 0;
      t1 += x0 * wb0;
      t1 += x1 * wb1;
      t1 += x2 * wb2;
      t1 += x3 * wb3;
      const h0 = <f64>t0;
      const h1 = <f64>t1;
      let d0: f64;
      let d1: f64;
      if (head == 0) {
        const f0 = hw0 * h0 + c0;
        const f1 = hw1 * h1 + c1;
        const diff = f0 * f1 - load<f64>(y + ((<usize>b) << 3));
        sse += diff * diff;
        const d = scale * diff;
        const others0 = d * f1;
        const others1 = d * f0;
        G0 += others0 * (h0 - 1);
        G1 += others1 * (h1 - 1);
        d0 = 0 + others0 * hw0;
        d1 = 0 + others1 * hw1;
      } else {
        const diff = h0 * hw0 + h1 * hw1 - load<f64>(y + ((<usize>b) << 3));
        sse += diff * diff;
        const d = scale * diff;
        G0 += h0 * d;
        G1 += h1 * d;
        d0 = 0 + hw0 * d;
        d1 = 0 + hw1 * d;
      }
      const xv = v128.load(xr);
      gv0 = f32x4.add(gv0, f32x4.mul(xv, f32x4.splat(<f32>d0)));
      gv1 = f32x4.add(gv1, f32x4.mul(xv, f32x4.splat(<f32>d1)));
    }
    v128.store(g0, gv0);
    v128.store(g1, gv1);
    store<f64>(out, sse);
    store<f64>(out, G0, 8);
    store<f64>(out, G1, 16);
    return;
  }
  // Two rows at a time: the weights loaded once for both rows' sums, and each weight-gradient entry
  // read and written once per pair (row b's term added before row b + 1's, as row by row).
  let b = 0;
  for (; b + 1 < rows; b += 2) {
    const xr = x + <usize>b * rowBytes;
    const xs = xr + rowBytes;
    let t0: f32 = 0;
    let t1: f32 = 0;
    let u0: f32 = 0;
    let u1: f32 = 0;
    let i = 0;
    if (n8 > 0) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let e0 = f32x4.splat(0);
      let e1 = f32x4.splat(0);
      let p0 = f32x4.splat(0);
      let p1 = f32x4.splat(0);
      let q0 = f32x4.splat(0);
      let q1 = f32x4.splat(0);
      for (; i < n8; i += 8) {
        const o = (<usize>i) << 2;
        const wa = v128.load(w0 + o);
        const wb = v128.load(w0 + o, 16);
        const va = v128.load(w1 + o);
        const vb = v128.load(w1 + o, 16);
        const xa = v128.load(xr + o);
        const xb = v128.load(xr + o, 16);
        a0 = f32x4.add(a0, f32x4.mul(xa, wa));
        a1 = f32x4.add(a1, f32x4.mul(xb, wb));
        e0 = f32x4.add(e0, f32x4.mul(xa, va));
        e1 = f32x4.add(e1, f32x4.mul(xb, vb));
        const ya = v128.load(xs + o);
        const yb = v128.load(xs + o, 16);
        p0 = f32x4.add(p0, f32x4.mul(ya, wa));
        p1 = f32x4.add(p1, f32x4.mul(yb, wb));
        q0 = f32x4.add(q0, f32x4.mul(ya, va));
        q1 = f32x4.add(q1, f32x4.mul(yb, vb));
      }
      t0 = hsum(f32x4.add(a0, a1));
      t1 = hsum(f32x4.add(e0, e1));
      u0 = hsum(f32x4.add(p0, p1));
      u1 = hsum(f32x4.add(q0, q1));
    }
    for (; i < n; i++) {
      const o = (<usize>i) << 2;
      const xi = load<f32>(xr + o);
      const yi = load<f32>(xs + o);
      const wi0 = load<f32>(w0 + o);
      const wi1 = load<f32>(w1 + o);
      t0 += xi * wi0;
      t1 += xi * wi1;
      u0 += yi * wi0;
      u1 += yi * wi1;
    }
    // Row b's head, then row b + 1's (the f64 accumulators in row order).
    let dA0: f64;
    let dA1: f64;
    let dB0: f64;
    let dB1: f64;
    {
      const h0 = <f64>t0;
      const h1 = <f64>t1;
      if (head == 0) {
        const f0 = hw0 * h0 + c0;
        const f1 = hw1 * h1 + c1;
        const diff = f0 * f1 - load<f64>(y + ((<usize>b) << 3));
        sse += diff * diff;
        const d = scale * diff;
        const others0 = d * f1;
        const others1 = d * f0;
        G0 += others0 * (h0 - 1);
        G1 += others1 * (h1 - 1);
        dA0 = 0 + others0 * hw0;
        dA1 = 0 + others1 * hw1;
      } else {
        const diff = h0 * hw0 + h1 * hw1 - load<f64>(y + ((<usize>b) << 3));
        sse += diff * diff;
        const d = scale * diff;
        G0 += h0 * d;
        G1 += h1 * d;
        dA0 = 0 + hw0 * d;
        dA1 = 0 + hw1 * d;
      }
    }
    {
      const h0 = <f64>u0;
      const h1 = <f64>u1;
      if (head == 0) {
        const f0 = hw0 * h0 + c0;
        const f1 = hw1 * h1 + c1;
        const diff = f0 * f1 - load<f64>(y + ((<usize>(b + 1)) << 3));
        sse += diff * diff;
        const d = scale * diff;
        const others0 = d * f1;
        const others1 = d * f0;
        G0 += others0 * (h0 - 1);
        G1 += others1 * (h1 - 1);
        dB0 = 0 + others0 * hw0;
        dB1 = 0 + others1 * hw1;
      } else {
        const diff = h0 * hw0 + h1 * hw1 - load<f64>(y + ((<usize>(b + 1)) << 3));
        sse += diff * diff;
        const d = scale * diff;
        G0 += h0 * d;
        G1 += h1 * d;
        dB0 = 0 + hw0 * d;
        dB1 = 0 + hw1 * d;
      }
    }
    const eA0 = <f32>dA0;
    const eA1 = <f32>dA1;
    const eB0 = <f32>dB0;
    const eB1 = <f32>dB1;
    const vA0 = f32x4.splat(eA0);
    const vA1 = f32x4.splat(eA1);
    const vB0 = f32x4.splat(eB0);
    const vB1 = f32x4.splat(eB1);
    let j = 0;
    for (; j < n4; j += 4) {
      const o = (<usize>j) << 2;
      const xv = v128.load(xr + o);
      const yv = v128.load(xs + o);
      v128.store(g0 + o, f32x4.add(f32x4.add(v128.load(g0 + o), f32x4.mul(xv, vA0)), f32x4.mul(yv, vB0)));
      v128.store(g1 + o, f32x4.add(f32x4.add(v128.load(g1 + o), f32x4.mul(xv, vA1)), f32x4.mul(yv, vB1)));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      const xi = load<f32>(xr + o);
      const yi = load<f32>(xs + o);
      store<f32>(g0 + o, load<f32>(g0 + o) + xi * eA0 + yi * eB0);
      store<f32>(g1 + o, load<f32>(g1 + o) + xi * eA1 + yi * eB1);
    }
  }
  for (; b < rows; b++) {
    const xr = x + <usize>b * rowBytes;
    // The two sums: the order of `sums` (eight-wide with two accumulators per weight row, then the
    // scalar tail; for n < 8 the scalar chain from 0 of `sumsShortRows`).
    let t0: f32 = 0;
    let t1: f32 = 0;
    let i = 0;
    if (n8 > 0) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let e0 = f32x4.splat(0);
      let e1 = f32x4.splat(0);
      for (; i < n8; i += 8) {
        const o = (<usize>i) << 2;
        const xa = v128.load(xr + o);
        const xb = v128.load(xr + o, 16);
        a0 = f32x4.add(a0, f32x4.mul(xa, v128.load(w0 + o)));
        a1 = f32x4.add(a1, f32x4.mul(xb, v128.load(w0 + o, 16)));
        e0 = f32x4.add(e0, f32x4.mul(xa, v128.load(w1 + o)));
        e1 = f32x4.add(e1, f32x4.mul(xb, v128.load(w1 + o, 16)));
      }
      t0 = hsum(f32x4.add(a0, a1));
      t1 = hsum(f32x4.add(e0, e1));
    }
    for (; i < n; i++) {
      const xi = load<f32>(xr + ((<usize>i) << 2));
      t0 += xi * load<f32>(w0 + ((<usize>i) << 2));
      t1 += xi * load<f32>(w1 + ((<usize>i) << 2));
    }
    const h0 = <f64>t0;
    const h1 = <f64>t1;
    let z: f64;
    let d0: f64;
    let d1: f64;
    if (head == 0) {
      // NMU: z = (w0 h0 + 1 − w0)(w1 h1 + 1 − w1); the other factor times d per input.
      const f0 = hw0 * h0 + c0;
      const f1 = hw1 * h1 + c1;
      z = f0 * f1;
      const diff = z - load<f64>(y + ((<usize>b) << 3));
      sse += diff * diff;
      const d = scale * diff;
      const others0 = d * f1;
      const others1 = d * f0;
      G0 += others0 * (h0 - 1);
      G1 += others1 * (h1 - 1);
      d0 = 0 + others0 * hw0;
      d1 = 0 + others1 * hw1;
    } else {
      // NAU / NAC+: z = h0 w0 + h1 w1.
      z = h0 * hw0 + h1 * hw1;
      const diff = z - load<f64>(y + ((<usize>b) << 3));
      sse += diff * diff;
      const d = scale * diff;
      G0 += h0 * d;
      G1 += h1 * d;
      d0 = 0 + hw0 * d;
      d1 = 0 + hw1 * d;
    }
    // The first layer's weight gradient: g[k, i] += x_i · f32(d_k).
    const e0 = <f32>d0;
    const e1 = <f32>d1;
    const v0 = f32x4.splat(e0);
    const v1 = f32x4.splat(e1);
    let j = 0;
    for (; j < n4; j += 4) {
      const o = (<usize>j) << 2;
      const xv = v128.load(xr + o);
      v128.store(g0 + o, f32x4.add(v128.load(g0 + o), f32x4.mul(xv, v0)));
      v128.store(g1 + o, f32x4.add(v128.load(g1 + o), f32x4.mul(xv, v1)));
    }
    for (; j < n; j++) {
      const o = (<usize>j) << 2;
      const xi = load<f32>(xr + o);
      store<f32>(g0 + o, load<f32>(g0 + o) + xi * e0);
      store<f32>(g1 + o, load<f32>(g1 + o) + xi * e1);
    }
  }
  store<f64>(out, sse);
  store<f64>(out, G0, 8);
  store<f64>(out, G1, 16);
}

/**
 * One Adam step over n float64 parameters: the operations of src/fast/model.ts `Adam.step` in the
 * same order, two parameters per f64x2 (IEEE division and square root, no fused multiply-add, so
 * the same doubles): m ← β1 m + k1 g, v ← β2 v + k2 g², p ← p − lr (m / c1) / (√(v / c2) + ε), with
 * k1 = 1 − β1, k2 = 1 − β2 and the bias corrections c1, c2 from the caller. The divisions and the
 * square root dominate, and f64x2 halves them.
 */
export function adam(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  n: i32,
  lr: f64,
  beta1: f64,
  beta2: f64,
  k1: f64,
  k2: f64,
  c1: f64,
  c2: f64,
  eps: f64,
): void {
  const vlr = f64x2.splat(lr);
  const vb1 = f64x2.splat(beta1);
  const vb2 = f64x2.splat(beta2);
  const vk1 = f64x2.splat(k1);
  const vk2 = f64x2.splat(k2);
  const vc1 = f64x2.splat(c1);
  const vc2 = f64x2.splat(c2);
  const veps = f64x2.splat(eps);
  let k = 0;
  for (; k + 2 <= n; k += 2) {
    const o = (<usize>k) << 3;
    const gk = v128.load(g + o);
    const mk = f64x2.add(f64x2.mul(vb1, v128.load(m + o)), f64x2.mul(vk1, gk));
    const vk = f64x2.add(f64x2.mul(vb2, v128.load(v + o)), f64x2.mul(vk2, f64x2.mul(gk, gk)));
    v128.store(m + o, mk);
    v128.store(v + o, vk);
    const den = f64x2.add(f64x2.sqrt(f64x2.div(vk, vc2)), veps);
    v128.store(p + o, f64x2.sub(v128.load(p + o), f64x2.div(f64x2.mul(vlr, f64x2.div(mk, vc1)), den)));
  }
  for (; k < n; k++) {
    const o = (<usize>k) << 3;
    const gk = load<f64>(g + o);
    const mk = beta1 * load<f64>(m + o) + k1 * gk;
    const vk = beta2 * load<f64>(v + o) + k2 * (gk * gk);
    store<f64>(m + o, mk);
    store<f64>(v + o, vk);
    store<f64>(p + o, load<f64>(p + o) - (lr * (mk / c1)) / (Math.sqrt(vk / c2) + eps));
  }
}
