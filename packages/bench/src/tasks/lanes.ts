/**
 * The training batches' random stream: eight interleaved xoshiro128** lanes, so that the fused
 * trainer can draw eight numbers per SIMD step (assembly/kernels.ts `fillLanes`, two groups of four
 * lanes; data generation was the largest cost of a training step). This file is the
 * definition; the wasm kernel is tested to give bit-identical values (test/wasm-kernels.test.ts).
 *
 * - Lane k is `Rng(...seedParts, 'lane', k)`; element j of a fill comes from lane j mod 8, and every
 *   fill advances each lane by ceil(count / 8) draws (draws past the end are dropped).
 * - One interval [lo, hi]: x = lo + w · (u >>> 8) · 2⁻²⁴ with w = hi − lo. Two intervals (of equal
 *   width, see range.ts): the draw's top bit picks the interval, bits 7–30 the position.
 * - Float32 arithmetic (`Math.fround` after each operation), which is what the SIMD kernel computes;
 *   an upper bound can be hit by rounding, so the interval is closed.
 */
import { Rng } from '@nalm/units';
import type { RangeSampler } from './range.js';

const TWO_POW_M24 = 5.9604644775390625e-8;
/** Lanes of the stream (two SIMD groups of four). */
export const LANES = 8;

/** The float32 constants a fill uses, from a range sampler. */
export interface LaneRange {
  lo0: number;
  lo1: number;
  width: number;
  two: boolean;
}

export function laneRange(s: RangeSampler): LaneRange {
  return { lo0: Math.fround(s.lo0), lo1: Math.fround(s.lo1), width: Math.fround(s.width), two: s.two };
}

/** Something that can fill from a lane stream faster than `LaneStream.fill` (the wasm kernels). */
export interface LaneFiller {
  fillLanes(stream: LaneStream, range: LaneRange, out: Float32Array, count: number): void;
  /**
   * Optional: the static task's targets of the rows just filled into `x` (tasks/static.ts
   * `computeTargets` for one or two subsets, the same doubles), into `y`; false if it did not.
   */
  subsetTargets?(x: Float32Array, y: Float64Array, rows: number, layout: SubsetTargets): boolean;
}

/**
 * What the targets of one or two subsets need: row length, the subsets' absolute [start, end)
 * (the second empty when the operation reads one), the operation code of tasks/static.ts and the
 * number of subsets read.
 */
export interface SubsetTargets {
  inputSize: number;
  s0: number;
  e0: number;
  s1: number;
  e1: number;
  code: number;
  subsets: number;
}

export class LaneStream {
  /** 32 state words, word-major: s0 of lanes 0–7, then s1, s2, s3 (the kernel's layout). */
  readonly state = new Uint32Array(4 * LANES);

  constructor(...seedParts: ReadonlyArray<number | string>) {
    for (let lane = 0; lane < LANES; lane++) {
      const words = new Rng(...seedParts, 'lane', lane).state();
      for (let w = 0; w < 4; w++) this.state[LANES * w + lane] = words[w]!;
    }
  }

  /** out[start … start + count) from the stream, in plain JavaScript. */
  fill(out: Float32Array, start: number, count: number, r: LaneRange): void {
    const st = this.state;
    const fr = Math.fround;
    const end = Math.ceil(count / LANES) * LANES;
    for (let lane = 0; lane < LANES; lane++) {
      let a = st[lane]! | 0;
      let b = st[LANES + lane]! | 0;
      let c = st[2 * LANES + lane]! | 0;
      let d = st[3 * LANES + lane]! | 0;
      for (let j = lane; j < end; j += LANES) {
        const m = Math.imul(b, 5);
        const u = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
        const t = b << 9;
        c ^= a;
        d ^= b;
        b ^= c;
        a ^= d;
        c ^= t;
        d = (d << 11) | (d >>> 21);
        if (j >= count) continue;
        out[start + j] = r.two
          ? fr((u >>> 31 ? r.lo1 : r.lo0) + fr(r.width * (((u >>> 7) & 0xffffff) * TWO_POW_M24)))
          : fr(r.lo0 + fr(r.width * ((u >>> 8) * TWO_POW_M24)));
      }
      st[lane] = a;
      st[LANES + lane] = b;
      st[2 * LANES + lane] = c;
      st[3 * LANES + lane] = d;
    }
  }
}
