/**
 * NRU at x = 0: |x|^W is a power (0^0 = 1), not exp(W·log|x|), so an input of 0 with weight 0 is
 * ignored instead of turning the output into exp(0·(−∞)) = NaN. Negative weights still divide by 0.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend.js';
import { nruDef } from '../src/nru.js';

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
});

const forward = (w: number[][], x: number[][], training: boolean) =>
  tf.tidy(
    () =>
      nruDef
        .forward({ W: tf.tensor2d(w) }, tf.tensor2d(x), nruDef.defaults, { training })
        .arraySync() as number[][],
  );

describe('NRU with an input of exactly 0', () => {
  for (const training of [false, true]) {
    const mode = training ? 'training' : 'evaluation';

    it(`x_i = 0 with W_i = 0 is ignored (factor 1), not NaN (${mode})`, () => {
      // z = x_1 (W = [0, 1]) for x_0 = 0; and z = 1/x_1 (W = [0, −1]).
      expect(
        forward(
          [[0], [1]],
          [
            [0, 2.5],
            [0, -3],
          ],
          training,
        ),
      ).toEqual([[2.5], [-3]]);
      const q = forward(
        [[0], [-1]],
        [
          [0, 4],
          [0, -0.5],
        ],
        training,
      );
      expect(q[0]![0]).toBeCloseTo(0.25, 6);
      expect(q[1]![0]).toBeCloseTo(-2, 6);
    });

    it(`x_i = 0 with W_i = 1 gives 0 (a factor 0^1 = 0) (${mode})`, () => {
      expect(forward([[1], [1]], [[0, 7]], training)).toEqual([[0]]);
    });

    it(`x_i = 0 with W_i = −1 is a division by zero and propagates NaN (${mode})`, () => {
      expect(Number.isNaN(forward([[-1], [1]], [[0, 7]], training)[0]![0])).toBe(true);
    });
  }

  it('the gradient with respect to W is finite at x_i = 0, W_i = 0 (training can pass through)', () => {
    const w = tf.variable(tf.tensor2d([[0], [0.6]]));
    const x = tf.tensor2d([
      [0, 2],
      [1.5, -3],
    ]);
    const g = tf.grad((wv: tf.Tensor) =>
      tf.sum(nruDef.forward({ W: wv }, x, nruDef.defaults, { training: true })),
    )(w);
    const values = Array.from(g.dataSync());
    expect(values.every(Number.isFinite)).toBe(true);
    // Finite differences on W_1 (x_0 = 0 has weight 0 throughout): same value.
    const h = 1e-3;
    const f = (w1: number) =>
      tf.tidy(
        () =>
          tf
            .sum(nruDef.forward({ W: tf.tensor2d([[0], [w1]]) }, x, nruDef.defaults, { training: true }))
            .dataSync()[0]!,
      );
    expect(values[1]).toBeCloseTo((f(0.6 + h) - f(0.6 - h)) / (2 * h), 2);
    tf.dispose([w, x, g]);
  });
});
