/**
 * Parity of the fused plain-JavaScript training path (src/fast) with the tfjs units and trainer.
 *
 * - Kernels: forward outputs, input gradients and raw-parameter gradients (with and without the
 *   regularisers) equal `def.forward` + `tf.grads` on the cpu backend, on random inputs/parameters and
 *   on the kinks of every sub-gradient (clip bounds, |0|, min ties, relu at 0).
 * - Training: 1,000-step curves of `fastTrainReplicas` and `trainReplicas` agree (float64 vs float32).
 * - Divergence, determinism, progress reporting and cancellation behave as in `trainReplicas`.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Params, UnitDef, UnitShape } from '@nalm/units';
import type * as StaticTaskModule from '../src/tasks/static.js';
import { initBackend, mulNacDef, nacDef, naluDef, nauDef, nmuDef, nsrDef, resolveOptions } from '@nalm/units';
import type { RunConfig } from '../src/config.js';
import { fastPathSupports, fastTrainReplicas, kernelFor } from '../src/fast/index.js';
import { denseDef } from '../src/models/dense.js';
import { gatedNauNmuDef } from '../src/models/gated.js';
import { listModels, registerModel } from '../src/models/registry.js';
import type { EvalPoint } from '../src/record.js';
import type { LaneFiller } from '../src/tasks/lanes.js';
import { defaultStaticTask } from '../src/tasks/static.js';
import type { ReplicaSpec, TrainProgress } from '../src/train/replicas.js';
import { trainReplicas } from '../src/train/replicas.js';

/**
 * Seeds from POISON on have a poisoned training stream: from their (seed − POISON)-th batch on every
 * target is NaN, so the loss is NaN at exactly that iteration in both trainers. Everything else is
 * the real task.
 */
const POISON = 1_000_000;
vi.mock('../src/tasks/static.js', async (importOriginal) => {
  const mod = await importOriginal<typeof StaticTaskModule>();
  return {
    ...mod,
    createStaticTask: (config: Parameters<typeof mod.createStaticTask>[0], seed: number) => {
      const inner = mod.createStaticTask(config, seed);
      if (seed < POISON) return inner;
      let calls = 0;
      return {
        config: inner.config,
        seed: inner.seed,
        offset: inner.offset,
        targets: inner.targets.bind(inner),
        nextBatch(x: Float32Array, y: Float64Array, batch: number, filler?: LaneFiller) {
          inner.nextBatch(x, y, batch, filler);
          if (calls++ >= seed - POISON) y.fill(NaN, 0, batch);
        },
      };
    },
  };
});

beforeAll(async () => {
  expect(await initBackend('cpu')).toBe('cpu');
});

// ---------------------------------------------------------------------------------------------
// Kernels vs tfjs units.

interface UnitCase {
  name: string;
  def: UnitDef<never>;
  options: object;
  shape: UnitShape;
  /** Raw parameter values to test at (float32-representable). */
  param: (name: string, n: number, rnd: () => number) => Float32Array;
  /** Input values. */
  input: (n: number, rnd: () => number) => Float32Array;
  /** Regulariser weights to test with (sparsity, oob). */
  reg?: [number, number];
  /** Relative tolerance against tfjs (default 1e-5; see expectClose). */
  tol?: number;
  /**
   * Also check the parameter gradients against float64 central differences of the fused forward
   * (for units that are smooth in their parameters at the tested points).
   */
  fd?: boolean;
}

const uniform = (lo: number, hi: number) => (n: number, rnd: () => number) =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * rnd());

/** Mostly uniform values, with a share of exact kink points mixed in. */
const withKinks =
  (lo: number, hi: number, kinks: number[]) =>
  (n: number, rnd: () => number): Float32Array =>
    Float32Array.from({ length: n }, () =>
      rnd() < 0.3 ? kinks[Math.floor(rnd() * kinks.length)]! : lo + (hi - lo) * rnd(),
    );

/**
 * Units with a log-space path (NAC•, NALU) compute m = exp(Σ_i log(|x_i| + ε) W_i): float32 rounding
 * of the sum is amplified by its size (outputs reach 1e5 here), so tfjs's values are only good to
 * ~2e-5 relative; the fused kernels' parameter gradients are additionally checked against float64
 * central differences to 1e-6.
 */
const LOG_SPACE_TOL = 1e-4;

const nacParam = (name: string, n: number, rnd: () => number) =>
  name === 'gate_bias' ? uniform(-1, 1)(n, rnd) : uniform(-2, 2)(n, rnd);

