/** `nalm run`: train a preset or an explicit grid into a result store, then write its report. */
import { join } from 'node:path';
import type { BackendName } from '@nalm/units';
import { initBackend } from '@nalm/units';
import type { NsrRunConfig, RunConfig, ThresholdCache } from '@nalm/bench';
import { listModels } from '@nalm/bench';
import { diskThresholdCache } from '../node/threshold-cache.js';
import { createWorkerPool } from '../node/pool.js';
import { availableParallelism } from 'node:os';
import type { Preset } from '@nalm/bench';
import { expandPreset, getPreset, presetSchedule, PRESETS } from '@nalm/bench';
import { formatMarkdown, reportFromRecords } from '@nalm/bench';
import type { Engine, FastTrainer, NsrSweepEvent, Shard, StaticSweepEvent } from '@nalm/bench';
import { modelCost, runSweep, staticKind, staticRecords } from '@nalm/bench';
import { compareWithPublished, formatComparisonMarkdown, getPublished } from '@nalm/bench';
import type { ResultStore } from '../store/index.js';
import { openStore } from '../store/index.js';
import { commandLine, lockStore } from '../store/lock.js';
import type { Op } from '@nalm/bench';
import { OPS, parseRange } from '@nalm/bench';
import { checkInt, checkNumber, parseDuration, parseNames, parseSeeds } from './args.js';
import { UsageError, skippedLineWarning } from './errors.js';
import { stopSignals } from './signals.js';
import { writePlotFiles, writeReportFiles } from './report.js';
import { writeFileAtomic } from '../store/atomic.js';
import { SweepProgress, formatDuration, progressSink } from './progress.js';
import { NALM_VERSION } from '@nalm/bench';

export interface RunArgs {
  preset?: string;
  model?: string;
  op?: string;
  seeds?: string;
  iterations?: number;
  out?: string;
  'input-size'?: number;
  subset?: number;
  overlap?: number;
  subsets?: number;
  interp?: string;
  extrap?: string;
  simple?: boolean;
  hidden?: number;
  batch?: number;
  lr?: number;
  'eval-every'?: number;
  schedule?: string;
  engine?: string;
  backend?: string;
  'max-replicas'?: number;
  quiet?: boolean;
  report?: boolean;
  workers?: number;
  shard?: string;
  'time-limit'?: string;
  /** NSR-task flags: refused here, so that a static run does not ignore them silently. */
  epochs?: number;
  redundancy?: number;
  selectionPenalty?: number;
  regularizeEpoch?: number;
  selectionEpoch?: number;
}

/** What an interrupted run prints: how much is stored and how to resume. */
export function interruptedMessage(seconds: number, trained: number, out: string): string {
  return `nalm: interrupted after ${seconds.toFixed(0)} s; ${trained} new run(s) stored in ${out}. Run the same command again to resume.\n`;
}

/**
 * Most worker threads: one per core (each loads its own tfjs and wasm, ~80 MB, and the batches are
 * CPU-bound, so more only cost memory); at least 2, so a command written for two workers runs anywhere.
 */
export function maxWorkers(): number {
  return Math.max(2, availableParallelism());
}

/** `--workers N`: a whole number from 1 to `maxWorkers()`. */
export function checkWorkers(value: unknown): number {
  const n = checkInt(value, '--workers', 1);
  const max = maxWorkers();
  if (n > max) {
    throw new UsageError(
      `--workers ${n}: this machine has ${availableParallelism()} core(s); use at most ${max}. ` +
        'Training is CPU-bound, so more workers than cores only cost memory (each loads its own tfjs).',
    );
  }
  return n;
}

