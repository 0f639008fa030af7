// Imports only @nalm/units/node (and tfjs for tensors): loadModel must know the unit layers
// without '@nalm/units' having been imported, and predict exactly what use.mjs predicted.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '@nalm/units/node';

await tf.setBackend('cpu');
const { inputs, predicted } = JSON.parse(readFileSync('predictions.json', 'utf8'));
const model = await loadModel('model');
const again = Array.from(model.predict(tf.tensor2d(inputs)).dataSync());
const bits = (v) => Buffer.from(new Float32Array(v).buffer).toString('hex');
console.log(`load.mjs: layers ${model.layers.map((l) => l.getClassName()).join(' → ')}`);
if (bits(again) !== bits(predicted)) {
  throw new Error(`load.mjs: predictions differ: ${JSON.stringify(again)} vs ${JSON.stringify(predicted)}`);
}
console.log(`load.mjs: ${again.length} predictions bit-identical to use.mjs (${bits(again).slice(0, 16)}…)`);
