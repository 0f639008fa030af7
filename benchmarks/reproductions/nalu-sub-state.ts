// Experiment behind iclr2020-main.md "NALU −": replays one stored NALU − run on the fused path's own
// pieces, checks every evaluation against the stored curve (bit for bit), and writes the model's
// parameters and Adam state at the given iterations, for nalu-sub-continue.py to go on from in
// stable-nalu's network and PyTorch's Adam.
//   node --conditions=@nalm/source --import tsx benchmarks/reproductions/nalu-sub-state.ts \
//     RECORDS.jsonl SEED ITERATION[,ITERATION…] OUT_DIR
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunConfig, RunRecord, StaticTaskConfig } from '@nalm/bench';
import { createStaticTask, evaluationInputs, subsetLayout, useKernels } from '@nalm/bench';
import { initBackend } from '@nalm/units';
import { Adam, Arena, initialFastModel } from '../../packages/bench/src/fast/index.js';

const [recordsPath, seedArg, atArg, outDir] = process.argv.slice(2);
if (!recordsPath || !seedArg || !atArg || !outDir) {
  throw new Error('usage: nalu-sub-state.ts RECORDS.jsonl SEED ITERATION[,ITERATION…] OUT_DIR');
}
const seed = Number(seedArg);
const dumpAt = atArg.split(',').map(Number);
const rec = readFileSync(recordsPath, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as RunRecord)
  .find((r) => r.seed === seed);
if (!rec) throw new Error(`${recordsPath}: no record for seed ${seed}`);
const config = rec.config as RunConfig & { task: StaticTaskConfig };

useKernels(readFileSync(new URL('../../packages/bench/wasm/kernels.wasm', import.meta.url)));
await initBackend('cpu');
const I = config.task.inputSize;
const B = config.batch;
const arena = new Arena();
const model = initialFastModel(config, seed, arena);
const task = createStaticTask(config.task, seed);
const adam = new Adam(model.p.length, config.lr, 0.9, 0.999, 1e-8, arena);
const extrapolation = evaluationInputs(config.task, 'extrapolation');
const n = extrapolation.length / I;
const targets = task.targets(extrapolation, n);
const stored = new Map(rec.curve.map((p) => [p.step, p.extrapolation]));
const yBuf = new Float64Array(B);
// The replay is the fused trainer's loop for a model without regulariser (the NALU's); its
// evaluations must equal the stored curve, or the dumped state is not the stored run's.
const last = Math.max(...dumpAt);
for (let t = 0; ; t++) {
  if (t % config.evalEvery === 0) {
    model.prepare();
    const e = model.mse(extrapolation, targets, n);
    if (stored.has(t) && stored.get(t) !== e) {
      throw new Error(`iteration ${t}: extrapolation MSE ${e}, stored ${stored.get(t)}: the replay diverged`);
    }
  }
  if (dumpAt.includes(t)) {
    // Adam keeps m and v in wasm memory (606 parameters ≥ its wasm threshold): read them there.
    const w = (adam as unknown as { wasm: { mPtr: number; vPtr: number; n: number } }).wasm;
    const memory = arena.memoryBuffer;
    const file = join(outDir, `nalu-sub-s${seed}-t${t}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        seed,
        t,
        offset: task.offset,
        layout: subsetLayout(config.task),
        slices: model.slices,
        p: Array.from(model.p),
        m: Array.from(new Float64Array(memory, w.mPtr, w.n)),
        v: Array.from(new Float64Array(memory, w.vPtr, w.n)),
        extrapolation: stored.get(t),
      }),
    );
    console.log(`${file}: iteration ${t}, stored extrapolation MSE ${stored.get(t)}`);
  }
  if (t === last) break;
  const xBuf = model.inputBuffer(B);
  task.nextBatch(xBuf, yBuf, B, model.filler);
  model.prepare();
  model.lossAndGrad(xBuf, yBuf, B, 0, 0);
  adam.step(model.p, model.g);
  model.constrain();
}
