/**
 * The wasm kernels' paths for short rows (the simple task's I = 4, the single-module task's I = 2)
 * compute each value with exactly the f32 operations, in the order, of the scalar loops they replace,
 * so records stay bit-identical whichever path runs. Values on a grid of 2⁻¹² make every float64
 * step below exact, so `Math.fround` after each operation is the f32 arithmetic.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Arena } from '../src/fast/index.js';

const fr = Math.fround;

/** Values k / 4096 in [−2, 2] from a seed (exact in f32; products and short sums exact in float64). */
function gridValues(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return ((s >>> 8) % 16385) / 4096 - 2;
  });
}

/** Copies values into fresh arena memory and returns their address. */
function upload(arena: Arena, values: Float32Array): number {
  const ptr = arena.allocF32(values.length);
  arena.f32(ptr, values.length).set(values);
  return ptr;
}

describe('sums: short rows (n < 8) give the scalar chain t = 0, t += x_i · w_i', () => {
  it('bit for bit, for any rows, weight rows, strides and offsets', () => {
    const arena = new Arena();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (rows, n, m, pad, seed) => {
          const stride = m + pad;
          const x = gridValues(rows * n, seed);
          const w = gridValues(m * n, seed + 1);
          const sPtr = arena.allocF32(rows * stride);
          arena.k.sums(upload(arena, x), upload(arena, w), sPtr, rows, n, m, stride, pad);
          const got = arena.f32(sPtr, rows * stride);
          for (let b = 0; b < rows; b++) {
            for (let k = 0; k < m; k++) {
              let t = 0;
              for (let i = 0; i < n; i++) t = fr(t + fr(x[b * n + i]! * w[k * n + i]!));
              expect(got[b * stride + pad + k]).toBe(t);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('sumsGrad: every entry is the chain over the rows, g = 0, g += x_bi · d_bk', () => {
  it('bit for bit, whichever width (8, 4 or 1 inputs) computes it', () => {
    const arena = new Arena();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 21 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (rows, n, m, pad, seed) => {
          const stride = m + pad;
          const x = gridValues(rows * n, seed);
          const d = gridValues(rows * stride, seed + 1);
          const gPtr = arena.allocF32(m * n);
          arena.k.sumsGrad(upload(arena, x), upload(arena, d), gPtr, rows, n, m, stride, pad);
          const got = arena.f32(gPtr, m * n);
          for (let k = 0; k < m; k++) {
            for (let i = 0; i < n; i++) {
              let g = 0;
              for (let b = 0; b < rows; b++) g = fr(g + fr(x[b * n + i]! * d[b * stride + pad + k]!));
              expect(got[k * n + i]).toBe(g);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('demote: float64 → float32 as Math.fround', () => {
  it('for any doubles (special values included) and any count', () => {
    const arena = new Arena();
    fc.assert(
      fc.property(fc.array(fc.double(), { maxLength: 23 }), (values) => {
        const n = values.length;
        const src = arena.allocF32(2 * n);
        const dst = arena.allocF32(n + 1);
        new Float64Array(arena.memoryBuffer, src, n).set(values);
        arena.f32(dst, n + 1)[n] = 12345; // must stay: nothing written past count
        arena.k.demote(src, dst, n);
        const got = arena.f32(dst, n + 1);
        for (let j = 0; j < n; j++) expect(got[j]).toBe(fr(values[j]!));
        expect(got[n]).toBe(12345);
      }),
      { numRuns: 200 },
    );
  });
});
