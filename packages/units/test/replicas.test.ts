/**
 * The replica axis: R parameter sets stacked along axis 0 with x [R, B, I] compute, for each
 * replica, bitwise what a single-model call with that replica's parameters computes. Also the
 * per-replica regularisers, constraints and effective weights. On the cpu and the wasm backends.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitDef } from '../src/index.js';
import { Rng, initBackend, mulNacDef, nacDef, naluDef, nauDef, nmuDef, nsrDef } from '../src/index.js';
import { bits, params, stackParams } from './helpers.js';

const R = 3;
const B = 5;
const I = 4;
const O = 3;

const cases: [string, UnitDef<never>, object][] = [
  ['NAC', nacDef as never, {}],
  ['MulNAC', mulNacDef as never, mulNacDef.defaults],
  ['NALU', naluDef as never, naluDef.defaults],
  [
    'NALU separate + gate bias',
    naluDef as never,
    { ...naluDef.defaults, separateWeights: true, gateBias: true },
  ],
  ['NAU', nauDef as never, nauDef.defaults],
  ['NAU regularized/squared', nauDef as never, { regularizer: 'squared', oobMode: 'regularized' }],
  ['NMU', nmuDef as never, nmuDef.defaults],
  ['NMU regularized/squared', nmuDef as never, { regularizer: 'squared', oobMode: 'regularized' }],
  ['NSR', nsrDef as never, nsrDef.defaults],
  ['NSR redundancy 2', nsrDef as never, { zeta: 2, redundancy: 2 }],
];

/**
 * R parameter sets of a unit. Zero-initialised parameters (gate bias, NSR b) and weights inside the
 * constraint box would hide replica mix-ups in those paths, so every parameter gets a per-replica
 * perturbation, pushing some weights out of bounds (to exercise clamps, regularisers, constraints).
 */
function replicaParams(def: UnitDef<never>, opts: object): Record<string, tf.Tensor>[] {
  return Array.from({ length: R }, (_, r) =>
    tf.tidy(() => {
      const p = params(def, I, O, opts, 100 + r);
      const rng = new Rng(200 + r);
      for (const [k, t] of Object.entries(p)) {
        const noise = tf.tensor(
          Array.from({ length: t.size }, () => rng.uniform(-0.8, 0.8)),
          t.shape,
        );
        p[k] = tf.keep(tf.add(t, noise));
      }
      return p;
    }),
  );
}

/** Inputs [R, B, I] (nonzero, mixed signs) and their per-replica slices. */
function replicaInputs(): tf.Tensor {
  const rng = new Rng(300);
  return tf.tensor(
    Array.from({ length: R * B * I }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.2, 3)),
    [R, B, I],
  );
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`replica axis on the ${backend} backend`, () => {
    beforeAll(async () => {
      expect(await initBackend(backend)).toBe(backend);
    });

    for (const [name, def, opts] of cases) {
      it(`${name}: each replica's forward is bitwise the single-model forward`, () => {
        const sets = replicaParams(def, opts);
        const x = replicaInputs();
        tf.tidy(() => {
          const stacked = stackParams(sets);
          const z = def.forward(stacked, x, opts as never);
          const outWidth = def.className === 'NSR' ? 2 : O;
          expect(z.shape).toEqual([R, B, outWidth]);
          const slices = tf.unstack(z);
          const xs = tf.unstack(x);
          for (let r = 0; r < R; r++) {
            const single = def.forward(sets[r]!, xs[r]!, opts as never);
            expect(bits(slices[r]!), `replica ${r}`).toEqual(bits(single));
          }
          // Sanity: the replicas really differ (a broadcast of replica 0 would not).
          expect(bits(slices[1]!)).not.toEqual(bits(slices[0]!));
        });
        tf.dispose([x, ...sets.flatMap((s) => Object.values(s))]);
      });

      it(`${name}: regularisers, constraints and effective weights per replica`, () => {
        const sets = replicaParams(def, opts);
        tf.tidy(() => {
          const stacked = stackParams(sets);
          const regs = def.regularizers?.(stacked, opts as never) ?? {};
          for (const [k, v] of Object.entries(regs)) {
            expect(v.shape, `regulariser ${k}`).toEqual([R]);
            const per = v.dataSync();
            for (let r = 0; r < R; r++) {
              const single = def.regularizers!(sets[r]!, opts as never)[k]!;
              expect(single.shape).toEqual([]);
              // A mean over the last two axes of [R, I, O] vs of [I, O]: same summands, possibly
              // another summation order, hence ≈ rather than bitwise.
              expect(per[r]).toBeCloseTo(single.dataSync()[0]!, 6);
            }
          }
          const constrained = def.constrain?.(stacked, opts as never) ?? {};
          for (const [k, v] of Object.entries(constrained)) {
            const slices = tf.unstack(v);
            for (let r = 0; r < R; r++) {
              expect(bits(slices[r]!)).toEqual(bits(def.constrain!(sets[r]!, opts as never)[k]!));
            }
          }
          const eff = def.effectiveWeights(stacked, opts as never);
          for (const [k, v] of Object.entries(eff)) {
            const slices = tf.unstack(v);
            for (let r = 0; r < R; r++) {
              expect(bits(slices[r]!)).toEqual(bits(def.effectiveWeights(sets[r]!, opts as never)[k]!));
            }
          }
        });
        tf.dispose(sets.flatMap((s) => Object.values(s)));
      });
    }
  });
}

afterAll(async () => {
  await initBackend('cpu');
});
