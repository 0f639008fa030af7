/**
 * `nalm plan`: how big a sweep is and how long it takes, before it runs. Trains the first batch of
 * each batch group briefly on this machine (the calibration: measured now, under whatever load
 * the machine has), then hands the rates to the planning arithmetic in @nalm/bench (src/plan.ts): wall time here,
 * and the array size that keeps each cluster task under --task-hours.
 */
import { availableParallelism, loadavg } from 'node:os';
import type { Argv } from 'yargs';
import { initBackend } from '@nalm/units';
import type { ArrayPlan, FastTrainer, RunConfig, StaticBatch, TrainReplicasOptions } from '@nalm/bench';
import {
  batchGroup,
  batchSeconds,
  cachedThreshold,
  calibrationBatches,
  coreSeconds,
  DEFAULT_MAX_REPLICAS,
  gridBatches,
  gridSize,
  lanesMakespan,
  suggestArraySize,
  trainReplicas,
} from '@nalm/bench';
import { diskThresholdCache } from '../node/threshold-cache.js';
import { checkInt, checkNumber } from './args.js';
import { gridOptions } from './grid-options.js';
import { UsageError } from './errors.js';
import type { RunArgs } from './run.js';
import { resolveRun } from './run.js';

export interface PlanArgs extends RunArgs {
  'task-hours'?: number;
  'calibration-seconds'?: number;
  json?: boolean;
}

/** The options of `nalm plan`: the grid flags of `nalm run` plus the plan's own. */
export function planOptions(y: Argv): Argv {
  return gridOptions(y)
    .option('workers', {
      type: 'number',
      describe:
        'Workers per array task (`nalm run --workers`, Slurm --cpus-per-task) [default: number of cores]',
    })
    .option('task-hours', {
      type: 'number',
      default: 4,
      describe:
        'Target wall time per array task, in hours: the suggested array size keeps every task under it',
    })
    .option('calibration-seconds', {
      type: 'number',
      default: 2,
      describe: 'Training time to measure per batch group (at least one evaluation interval)',
    })
    .option('json', { type: 'boolean', describe: 'Machine-readable output' })
    .example('$0 plan --preset iclr2020 --workers 4 --task-hours 6', 'how many array tasks of 4 cores')
    .example('$0 plan --preset quick --json', 'the same as JSON (what slurm-array.sh reads)');
}

export interface Calibration {
  group: string;
  model: string;
  engine: 'fast' | 'tfjs';
  replicas: number;
  /** Iterations timed (from the evaluation at step 0 to the last one). */
  iterations: number;
  seconds: number;
  /** Seed-iterations per second on one worker. */
  rate: number;
}

/**
 * Train `batch` until `seconds` have passed after its first evaluation and one more evaluation has
 * run (or it ends), and time the span between those evaluations: steady-state training with its
 * share of evaluations, without setup. The batch's records are discarded.
 */
async function calibrate(
  batch: StaticBatch,
  seconds: number,
  fast: FastTrainer | undefined,
): Promise<Calibration> {
  const marks: { iteration: number; t: number }[] = [];
  let stop = false;
  const opts: TrainReplicasOptions = {
    replicas: batch.replicas,
    onProgress: (p) => {
      const t = performance.now();
      marks.push({ iteration: p.iteration, t });
      if (marks.length >= 2 && t - marks[0]!.t >= seconds * 1000) stop = true;
    },
    shouldStop: () => stop,
  };
  const started = performance.now();
  await (batch.engine === 'fast' ? fast!.train(opts) : trainReplicas(opts));
  const ended = performance.now();
  const config = batch.replicas[0]!.config;
  const first = marks[0];
  const last = marks[marks.length - 1];
  // With one evaluation or none (a run shorter than --eval-every), time the whole call.
  const [iterations, ms] =
    first && last && last.iteration > first.iteration
      ? [last.iteration - first.iteration, last.t - first.t]
      : [config.iterations, ended - started];
  const s = Math.max(ms, 1e-3) / 1000;
  return {
    group: batchGroup(batch),
    model: config.model,
    engine: batch.engine,
    replicas: batch.replicas.length,
    iterations,
    seconds: s,
    rate: (batch.replicas.length * iterations) / s,
  };
}

