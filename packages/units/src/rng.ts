/**
 * Seeded random numbers: xoshiro128** (32-bit state words, one draw per float), seeded through
 * splitmix32. Small state and one 32-bit draw per number keep data generation cheap, which is the
 * largest single cost of a fast training loop (see shared/spec/performance.md).
 *
 * Streams are derived from a tuple of parts (`deriveSeed(seed, 'init', layer)`), so each seed fixes
 * its initialisation, data offset and training stream independently of any other seed.
 */

const TWO_POW_M32 = 1 / 4294967296;

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit state. */
function splitmix32(state: number): [next: number, out: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return [next, z >>> 0];
}

/** FNV-1a over a string, for mixing names into seeds. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A 32-bit seed derived from several parts (numbers and strings). Order matters; any change of any
 * part gives an unrelated stream.
 */
export function deriveSeed(...parts: ReadonlyArray<number | string>): number {
  let state = 0x2545f491;
  for (const part of parts) {
    if (typeof part === 'number' && !Number.isInteger(part)) {
      throw new Error(`deriveSeed: seed parts must be integers or strings, got ${part}`);
    }
    const v = typeof part === 'string' ? hashString(part) : part >>> 0;
    // Also mix the high bits of seeds beyond 2^32 (rare, but never silently alias them).
    const hi = typeof part === 'number' ? Math.floor(Math.abs(part) / 4294967296) >>> 0 : 0;
    let out: number;
    [state, out] = splitmix32(state ^ v);
    [state, out] = splitmix32(state ^ out ^ hi);
    state = out;
  }
  return state >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` may be any integer; pass several parts to get an independent stream per purpose. */
  constructor(...seedParts: ReadonlyArray<number | string>) {
    let state = deriveSeed(...(seedParts.length === 0 ? [0] : seedParts));
    let out: number;
    [state, out] = splitmix32(state);
    this.s0 = out;
    [state, out] = splitmix32(state);
    this.s1 = out;
    [state, out] = splitmix32(state);
    this.s2 = out;
    [, out] = splitmix32(state);
    this.s3 = out;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // all-zero state is a fixed point
  }

  /** The four 32-bit state words (s0 … s3), e.g. to continue this stream in another kernel. */
  state(): [number, number, number, number] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** Next raw 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution (one draw). */
  next(): number {
    return this.nextU32() * TWO_POW_M32;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi] (inclusive), without modulo bias. */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
      throw new Error(`Rng.int: need integers lo <= hi, got [${lo}, ${hi}]`);
    }
    const span = hi - lo + 1;
    if (span > 4294967296) throw new Error(`Rng.int: range [${lo}, ${hi}] exceeds 2^32 values`);
    const limit = 4294967296 - (4294967296 % span);
    let u: number;
    do u = this.nextU32();
    while (u >= limit);
    return lo + (u % span);
  }

  /** Standard normal by Box–Muller (two draws). */
  normal(mean = 0, std = 1): number {
    const u1 = (this.nextU32() + 1) * TWO_POW_M32; // (0, 1]: log never sees 0
    const u2 = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /**
   * out[i] = lo + scale · u_i for i in [start, end), u_i the next 32-bit draws: the same values as
   * calling `nextU32` in a loop, with the state kept in locals (2–3× faster; data generation is the
   * largest cost of a fast training loop). `fillAffineTwo` is the same loop for two intervals: a
   * shared loop with a per-element mode test measured 1.5× slower, so the step stays duplicated.
   */
  fillAffine(out: Float32Array | Float64Array, start: number, end: number, lo: number, scale: number): void {
    let a = this.s0;
    let b = this.s1;
    let c = this.s2;
    let d = this.s3;
    for (let i = start; i < end; i++) {
      const m = Math.imul(b, 5);
      const u = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      out[i] = lo + scale * u;
    }
    this.s0 = a;
    this.s1 = b;
    this.s2 = c;
    this.s3 = d;
  }

  /**
   * Two intervals: the draw's top bit picks `los[0]` or `los[1]` (a table lookup, not a branch: a
   * 50/50 data-dependent branch mispredicts), its low 31 bits the position:
   * out[i] = los[u_i >>> 31] + scale · (u_i & 0x7fffffff).
   */
  fillAffineTwo(
    out: Float32Array | Float64Array,
    start: number,
    end: number,
    los: Float64Array,
    scale: number,
  ): void {
    let a = this.s0;
    let b = this.s1;
    let c = this.s2;
    let d = this.s3;
    for (let i = start; i < end; i++) {
      const m = Math.imul(b, 5);
      const u = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      out[i] = los[u >>> 31]! + scale * (u & 0x7fffffff);
    }
    this.s0 = a;
    this.s1 = b;
    this.s2 = c;
    this.s3 = d;
  }

  /** Fill `out` with U[lo, hi) values. */
  fillUniform(out: Float32Array | Float64Array, lo: number, hi: number): typeof out {
    const w = hi - lo;
    for (let i = 0; i < out.length; i++) out[i] = lo + w * this.nextU32() * TWO_POW_M32;
    return out;
  }

  fillNormal(out: Float32Array | Float64Array, mean: number, std: number): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