/** `K/N` with 0 ≤ K < N: this process trains shard K of N (e.g. a cluster array task index). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(String(text).trim());
  if (!m)
    throw new UsageError(
      `--shard ${JSON.stringify(text)}: use K/N, e.g. 0/4 (shards are numbered from 0 to N − 1).`,
    );
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new UsageError(`--shard ${text}: N must be at least 1.`);
  if (index >= count) {
    throw new UsageError(`--shard ${text}: K must be from 0 to ${count - 1} (shards are numbered from 0).`);
  }
  return { index, count };
}

/** The preset (or the defaults for an explicit grid) with every flag applied and validated. */
export function resolveRun(args: RunArgs): { name: string; configs: RunConfig[]; seeds: number[] } {
  for (const [flag, key] of [
    ['epochs', 'epochs'],
    ['redundancy', 'redundancy'],
    ['selection-penalty', 'selectionPenalty'],
    ['regularize-epoch', 'regularizeEpoch'],
    ['selection-epoch', 'selectionEpoch'],
  ] as const)
    if (args[key] !== undefined)
      throw new UsageError(
        `--${flag} applies to the NSR tasks (--preset nsr-… or --task nsr-…); ` +
          (flag === 'epochs' ? 'a static run trains --iterations steps.' : 'drop it for a static run.'),
      );
  const base: Preset = args.preset
    ? getPresetOrUsage(args.preset)
    : {
        name: 'custom',
        description: 'explicit flags',
        models: [],
        ops: [],
        seeds: 10,
        iterations: 100_000,
        task: {},
        schedules: 'scaled',
        hidden: 2,
        batch: 128,
        lr: 1e-3,
        evalEvery: 1000,
        modelLr: true,
      };
  if (!args.preset && (args.model === undefined || args.op === undefined)) {
    throw new UsageError(
      `give --preset NAME (one of ${PRESETS.map((p) => p.name).join(', ')}) or both --model and --op (e.g. --model nmu --op mul).`,
    );
  }
  const p: Preset = { ...base, task: { ...base.task } };
  if (args.model !== undefined)
    p.models = parseNames(
      args.model,
      listModels().map((m) => m.name),
      '--model',
      'model',
    );
  if (args.op !== undefined) p.ops = parseNames<Op>(args.op, OPS, '--op', 'operation');
  if (args.iterations !== undefined) p.iterations = checkInt(args.iterations, '--iterations', 1);
  if (args.hidden !== undefined) p.hidden = checkInt(args.hidden, '--hidden', 1, 4096);
  if (args.batch !== undefined) p.batch = checkInt(args.batch, '--batch', 1, 1_000_000);
  if (args.lr !== undefined) {
    p.lr = checkNumber(args.lr, '--lr', 0);
    p.modelLr = false; // an explicit rate applies to every model
  }
  if (args['eval-every'] !== undefined) p.evalEvery = checkInt(args['eval-every'], '--eval-every', 1);
  if (args['input-size'] !== undefined)
    p.task.inputSize = checkInt(args['input-size'], '--input-size', 1, 100_000);
  if (args.subset !== undefined) p.task.subsetRatio = checkNumber(args.subset, '--subset', 0, 1);
  if (args.overlap !== undefined) p.task.overlapRatio = Number(args.overlap);
  if (args.subsets !== undefined) p.task.numSubsets = checkInt(args.subsets, '--subsets', 1);
  if (args.simple !== undefined) {
    p.task.simple = args.simple;
    if (args.simple && args['input-size'] === undefined) p.task.inputSize = 4;
  }
  for (const [flag, field] of [
    ['interp', 'interpolation'],
    ['extrap', 'extrapolation'],
  ] as const) {
    const text = args[flag];
    if (text !== undefined) {
      p.ranges = undefined; // explicit ranges replace a preset's range sweep
      try {
        p.task[field] = parseRange(String(text), field);
      } catch (e) {
        throw new UsageError(`--${flag}: ${(e as Error).message}`);
      }
    }
  }
  let scheduleOverride: RunConfig['schedule'] | undefined;
  if (args.schedule !== undefined) {
    const s = String(args.schedule);
    if (s === 'paper' || s === 'scaled') p.schedules = s;
    // λ̂ = 0, not null: a null schedule means "the model's default" in a RunConfig.
    else if (s === 'none') scheduleOverride = { lambda: 0, start: 0, end: 0 };
    else {
      const parts = s.split(',').map(Number);
      if (parts.length !== 3 || parts.some((v) => !Number.isFinite(v) || v < 0) || parts[2]! < parts[1]!) {
        throw new UsageError(
          `--schedule ${JSON.stringify(s)}: use 'paper', 'scaled', 'none' or 'LAMBDA,START,END' (e.g. 10,6000,12000).`,
        );
      }
      scheduleOverride = { lambda: parts[0]!, start: parts[1]!, end: parts[2]! };
    }
  }
  const seeds =
    args.seeds !== undefined ? parseSeeds(String(args.seeds)) : Array.from({ length: p.seeds }, (_, i) => i);
  let configs: RunConfig[];
  try {
    configs = expandPreset(p);
  } catch (e) {
    // Task validation names the field; map it to the flag a user typed.
    throw new UsageError(`invalid task: ${(e as Error).message}`);
  }
  if (scheduleOverride !== undefined) configs = configs.map((c) => ({ ...c, schedule: scheduleOverride! }));
  else
    configs = configs.map((c) => ({
      ...c,
      schedule: presetSchedule(c.model, p.schedules, p.iterations, p.paperIterations),
    }));
  // The boundary: each configuration is checked here, once; the sweep, the threshold and the
  // trainers trust what the static kind's parse returns.
  try {
    configs = configs.map((c) => staticKind.parse(c));
  } catch (e) {
    throw new UsageError(`invalid configuration: ${(e as Error).message}`);
  }
  return { name: p.name, configs, seeds };
}

