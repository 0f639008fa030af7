// %% [markdown]
// # Measuring extrapolation over many seeds
//
// A unit "works" only if training finds the extrapolating solution for most random
// initialisations. This notebook runs a small sweep from code — two models, two operations,
// several seeds — and prints the success rates with 95% confidence intervals, exactly as
// `nalm run` and `nalm report` do from the command line.
//
// Run it with `pnpm example 02-benchmark` (add `--short` for a few-second version).

// %%
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultStaticTask,
  fastTrainer,
  formatMarkdown,
  reportFromRecords,
  runSweep,
  scaleSchedule,
  getModel,
  type RunConfig,
  staticRecords,
} from '@nalm/bench';
import { initBackend } from '@nalm/units';
import { loadKernels, openStore } from '@nalm/cli';

const short = process.argv.includes('--short');
await initBackend('wasm');
loadKernels(); // the fused trainer's wasm kernels, read from @nalm/bench's package

// %% [markdown]
// ## The grid
// Each configuration is a model × an operation on the static task of the NAU/NMU paper: 100 inputs
// drawn from U[1, 2] for training, U[2, 6] for testing extrapolation; the target combines two
// overlapping subset sums. The paper trains 5M iterations; we scale the sparsity schedule down with
// the run length.

// %%
const iterations = short ? 1_000 : 20_000;
const seeds = short ? [0, 1] : [0, 1, 2, 3, 4, 5];
const configs: RunConfig[] = ['nau', 'nac'].flatMap((model) =>
  (['add', 'sub'] as const).map((op) => {
    const paper = getModel(model).schedule;
    return {
      task: defaultStaticTask({ op }),
      model,
      hidden: 2,
      batch: 128,
      lr: 1e-3,
      iterations,
      evalEvery: 1000,
      schedule: paper ? scaleSchedule(paper, iterations / 5_000_000) : null,
      oobWeight: 1,
    };
  }),
);
console.log(
  `${configs.length} configurations × ${seeds.length} seeds × ${iterations.toLocaleString('en')} iterations`,
);

// %% [markdown]
// ## Train
// Records go to a result store (a directory of JSON lines). Running the same sweep again skips the
// finished (configuration, seed) cells — that is how an interrupted run resumes.

// %%
const store = openStore(mkdtempSync(join(tmpdir(), 'nalm-example-')), { create: true });
const started = Date.now();
await runSweep({
  configs,
  seeds,
  store,
  fast: fastTrainer,
  onEvent: (e) => {
    if (e.type === 'batch-done') {
      const c = e.records[0]!.config;
      console.log(
        `  ${c.model}: ${e.records.filter((r) => r.solved).length}/${e.records.length} solved (${e.seconds.toFixed(1)} s)`,
      );
    }
  },
});
console.log(`trained in ${((Date.now() - started) / 1000).toFixed(1)} s`);

// %% [markdown]
// ## Summarise
// Success rate with the Wilson interval; for solved seeds, when they solved it (gamma fit) and how
// sparse the solution is (beta fit). With so few seeds the intervals are wide — that is the point
// of reporting them.

// %%
const records = staticRecords(store.read().records); // a store may also hold NSR-task records
console.log(formatMarkdown(reportFromRecords(records), 'NAU vs NAC+ on + and −'));

// %% [markdown]
// ## One run's curve
// Every record keeps its evaluation curve, so anything can be re-analysed later.

// %%
const r = records.find((x) => x.config.model === 'nau' && x.config.task.op === 'add')!;
for (const p of r.curve) {
  console.log(
    `step ${String(p.step).padStart(6)}  interpolation MSE ${p.interpolation.toExponential(2)}  extrapolation MSE ${p.extrapolation.toExponential(2)}`,
  );
}
console.log(
  `threshold ${r.threshold.toExponential(3)} → solved: ${r.solved} (solved at ${r.solvedAt ?? '—'})`,
);
