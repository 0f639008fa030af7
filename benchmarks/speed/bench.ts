/**
 * Training speed of the benchmark's real training path, in seed-iterations per second, side by side
 * with a PyTorch implementation of the same loop measured in the same run.
 *
 *   pnpm bench:speed [--json] [--seeds 100] [--iterations 3000] [--simple-iterations 20000]
 *                    [--naive-iterations 2000] [--torch-iterations 2000] [--generic-replicas 100]
 *                    [--generic-iterations 3000] [--models nmu,nau,nalu] [--tasks default,simple]
 *
 * For each model and task (the paper's default task, I = 100, and the simple task, I = 4):
 * - fused path, one core: `fastTrainReplicas` with all seeds in one process;
 * - PyTorch (default task): benchmarks/speed/pytorch_loop.py, the reference's loop for one seed on
 *   one thread, run right after the one-core measurement; the ratio "1 core / PyTorch" is measured,
 *   not divided by a figure from another day. Needs a Python with torch (Debian: `apt-get install
 *   python3-torch`; `NALM_PYTHON` names the interpreter, else /usr/bin/python3 then python3 are
 *   tried); without it the table says so and shows no ratio;
 * - fused path, all cores: one process per core, each with its share of the seeds, run at once;
 * - naive tfjs: one seed at a time through the generic tfjs trainer on the wasm backend (what a
 *   straightforward tfjs port does), and the ratio to it;
 * - peak RSS of each process.
 * Then the generic path (default task): a unit without a fused kernel (an NMU definition registered
 * at run time as a new unit, NAU → it), `--generic-replicas` seeds in one `trainReplicas` call on the
 * wasm backend, against PyTorch's NMU.
 * Every measurement runs in its own child process (JIT state, caches and peak RSS are its own).
 * Data generation, regularisers, clamps and evaluation (every 1,000 iterations on 10,000 + 10,000
 * items) are included; process start-up and imports are not. Both wall-clock and CPU-time rates are
 * reported: on a shared machine the CPU-time rate is the steadier of the two.
 */
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RunConfig } from '../../packages/bench/src/config.js';

/** fast: fused path; tfjs: the naive one-seed tfjs loop; generic: many replicas of a unit without a kernel. */
type PathName = 'fast' | 'tfjs' | 'generic';

/** Issue 19's one-core targets on the default task, as a multiple of the PyTorch loop's speed. */
const TARGET_RATIO: Record<string, number> = { nmu: 75, nau: 75, nalu: 30 };
/** Issue 19's target for the generic path (100 replicas of a unit without a kernel), × PyTorch per core. */
const TARGET_GENERIC = 10;
type TaskName = 'default' | 'simple';

/** The name under which the generic path's unit (an NMU registered as a user's unit) runs. */
const GENERIC_MODEL = 'bench-user-nmu';

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

async function measure(
  model: string,
  task: TaskName,
  path: PathName,
  firstSeed: number,
  seeds: number,
  iterations: number,
) {
  const { defaultStaticTask } = await import('../../packages/bench/src/tasks/static.js');
  const { initBackend } = await import('../../packages/units/src/index.js');
  const { trainReplicas } = await import('../../packages/bench/src/train/replicas.js');
  const { fastTrainReplicas } = await import('../../packages/bench/src/fast/index.js');
  const { loadKernels } = await import('../../packages/cli/src/node/kernels.js');
  loadKernels();
  // The fast path needs a tfjs backend only to read initParams' tensors; the tfjs paths run on wasm.
  const backend = await initBackend(path === 'fast' ? 'cpu' : 'wasm');
  if (path === 'generic') {
    // A researcher's own unit: the NMU's definition under another identity, which the fused path
    // has no kernel for (kernels are keyed by the definition object), so the model runs on tfjs.
    const { nmuDef } = await import('../../packages/units/src/index.js');
    const { getModel, registerModel } = await import('../../packages/bench/src/models/registry.js');
    const userNmu = { ...nmuDef, name: 'user-nmu' };
    const base = getModel('nmu');
    registerModel({
      ...base,
      name: GENERIC_MODEL,
      label: 'user NMU',
      layers: (I, h) => base.layers(I, h).map((l, k) => (k === 1 ? { ...l, def: userNmu as never } : l)),
    });
  }
  const config: RunConfig = {
    task: defaultStaticTask({ op: model === 'nau' ? 'add' : 'mul', simple: task === 'simple' }),
    model: path === 'generic' ? GENERIC_MODEL : model,
    hidden: 2,
    batch: 128,
    lr: 1e-3,
    iterations,
    evalEvery: 1000,
    schedule: null,
    oobWeight: 1,
  };
  const replicas = Array.from({ length: seeds }, (_, k) => ({
    config,
    seed: firstSeed + k,
    threshold: 1e-5,
  }));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (path === 'fast') await fastTrainReplicas({ replicas });
  // Many replicas in one tfjs computation.
  else if (path === 'generic') await trainReplicas({ replicas });
  // The naive loop: one seed after the other, each its own tfjs training run.
  else for (const r of replicas) await trainReplicas({ replicas: [r] });
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
  firstSeed: number,
  seeds: number,
  iterations: number,
): Promise<Measurement> {
  const script = fileURLToPath(import.meta.url);
  const args = [model, task, path, firstSeed, seeds, iterations].map(String);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, '--child', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const line = stdout
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (code !== 0 || !line) {
        reject(new Error(`measurement ${args.join(' ')} failed (${code}):\n${stderr.slice(-2000)}`));
      } else resolve(JSON.parse(line) as Measurement);
    });
  });
}

