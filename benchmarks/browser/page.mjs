// The browser page's code (bundled by run.mjs with esbuild into dist/page.js, from the BUILT
// packages: the `default` export conditions, not the workspace's @nalm/source). Trains NAU → NMU on
// (x0 + x1) · x2 with the wasm backend and publishes the outcome as window.nalmResult for the test.
import * as tf from '@tensorflow/tfjs';
import { ConstrainUnits, NAU, NMU, Rng, initBackend, modelSparsityError } from '@nalm/units';

const EPOCHS = 3000;
const $ = (id) => document.getElementById(id);
const status = (text, cls = '') => Object.assign($('status'), { textContent: text, className: cls });

async function main() {
  // fallback: 'error' — a page that silently ran on cpu would hide a missing .wasm file.
  const backend = await initBackend('wasm', {
    wasmPaths: new URL('/wasm/', location.href).href,
    fallback: 'error',
  });
  $('backend').textContent = backend;

  const target = (x) => (x[0] + x[1]) * x[2];
  const dataset = (n, lo, hi, seed) => {
    const rng = new Rng(seed, 'browser-page');
    const xs = Array.from({ length: n }, () => [
      rng.uniform(lo, hi),
      rng.uniform(lo, hi),
      rng.uniform(lo, hi),
    ]);
    return { x: tf.tensor2d(xs), y: tf.tensor2d(xs.map((x) => [target(x)])) };
  };
  const train = dataset(256, 1, 2, 1);
  const extrapolation = dataset(1000, 2, 6, 3);

  const model = tf.sequential({
    layers: [
      new NAU({ units: 2, inputShape: [3], seed: 1, regularization: { sparsity: 0.01 } }),
      new NMU({ units: 1, seed: 2, regularization: { sparsity: 0.01 } }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });

  const curve = [];
  const started = performance.now();
  await model.fit(train.x, train.y, {
    epochs: EPOCHS,
    batchSize: 256,
    shuffle: false,
    verbose: 0,
    callbacks: [
      new ConstrainUnits(),
      new tf.CustomCallback({
        onEpochEnd: async (epoch, logs) => {
          curve.push(logs.loss);
          if ((epoch + 1) % 250 === 0) {
            const row = $('losses').tBodies[0].insertRow();
            row.innerHTML = `<td>${epoch + 1}</td><td class="num">${logs.loss.toExponential(3)}</td>`;
            drawCurve(curve);
            status(`training… epoch ${epoch + 1} of ${EPOCHS}`);
            await tf.nextFrame();
          }
        },
      }),
    ],
  });
  const seconds = (performance.now() - started) / 1000;

  const [nau, nmu] = model.layers;
  const weights = {
    nau: nau.effectiveWeights().W.arraySync(),
    nmu: nmu.effectiveWeights().W.arraySync(),
  };
  weightTable($('nau'), weights.nau, ['x0', 'x1', 'x2'], ['h0', 'h1']);
  weightTable($('nmu'), weights.nmu, ['h0', 'h1'], ['y']);
  const mse = (d) => tf.tidy(() => tf.losses.meanSquaredError(d.y, model.predict(d.x)).dataSync()[0]);
  const result = {
    backend: tf.getBackend(),
    epochs: EPOCHS,
    seconds,
    loss: curve.at(-1),
    mseTrain: mse(train),
    mseExtrapolation: mse(extrapolation),
    sparsityError: modelSparsityError(model),
    weights,
  };
  $('mse').innerHTML =
    `<tr><th>MSE on U[1, 2] (training)</th><td class="num">${result.mseTrain.toExponential(3)}</td></tr>` +
    `<tr><th>MSE on U[2, 6] (extrapolation)</th><td class="num">${result.mseExtrapolation.toExponential(3)}</td></tr>` +
    `<tr><th>sparsity error</th><td class="num">${result.sparsityError.toFixed(4)}</td></tr>`;
  status(
    `done: ${EPOCHS} epochs in ${seconds.toFixed(1)} s on ${result.backend}; final loss ${result.loss.toExponential(3)}`,
    'ok',
  );
  window.nalmResult = result;
}

function drawCurve(losses) {
  const svg = $('curve');
  const [w, h, pad] = [360, 200, 24];
  const logs = losses.map((l) => Math.log10(Math.max(l, 1e-12)));
  const lo = Math.min(...logs);
  const hi = Math.max(...logs);
  const pts = logs.map((v, i) => {
    const x = pad + ((w - 2 * pad) * i) / Math.max(EPOCHS - 1, 1);
    const y = pad + ((h - 2 * pad) * (hi - v)) / Math.max(hi - lo, 1e-9);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  svg.innerHTML =
    `<polyline fill="none" stroke="#1f5fbf" stroke-width="1.5" points="${pts.join(' ')}"/>` +
    `<text x="${pad}" y="14" font-size="11">log10 loss: ${hi.toFixed(1)} … ${lo.toFixed(1)}</text>` +
    `<text x="${w - pad}" y="${h - 6}" font-size="11" text-anchor="end">epoch ${losses.length}</text>`;
}

function weightTable(table, rows, rowNames, colNames) {
  table.innerHTML =
    `<tr><th></th>${colNames.map((c) => `<th>${c}</th>`).join('')}</tr>` +
    rows
      .map(
        (r, i) =>
          `<tr><th>${rowNames[i]}</th>${r.map((v) => `<td class="num">${v.toFixed(3)}</td>`).join('')}</tr>`,
      )
      .join('');
}

main().catch((e) => {
  status(`failed: ${e.message}`, 'bad');
  console.error(e);
  window.nalmResult = { error: String(e.message ?? e) };
});
