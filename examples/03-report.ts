// %% [markdown]
// # Seeing the results: plots and an HTML report
//
// A table of success rates says *how often* training found the extrapolating solution; plots show
// *how* it got there. This notebook trains a tiny sweep (or loads a result store you pass), builds
// the report, renders its plots to SVG and writes one self-contained HTML page — the same page as
// `nalm report STORE --format html --out DIR`. Then it makes a plot of its own from the records.
//
// Run it with `pnpm example 03-report` (add `--short` for a quick version), or
// `pnpm example 03-report -- results/quick` to plot an existing result store.

// %%
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultStaticTask,
  fastTrainer,
  formatMarkdown,
  getModel,
  reportFromRecords,
  runSweep,
  scaleSchedule,
  formatHtml,
  renderPlots,
  renderSvg,
  type RenderedPlot,
  type RunConfig,
  type RunRecord,
  type VegaLiteSpec,
  staticRecords,
} from '@nalm/bench';
import { initBackend } from '@nalm/units';
import { loadKernels, openStore } from '@nalm/cli';

const short = process.argv.includes('--short');
const storeArg = process.argv.slice(2).find((a) => !a.startsWith('--'));
const outDir = mkdtempSync(join(tmpdir(), 'nalm-report-'));

// %% [markdown]
// ## Records
// With a result store as argument we plot it as it is. Otherwise we train a small grid: NAU and
// NAC+ on + and −. The short version uses the "simple" task (4 inputs, a = x1+x2+x3+x4, b = x1+x2),
// where a few thousand iterations are enough for some seeds to solve it.

// %%
let records: RunRecord[];
if (storeArg) {
  records = staticRecords(openStore(storeArg).read().records);
  console.log(`${records.length} records from ${storeArg}`);
} else {
  await initBackend('wasm');
  loadKernels(); // the fused trainer's wasm kernels, read from @nalm/bench's package
  const iterations = short ? 30_000 : 20_000;
  const seeds = short ? [0, 1, 2, 3, 4] : [0, 1, 2, 3, 4, 5, 6, 7];
  const configs: RunConfig[] = (short ? ['nau'] : ['nau', 'nac']).flatMap((model) =>
    (['add', 'sub'] as const).map((op) => {
      const paper = getModel(model).schedule;
      return {
        task: defaultStaticTask({ op, simple: short }),
        model,
        hidden: 2,
        batch: 128,
        lr: 1e-3,
        iterations,
        evalEvery: 500,
        schedule: paper ? scaleSchedule(paper, iterations / 5_000_000) : null,
        oobWeight: 1,
      };
    }),
  );
  const store = openStore(join(outDir, 'store'), { create: true });
  const started = Date.now();
  await runSweep({ configs, seeds, store, fast: fastTrainer });
  records = staticRecords(store.read().records);
  console.log(
    `trained ${records.length} runs (${configs.length} configurations × ${seeds.length} seeds × ` +
      `${iterations.toLocaleString('en')} iterations) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

// %% [markdown]
// ## The report and its plots
// `renderPlots` builds the standard plots as vega-lite specifications and renders them to SVG in
// Node (vega's string renderer: no canvas, no browser): the success rate with its Wilson interval,
// when the solved seeds solved it, the extrapolation-MSE curve of every seed, and — when the groups
// differ in a configuration field such as the range — success against that field.

// %%
const report = reportFromRecords(records);
console.log(formatMarkdown(report, 'Plotted runs'));
const plots = await renderPlots(report, records);
for (const p of plots) console.log(`  ${p.id}: ${p.title} (${(p.svg.length / 1024).toFixed(0)} KiB of SVG)`);

// %% [markdown]
// ## A plot of our own
// Each record keeps its outcome, so any question is a few lines of vega-lite away. Here: is a seed
// that solves the task early also sparser? One dot per solved seed — x the first step whose
// extrapolation MSE beat the threshold, y the sparsity error at the best step.

// %%
const solved = records.filter((r) => r.solved && r.solvedAt !== null && r.sparsityError !== null);
const customSpec: VegaLiteSpec = {
  title: {
    text: 'Sparsity error vs solved at',
    subtitle: solved.length > 0 ? 'one dot per solved seed' : 'no seed solved its task in these runs',
  },
  width: 360,
  height: 220,
  data: {
    values: solved.map((r) => ({
      model: getModel(r.config.model).label,
      operation: r.config.task.op,
      seed: r.seed,
      solvedAt: r.solvedAt,
      sparsity: r.sparsityError,
    })),
  },
  mark: { type: 'point', filled: true, size: 60, opacity: 0.8 },
  encoding: {
    x: { field: 'solvedAt', type: 'quantitative', title: 'solved at (iterations)' },
    y: {
      field: 'sparsity',
      type: 'quantitative',
      title: 'sparsity error at the best step',
      scale: { domain: [0, 0.5] },
    },
    color: { field: 'model', type: 'nominal', title: 'model' },
    shape: { field: 'operation', type: 'nominal', title: 'operation' },
    tooltip: [{ field: 'seed' }, { field: 'solvedAt' }, { field: 'sparsity', format: '.2e' }],
  },
};
const customSvg = await renderSvg(customSpec);
writeFileSync(join(outDir, 'sparsity-vs-solved-at.svg'), customSvg);
console.log(`custom plot: ${solved.length} solved seed(s) → ${join(outDir, 'sparsity-vs-solved-at.svg')}`);

// %% [markdown]
// ## One page
// `formatHtml` takes the report and any rendered plots — ours included — and writes a page with the
// table, the notes and every plot inline: no scripts, nothing fetched, safe to mail or archive.

// %%
const custom: RenderedPlot = {
  id: 'sparsity-vs-solved-at',
  title: 'Sparsity error vs solved at',
  caption: 'Per solved seed: the first step below the threshold and the sparsity error at the best step.',
  spec: customSpec,
  svg: customSvg,
};
const page = formatHtml(report, [...plots, custom], { title: 'nalm example 03: plots and an HTML report' });
const pagePath = join(outDir, 'report.html');
writeFileSync(pagePath, page);
console.log(`HTML report: ${pagePath} (${(page.length / 1024).toFixed(0)} KiB, ${plots.length + 1} plots)`);
