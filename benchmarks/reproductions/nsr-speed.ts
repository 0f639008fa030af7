// Issue 18: seed-epochs/s of the NSR tasks, tfjs float32 (batched, R replicas) vs the float64 fused trainer,
// interleaved in one process. pnpm --silent bench:nsr [tasks] [models] [R], e.g. pnpm --silent bench:nsr min,count nsr
import { initBackend } from '@nalm/units';
import { trainNsrReplicas, trainFloat64Replica, expandNsrPreset, getNsrPreset } from '@nalm/bench';
await initBackend('wasm');
const tasks = (process.argv[2] ?? 'compare,piecewise,min,count').split(',');
const models = (process.argv[3] ?? 'nsr,mlp,nau-gate').split(',');
const R = Number(process.argv[4] ?? 10);
for (const kind of tasks)
  for (const model of models) {
    const p = getNsrPreset(`nsr-${kind}`)!;
    const c0 = expandNsrPreset(p).find((c) => c.model === model)!;
    const eT = kind === 'piecewise' ? 100 : 200;
    const eF = kind === 'piecewise' ? 300 : 1000;
    const res: number[] = [];
    for (let rep = 0; rep < 2; rep++) {
      const c = { ...c0, epochs: eT, numeric: 'float32' as const };
      let t = performance.now();
      await trainNsrReplicas({ replicas: Array.from({ length: R }, (_, s) => ({ config: c, seed: s })) });
      const tf = (R * eT) / ((performance.now() - t) / 1000);
      const c64 = { ...c0, epochs: eF, numeric: 'float64' as const };
      t = performance.now();
      for (let s = 0; s < 2; s++) trainFloat64Replica({ config: c64, seed: s });
      const f64 = (2 * eF) / ((performance.now() - t) / 1000);
      res.push(tf, f64);
    }
    console.log(
      `${kind}\t${model}\ttfjs f32 (R=${R}) ${res[0]!.toFixed(0)}/${res[2]!.toFixed(0)}\tfloat64 ${res[1]!.toFixed(0)}/${res[3]!.toFixed(0)} seed-epochs/s`,
    );
  }
