// %% [markdown]
// # The Neural Status Register: deciding about numbers it has never seen
//
// An arithmetic unit computes; the Neural Status Register (NSR) decides. It picks two of its inputs
// by softmax, takes their difference d and turns it into two relaxed status bits — a sign bit
// tanh(ζd) and a zero bit 1 − 2·tanh²(ζd) — from which a sigmoid decides. Because the bits only
// look at the *difference*, an NSR trained on single digits keeps deciding correctly for numbers a
// million times larger, as long as the numeric type still resolves the difference.
//
// Run it with `pnpm example 04-nsr` (add `--short` for a quick version).

// %%
import { initBackend } from '@nalm/units';
import {
  describeNumericLimit,
  float64Predict,
  maxResolvedValue,
  trainFloat64Replica,
  trainNsrModel,
  trainingData,
  type NsrRunConfig,
} from '@nalm/bench';

const short = process.argv.includes('--short');
await initBackend('wasm');

// %% [markdown]
// ## Training: `>` on the 81 pairs of single digits
// Labels are op(x1, x2) — here 1 if x1 > x2 — with mean absolute error, Adam (lr 1e−3) and the full
// batch every epoch, as the NSR's authors trained it.

// %%
const config: NsrRunConfig = {
  task: { kind: 'compare', op: 'gt', exponents: [1, 5], lengths: [], draws: 10, allowBeyondPrecision: false },
  model: 'nsr',
  epochs: short ? 2_000 : 20_000,
  lr: 1e-3,
  zeta: 1,
  regularizeFrom: 0.8,
  numeric: 'float32',
};
const seed = 0;
const train = trainingData(config.task, seed);
console.log(`${train.n} training pairs, e.g. (${train.x[0]}, ${train.x[1]}) → ${train.y[0]}, (9, 2) → 1`);
const model = (await trainNsrModel({ replicas: [{ config, seed }] }))!;
const record = model.records[0]!;
console.log(`after ${config.epochs} epochs: training MAE ${record.trainLoss.toExponential(2)}`);

// %% [markdown]
// ## What it learned
// The two operand selections should be (close to) one-hot and different, so that d is a positive
// multiple of x1 − x2; the sign weight then decides.

// %%
const softmax = (v: number[]) => {
  const e = v.map((x) => Math.exp(x - Math.max(...v)));
  return e.map((x) => x / e.reduce((a, b) => a + b, 0));
};
const p = model.params(0)['gate.nsr']!;
const fmt = (v: number[]) => `[${v.map((x) => x.toFixed(3)).join(', ')}]`;
console.log(`operand 1 selection softmax(V1) = ${fmt(softmax(p.V1!))}`);
console.log(`operand 2 selection softmax(V2) = ${fmt(softmax(p.V2!))}`);
console.log(`W± = ${p.W_sign![0]!.toFixed(2)}, W0 = ${p.W_zero![0]!.toFixed(2)}, b = ${p.b![0]!.toFixed(2)}`);
console.log(
  'test success per magnitude (every item right):',
  record.points.map((q) => `${q.label}: ${q.correct}/${q.items}`).join(', '),
);

// %% [markdown]
// ## Deciding around 10^6 — and what float32 can resolve
// tfjs computes in float32. ζ = 1 scales the status bits for a difference of 1 (ζ = 1/step), and
// float32 resolves that difference for values up to about 10^6; the line below says exactly where.
// Pairs around one million are inside that window, so the float32 NSR decides them correctly.

// %%
console.log(describeNumericLimit('float32'));
const around = (base: number) => [
  [base, base],
  ...[-2, -1, 1, 2].flatMap((m) => [
    [base + m, base],
    [base, base + m],
  ]),
];
const show = (rows: number[][], ys: number[]) => {
  let right = 0;
  rows.forEach(([a, b], i) => {
    const ok = ys[i]! > 0.5 === a! > b!;
    if (ok) right++;
    if (i < 6) console.log(`  ${a} > ${b}?  y = ${ys[i]!.toFixed(4)}  ${ok ? 'right' : 'WRONG'}`);
  });
  console.log(`  … ${right}/${rows.length} right`);
};
const rows6 = around(1_000_000);
show(rows6, model.predict(rows6).pred);

// %% [markdown]
// Beyond the window the input itself is gone: 2^24 + 1 = 16,777,217 has no float32 value, so it
// arrives as 16,777,216 and no model can tell the two apart. A claim beyond ~10^6 in float32 would
// be a claim about rounding, not about the NSR.

// %%
console.log(
  `float32(16777217) = ${Math.fround(16_777_217)}; float32 resolves values up to about ${maxResolvedValue('float32').toExponential(1)}`,
);
show(
  [
    [16_777_217, 16_777_216],
    [16_777_216, 16_777_217],
  ],
  model.predict([
    [16_777_217, 16_777_216],
    [16_777_216, 16_777_217],
  ]).pred,
);
model.dispose();

// %% [markdown]
// ## The same NSR in float64
// The float64 plain-JS trainer (`nsr/float64.ts`, parity-tested against the tfjs unit) starts from
// the same initial values and follows the same trajectory; its numbers resolve a difference of 1 up
// to about 5·10^14. It decides around 10^6 with room to spare, and around 10^12 as well.

// %%
console.log(describeNumericLimit('float64'));
const c64: NsrRunConfig = { ...config, numeric: 'float64' };
const t64 = trainFloat64Replica({ config: c64, seed })!;
console.log(`float64 training MAE ${t64.record.trainLoss.toExponential(2)}`);
for (const base of [1_000_000, 1_000_000_000_000]) {
  console.log(`around ${base.toExponential(0)}:`);
  const rows = around(base);
  show(rows, float64Predict(c64, t64.params, rows));
}
