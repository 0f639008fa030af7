/**
 * `nalm run --preset nsr-… | --task nsr-…`: the Neural Status Register tasks (benchmark.md §7), the
 * task kind `nsr` on the benchmark's pipeline (`trainIntoStore`: the result store, `--workers`,
 * `--shard`, resume; `nalm merge` joins shards). Then writes report.md, report.json and
 * report.html of the preset's records and prints the markdown on stdout; progress goes to stderr.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/atomic.js';
import type { NsrBatch, NsrModelName, NsrPreset, NsrRunConfig, NsrSweepEvent } from '@nalm/bench';
import { expandNsrPreset, getNsrPreset, NSR_PRESETS, presetForTask } from '@nalm/bench';
import { formatNsrHtml, formatNsrJson, formatNsrMarkdown, nsrReport, renderNsrPlots } from '@nalm/bench';
import { nsrKind, nsrRecords } from '@nalm/bench';
import { NsrTaskError } from '@nalm/bench';
import type { StoreReadResult } from '../store/index.js';
import { checkInt, checkNonNegative, parseSeeds } from './args.js';
import { storeRunFlags, trainIntoStore } from './run.js';
import { UsageError } from './errors.js';

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
  const label = (batch: NsrBatch) => {
    const c = batch.replicas[0]!.config;
    const ops = [...new Set(batch.replicas.map((r) => r.config.task.op ?? ''))].filter(Boolean).join(',');
    return `${c.task.kind}${ops ? ` ${ops}` : ''} ${c.model}`;
  };
  return (e: NsrSweepEvent) => {
    if (quiet) return;
    if (e.type === 'plan') {
      process.stderr.write(
        `nalm: ${e.cells} runs, ${e.done} already stored, ${e.pending} to train in ${e.batches} batch(es).\n`,
      );
    } else if (e.type === 'batch-start') {
      return;
    } else if (e.type === 'progress') {
      const p = e.progress;
      const text = `  [${e.batch.index + 1}/${e.batch.count}] ${label(e.batch)}: epoch ${p.epoch}/${p.epochs}, ${p.replicas} replicas, mean train MAE ${p.meanLoss.toFixed(4)}`;
      if (tty) process.stderr.write(`\r\x1b[K${text}`);
      else if (Date.now() - last > 10_000) {
        last = Date.now();
        process.stderr.write(`${text}\n`);
      }
    } else {
      const records = e.records;
      const fit = records.filter((r) => r.trainSolved).length;
      if (tty) process.stderr.write('\r\x1b[K');
      process.stderr.write(
        `  [${e.batch.index + 1}/${e.batch.count}] ${label(e.batch)}: ${fit}/${records.length} fit the training set (${e.seconds.toFixed(1)} s)\n`,
      );
    }
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
  let raw = expandNsrPreset(preset, { epochs, redundancy, selectionPenalty });
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

/** The NSR report of one preset's records in a store (the directory may hold other runs). */
export function presetNsrRecords(
  read: StoreReadResult,
  configs: readonly NsrRunConfig[],
  seeds: readonly number[],
) {
  const keys = new Set(configs.map((c) => nsrKind.key(c)));
  return nsrRecords(read.records).filter((r) => keys.has(r.key) && seeds.includes(r.seed));
}

export async function runNsr(args: NsrRunArgs): Promise<number> {
  const { preset, configs, seeds, epochs } = resolveNsrRun(args);
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
      const report = nsrReport(
        presetNsrRecords(store.read(), configs, seeds),
        `Neural Status Register tasks: ${preset.name}`,
      );
      const md = formatNsrMarkdown(report);
      writeFileAtomic(join(out, 'report.md'), md);
      writeFileAtomic(join(out, 'report.json'), formatNsrJson(report));
      const subtitle = `nalm run --preset ${preset.name} (${seeds.length} seeds, ${epochs.toLocaleString('en')} epochs, ${preset.numeric})`;
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
