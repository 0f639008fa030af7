/**
 * Bad input and bad options fail with messages that name the unit, what was expected and what was
 * received (units.md "Bad input").
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { UnitDef } from '../src/index.js';
import {
  MulNAC,
  NAC,
  NALU,
  NAU,
  NMU,
  NSR,
  initBackend,
  mulNacDef,
  nacDef,
  naluDef,
  nauDef,
  nmuDef,
  nsrDef,
  resolveOptions,
} from '../src/index.js';
import { params, stackParams } from './helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const defs: UnitDef<never>[] = [nacDef, mulNacDef, naluDef, nauDef, nmuDef, nsrDef] as never;
const makers: [string, (args: object) => tf.layers.Layer][] = [
  ['NAC', (a) => new NAC({ units: 2, ...a })],
  ['MulNAC', (a) => new MulNAC({ units: 2, ...a })],
  ['NALU', (a) => new NALU({ units: 2, ...a })],
  ['NAU', (a) => new NAU({ units: 2, ...a })],
  ['NMU', (a) => new NMU({ units: 2, ...a })],
  ['NSR', (a) => new NSR({ ...a })],
];

/** Escape a literal for use inside a RegExp. */
const lit = (s: string) => s.replace(/[[\]().*+?^$|\\]/g, '\\$&');

describe('wrong input rank or width', () => {
  for (const [name, make] of makers) {
    it(`${name} layer: wrong rank at build names the unit and both shapes`, () => {
      const model = tf.sequential();
      expect(() => model.add(make({ inputShape: [2, 3] }))).toThrow(
        new RegExp(`^${name}: expected input of shape \\[batch, features\\], received \\[null, 2, 3\\]`),
      );
    });

    it(`${name} layer: wrong width at call names the unit and both shapes`, () => {
      const layer = make({});
      tf.dispose(layer.apply(tf.ones([2, 3])) as tf.Tensor); // builds with 3 features
      expect(() => layer.apply(tf.ones([2, 5]))).toThrow(
        new RegExp(`^${name}: expected input of shape ${lit('[batch, 3]')}, received ${lit('[2, 5]')}`),
      );
      expect(() => layer.apply(tf.ones([3]))).toThrow(
        new RegExp(
          `^${name}: expected input of shape ${lit('[batch, 3]')}, received ${lit('[3]')} \\(rank 1\\)`,
        ),
      );
    });
  }

  for (const def of defs) {
    it(`${def.className} pure forward: wrong width, wrong rank, wrong replica count`, () => {
      tf.tidy(() => {
        const p = params(def, 3, 2, def.defaults, 1);
        const fwd = (pp: object, x: tf.Tensor) => () => def.forward(pp as never, x, def.defaults);
        expect(fwd(p, tf.ones([4, 5]))).toThrow(
          `${def.className}: expected input of shape [batch, 3], received [4, 5]`,
        );
        expect(fwd(p, tf.ones([2, 4, 3]))).toThrow(
          `${def.className}: expected input of shape [batch, 3], received [2, 4, 3] (rank 3)`,
        );
        const stacked = stackParams([p, p, p]);
        expect(fwd(stacked, tf.ones([2, 4, 3]))).toThrow(
          `${def.className}: expected input of shape [3, batch, 3], received [2, 4, 3]`,
        );
        expect(fwd(stacked, tf.ones([2, 4, 3]))).toThrow(/first axis 3 replicas/);
        expect(fwd(stacked, tf.ones([3, 4, 5]))).toThrow(
          `${def.className}: expected input of shape [3, batch, 3], received [3, 4, 5]`,
        );
        expect(fwd(stacked, tf.ones([4, 3]))).toThrow(
          `${def.className}: expected input of shape [3, batch, 3], received [4, 3] (rank 2)`,
        );
        // And the right shapes pass.
        expect(def.forward(stacked, tf.ones([3, 4, 3]), def.defaults).shape[0]).toBe(3);
      });
    });
  }
});

