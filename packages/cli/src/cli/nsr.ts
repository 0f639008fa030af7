/**
 * `nalm run --preset nsr-… | --task nsr-…`: the Neural Status Register tasks (benchmark.md §7), the
 * task kind `nsr` on the benchmark's pipeline (`trainIntoStore`: the result store, `--workers`,
 * `--shard`, resume; `nalm merge` joins shards). Then writes report.md, report.json and
 * report.html of the preset's records in the store (every model, op and seed stored, whatever
 * --model/--op/--seeds trained) and prints the markdown on stdout; progress goes to stderr.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.js';
import type { NsrBatch, NsrModelName, NsrPreset, NsrRunConfig, NsrSweepEvent } from '@nalm/bench';
import { expandNsrPreset, getNsrPreset, NSR_PRESETS, presetForTask } from '@nalm/bench';
import { formatNsrHtml, formatNsrJson, formatNsrMarkdown, nsrReport, renderNsrPlots } from '@nalm/bench';
import { nsrKind, nsrRecords } from '@nalm/bench';
import { NsrTaskError, nsrEpochCost } from '@nalm/bench';
import type { StoreReadResult } from '../store/index.js';
import { checkInt, checkNonNegative, parseSeeds } from './args.js';
import { storeRunFlags, trainIntoStore } from './run.js';
import { UsageError } from './errors.js';
import { SweepProgress, formatDuration, progressSink } from './progress.js';

export { NSR_PRESETS };

/** Where NSR records went before they joined the result store (nalm 0.1; not read any more). */
const LEGACY_RECORDS_FILE = 'nsr-records.jsonl';

