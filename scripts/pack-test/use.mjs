// Run by scripts/pack-test.mjs with plain `node` (no loader) in a fresh npm project that installed
// the packed tarballs: builds NAU → NMU, trains it on (x0 + x1) · x2, saves it, and writes the
// predictions on fixed inputs for load.mjs to compare bit for bit.
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { ConstrainUnits, NAU, NMU, initBackend } from '@nalm/units';
import { saveModel } from '@nalm/units/node';

const backend = await initBackend('wasm', { fallback: 'error' });
const x = tf.randomUniform([256, 3], 1, 2, 'float32', 7);
const [x0, x1, x2] = tf.split(x, 3, 1);
const y = x0.add(x1).mul(x2);
const model = tf.sequential({
  layers: [new NAU({ units: 2, inputShape: [3], seed: 1 }), new NMU({ units: 1, seed: 2 })],
});
model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
const history = await model.fit(x, y, {
  epochs: 400,
  batchSize: 256,
  shuffle: false,
  verbose: 0,
  callbacks: [new ConstrainUnits()],
});
const [first, loss] = [history.history.loss[0], history.history.loss.at(-1)];
await saveModel(model, 'model');
// Predict on the cpu backend: load.mjs imports only @nalm/units/node and so runs on tfjs's cpu.
await tf.setBackend('cpu');
const inputs = [
  [5, 6, 7],
  [10, 20, 30],
  [1.5, 1.25, 1.75],
];
const predicted = Array.from(model.predict(tf.tensor2d(inputs)).dataSync());
writeFileSync('predictions.json', JSON.stringify({ inputs, predicted }));
console.log(
  `use.mjs: trained on ${backend}, loss ${first.toExponential(3)} → ${loss.toExponential(3)}, saved to model/`,
);
console.log(`use.mjs: (5 + 6) · 7 → ${predicted[0]}`);
if (!(loss < first / 10)) throw new Error(`use.mjs: the loss did not fall tenfold (${first} → ${loss})`);
