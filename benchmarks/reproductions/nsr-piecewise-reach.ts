// Issue 18: how far does a fitted piecewise NSR extrapolate, and what limits it? Trains one seed
// (the preset's NSR configuration with `epochs` and `redundancy` replaced, float64), then prints each
// operand pair's selection difference d = softmax(V1) − softmax(V2) and its imbalance d0 + d1: at
// x0 ≈ x1 ≈ M the comparison sees d0·(x0 − x1) + (d0 + d1)·M, so a pair's status bits flip once M
// reaches about |d0| / |d0 + d1| (nsr.md). Then the NAU branches' weights on x0 and x1, which should
// be 0: a branch is off by w0·x0 + w1·x1 at large inputs. Last, the test error per magnitude as
// trained and with the pairs that did not isolate x0 − x1 switched off (W± = W0 = 0).
//   node --conditions=@nalm/source --import tsx benchmarks/reproductions/nsr-piecewise-reach.ts \
//     [--op gt|eq] [--redundancy 10] [--selection-penalty λ (default: the preset's)] [--regularize-from f] [--seed 0] [--epochs 30000]
import type { Float64Params } from '@nalm/bench';
import { float64Predict, testData, testPoints, trainFloat64Replica } from '@nalm/bench';
import { arg, piecewiseNsrConfig } from './nsr-piecewise-args.js';

const config = piecewiseNsrConfig();
const R = config.redundancy ?? 1;
const seed = Number(arg('seed', '0'));
const op = config.task.op;
const epochs = config.epochs;
const S = 5;

const t0 = performance.now();
const trained = trainFloat64Replica({ config, seed })!;
const p = trained.params;
console.log(
  `piecewise ${op}, seed ${seed}, R = ${R}, ${epochs} epochs: train MAE ${trained.record.trainLoss.toFixed(4)} ` +
    `(${((performance.now() - t0) / 1000).toFixed(0)} s)`,
);

const softmaxColumn = (v: Float64Array, r: number) => {
  const e = Array.from({ length: S }, (_, j) => Math.exp(v[j * R + r]!));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};
const ws = p['gate.nsr/W_sign']!;
const wz = p['gate.nsr/W_zero']!;
const isolates: boolean[] = [];
for (let r = 0; r < R; r++) {
  const a = softmaxColumn(p['gate.nsr/V1']!, r);
  const b = softmaxColumn(p['gate.nsr/V2']!, r);
  const d = a.map((x, j) => x - b[j]!);
  const imbalance = d[0]! + d[1]!;
  // "isolates x0 − x1": most of both selections on x0 and x1, opposite signs.
  const ok = Math.abs(d[0]!) > 0.5 && Math.abs(d[1]!) > 0.5 && Math.abs(imbalance) < 0.05;
  isolates.push(ok);
  console.log(
    `pair ${r}: d = [${d.map((x) => x.toFixed(3)).join(', ')}]  d0 + d1 = ${imbalance.toExponential(2)}` +
      `  |d0|/|d0 + d1| = ${(Math.abs(d[0]!) / Math.abs(imbalance)).toPrecision(3)}` +
      `  W± = ${ws[r]!.toFixed(2)}  W0 = ${wz[r]!.toFixed(2)}${ok ? '  (isolates x0 − x1)' : ''}`,
  );
}

for (const branch of ['true', 'false']) {
  const w = p[`${branch}.W/W`]!;
  const leak = Math.abs(w[0]! + w[1]!);
  console.log(
    `branch ${branch}: W = [${Array.from(w, (v) => v.toExponential(1)).join(', ')}]  ` +
      `off by 0.5 once |w0 + w1|·x1 = 0.5, at x1 ≈ ${(0.5 / leak).toPrecision(3)}`,
  );
}

const score = (params: Float64Params) =>
  testPoints(config.task)
    .map((pt) => {
      const d = testData(config.task, pt, seed);
      const rows = Array.from({ length: d.n }, (_, i) =>
        Array.from(d.x.subarray(i * d.width, (i + 1) * d.width)),
      );
      const pred = float64Predict(config, params, rows);
      let right = 0;
      let sum = 0;
      pred.forEach((v, i) => {
        const e = Math.abs(v - d.y[i]!);
        if (e < 0.5) right++;
        sum += e;
      });
      return `2^${pt.exponent} ${right === d.n ? 'ok' : (sum / d.n).toFixed(2)}`;
    })
    .join('  ');
console.log(`test (ok, or the mean error), as trained:       ${score(p)}`);
const pruned = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Float64Array.from(v)]));
for (let r = 0; r < R; r++) {
  if (isolates[r]) continue;
  pruned['gate.nsr/W_sign']![r] = 0;
  pruned['gate.nsr/W_zero']![r] = 0;
}
console.log(`test, the other pairs switched off (W± = W0 = 0): ${score(pruned)}`);