const unitCases: UnitCase[] = [
  // NAU: W around and beyond the clip bounds ±1, on 0 (|W|' = −1 in tfjs) and on the min tie ±0.5.
  ...(['clip', 'regularized'] as const).flatMap((oobMode) =>
    (['linear', 'squared'] as const).map((regularizer) => ({
      name: `nau ${regularizer} ${oobMode}`,
      def: nauDef as UnitDef<never>,
      options: { regularizer, oobMode },
      shape: { inputSize: 7, units: 3 },
      param: (_: string, n: number, rnd: () => number) => withKinks(-1.3, 1.3, [-1, 1, 0, 0.5, -0.5])(n, rnd),
      input: uniform(-3, 3),
      reg: [0.7, 1.3] as [number, number],
    })),
  ),
  // NMU: W beyond [0, 1] (regularized mode does not clamp), on 0, 0.5 and 1.
  ...(['clip', 'regularized'] as const).flatMap((oobMode) =>
    (['linear', 'squared'] as const).map((regularizer) => ({
      name: `nmu ${regularizer} ${oobMode}`,
      def: nmuDef as UnitDef<never>,
      options: { regularizer, oobMode },
      shape: { inputSize: 6, units: 2 },
      param: (_: string, n: number, rnd: () => number) => withKinks(-0.2, 1.2, [0, 0.5, 1])(n, rnd),
      // Inputs include 1 (the factor W·1 + 1 − W = 1) and 0.
      input: withKinks(-2, 2.5, [0, 1]),
      reg: [1.7, 0.9] as [number, number],
    })),
  ),
  {
    name: 'nac',
    def: nacDef as UnitDef<never>,
    options: {},
    shape: { inputSize: 5, units: 3 },
    param: nacParam,
    input: uniform(-3, 3),
    fd: true,
  },
  {
    name: 'nac-mul',
    def: mulNacDef as UnitDef<never>,
    options: { epsilon: 1e-7 },
    shape: { inputSize: 4, units: 2 },
    param: nacParam,
    // |x|' at 0 is −1 in tfjs; keep |x| ≥ 0.1 otherwise so exp(log-space sum) stays moderate.
    input: withKinks(0.1, 2, [0, -0.5, 1]),
    tol: LOG_SPACE_TOL,
    fd: true,
  },
  ...[
    { separateWeights: false, gateBias: false },
    { separateWeights: true, gateBias: true },
  ].map((o) => ({
    name: `nalu ${JSON.stringify(o)}`,
    def: naluDef as UnitDef<never>,
    options: { ...o, epsilon: 1e-7 },
    shape: { inputSize: 5, units: 2 },
    param: nacParam,
    input: withKinks(-2, 2, [0, 1]),
    tol: LOG_SPACE_TOL,
    fd: true,
  })),
  ...(['linear', 'relu', 'relu6'] as const).map((activation) => ({
    name: `dense ${activation}`,
    def: denseDef as UnitDef<never>,
    options: { activation },
    shape: { inputSize: 4, units: 3 },
    // x = 0 and W = 0 make some pre-activations exactly 0 (relu'(0) = 0); weights up to ±4 on inputs
    // up to ±4 reach past ReLU6's cap.
    param: (_: string, n: number, rnd: () => number) =>
      withKinks(activation === 'relu6' ? -4 : -1, activation === 'relu6' ? 4 : 1, [0])(n, rnd),
    input: withKinks(activation === 'relu6' ? -4 : -2, activation === 'relu6' ? 4 : 2, [0]),
  })),
  {
    name: 'gated nau/nmu',
    def: gatedNauNmuDef as UnitDef<never>,
    options: { regularizer: 'linear', oobMode: 'regularized' },
    shape: { inputSize: 5, units: 2 },
    param: (name: string, n: number, rnd: () => number) =>
      name === 'G' ? uniform(-1, 1)(n, rnd) : withKinks(-0.2, 1.2, [0, 0.5, 1, -1])(n, rnd),
    input: uniform(-2, 2),
    reg: [0.5, 2],
  },
];

/** Splitmix-style generator for fast-check-provided seeds (values reproducible per seed). */
function rndFrom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return ((z ^ (z >>> 15)) >>> 0) / 4294967296;
  };
}

