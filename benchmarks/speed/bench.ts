/**
 * Training speed: the fused plain-JS path (`fastTrainReplicas`) vs the generic tfjs path
 * (`trainReplicas`, wasm backend), in seed-iterations per second on one core.
 *
 *   pnpm exec tsx benchmarks/speed/bench.ts [--json] [--seeds 100] [--fast-iterations 2000]
 *                                           [--tfjs-iterations 2000] [--models nmu,nau,nalu]
 *
 * Every measurement runs in its own child process (one thread: the tfjs wasm backend runs without
 * worker threads in Node), so JIT state, caches and the peak RSS are its own. "seed-it/s" =
 * iterations × seeds / seconds, evaluation (every 1,000 iterations, on 10,000 + 10,000 items) and
 * data generation included, process start-up and imports excluded. Both wall-clock and CPU-time
 * rates are reported: on a shared machine the CPU-time rate is the steadier of the two.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RunConfig } from '../../packages/bench/src/config.js';

type PathName = 'fast' | 'tfjs';
type TaskName = 'default' | 'simple';

interface Measurement {
  model: string;
  task: TaskName;
  path: PathName;
  seeds: number;
  iterations: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** iterations × seeds / wall seconds. */
  seedItPerSec: number;
  /** iterations × seeds / CPU seconds (user + system). */
  seedItPerCpuSec: number;
  /** Peak resident set size of the measuring process, MiB. */
  peakRssMiB: number;
  backend: string;
}

function arg(name: string, fallback: string): string {
  const k = process.argv.indexOf(`--${name}`);
  return k >= 0 && process.argv[k + 1] !== undefined ? process.argv[k + 1]! : fallback;
}

async function measure(model: string, task: TaskName, path: PathName, seeds: number, iterations: number) {
  const { defaultStaticTask } = await import('../../packages/bench/src/tasks/static.js');
  const { initBackend } = await import('../../packages/units/src/index.js');
  const { trainReplicas } = await import('../../packages/bench/src/train/replicas.js');
  const { fastTrainReplicas } = await import('../../packages/bench/src/fast/index.js');
  // The fast path needs a tfjs backend only to read initParams' tensors; the tfjs path runs on wasm.
  const backend = await initBackend(path === 'tfjs' ? 'wasm' : 'cpu');
  const config: RunConfig = {
    task: defaultStaticTask({ op: model === 'nau' ? 'add' : 'mul', simple: task === 'simple' }),
    model,
    hidden: 2,
    batch: 128,
    lr: 1e-3,
    iterations,
    evalEvery: 1000,
    schedule: null,
    oobWeight: 1,
  };
  const replicas = Array.from({ length: seeds }, (_, seed) => ({ config, seed, threshold: 1e-5 }));
  const train = path === 'fast' ? fastTrainReplicas : trainReplicas;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await train({ replicas });
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const m: Measurement = {
    model,
    task,
    path,
    seeds,
    iterations,
    wallSeconds,
    cpuSeconds,
    seedItPerSec: (iterations * seeds) / wallSeconds,
    seedItPerCpuSec: (iterations * seeds) / cpuSeconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    backend,
  };
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

function runChild(
  model: string,
  task: TaskName,
  path: PathName,
  seeds: number,
  iterations: number,
): Measurement {
  const script = fileURLToPath(import.meta.url);
  const out = spawnSync(
    process.execPath,
    [...process.execArgv, script, '--child', model, task, path, String(seeds), String(iterations)],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  const line = out.stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (out.status !== 0 || !line) {
    throw new Error(
      `measurement ${model}/${task}/${path} failed (${out.status}):\n${out.stderr.slice(-2000)}`,
    );
  }
  return JSON.parse(line) as Measurement;
}

/**
 * Machine calibration: batches of 128 × 100 floats per second from a bare xoshiro128** loop (the
 * task's generator, no task code around it). Compare runs on different machines (or the same machine
 * under different load) by this number; on a shared CPU it drops with the load.
 */
function calibrate(): number {
  let s0 = 1;
  let s1 = 2;
  let s2 = 3;
  let s3 = 4;
  const out = new Float32Array(128 * 100);
  const fill = () => {
    for (let i = 0; i < out.length; i++) {
      const r = Math.imul(s1, 5);
      const result = Math.imul((r << 7) | (r >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = 1 + (result >>> 0) * 2.3283064365386963e-10;
    }
  };
  for (let k = 0; k < 200; k++) fill(); // warm-up
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    fill();
    n++;
  }
  return (n * 1000) / (performance.now() - t0);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main() {
  const child = process.argv.indexOf('--child');
  if (child >= 0) {
    const [model, task, path, seeds, iterations] = process.argv.slice(child + 1);
    await measure(model!, task as TaskName, path as PathName, Number(seeds), Number(iterations));
    return;
  }
  const json = process.argv.includes('--json');
  const seeds = Number(arg('seeds', '100'));
  const fastIterations = Number(arg('fast-iterations', '2000'));
  const tfjsIterations = Number(arg('tfjs-iterations', '2000'));
  const models = arg('models', 'nmu,nau,nalu').split(',');
  const calibration = calibrate();
  const rows: { fast: Measurement; tfjs: Measurement }[] = [];
  for (const model of models) {
    for (const task of ['default', 'simple'] as const) {
      if (!json) process.stderr.write(`measuring ${model} on the ${task} task …\n`);
      const fast = runChild(model, task, 'fast', seeds, fastIterations);
      const tfjs = runChild(model, task, 'tfjs', seeds, tfjsIterations);
      rows.push({ fast, tfjs });
    }
  }
  if (json) {
    console.log(JSON.stringify({ seeds, fastIterations, tfjsIterations, calibration, rows }, null, 2));
    return;
  }
  const header = [
    'model',
    'task',
    'fast seed-it/s',
    '(cpu)',
    'tfjs wasm seed-it/s',
    '(cpu)',
    'fast/tfjs',
    '(cpu)',
    'RSS fast MiB',
    'RSS tfjs MiB',
  ];
  const table = rows.map(({ fast, tfjs }) => [
    fast.model,
    fast.task === 'default' ? 'default (I=100)' : 'simple (I=4)',
    fmt(fast.seedItPerSec),
    fmt(fast.seedItPerCpuSec),
    fmt(tfjs.seedItPerSec),
    fmt(tfjs.seedItPerCpuSec),
    `${fmt(fast.seedItPerSec / tfjs.seedItPerSec, 1)}×`,
    `${fmt(fast.seedItPerCpuSec / tfjs.seedItPerCpuSec, 1)}×`,
    fmt(fast.peakRssMiB),
    fmt(tfjs.peakRssMiB),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((s, c) => (c < 2 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ');
  console.log(
    `${seeds} seeds, batch 128, eval every 1,000 on 10,000 + 10,000 items; fast path ${fastIterations} iterations, ` +
      `tfjs (wasm) ${tfjsIterations}; one process per cell, one core each, run one after the other.`,
  );
  console.log(
    `calibration: bare xoshiro128** fills ${fmt(calibration)} batches of 128 × 100 floats per second.`,
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of table) console.log(line(r));
}

await main();