/** All cores: one child per core, each with its share of the seeds, started together. */
async function runAllCores(model: string, task: TaskName, seeds: number, iterations: number, cores: number) {
  const shares = Array.from(
    { length: cores },
    (_, k) => Math.floor(seeds / cores) + (k < seeds % cores ? 1 : 0),
  );
  const t0 = performance.now();
  let first = 0;
  const runs = await Promise.all(
    shares.map((n) => {
      const m = runChild(model, task, 'fast', first, n, iterations);
      first += n;
      return m;
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  // Rate from the slowest child's training time (start-up excluded, as for one core).
  const slowest = Math.max(...runs.map((r) => r.wallSeconds));
  return {
    seedItPerSec: (seeds * iterations) / slowest,
    seedItPerCpuSec: runs.reduce((s, r) => s + r.seedItPerCpuSec, 0),
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
    wallSeconds: wall,
  };
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

interface TorchMeasurement {
  model: string;
  iterations: number;
  seconds: number;
  itPerSec: number;
  threads: number;
  torch: string;
}

/** A Python that can import torch: `NALM_PYTHON`, else Debian's /usr/bin/python3, else python3. */
function findTorchPython(): { python: string; version: string } | { missing: string } {
  const candidates = process.env.NALM_PYTHON ? [process.env.NALM_PYTHON] : ['/usr/bin/python3', 'python3'];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return { missing: candidates.join(', ') };
}

/** The PyTorch loop (pytorch_loop.py) for one seed on one thread. */
function runTorch(python: string, model: string, iterations: number): Promise<TorchMeasurement> {
  const script = fileURLToPath(new URL('./pytorch_loop.py', import.meta.url));
  const args = [script, '--model', model, '--iterations', String(iterations), '--threads', '1', '--json'];
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, {
      env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const line = stdout
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (code !== 0 || !line)
        reject(new Error(`PyTorch loop ${model} failed (${code}):\n${stderr.slice(-2000)}`));
      else resolve(JSON.parse(line) as TorchMeasurement);
    });
  });
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main() {
  const child = process.argv.indexOf('--child');
  if (child >= 0) {
    const [model, task, path, firstSeed, seeds, iterations] = process.argv.slice(child + 1);
    await measure(
      model!,
      task as TaskName,
      path as PathName,
      Number(firstSeed),
      Number(seeds),
      Number(iterations),
    );
    return;
  }
  const json = process.argv.includes('--json');
  const seeds = Number(arg('seeds', '100'));
  const iterations = Number(arg('iterations', '3000'));
  // The simple task's steps are ~4× cheaper: more of them, so start-up and JIT warm-up do not count.
  const simpleIterations = Number(arg('simple-iterations', '20000'));
  const naiveIterations = Number(arg('naive-iterations', '2000'));
  const torchIterations = Number(arg('torch-iterations', '2000'));
  const genericReplicas = Number(arg('generic-replicas', '100'));
  // As many as the fused rows: a run's fixed set-up (100 replicas' evaluation sets and their targets,
  // ~1 CPU-second) was a fifth of a 300-iteration run, and PyTorch's figure times its loop alone.
  const genericIterations = Number(arg('generic-iterations', String(iterations)));
  const models = arg('models', 'nmu,nau,nalu').split(',');
  const tasks = arg('tasks', 'default,simple').split(',') as TaskName[];
  const cores = availableParallelism();
  const torch = findTorchPython();
  const log = (m: string) => {
    if (!json) process.stderr.write(`${m}\n`);
  };
  if ('missing' in torch) {
    log(
      `PyTorch not found (tried ${torch.missing}): no measured ratio to the PyTorch loop. ` +
        'Install it with `apt-get install python3-torch` (Debian) or name a Python with torch in NALM_PYTHON.',
    );
  }
  const calibration = calibrate();
  const rows = [];
  for (const model of models) {
    for (const task of tasks) {
      log(`measuring ${model} on the ${task} task …`);
      const its = task === 'simple' ? simpleIterations : iterations;
      // Interleaved: ours on one core, then PyTorch on one core, back to back.
      const one = await runChild(model, task, 'fast', 0, seeds, its);
      const pytorch =
        task === 'default' && 'python' in torch ? await runTorch(torch.python, model, torchIterations) : null;
      const all = await runAllCores(model, task, seeds, its, cores);
      const naive = await runChild(model, task, 'tfjs', 0, 1, naiveIterations);
      rows.push({ model, task, one, pytorch, all, naive });
    }
  }
  // The generic path: a unit without a fused kernel, many replicas in one tfjs computation, and
  // PyTorch's NMU right after it.
  let generic = null;
  if (genericReplicas > 0 && models.includes('nmu')) {
    log(`measuring the generic path (a unit without a kernel, ${genericReplicas} replicas) …`);
    const m = await runChild('nmu', 'default', 'generic', 0, genericReplicas, genericIterations);
    const pytorch = 'python' in torch ? await runTorch(torch.python, 'nmu', torchIterations) : null;
    generic = { measurement: m, pytorch };
  }
  if (json) {
    console.log(
      JSON.stringify(
        {
          seeds,
          iterations,
          simpleIterations,
          naiveIterations,
          torchIterations,
          cores,
          calibration,
          torch: 'python' in torch ? torch : null,
          rows,
          generic,
        },
        null,
        2,
      ),
    );
    return;
  }
  const header = [
    'model',
    'task',
    '1 core',
    '(cpu)',
    'PyTorch',
    '1 core / PyTorch',
    'target',
    `${cores} cores`,
    'naive tfjs',
    '1 core / naive',
    'peak RSS MiB',
  ];
  const table = rows.map(({ model, task, one, pytorch, all, naive }) => {
    const ratio = pytorch ? one.seedItPerSec / pytorch.itPerSec : undefined;
    const target = task === 'default' ? TARGET_RATIO[model] : undefined;
    return [
      model,
      task === 'default' ? 'default (I=100)' : 'simple (I=4)',
      fmt(one.seedItPerSec),
      fmt(one.seedItPerCpuSec),
      pytorch ? fmt(pytorch.itPerSec) : '—',
      ratio !== undefined ? `${fmt(ratio, 1)}×` : '—',
      target && ratio !== undefined ? `${target}× ${ratio >= target ? 'met' : 'NOT met'}` : '—',
      fmt(all.seedItPerSec),
      fmt(naive.seedItPerSec),
      `${fmt(one.seedItPerSec / naive.seedItPerSec, 1)}×`,
      `${fmt(one.peakRssMiB)} / ${fmt(all.peakRssMiB)}`,
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((s, c) => (c < 2 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ');
  console.log(
    `${seeds} seeds, batch 128, eval every 1,000 on 10,000 + 10,000 items; fused path ${iterations} iterations ` +
      `(simple task ${simpleIterations}) ` +
      `(1 core: one process; ${cores} cores: ${cores} processes at once, seeds split); naive tfjs: 1 seed, ` +
      `${naiveIterations} iterations, wasm backend. Rates are wall-clock seed-it/s; (cpu) = per CPU-second.`,
  );
  console.log(
    'python' in torch
      ? `PyTorch: benchmarks/speed/pytorch_loop.py (${torch.python}, torch ${torch.version}), the same loop, ` +
          `1 seed, 1 thread, ${torchIterations} iterations, run right after the 1-core measurement of the same row.`
      : `PyTorch: not installed (tried ${torch.missing}), so no measured ratio; apt-get install python3-torch.`,
  );
  console.log(
    `calibration: bare xoshiro128** fills ${fmt(calibration)} batches of 128 × 100 floats per second.`,
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of table) console.log(line(r));
  console.log('Peak RSS: one-core process (all seeds) / largest all-cores process.');
  if (generic) {
    const g = generic.measurement;
    const ratio = generic.pytorch ? g.seedItPerSec / generic.pytorch.itPerSec : undefined;
    console.log(
      `generic path (NAU → an NMU registered as a user's unit, no fused kernel; ${g.seeds} replicas in one ` +
        `tfjs computation, wasm backend, ${g.iterations} iterations, 1 core): ${fmt(g.seedItPerSec)} seed-it/s ` +
        `(cpu ${fmt(g.seedItPerCpuSec)}), peak RSS ${fmt(g.peakRssMiB)} MiB` +
        (ratio !== undefined
          ? `; PyTorch NMU ${fmt(generic.pytorch!.itPerSec)} it/s → ${fmt(ratio, 1)}× ` +
            `(target ${TARGET_GENERIC}× ${ratio >= TARGET_GENERIC ? 'met' : 'NOT met'})`
          : '; no PyTorch ratio'),
    );
  }
}

await main();