/**
 * Float32 tolerance: |fast − tfjs| ≤ 1e-5 · max(1, `floor`, max |tfjs| over the whole tensor). tfjs
 * computes in float32 (ε ≈ 6e-8) over a handful of operations, so its error is relative to the
 * largest term it sums: for gradients `floor` is the largest forward output, since a NALU output of
 * 1e5 feeds gate gradients of 1e3 through cancelling sums (checked against float64 central
 * differences of the fused forward: those agree to 1e-8 where tfjs is off by 2e-5 relative). A wrong
 * formula or sub-gradient is off by O(1) relative to that scale.
 */
function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  floor = 1,
  rel = 1e-5,
): void {
  expect(actual.length, what).toBe(expected.length);
  let scale = Math.max(1, floor);
  for (let k = 0; k < expected.length; k++) scale = Math.max(scale, Math.abs(expected[k]!));
  for (let k = 0; k < expected.length; k++) {
    const a = actual[k]!;
    const e = expected[k]!;
    if (!(Math.abs(a - e) <= rel * scale)) {
      throw new Error(`${what}[${k}]: fast ${a} vs tfjs ${e} (scale ${scale})`);
    }
  }
}

describe('fused kernels equal the tfjs units (forward, input and parameter gradients)', () => {
  for (const c of unitCases) {
    it(c.name, () => {
      const opts = resolveOptions(c.def as UnitDef<object>, c.options) as never;
      const specs = c.def.params(c.shape, opts);
      const I = c.shape.inputSize;
      const O = c.shape.units;
      const B = 6;
      const factory = kernelFor(c.def)!;
      expect(factory).toBeDefined();
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.boolean(), (seed, withReg) => {
          const rnd = rndFrom(seed);
          const values = specs.map((s) =>
            c.param(
              s.name,
              s.shape.reduce((a, b) => a * b, 1),
              rnd,
            ),
          );
          const x = c.input(B * I, rnd);
          const dy = uniform(-1, 1)(B * O, rnd);
          const [sw, ow] = withReg && c.reg ? c.reg : [0, 0];

          // tfjs: loss = Σ forward ⊙ dy + sw · sparsity + ow · oob; gradients by autodiff.
          const expected = tf.tidy(() => {
            const vars = specs.map((s, k) => tf.tensor(values[k]!, s.shape, 'float32'));
            const xt = tf.tensor2d(x, [B, I]);
            const dyt = tf.tensor2d(dy, [B, O]);
            const asParams = (ts: tf.Tensor[]): Params =>
              Object.fromEntries(specs.map((s, k) => [s.name, ts[k]!]));
            const f = (...ts: tf.Tensor[]) => {
              const [xIn, ...ps] = ts;
              const p = asParams(ps);
              let loss = tf.sum(tf.mul(c.def.forward(p, xIn!, opts), dyt));
              const regs = c.def.regularizers?.(p, opts);
              if (regs && sw !== 0) loss = tf.add(loss, tf.mul(sw, regs.sparsity!));
              if (regs && ow !== 0) loss = tf.add(loss, tf.mul(ow, regs.oob!));
              return loss as tf.Scalar;
            };
            const grads = tf.grads(f)([xt, ...vars]);
            return {
              out: c.def.forward(asParams(vars), xt, opts).dataSync(),
              dx: grads[0]!.dataSync(),
              dp: grads.slice(1).map((g) => g.dataSync()),
            };
          });

          // Fused kernel (JavaScript path), one block of B rows.
          const total = values.reduce((s, v) => s + v.length, 0);
          const p = new Float64Array(total);
          const g = new Float64Array(total);
          let off = 0;
          for (const v of values) {
            p.set(v, off);
            off += v.length;
          }
          const k = factory({ inputSize: I, units: O, options: opts, p, g });
          k.prepare();
          k.zeroGrad();
          const out = new Float64Array(B * O);
          const dx = new Float64Array(B * I);
          const x64 = Float64Array.from(x);
          k.forward(x64, B, out);
          k.backward(x64, B, Float64Array.from(dy), dx);
          k.finishGrad();
          k.regularize(sw, ow);
          const tol = c.tol ?? 1e-5;
          expectClose(out, expected.out, `${c.name} forward`, 1, tol);
          const outScale = Array.from(expected.out).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          expectClose(dx, expected.dx, `${c.name} ∂/∂x`, outScale, tol);
          off = 0;
          specs.forEach((s, j) => {
            expectClose(
              g.subarray(off, off + values[j]!.length),
              expected.dp[j]!,
              `${c.name} ∂/∂${s.name} (reg ${withReg})`,
              outScale,
              tol,
            );
            off += values[j]!.length;
          });

          if (c.fd && !(withReg && c.reg)) {
            // Central differences of Σ forward ⊙ dy in float64 (h = 1e-6 relative).
            const lossAt = () => {
              k.prepare();
              const block = new Float64Array(B * O);
              k.forward(x64, B, block);
              let acc = 0;
              for (let j = 0; j < B * O; j++) acc += block[j]! * dy[j]!;
              return acc;
            };
            const fd = new Float64Array(total);
            for (let j = 0; j < total; j++) {
              const p0 = p[j]!;
              const h = 1e-6 * Math.max(1, Math.abs(p0));
              p[j] = p0 + h;
              const up = lossAt();
              p[j] = p0 - h;
              const down = lossAt();
              p[j] = p0;
              fd[j] = (up - down) / (2 * h);
            }
            k.prepare();
            expectClose(g, fd, `${c.name} ∂/∂params vs float64 central differences`, 1, 1e-6);
          }
        }),
        { numRuns: 25, seed: 20240601 },
      );
    });
  }

  it('covers the static-task models of the registry that use only built-in units', () => {
    const covered = [
      'nmu',
      'nau',
      'nac-mul',
      'nac',
      'nalu',
      'gated',
      'linear',
      'relu',
      'relu6',
      'nac-nalu',
      'nac-nalu-separate',
      'nau-gated',
    ];
    for (const m of listModels().filter((m) => covered.includes(m.name))) {
      expect(fastPathSupports(config({ model: m.name })), m.name).toBe(true);
    }
    // A unit without a kernel (here the NSR, whose output is 2-wide) keeps the tfjs path.
    registerModel(
      {
        name: 'test-fast-nsr',
        label: 'NSR',
        description: 'test',
        layers: (I) => [
          { def: nsrDef as UnitDef<never>, options: nsrDef.defaults, shape: { inputSize: I, units: 1 } },
        ],
        schedule: null,
      },
      { replace: true },
    );
    expect(fastPathSupports(config({ model: 'test-fast-nsr' }))).toBe(false);
    expect(fastPathSupports(config({ model: 'no-such-model' }))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Training: curves, divergence, determinism.

function config(over: Partial<RunConfig> = {}): RunConfig {
  return {
    task: defaultStaticTask({ op: 'add', simple: true }),
    model: 'nau',
    hidden: 2,
    batch: 32,
    lr: 1e-3,
    iterations: 1000,
    evalEvery: 100,
    schedule: null,
    oobWeight: 1,
    ...over,
  };
}

const specsOf = (c: RunConfig, seeds: number[], threshold = 1e-5): ReplicaSpec[] =>
  seeds.map((seed) => ({ config: c, seed, threshold }));

/** A user model of built-in units with the non-default regulariser options (no clamping). */
registerModel(
  {
    name: 'test-fast-oob',
    label: 'NAU→NMU (regularized OOB, squared)',
    description: 'test',
    layers: (I, h) => [
      {
        def: nauDef as UnitDef<never>,
        options: { regularizer: 'squared', oobMode: 'regularized' },
        shape: { inputSize: I, units: h },
      },
      {
        def: nmuDef as UnitDef<never>,
        options: { regularizer: 'linear', oobMode: 'regularized' },
        shape: { inputSize: h, units: 1 },
      },
    ],
    schedule: null,
  },
  { replace: true },
);

interface TrajectoryCase {
  name: string;
  config: RunConfig;
  seeds: number[];
  /** Relative tolerance on the MSE curves. */
  rel: number;
}

/*
 * Tolerances. Both trainers follow the same trajectory; they differ by rounding — float32 in tfjs,
 * float64 here — and by one systematic detail: tfjs's Adam keeps β1^t and β2^t as float32 scalars,
 * so its bias correction 1 − β2^t starts at 1 − 0.999f = 9.99987e-4 (1.3e-5 relative off; the fast
 * path computes it in float64, as PyTorch does). That scales tfjs's early steps by ~6e-6 in the same
 * direction every step, which accumulates: emulating the float32 β^t in the fast path brings the
 * curves one to two orders of magnitude closer (checked while writing this test; OOB model, seed 1:
 * 6e-5 → 1.2e-6 at step 100), so the gap below is that quirk plus rounding, not a formula difference.
 *
 * Measured worst relative difference of the MSE curves over 1,000 steps (evaluated every 100):
 * nac ≤ 8e-6, nmu/nau/linear/relu/nac-mul/oob ≤ 8e-5, gated ≤ 2.2e-4, nalu (lr 1e-4) 5.4e-4.
 * The tolerance, 2e-3, is ~4× the worst of these. The configurations were chosen away from chaotic
 * edges: NALU at lr 1e-3 or with other seeds, and NAC• with seed 0, amplify even a 1e-7 relative
 * perturbation of the fast path's own gradients to 1e-3 … 1e+1 within 1,000 steps, so no path-to-path
 * tolerance would mean anything there. A wrong gradient, a missing regulariser term, an off-by-one in
 * the schedule or a skipped clamp changes these curves by far more than 2e-3 (each was tried).
 */
const trajectoryCases: TrajectoryCase[] = [
  {
    // A step schedule (full λ from iteration 300 on): an off-by-one in λ(t) changes one whole step.
    name: 'nmu (NAU → NMU), mul, sparsity regulariser switched on at 300',
    config: config({
      model: 'nmu',
      task: defaultStaticTask({ op: 'mul', simple: true }),
      schedule: { lambda: 10, start: 300, end: 300 },
    }),
    seeds: [0, 1],
    rel: 2e-3,
  },
  {
    name: 'nmu, default task (I = 100, batch 128)',
    config: config({ model: 'nmu', task: defaultStaticTask({ op: 'mul' }), batch: 128 }),
    seeds: [0],
    rel: 2e-3,
  },
  {
    name: 'nau (NAU → NAU), sub, sparsity schedule 300 → 700',
    config: config({
      model: 'nau',
      task: defaultStaticTask({ op: 'sub', simple: true }),
      schedule: { lambda: 0.01, start: 300, end: 700 },
    }),
    seeds: [0, 1],
    rel: 2e-3,
  },
  {
    name: 'test-fast-oob (regularized OOB, squared regulariser)',
    config: config({
      model: 'test-fast-oob',
      task: defaultStaticTask({ op: 'mul', simple: true }),
      schedule: { lambda: 1, start: 0, end: 500 },
    }),
    seeds: [0, 1],
    rel: 2e-3,
  },
  { name: 'nac', config: config({ model: 'nac' }), seeds: [0, 1], rel: 2e-3 },
  {
    name: 'nac-mul',
    config: config({ model: 'nac-mul', task: defaultStaticTask({ op: 'mul', simple: true }) }),
    seeds: [1],
    rel: 2e-3,
  },
  {
    name: 'nalu',
    config: config({ model: 'nalu', task: defaultStaticTask({ op: 'add', simple: true }), lr: 1e-4 }),
    seeds: [0],
    rel: 2e-3,
  },
  { name: 'linear', config: config({ model: 'linear' }), seeds: [0, 1], rel: 2e-3 },
  { name: 'relu', config: config({ model: 'relu' }), seeds: [0, 1], rel: 2e-3 },
  { name: 'relu6', config: config({ model: 'relu6' }), seeds: [0, 1], rel: 2e-3 },
  {
    name: 'gated',
    config: config({
      model: 'gated',
      task: defaultStaticTask({ op: 'mul', simple: true }),
      schedule: { lambda: 10, start: 300, end: 700 },
    }),
    seeds: [0, 1],
    rel: 2e-3,
  },
];

function expectCurvesClose(fast: EvalPoint[], ref: EvalPoint[], rel: number, what: string): void {
  expect(
    fast.map((p) => p.step),
    what,
  ).toEqual(ref.map((p) => p.step));
  fast.forEach((p, k) => {
    const q = ref[k]!;
    for (const key of ['interpolation', 'extrapolation'] as const) {
      const d = Math.abs(p[key] - q[key]) / Math.max(Math.abs(q[key]), 1e-6);
      expect(d, `${what} step ${p.step} ${key}: fast ${p[key]} vs tfjs ${q[key]}`).toBeLessThanOrEqual(rel);
    }
    // The sparsity error is a max of |w|-distances in [0, 0.5]: compare absolutely.
    expect(
      Math.abs(p.sparsityError - q.sparsityError),
      `${what} step ${p.step} sparsity`,
    ).toBeLessThanOrEqual(rel);
  });
}

describe('fastTrainReplicas follows trainReplicas (tfjs cpu) over 1,000 steps', () => {
  for (const c of trajectoryCases) {
    it(c.name, async () => {
      const specs = specsOf(c.config, c.seeds);
      const [fast, ref] = [
        (await fastTrainReplicas({ replicas: specs }))!,
        (await trainReplicas({ replicas: specs }))!,
      ];
      fast.forEach((r, k) => {
        const q = ref[k]!;
        expect(r.diverged).toBeNull();
        expect(q.diverged).toBeNull();
        expect(r.key).toBe(q.key);
        expect(r.iterations).toBe(q.iterations);
        expectCurvesClose(r.curve, q.curve, c.rel, `${c.name} seed ${r.seed}`);
      });
      // The curves moved (the comparison is not of two untrained models).
      expect(fast[0]!.curve.at(-1)!.interpolation).not.toBe(fast[0]!.curve[0]!.interpolation);
    });
  }
});

describe('divergence, determinism, progress', () => {
  const c = config({ model: 'nmu', task: defaultStaticTask({ op: 'mul', simple: true }), iterations: 600 });

  it('a replica whose loss turns NaN stops there; the others are unaffected', async () => {
    const poisoned = POISON + 250; // NaN targets from iteration 250 on
    const mixed = (await fastTrainReplicas({ replicas: specsOf(c, [0, poisoned, 1]) }))!;
    const clean = (await fastTrainReplicas({ replicas: specsOf(c, [0, 1]) }))!;
    expect([mixed[0], mixed[2]]).toEqual(clean);
    const bad = mixed[1]!;
    expect(bad.diverged).toEqual({ step: 250, reason: 'non-finite training loss (NaN) at iteration 250' });
    expect(bad.iterations).toBe(250);
    expect(bad.solved).toBe(false);
    // It keeps the evaluations made before its divergence (0, 100, 200), as the tfjs trainer does.
    const ref = (await trainReplicas({ replicas: specsOf(c, [poisoned]) }))!;
    expect(bad.curve.map((p) => p.step)).toEqual([0, 100, 200]);
    expect(ref[0]!.diverged).toEqual(bad.diverged);
    expect(ref[0]!.curve.map((p) => p.step)).toEqual([0, 100, 200]);
  });

  it('reports progress exactly as trainReplicas, also when every replica diverges', async () => {
    for (const seeds of [
      [0, POISON + 250],
      [POISON + 250, POISON + 99], // the last dies at 250: the loop ends without reaching 300
      [POISON + 299], // dies at 299: the tfjs loop still evaluates (nothing) and reports at 300
    ]) {
      const progress = async (train: typeof trainReplicas) => {
        const seen: TrainProgress[] = [];
        await train({ replicas: specsOf(c, seeds), onProgress: (p) => seen.push(structuredClone(p)) });
        return seen;
      };
      expect(await progress(fastTrainReplicas), JSON.stringify(seeds)).toEqual(await progress(trainReplicas));
    }
  });

  it('a seed gets the identical record alone, in a batch of 10, and on re-run', async () => {
    const d = config({ model: 'nmu', task: defaultStaticTask({ op: 'mul' }), batch: 64, iterations: 300 });
    const alone = (await fastTrainReplicas({ replicas: specsOf(d, [3]) }))!;
    const batch = (await fastTrainReplicas({ replicas: specsOf(d, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) }))!;
    const again = (await fastTrainReplicas({ replicas: specsOf(d, [3]) }))!;
    expect(batch[3]).toEqual(alone[0]);
    expect(again[0]).toEqual(alone[0]);
    expect(batch[2]!.curve).not.toEqual(batch[3]!.curve);
  });

  it('mixes operations in one call and rejects replicas that cannot share one', async () => {
    const sub = config({
      model: 'nmu',
      task: defaultStaticTask({ op: 'sub', simple: true }),
      iterations: 600,
    });
    const mixed = (await fastTrainReplicas({ replicas: [...specsOf(c, [1]), ...specsOf(sub, [1])] }))!;
    expect(mixed[1]).toEqual((await fastTrainReplicas({ replicas: specsOf(sub, [1]) }))![0]);
    await expect(
      fastTrainReplicas({ replicas: [...specsOf(c, [0]), ...specsOf(config({ lr: 0.5 }), [1])] }),
    ).rejects.toThrow(/must share/);
  });

  it('stops and returns null when shouldStop says so', async () => {
    let evaluations = 0;
    const out = await fastTrainReplicas({
      replicas: specsOf(c, [0]),
      onProgress: () => evaluations++,
      shouldStop: () => evaluations >= 2,
    });
    expect(out).toBeNull();
    expect(evaluations).toBe(2);
  });
});
