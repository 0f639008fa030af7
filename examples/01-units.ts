// %%
// # 01 — Arithmetic units as tfjs layers
//
// Neural arithmetic units are layers whose weights, once learned, *are* an arithmetic expression:
// an NAU (Neural Addition Unit) adds and subtracts its inputs, an NMU (Neural Multiplication Unit)
// multiplies them. Because they learn the operation rather than a curve through the training data,
// they extrapolate: trained on inputs in [1, 2], they keep working on [2, 6] and far beyond.
//
// Here we stack an NAU and an NMU with plain `tf.sequential` and learn `(x0 + x1) · x2`.
// Run: `pnpm example 01-units` (10 000 steps, about 20 s) or `pnpm example 01-units --short` (3 000).
import * as tf from '@tensorflow/tfjs';
import { ConstrainUnits, NAU, NMU, Rng, initBackend, modelSparsityError } from '@nalm/units';

const short = process.argv.includes('--short');
const backend = await initBackend(); // wasm (falls back to cpu with a warning)
console.log(`backend: ${backend}${short ? ' (short mode: brief training)' : ''}`);

// %%
// # Data
//
// Training inputs are drawn from U[1, 2]; the test ("extrapolation") inputs from U[2, 6], a range the
// model never sees. Everything is seeded, so every run prints the same numbers.
const target = (x: number[]) => (x[0]! + x[1]!) * x[2]!;

function dataset(n: number, lo: number, hi: number, seed: number) {
  const rng = new Rng(seed, 'example-01');
  const xs = Array.from({ length: n }, () => [rng.uniform(lo, hi), rng.uniform(lo, hi), rng.uniform(lo, hi)]);
  return { xs, x: tf.tensor2d(xs), y: tf.tensor2d(xs.map((x) => [target(x)])) };
}

const train = dataset(256, 1, 2, 1);
const interpolation = dataset(1000, 1, 2, 2);
const extrapolation = dataset(1000, 2, 6, 3);

// %%
// # Model: NAU → NMU
//
// The NAU's 2 outputs should become `x0 + x1` and `x2` (weights rows 1,1,0 and 0,0,1); the NMU then
// multiplies them (both weights 1). `seed` makes the initial weights reproducible. The sparsity
// regulariser (weight λ) pulls weights towards the discrete values {−1, 0, 1} / {0, 1}; it is added to
// the loss by `fit`. `ConstrainUnits` clamps the weights into their allowed ranges after every step.
const model = tf.sequential({
  layers: [
    new NAU({ units: 2, inputShape: [3], seed: 1, regularization: { sparsity: 0.01 } }),
    new NMU({ units: 1, seed: 2, regularization: { sparsity: 0.01 } }),
  ],
});
model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
model.summary();

// %%
// # Training
//
// Full-batch Adam, 256 examples. `shuffle: false` keeps the run deterministic (tfjs shuffles with
// Math.random). The loss sits on a plateau (a product of two mixed sums fits [1, 2] fairly well) for
// about 2 000 steps before the weights snap to the exact solution.
const epochs = short ? 3000 : 10_000;
const started = Date.now();
await model.fit(train.x, train.y, {
  epochs,
  batchSize: train.xs.length,
  shuffle: false,
  verbose: 0,
  callbacks: [
    new ConstrainUnits(),
    // (tfjs takes either callback objects or plain `{ onEpochEnd }` literals in one list, not a mix.)
    new tf.CustomCallback({
      onEpochEnd: async (epoch, logs) => {
        if ((epoch + 1) % (epochs / 5) === 0)
          console.log(`epoch ${epoch + 1}: loss ${logs!.loss!.toExponential(3)}`);
      },
    }),
  ],
});
console.log(`trained ${epochs} steps in ${((Date.now() - started) / 1000).toFixed(1)} s`);

// %%
// # What did it learn?
//
// The effective weights (after clamping) should be close to the discrete solution; the sparsity
// error is the largest distance of any weight from {−1, 0, 1}.
const round = (t: tf.Tensor) => (t.arraySync() as number[][]).map((r) => r.map((v) => Number(v.toFixed(3))));
const [nau, nmu] = model.layers as [NAU, NMU];
console.log('NAU weights [input × output]:', JSON.stringify(round(nau.effectiveWeights().W!)));
console.log('NMU weights [input × output]:', JSON.stringify(round(nmu.effectiveWeights().W!)));
console.log(`sparsity error: ${modelSparsityError(model).toFixed(4)}`);

// %%
// # Interpolation and extrapolation
//
// A multilayer perceptron would match the training range and fail on [2, 6]; the arithmetic units
// should do about as well outside as inside.
const mse = (d: ReturnType<typeof dataset>) =>
  tf.tidy(() => tf.losses.meanSquaredError(d.y, model.predict(d.x) as tf.Tensor).dataSync()[0]!);
console.log(`MSE interpolation  U[1, 2]: ${mse(interpolation).toExponential(3)}`);
console.log(`MSE extrapolation  U[2, 6]: ${mse(extrapolation).toExponential(3)}`);

const big = [
  [5, 6, 7],
  [10, 20, 30],
  [100, 3, 50],
  [-4, 1, 12],
];
const predicted = tf.tidy(() => (model.predict(tf.tensor2d(big)) as tf.Tensor).dataSync());
big.forEach((x, i) =>
  console.log(`(${x[0]} + ${x[1]}) · ${x[2]} = ${target(x)}   predicted ${predicted[i]!.toFixed(3)}`),
);
