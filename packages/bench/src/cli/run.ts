/** `nalm run`: train a preset or an explicit grid into a result store, then write its report. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendName } from '@nalm/units';
import { initBackend } from '@nalm/units';
import type { RunConfig } from '../config.js';
import { listModels } from '../models/registry.js';
import { diskThresholdCache } from '../node/threshold-cache.js';
import type { Preset } from '../presets.js';
import { expandPreset, getPreset, presetSchedule, PRESETS } from '../presets.js';
import { formatMarkdown, reportFromRecords } from '../report/report.js';
import type { Engine, FastTrainer, SweepEvent } from '../sweep.js';
import { runSweep } from '../sweep.js';
import { openStore } from '../store/index.js';
import type { Op } from '../tasks/static.js';
import { OPS, parseRange } from '../tasks/static.js';
import { checkInt, checkNumber, parseNames, parseSeeds } from './args.js';
import { UsageError } from './errors.js';
import { writeReportFiles } from './report.js';
import { NALM_VERSION } from '../version.js';

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
}

/** The preset (or the defaults for an explicit grid) with every flag applied and validated. */
export function resolveRun(args: RunArgs): { name: string; configs: RunConfig[]; seeds: number[] } {
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
  if (args.lr !== undefined) p.lr = checkNumber(args.lr, '--lr', 0);
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
    else if (s === 'none') scheduleOverride = null;
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
  else configs = configs.map((c) => ({ ...c, schedule: presetSchedule(c.model, p.schedules, p.iterations) }));
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

/** Progress for people: an updating line on a terminal, a plain line every ~10 s in logs. */
function progressPrinter(quiet: boolean, total: number) {
  const tty = process.stderr.isTTY === true;
  let lastPlain = 0;
  let finished = 0;
  const started = Date.now();
  return (e: SweepEvent) => {
    if (quiet) return;
    if (e.type === 'plan') {
      process.stderr.write(
        `nalm: ${e.cells} runs, ${e.done} already in the store, ${e.pending} to train in ${e.batches} batch(es).\n`,
      );
      return;
    }
    if (e.type === 'batch-done') {
      finished += e.records.length;
      const solved = e.records.filter((r) => r.solved).length;
      const c = e.records[0]!.config;
      if (tty) process.stderr.write('\r\x1b[K');
      process.stderr.write(
        `  batch ${e.batch.index + 1}/${e.batch.count} (${c.model}, ${e.records.length} runs): ${solved} solved, ${e.seconds.toFixed(1)} s — ${finished}/${total} runs done\n`,
      );
      return;
    }
    if (e.type === 'progress') {
      const p = e.progress;
      const now = Date.now();
      const frac = (e.batch.index + p.iteration / p.iterations) / e.batch.count;
      const elapsed = (now - started) / 1000;
      const eta = frac > 0 ? (elapsed * (1 - frac)) / frac : NaN;
      const line = `  batch ${e.batch.index + 1}/${e.batch.count} [${e.batch.engine}] iteration ${p.iteration.toLocaleString('en')}/${p.iterations.toLocaleString('en')}, ${p.solved.filter(Boolean).length}/${p.replicas} solved so far, ${p.replicas - p.alive} diverged — ${(100 * frac).toFixed(0)}%, ETA ${Number.isFinite(eta) ? `${Math.ceil(eta)} s` : '?'}`;
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else if (now - lastPlain > 10_000) {
        lastPlain = now;
        process.stderr.write(`${line}\n`);
      }
    }
  };
}

export async function runCommand(args: RunArgs, fast?: FastTrainer): Promise<number> {
  const { name, configs, seeds } = resolveRun(args);
  const engine = parseEngine(args.engine);
  const backend = parseBackend(args.backend);
  const maxReplicas =
    args['max-replicas'] !== undefined ? checkInt(args['max-replicas'], '--max-replicas', 1) : undefined;
  const out = args.out ?? join('results', name);
  const store = openStore(out, { create: true, nalmVersion: NALM_VERSION });
  const existing = store.read();
  for (const p of existing.problems) {
    process.stderr.write(`nalm: warning: ${p.file}:${p.line}: ${p.reason} (line skipped, left in place)\n`);
  }
  await initBackend(backend);
  let stop = false;
  const onSignal = (sig: string) => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write(
      `\nnalm: ${sig} — stopping after the current evaluation; finished runs are kept. (Again to quit now.)\n`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const thresholdCache = diskThresholdCache();
  const started = Date.now();
  const result = await runSweep({
    configs,
    seeds,
    store,
    engine,
    fast,
    maxReplicas,
    thresholdCache,
    onEvent: progressPrinter(args.quiet === true, configs.length * seeds.length),
    shouldStop: () => stop,
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  const seconds = (Date.now() - started) / 1000;
  if (result.interrupted) {
    process.stderr.write(
      `nalm: interrupted after ${seconds.toFixed(0)} s; ${result.trained} new run(s) stored in ${out}. Run the same command again to resume.\n`,
    );
    return 130;
  }
  if (args.quiet !== true) {
    process.stderr.write(
      `nalm: trained ${result.trained} run(s) in ${seconds.toFixed(1)} s (${result.skipped} already done) → ${out}\n`,
    );
  }
  if (args.report !== false) {
    const { records } = store.read();
    const report = reportFromRecords(records, { thresholdCache });
    const md = formatMarkdown(report, `nalm run --preset ${name}`);
    mkdirSync(out, { recursive: true });
    writeReportFiles(report, records, out, ['md', 'csv', 'json']);
    process.stdout.write(md);
    if (args.quiet !== true) process.stderr.write(`nalm: report written to ${join(out, 'report.md')}\n`);
  }
  return 0;
}
