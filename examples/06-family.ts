// %% [markdown]
// # The wider family: NMU, NPU and iNALU on x0 · x1
//
// The single-module task of the NALM benchmark (benchmark.md §6) trains one unit on two inputs,
// a = x0 and b = x1, and tests it on a wider range. Here three multiplying units meet on `x0 · x1`
// over two range pairs: the classic U[1, 2] → U[2, 6], and the mixed-sign U[−2, 2] →
// U[−6, −2] ∪ U[2, 6], where inputs cross zero and the sign of the product matters.
//
// - **NMU** (Madsen & Johansen): z = Π (W·x + 1 − W), W ∈ [0, 1]; handles signs, cannot divide.
// - **NPU** (Heim et al.): a complex-valued power product with a relevance gate; trained with
//   lr 5e−3 and an L1 penalty whose weight β grows ×10 every 10,000 iterations.
// - **iNALU** (Schlör et al.): gated NAC paths with an explicit sign; trained with gradient
//   clipping ±0.1 and re-initialisation when its loss stalls.
//
// Each is a registered model (`single-nmu`, `single-npu`, `single-inalu`) that carries these
// settings, so the sweep needs nothing but the model names. Run with `pnpm example 06-family`
// (`--short` for a few-second version).

// %%
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SINGLE_MODULE_RANGES,
  expandPreset,
  fastTrainer,
  formatGridMarkdown,
  getPreset,
  reportFromRecords,
  runSweep,
  staticRecords,
} from '@nalm/bench';
import { initBackend } from '@nalm/units';
import { loadKernels, openStore } from '@nalm/cli';

const short = process.argv.includes('--short');
await initBackend('wasm');
loadKernels(); // the fused trainer's wasm kernels, read from @nalm/bench's package

// %% [markdown]
// ## The grid
// The `single-module` preset holds the benchmark's settings (schedules 20,000 → 35,000 for a
// 50,000-iteration run, scaled with the run length here; per-module learning rates). We keep three
// modules, one operation and two of its nine range pairs.

// %%
const iterations = short ? 400 : 20_000;
const seeds = short ? [0, 1] : Array.from({ length: 10 }, (_, i) => i);
const configs = expandPreset({
  ...getPreset('single-module'),
  models: ['single-nmu', 'single-npu', 'single-inalu'],
  ops: ['mul'],
  ranges: [SINGLE_MODULE_RANGES[6]!, SINGLE_MODULE_RANGES[4]!],
  iterations,
  evalEvery: short ? 200 : 1000,
});
for (const c of new Map(configs.map((c) => [c.model, c])).values()) {
  console.log(
    `${c.model.padEnd(13)} lr ${c.lr}  schedule ${c.schedule ? `${c.schedule.lambda} @ ${c.schedule.start}–${c.schedule.end}` : 'none'}`,
  );
}

// %% [markdown]
// ## Train
// NMU runs on the fused path; NPU and iNALU on the generic tfjs trainer, all seeds of a model in one
// batched computation. A seed whose loss turns NaN/Inf (exp overflows easily for the NPU and the
// iNALU) is stopped there and recorded as diverged; the others continue.

// %%
const store = openStore(mkdtempSync(join(tmpdir(), 'nalm-family-')), { create: true });
const started = Date.now();
await runSweep({
  configs,
  seeds,
  store,
  fast: fastTrainer,
  onEvent: (e) => {
    if (e.type === 'batch-done') {
      const diverged = e.records.filter((r) => r.diverged).length;
      console.log(
        `  ${e.records[0]!.config.model}: ${e.records.filter((r) => r.solved).length}/${e.records.length} solved` +
          `${diverged ? `, ${diverged} diverged` : ''} (${e.seconds.toFixed(1)} s)`,
      );
    }
  },
});
console.log(`trained in ${((Date.now() - started) / 1000).toFixed(1)} s`);

// %% [markdown]
// ## Success per module and range
// The success criterion is the benchmark's: the extrapolation MSE at the best validation step must
// be below the single-module threshold (the output perturbed by ε = 1e−4). Each cell is the success
// rate with its 95% Wilson interval and solved/seeds.

// %%
const report = reportFromRecords(staticRecords(store.read().records));
console.log(formatGridMarkdown(report.grid ?? []));
