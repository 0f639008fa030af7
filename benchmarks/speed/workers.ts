/**
 * Parallel scaling of `nalm run --workers N` on the quick preset (shortened): seed-iterations per
 * second with 1 worker and with N workers, their ratio, and whether the records are identical.
 *
 *   pnpm bench:workers [--iterations 4000] [--workers 2] [--json]
 *
 * A benchmark, not a test: run it on an otherwise idle machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'packages/cli/bin/nalm.js');
const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k >= 0 ? process.argv[k + 1]! : fallback;
};
const iterations = Number(arg('iterations', '4000'));
const workers = Number(arg('workers', String(availableParallelism())));
const json = process.argv.includes('--json');

interface Measurement {
  workers: number;
  seconds: number;
  runs: number;
  seedItPerSec: number;
  records: Map<string, string>;
}

function measure(n: number): Measurement {
  const out = mkdtempSync(join(tmpdir(), `nalm-workers-${n}-`));
  const args = [bin, 'run', '--preset', 'quick', '--iterations', String(iterations), '--workers', String(n)];
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [...args, '--out', out, '--no-report', '--quiet'], {
    encoding: 'utf8',
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`nalm run --workers ${n} failed:\n${r.stderr}`);
  const records = new Map<string, string>();
  for (const line of readFileSync(join(out, 'records.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const rec = JSON.parse(line) as { key: string; seed: number };
    records.set(`${rec.key}:${rec.seed}`, line);
  }
  return {
    workers: n,
    seconds,
    runs: records.size,
    seedItPerSec: (records.size * iterations) / seconds,
    records,
  };
}

const one = measure(1);
const many = measure(workers);
const identical =
  one.records.size === many.records.size &&
  [...one.records].every(([id, line]) => many.records.get(id) === line);
const ratio = many.seedItPerSec / one.seedItPerSec;
if (json) {
  const strip = ({ records: _r, ...m }: Measurement) => m;
  console.log(JSON.stringify({ iterations, one: strip(one), many: strip(many), ratio, identical }, null, 2));
} else {
  console.log(
    `quick preset, ${iterations.toLocaleString('en')} iterations, ${one.runs} runs (process start-up included)`,
  );
  for (const m of [one, many]) {
    console.log(
      `  --workers ${m.workers}: ${m.seconds.toFixed(1)} s, ${Math.round(m.seedItPerSec).toLocaleString('en')} seed-it/s`,
    );
  }
  console.log(`  speed-up ${ratio.toFixed(2)}×; records identical: ${identical ? 'yes' : 'NO'}`);
}
if (!identical) process.exitCode = 1;