function getPresetOrUsage(name: string): Preset {
  try {
    return getPreset(name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function parseEngine(v: string | undefined): Engine {
  const e = v ?? 'auto';
  if (e !== 'auto' && e !== 'fast' && e !== 'tfjs')
    throw new UsageError(`--engine: use auto, fast or tfjs, got '${e}'.`);
  return e;
}

function parseBackend(v: string | undefined): BackendName {
  const b = v ?? 'wasm';
  if (b !== 'wasm' && b !== 'cpu') throw new UsageError(`--backend: use wasm or cpu, got '${b}'.`);
  return b;
}

/** The flags every kind's `nalm run` passes to `trainIntoStore`, parsed once for both commands. */
export function storeRunFlags(
  args: Pick<RunArgs, 'out' | 'backend' | 'workers' | 'shard' | 'quiet' | 'max-replicas' | 'time-limit'>,
  name: string,
) {
  return {
    timeLimit:
      args['time-limit'] !== undefined ? parseDuration(args['time-limit'], '--time-limit') : undefined,
    out: args.out ?? join('results', name),
    backend: parseBackend(args.backend),
    workers: args.workers !== undefined ? checkWorkers(args.workers) : availableParallelism(),
    shard: args.shard !== undefined ? parseShard(args.shard) : undefined,
    quiet: args.quiet === true,
    maxReplicas:
      args['max-replicas'] !== undefined ? checkInt(args['max-replicas'], '--max-replicas', 1) : undefined,
  };
}

/**
 * Progress for people (progress.ts): a bar, runs, seed-it/s and an ETA, and a line per finished
 * batch. Work = seed-iterations × the model's relative cost; the rate shown is plain seed-it/s.
 */
function progressPrinter(quiet: boolean) {
  const progress = new SweepProgress();
  const sink = progressSink();
  let solvedDone = 0;
  const active = new Map<number, { solved: number; alive: number; replicas: number }>();
  const line = () => {
    let solved = solvedDone;
    let diverged = 0;
    for (const a of active.values()) {
      solved += a.solved;
      diverged += a.replicas - a.alive;
    }
    return progress.line(
      `${Math.round(progress.rate).toLocaleString('en')} seed-it/s`,
      `solved so far ${solved}${diverged ? `, diverged ${diverged}` : ''}`,
    );
  };
  return (e: StaticSweepEvent) => {
    if (quiet) return;
    if (e.type === 'plan') {
      progress.plan(e.work, e.pending);
      process.stderr.write(
        `nalm: ${e.cells} runs, ${e.done} already in the store, ${e.pending} to train in ${e.batches} batch(es).\n`,
      );
      return;
    }
    if (e.type === 'batch-start') {
      active.set(e.batch.index, {
        solved: 0,
        alive: e.batch.replicas.length,
        replicas: e.batch.replicas.length,
      });
      return;
    }
    if (e.type === 'progress') {
      const p = e.progress;
      const seedIts = p.iteration * p.replicas;
      active.set(e.batch.index, {
        solved: p.solved.filter(Boolean).length,
        alive: p.alive,
        replicas: p.replicas,
      });
      progress.update(e.batch.index, seedIts * modelCost(e.batch.replicas[0]!.config.model), seedIts);
    }
    if (e.type === 'batch-done') {
      active.delete(e.batch.index);
      const records = e.records;
      const seedIts = records.reduce((a, r) => a + r.config.iterations, 0);
      progress.finish(e.batch.index, seedIts * modelCost(records[0]!.config.model), seedIts, records.length);
      const solved = records.filter((r) => r.solved).length;
      solvedDone += solved;
      const c = records[0]!.config;
      const ops = [...new Set(records.map((r) => r.config.task.op))].join(',');
      sink.print(
        `  ${c.model} ${ops}: ${solved}/${records.length} solved (batch ${e.batch.index + 1}/${e.batch.count}, ${e.seconds.toFixed(1)} s)`,
      );
    }
    sink.line(line());
  };
}

/** What `trainIntoStore` trains: a grid of one task kind and how to run it. */
export type StoreRun = {
  out: string;
  seeds: readonly number[];
  backend: BackendName;
  workers: number;
  shard?: Shard | undefined;
  quiet: boolean;
  engine?: Engine;
  fast?: FastTrainer | undefined;
  maxReplicas?: number | undefined;
  thresholdCache?: ThresholdCache;
  /** Seconds after which no new batch starts (those in flight finish and are stored). */
  timeLimit?: number | undefined;
} & (
  | { kind?: 'static'; configs: readonly RunConfig[]; onEvent: (e: StaticSweepEvent) => void }
  | { kind: 'nsr'; configs: readonly NsrRunConfig[]; onEvent: (e: NsrSweepEvent) => void }
);

/**
 * The pipeline every task kind runs through: open (or create) the result store, take its lock,
 * warn about unreadable lines, start the backend and the worker pool, train the grid with stops on
 * SIGINT/SIGTERM, and hand the store to `report` when the grid is complete or the time limit
 * stopped it. Returns the exit code (130 when interrupted, 75 when --time-limit left batches
 * unstarted: either way the finished batches are stored and the same command resumes).
 */
export async function trainIntoStore(
  run: StoreRun,
  report: (
    store: ResultStore,
    summary: { trained: number; skipped: number; seconds: number },
  ) => Promise<void>,
): Promise<number> {
  const { out } = run;
  const store = openStore(out, { create: true, nalmVersion: NALM_VERSION });
  // One writer per store: a second run on this directory would train the same cells again.
  const lock = lockStore(out, {
    command: commandLine(),
    onStale: (m) => process.stderr.write(`nalm: ${m}\n`),
  });
  try {
    const existing = store.read();
    for (const p of existing.problems) process.stderr.write(skippedLineWarning('nalm', p));
    await initBackend(run.backend);
    // One worker runs in this thread; more run on a pool of worker threads.
    const pool = run.workers > 1 ? createWorkerPool({ workers: run.workers, backend: run.backend }) : null;
    const signals = stopSignals(
      (sig) => `nalm: ${sig} — stopping after the current evaluation; finished runs are kept.`,
      (s) => process.stderr.write(s),
      () => pool?.stop(),
    );
    const started = Date.now();
    const deadline = run.timeLimit !== undefined ? started + 1000 * run.timeLimit : undefined;
    const common = {
      seeds: run.seeds,
      engine: run.engine,
      fast: run.fast,
      maxReplicas: run.maxReplicas,
      thresholdCache: run.thresholdCache,
      shouldStop: () => signals.requested !== null,
      startNoMore: deadline !== undefined ? () => Date.now() >= deadline : undefined,
      shard: run.shard,
      executor: pool?.execute,
      concurrency: run.workers,
    };
    const result = await runSweep(
      run.kind === 'nsr'
        ? { ...common, kind: 'nsr', configs: run.configs, store, onEvent: run.onEvent }
        : { ...common, configs: run.configs, store, onEvent: run.onEvent },
    ).finally(() => {
      signals.release();
      return pool?.close();
    });
    const seconds = (Date.now() - started) / 1000;
    if (result.interrupted) {
      process.stderr.write(interruptedMessage(seconds, result.trained, out));
      return 130;
    }
    if (result.notStarted > 0) {
      process.stderr.write(
        `\nnalm: time limit (${formatDuration(run.timeLimit!)}) reached: no new batch started after it; ` +
          `${result.trained} new run(s) stored in ${out} in ${formatDuration(seconds)}, ${result.notStarted} batch(es) ` +
          `left. Run the same command again to continue.\n`,
      );
      // The report of what is stored so far: a long preset built over several sittings shows its
      // progress after each (a stop by signal writes none: it may have been asked to end at once).
      await report(store, { trained: result.trained, skipped: result.skipped, seconds });
      return 75;
    }
    if (!run.quiet) {
      process.stderr.write(
        `\nnalm: trained ${result.trained} run(s) in ${seconds.toFixed(1)} s with ${run.workers} worker(s) ` +
          `(${result.skipped} already done${run.shard ? `, ${result.otherShards} left to other shards` : ''}) → ${out}\n`,
      );
    }
    await report(store, { trained: result.trained, skipped: result.skipped, seconds });
    return 0;
  } finally {
    lock.release();
  }
}

export async function runCommand(args: RunArgs, fast?: FastTrainer): Promise<number> {
  const { name, configs, seeds } = resolveRun(args);
  const engine = parseEngine(args.engine);
  const flags = storeRunFlags(args, name);
  const { out } = flags;
  const thresholdCache = diskThresholdCache();
  return trainIntoStore(
    { configs, seeds, ...flags, onEvent: progressPrinter(flags.quiet), engine, fast, thresholdCache },
    async (store) => {
      if (args.report === false) return;
      const records = staticRecords(store.read().records);
      const report = reportFromRecords(records, { thresholdCache });
      // A preset that reproduces a published table puts the paper's numbers beside ours.
      const publishedName = args.preset ? getPreset(args.preset).published : undefined;
      const published = publishedName ? getPublished(publishedName) : null;
      const comparison = published ? formatComparisonMarkdown(compareWithPublished(report, published)) : '';
      const md = formatMarkdown(report) + (comparison ? `\n${comparison}` : ''); // = report.md
      writeReportFiles(report, records, out, ['md', 'csv', 'json']);
      if (comparison) writeFileAtomic(join(out, 'report.md'), md);
      await writePlotFiles(report, records, out, ['html'], thresholdCache);
      process.stdout.write(md);
      if (args.quiet !== true)
        process.stderr.write(
          `nalm: report written to ${join(out, 'report.md')} and ${join(out, 'report.html')}\n`,
        );
    },
  );
}