function formatDuration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export async function planCommand(args: PlanArgs, fast: FastTrainer | undefined): Promise<number> {
  if (args.preset?.startsWith('nsr-'))
    throw new UsageError(
      `--preset ${args.preset}: nalm plan covers the static-task presets; \`nalm presets\` gives the size and expected time of the NSR presets.`,
    );
  const taskHours = checkNumber(args['task-hours'] ?? 4, '--task-hours', 0);
  const calSeconds = checkNumber(args['calibration-seconds'] ?? 2, '--calibration-seconds', 0, 600);
  const cores = availableParallelism();
  const workers = args.workers !== undefined ? checkInt(args.workers, '--workers', 1, 1024) : cores;
  const engine = args.engine ?? 'auto';
  if (engine !== 'auto' && engine !== 'fast' && engine !== 'tfjs')
    throw new UsageError(`--engine: use auto, fast or tfjs, got '${engine}'.`);
  const maxTfjs =
    args['max-replicas'] !== undefined ? checkInt(args['max-replicas'], '--max-replicas', 1) : undefined;
  const { name, configs, seeds } = resolveRun(args);
  const engineOf = (c: RunConfig): 'fast' | 'tfjs' => {
    if (engine === 'tfjs' || !fast) return 'tfjs';
    if (fast.supports(c)) return 'fast';
    if (engine === 'fast')
      throw new UsageError(`--engine fast does not support model '${c.model}'; use --engine auto or tfjs.`);
    return 'tfjs';
  };
  const grid = {
    configs,
    seeds,
    engineOf,
    ...(maxTfjs ? { maxReplicas: { ...DEFAULT_MAX_REPLICAS, tfjs: maxTfjs } } : {}),
  };
  const size = gridSize(grid);
  const batches = gridBatches(grid);

  // ---- Calibration: one batch per group, one at a time on this thread ----
  const say = (s: string) => {
    if (args.json !== true) process.stderr.write(s);
  };
  const load = loadavg()[0]!;
  await initBackend('wasm');
  const cache = diskThresholdCache();
  const calibrations: Calibration[] = [];
  const t0 = performance.now();
  const toCalibrate = calibrationBatches(batches);
  say(
    `nalm plan: calibrating ${toCalibrate.length} batch group(s) on this machine, ~${calSeconds} s each…\n`,
  );
  for (const b of toCalibrate) {
    // The sweep computes thresholds before training too; they are cached on disk for the real run.
    const replicas = b.replicas.map((r) => ({ ...r, threshold: cachedThreshold(r.config.task, {}, cache) }));
    calibrations.push(await calibrate({ ...b, replicas }, calSeconds, fast));
  }
  const calibrationSeconds = (performance.now() - t0) / 1000;
  const rates = new Map(calibrations.map((c) => [c.group, c.rate]));

  // ---- The plan ----
  const core = coreSeconds(batches, rates);
  const here = lanesMakespan(
    gridBatches(grid, undefined, cores).map((b) => batchSeconds(b, rates)),
    cores,
  );
  const array: ArrayPlan = suggestArraySize(grid, rates, workers, taskHours * 3600);
  const result = {
    preset: name,
    ...size,
    iterations: [...new Set(configs.map((c) => c.iterations))],
    seeds: seeds.length,
    batches: batches.length,
    cores,
    loadAverage: load,
    calibrationSeconds,
    calibration: calibrations,
    coreSeconds: core,
    wallSeconds: here,
    workersPerTask: workers,
    taskHours,
    shards: array.shards,
    maxTaskSeconds: array.maxTaskSeconds,
    longestRunSeconds: array.longestRunSeconds,
  };
  if (args.json === true) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  const iters = result.iterations.map((n) => n.toLocaleString('en')).join('/');
  const out: string[] = [
    `${name}: ${size.configurations} configurations × ${seeds.length} seeds = ${size.runs.toLocaleString('en')} runs ` +
      `of ${iters} iterations = ${size.seedIterations.toExponential(2)} seed-iterations, in ${batches.length} batches`,
    `calibration on this machine (${cores} cores, load average ${load.toFixed(2)} at the start; ${calibrationSeconds.toFixed(0)} s):`,
  ];
  const width = Math.max(...calibrations.map((c) => c.model.length));
  for (const c of calibrations)
    out.push(
      `  ${c.model.padEnd(width)}  ${c.engine.padEnd(4)}  ${String(c.replicas).padStart(3)} replicas × ` +
        `${c.iterations.toLocaleString('en')} iterations in ${c.seconds.toFixed(2)} s  → ` +
        `${Math.round(c.rate).toLocaleString('en')} seed-it/s per worker`,
    );
  out.push(
    `estimated wall time on this machine with --workers ${cores}: ${formatDuration(here)} ` +
      `(${formatDuration(core)} on one worker; startup and thresholds not counted)`,
  );
  if (array.shards !== null) {
    out.push(
      `array job: ${array.shards} task(s) of ${workers} worker(s) keep every task under ${taskHours} h ` +
        `(longest task ~${formatDuration(array.maxTaskSeconds)}; --task-hours)`,
      `  PRESET=${name} SHARDS=${array.shards} CPUS=${workers} bash benchmarks/cluster/slurm-array.sh` +
        (args.preset === undefined ? '   (with NALM_FLAGS set to the grid flags above)' : ''),
    );
    if (array.shards > 1000)
      out.push(`  more than 1000 tasks: check your cluster's MaxArraySize (\`scontrol show config\`).`);
  } else if (array.longestRunSeconds > taskHours * 3600) {
    out.push(
      `array job: no array size keeps every task under ${taskHours} h: one run alone takes ~${formatDuration(array.longestRunSeconds)}. ` +
        `Raise --task-hours to at least ${(array.longestRunSeconds / 3600).toFixed(2)}.`,
    );
  } else {
    out.push(
      `array job: even one task per run leaves a task over ${taskHours} h (runs hashed to the same shard); ` +
        `raise --task-hours or --workers.`,
    );
  }
  if (load > cores * 0.5)
    out.push(
      `note: other work was running (load average ${load.toFixed(2)} on ${cores} cores): the rates are low and the times high.`,
    );
  out.push(
    'The times assume the nodes train as fast per core as this machine and workers scale up to its cores.',
  );
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
