/**
 * `nalm run --preset nsr-… | --task nsr-…`: the Neural Status Register tasks (benchmark.md §7).
 * Trains into `nsr-records.jsonl` of the out directory (resumable), then writes report.md,
 * report.json and report.html there and prints the markdown on stdout; progress goes to stderr.
 */
import { writeFileAtomic } from '../store/atomic.js';
import { commandLine, lockStore } from '../store/lock.js';
import { join } from 'node:path';
import type { BackendName } from '@nalm/units';
import { initBackend } from '@nalm/units';
import { nsrConfigKey } from '@nalm/bench';
import type { NsrModelName, NsrPreset } from '@nalm/bench';
import { expandNsrPreset, getNsrPreset, NSR_PRESETS, presetForTask } from '@nalm/bench';
import { formatNsrHtml, formatNsrJson, formatNsrMarkdown, nsrReport, renderNsrPlots } from '@nalm/bench';
import { openNsrStore } from '../nsr/store.js';
import type { NsrSweepEvent } from '@nalm/bench';
import { runNsrSweep } from '@nalm/bench';
import { NsrTaskError } from '@nalm/bench';
import { checkInt, parseSeeds } from './args.js';
import { interruptedMessage } from './run.js';
import { UsageError, printable } from './errors.js';

export { NSR_PRESETS };

export interface NsrRunArgs {
  preset?: string;
  task?: string;
  seeds?: string;
  epochs?: number;
  out?: string;
  quiet?: boolean;
  backend?: string;
  report?: boolean;
  /** Train only these models of the preset (comma-separated), e.g. the NSR first. */
  model?: string;
  shard?: string;
  workers?: number;
}

/** Whether `nalm run` should hand these arguments to `runNsr`. */
export function isNsrRun(args: { preset?: string; task?: string }): boolean {
  return (args.preset?.startsWith('nsr-') ?? false) || (args.task?.startsWith('nsr-') ?? false);
}

const TASKS = ['nsr-compare', 'nsr-piecewise', 'nsr-min', 'nsr-count'];

/** The preset the arguments select, or a UsageError naming the choices. */
export function resolveNsrPreset(args: NsrRunArgs): NsrPreset {
  const names = NSR_PRESETS.map((p) => p.name).join(', ');
  if (args.task !== undefined && !TASKS.includes(args.task))
    throw new UsageError(`--task ${args.task}: unknown NSR task. Use one of ${TASKS.join(', ')}.`);
  if (args.preset !== undefined) {
    const p = getNsrPreset(args.preset);
    if (!p) throw new UsageError(`--preset ${args.preset}: unknown NSR preset. Known: ${names}.`);
    if (args.task !== undefined && `nsr-${p.kind}` !== args.task)
      throw new UsageError(
        `--preset ${p.name} is a ${p.kind} preset but --task is ${args.task}; give one of them.`,
      );
    return p;
  }
  if (args.task === undefined) throw new UsageError(`give --preset NAME (one of ${names}) or --task NAME.`);
  return presetForTask(args.task)!;
}

function progressPrinter(quiet: boolean) {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return (e: NsrSweepEvent) => {
    if (quiet) return;
    if (e.type === 'plan') {
      process.stderr.write(
        `nalm: ${e.cells} runs, ${e.done} already stored, ${e.pending} to train in ${e.batches} batch(es).\n`,
      );
    } else if (e.type === 'progress') {
      const p = e.progress;
      const text = `  [${e.batch + 1}/${e.batches}] ${e.label}: epoch ${p.epoch}/${p.epochs}, ${p.replicas} replicas, mean train MAE ${p.meanLoss.toFixed(4)}`;
      if (tty) process.stderr.write(`\r\x1b[K${text}`);
      else if (Date.now() - last > 10_000) {
        last = Date.now();
        process.stderr.write(`${text}\n`);
      }
    } else {
      const fit = e.records.filter((r) => r.trainSolved).length;
      if (tty) process.stderr.write('\r\x1b[K');
      process.stderr.write(
        `  [${e.batch + 1}/${e.batches}] ${e.label}: ${fit}/${e.records.length} fit the training set (${e.seconds.toFixed(1)} s)\n`,
      );
    }
  };
}