export interface NsrRunArgs {
  preset?: string;
  task?: string;
  seeds?: string;
  epochs?: number;
  /** The NSR's redundancy R (operand pairs) instead of the preset's. */
  redundancy?: number;
  /** Weight of the NSR's selection-entropy regulariser instead of the preset's (0: the reference). */
  selectionPenalty?: number;
  /** Every model's NAU regulariser starts after this epoch instead of the preset's. */
  regularizeEpoch?: number;
  /** The NSR's selection penalty starts after this epoch instead of the preset's. */
  selectionEpoch?: number;
  out?: string;
  quiet?: boolean;
  backend?: string;
  report?: boolean;
  /** Train only these models of the preset (comma-separated), e.g. the NSR first. */
  model?: string;
  /** Train only these operations of the preset (comma-separated), e.g. gt of nsr-piecewise. */
  op?: string;
  shard?: string;
  workers?: number;
  'max-replicas'?: number;
  'time-limit'?: string;
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

/**
 * Progress for people (progress.ts): a bar, runs, seed-epochs/s, an ETA weighted by each model's
 * epoch cost (nsrEpochCost: a 500,000-epoch MLP run is not an NAU-gate run), the runs that fit their
 * training set so far, and the newest batch's epoch and training MAE.
 */
function progressPrinter(quiet: boolean) {
  const progress = new SweepProgress();
  const sink = progressSink();
  let fitDone = 0;
  let latest = '';
  const label = (batch: NsrBatch) => {
    const c = batch.replicas[0]!.config;
    const ops = [...new Set(batch.replicas.map((r) => r.config.task.op ?? ''))].filter(Boolean).join(',');
    return `${c.task.kind}${ops ? ` ${ops}` : ''} ${c.model}`;
  };
  const line = () =>
    progress.line(
      `${Math.round(progress.rate).toLocaleString('en')} seed-epochs/s`,
      `fit so far ${fitDone}/${progress.runsDone}${latest ? `  (${latest})` : ''}`,
    );
  return (e: NsrSweepEvent) => {
    if (quiet) return;
    if (e.type === 'plan') {
      progress.plan(e.work, e.pending);
      process.stderr.write(
        `nalm: ${e.cells} runs, ${e.done} already stored, ${e.pending} to train in ${e.batches} batch(es).\n`,
      );
      return;
    }
    if (e.type === 'batch-start') return;
    if (e.type === 'progress') {
      const p = e.progress;
      const epochs = p.epoch * p.replicas;
      progress.update(e.batch.index, epochs * nsrEpochCost(e.batch.replicas[0]!.config), epochs);
      latest = `[${e.batch.index + 1}/${e.batch.count}] ${label(e.batch)}: epoch ${p.epoch}/${p.epochs}, train MAE ${p.meanLoss.toFixed(4)}`;
    } else {
      const records = e.records;
      const epochs = records.reduce((a, r) => a + r.config.epochs, 0);
      progress.finish(e.batch.index, epochs * nsrEpochCost(records[0]!.config), epochs, records.length);
      const fit = records.filter((r) => r.trainSolved).length;
      fitDone += fit;
      sink.print(
        `  [${e.batch.index + 1}/${e.batch.count}] ${label(e.batch)}: ${fit}/${records.length} fit the training set (${formatDuration(e.seconds)})`,
      );
    }
    sink.line(line());
  };
}

/** Flags of the static benchmark's grid, which an NSR preset sets itself: refused, not ignored. */
const STATIC_ONLY_FLAGS = [
  'iterations',
  'input-size',
  'subset',
  'overlap',
  'subsets',
  'interp',
  'extrap',
  'simple',
  'hidden',
  'batch',
  'lr',
  'eval-every',
  'schedule',
  'engine',
] as const;

/** The preset's configurations (with `--epochs`, `--model` and `--op` applied), parsed by the NSR kind. */
export function resolveNsrRun(args: NsrRunArgs): {
  preset: NsrPreset;
  configs: NsrRunConfig[];
  seeds: number[];
  epochs: number;
} {
  for (const flag of STATIC_ONLY_FLAGS)
    if ((args as Record<string, unknown>)[flag] !== undefined)
      throw new UsageError(
        `--${flag} applies to the static arithmetic benchmark; an NSR preset sets its own ` +
          (flag === 'iterations' ? '(its length is --epochs).' : '(drop the flag).'),
      );
  const preset = resolveNsrPreset(args);
  const epochs = args.epochs !== undefined ? checkInt(args.epochs, '--epochs', 1) : preset.epochs;
  const seeds =
    args.seeds !== undefined
      ? parseSeeds(String(args.seeds))
      : Array.from({ length: preset.seeds }, (_, i) => i);
  const redundancy =
    args.redundancy !== undefined ? checkInt(args.redundancy, '--redundancy', 1) : preset.nsrRedundancy;
  const selectionPenalty =
    args.selectionPenalty !== undefined
      ? checkNonNegative(args.selectionPenalty, '--selection-penalty')
      : preset.nsrSelectionPenalty;
  const regularizeEpoch =
    args.regularizeEpoch !== undefined ? checkInt(args.regularizeEpoch, '--regularize-epoch', 0) : undefined;
  const selectionEpoch =
    args.selectionEpoch !== undefined ? checkInt(args.selectionEpoch, '--selection-epoch', 0) : undefined;
  if (selectionEpoch !== undefined && !(selectionPenalty ?? 0))
    throw new UsageError(
      `--selection-epoch starts the NSR's selection penalty, but this run of ${preset.name} has none (λ = 0): ` +
        'add --selection-penalty λ > 0 or drop --selection-epoch.',
    );
  let raw = expandNsrPreset(preset, {
    epochs,
    redundancy,
    selectionPenalty,
    regularizeEpoch,
    selectionEpoch,
  });
  if (args.model !== undefined) {
    const want = String(args.model)
      .split(',')
      .map((m) => m.trim());
    for (const m of want)
      if (!preset.models.includes(m as NsrModelName))
        throw new UsageError(
          `--model ${m}: ${preset.name} trains ${preset.models.join(', ')}; pick from those.`,
        );
    raw = raw.filter((c) => want.includes(c.model));
  }
  if (args.op !== undefined) {
    const ops = preset.ops.filter((o): o is NonNullable<typeof o> => o !== null);
    if (ops.length === 0)
      throw new UsageError(`--op: ${preset.name} (${preset.kind}) has no operation to choose; drop --op.`);
    const want = String(args.op)
      .split(',')
      .map((o) => o.trim());
    for (const o of want)
      if (!ops.includes(o as (typeof ops)[number]))
        throw new UsageError(`--op ${o}: ${preset.name} trains ${ops.join(', ')}; pick from those.`);
    raw = raw.filter((c) => c.task.op !== null && want.includes(c.task.op));
  }
  let configs: NsrRunConfig[];
  try {
    configs = raw.map((c) => nsrKind.parse(c));
  } catch (e) {
    if (e instanceof NsrTaskError) throw new UsageError(e.message);
    throw e;
  }
  return { preset, configs, seeds, epochs };
}

/** A preset's records in a store, every seed stored (the directory may hold other runs). */
export function presetNsrRecords(read: StoreReadResult, configs: readonly NsrRunConfig[]) {
  const keys = new Set(configs.map((c) => nsrKind.key(c)));
  return nsrRecords(read.records).filter((r) => keys.has(r.key));
}

export async function runNsr(args: NsrRunArgs): Promise<number> {
  const { preset, configs, seeds, epochs } = resolveNsrRun(args);
  // The report is the store's, not this run's: a run restricted by --model/--op/--seeds (a long
  // preset built piece by piece) must not replace the report of the whole grid with its part.
  const whole = resolveNsrRun({ ...args, model: undefined, op: undefined, seeds: undefined }).configs;
  const flags = storeRunFlags(args, preset.name);
  const { out, quiet } = flags;
  if (existsSync(join(out, LEGACY_RECORDS_FILE)))
    process.stderr.write(
      `nalm: note: ${join(out, LEGACY_RECORDS_FILE)} holds NSR records of an earlier nalm (their own store); ` +
        'they are not read: its runs are trained again into the result store.\n',
    );
  return trainIntoStore(
    { kind: 'nsr', configs, seeds, ...flags, onEvent: progressPrinter(quiet) },
    async (store) => {
      if (args.report === false) return;
      const records = presetNsrRecords(store.read(), whole);
      const report = nsrReport(records, `Neural Status Register tasks: ${preset.name}`);
      const stored = new Set(records.map((r) => r.seed)).size;
      const md = formatNsrMarkdown(report);
      writeFileAtomic(join(out, 'report.md'), md);
      writeFileAtomic(join(out, 'report.json'), formatNsrJson(report));
      const subtitle = `nalm run --preset ${preset.name} (${stored} seeds stored, ${epochs.toLocaleString('en')} epochs, ${preset.numeric})`;
      writeFileAtomic(
        join(out, 'report.html'),
        formatNsrHtml(report, await renderNsrPlots(report), subtitle),
      );
      process.stdout.write(md);
      if (!quiet)
        process.stderr.write(
          `nalm: report written to ${join(out, 'report.md')} and ${join(out, 'report.html')}\n`,
        );
    },
  );
}