describe('options', () => {
  it('an unknown option is rejected by name, with the known ones listed', () => {
    expect(() => new NAU({ units: 2, regulariser: 'linear' } as never)).toThrow(
      "NAU: unknown option 'regulariser'. Known options: regularizer, oobMode.",
    );
    expect(() => new NALU({ units: 2, gatebias: true } as never)).toThrow(
      "NALU: unknown option 'gatebias'. Known options: separateWeights, gateBias, epsilon.",
    );
    expect(() => new NAC({ units: 2, epsilon: 1e-7 } as never)).toThrow(
      "NAC: unknown option 'epsilon'. Known options: (none).",
    );
    expect(() => resolveOptions(nsrDef, { zeta: 1, radius: 2 } as never)).toThrow(
      "NSR: unknown option 'radius'",
    );
    // tfjs's own layer arguments are not unit options.
    expect(
      () => new NMU({ units: 1, name: 'ok', trainable: false, inputShape: [3], dtype: 'float32' }),
    ).not.toThrow();
  });

  it('invalid option values are rejected with the option named', () => {
    expect(() => new NAU({ units: 2, regularizer: 'cubic' as never })).toThrow(
      "NAU: option 'regularizer' must be 'linear' or 'squared', got 'cubic'.",
    );
    expect(() => new NMU({ units: 2, oobMode: 'ignore' as never })).toThrow(
      "NMU: option 'oobMode' must be 'clip' or 'regularized', got 'ignore'.",
    );
    expect(() => new NSR({ zeta: 0 })).toThrow("NSR: option 'zeta' must be a finite number > 0, got 0.");
    expect(() => new NSR({ redundancy: 1.5 })).toThrow(
      "NSR: option 'redundancy' must be an integer >= 1, got 1.5.",
    );
    expect(() => new MulNAC({ units: 1, epsilon: 0 })).toThrow(
      "MulNAC: option 'epsilon' must be > 0, got 0.",
    );
    expect(() => new NALU({ units: 1, epsilon: -1 })).toThrow("NALU: option 'epsilon' must be > 0, got -1.");
    expect(() => new NAU({ units: 0 })).toThrow("NAU: 'units' must be a positive integer, got 0.");
    expect(() => new NAU({})).toThrow("NAU: 'units' must be a positive integer, got undefined.");
    expect(() => new NMU({ units: 1, seed: 1.5 })).toThrow("NMU: 'seed' must be an integer, got 1.5.");
    expect(() => new NAU({ units: 1, regularization: { sparsity: -1 } })).toThrow(
      "NAU: regularization weight 'sparsity' must be a finite number >= 0, got -1.",
    );
  });

  it('a regularisation weight for a regulariser the unit lacks fails by name when the layer is built', () => {
    const nau = new NAU({ units: 1, regularization: { gate: 1 }, seed: 1 });
    expect(() => nau.apply(tf.ones([1, 2]))).toThrow(
      "NAU: no regulariser named 'gate'. This unit has: sparsity, oob.",
    );
    const nac = new NAC({ units: 1, regularization: { sparsity: 1 }, seed: 1 });
    expect(() => nac.apply(tf.ones([1, 2]))).toThrow(
      "NAC: no regulariser named 'sparsity'. This unit has: (none).",
    );
  });

  it("the NSR has a fixed width: a different 'units' is refused", () => {
    expect(() => new NSR({ units: 3 })).toThrow("NSR: this unit always has 2 outputs; omit 'units' (got 3).");
    expect(new NSR({ units: 2 }).units).toBe(2);
  });

  it('initBackend rejects an unknown backend', async () => {
    await expect(initBackend('webgl' as never)).rejects.toThrow(
      "initBackend: unknown backend 'webgl'. Use 'wasm' or 'cpu'.",
    );
  });
});

describe('non-finite inputs propagate (units.md: not silently fixed)', () => {
  it('NaN and Inf flow through as the maths says', () => {
    tf.tidy(() => {
      const x = tf.tensor2d([[NaN, 1, 2]]);
      for (const def of defs) {
        const z = def.forward(params(def, 3, 2, def.defaults, 1), x, def.defaults).dataSync();
        expect(Array.from(z).some(Number.isNaN), def.className).toBe(true);
      }
      // NAC• at x = 0 with a negative weight: log(ε)·(−1) → a huge but finite 1/ε; with ∞ input, ∞.
      const inf = mulNacDef.forward(
        { W_hat: tf.tensor2d([[30]]), M_hat: tf.tensor2d([[30]]) },
        tf.tensor2d([[Infinity]]),
        mulNacDef.defaults,
      );
      expect(inf.dataSync()[0]).toBe(Infinity);
    });
  });
});