export async function runNsr(args: NsrRunArgs): Promise<number> {
  const preset = resolveNsrPreset(args);
  // The NSR tasks still run on their own sweep and store (nsr/sweep.ts), without shards, workers or
  // `nalm merge` (issue 18, item 4). A shard would silently train the whole grid: refuse it.
  if (args.shard !== undefined)
    throw new UsageError(
      `--shard: NSR presets do not shard yet (they run on their own pipeline); run ${preset.name} without --shard, ` +
        `or split it by model with --model (one --out per model).`,
    );
  if (args.workers !== undefined && args.workers > 1 && args.quiet !== true)
    process.stderr.write(
      `nalm: note: NSR presets train on one thread; --workers ${args.workers} is ignored.\n`,
    );
  const epochs = args.epochs !== undefined ? checkInt(args.epochs, '--epochs', 1) : preset.epochs;
  const seeds =
    args.seeds !== undefined
      ? parseSeeds(String(args.seeds))
      : Array.from({ length: preset.seeds }, (_, i) => i);
  const backend = (args.backend ?? 'wasm') as BackendName;
  if (backend !== 'wasm' && backend !== 'cpu')
    throw new UsageError(`--backend: use wasm or cpu, got '${backend}'.`);
  const out = args.out ?? join('results', preset.name);
  let configs = expandNsrPreset(preset, epochs);
  if (args.model !== undefined) {
    const want = String(args.model)
      .split(',')
      .map((m) => m.trim());
    for (const m of want)
      if (!preset.models.includes(m as NsrModelName))
        throw new UsageError(
          `--model ${m}: ${preset.name} trains ${preset.models.join(', ')}; pick from those.`,
        );
    configs = configs.filter((c) => want.includes(c.model));
  }
  const store = openNsrStore(out);
  const lock = lockStore(out, {
    command: commandLine(),
    onStale: (m) => process.stderr.write(`nalm: ${m}\n`),
  });
  try {
    for (const p of store.read().problems)
      process.stderr.write(
        `nalm: warning: ${printable(`${p.file}:${p.line}: ${p.reason}`)} (line skipped, left in place)\n`,
      );
    await initBackend(backend);
    let stop = false;
    const onSignal = (sig: string) => {
      if (stop) process.exit(130);
      stop = true;
      process.stderr.write(
        `\nnalm: ${sig} — stopping at the next progress point; stored batches are kept.\n`,
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const started = Date.now();
    let result;
    try {
      result = await runNsrSweep({
        configs,
        seeds,
        store,
        onEvent: progressPrinter(args.quiet === true),
        shouldStop: () => stop,
      });
    } catch (e) {
      if (e instanceof NsrTaskError) throw new UsageError(e.message);
      throw e;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const seconds = (Date.now() - started) / 1000;
    if (result.interrupted) {
      process.stderr.write(interruptedMessage(seconds, result.trained, out));
      return 130;
    }
    if (args.quiet !== true)
      process.stderr.write(
        `nalm: trained ${result.trained} run(s) in ${seconds.toFixed(1)} s (${result.skipped} already stored) → ${out}\n`,
      );
    if (args.report !== false) {
      // Only this preset's configurations: the directory may hold other runs.
      const keys = new Set(configs.map(nsrConfigKey));
      const records = store.read().records.filter((r) => keys.has(r.key) && seeds.includes(r.seed));
      const report = nsrReport(records, `Neural Status Register tasks: ${preset.name}`);
      const md = formatNsrMarkdown(report);
      writeFileAtomic(join(out, 'report.md'), md);
      writeFileAtomic(join(out, 'report.json'), formatNsrJson(report));
      const subtitle = `nalm run --preset ${preset.name} (${seeds.length} seeds, ${epochs.toLocaleString('en')} epochs, ${preset.numeric})`;
      writeFileAtomic(
        join(out, 'report.html'),
        formatNsrHtml(report, await renderNsrPlots(report), subtitle),
      );
      process.stdout.write(md);
      if (args.quiet !== true)
        process.stderr.write(
          `nalm: report written to ${join(out, 'report.md')} and ${join(out, 'report.html')}\n`,
        );
    }
    return 0;
  } finally {
    lock.release();
  }
}
