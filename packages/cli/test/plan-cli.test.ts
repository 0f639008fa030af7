/**
 * `nalm plan` as a user runs it: bad flags exit 2 with a message; a real (tiny) calibration gives
 * estimates consistent with the grid's counts.
 */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(here, '../bin/nalm.js');
const env = { ...process.env, NALM_CACHE_DIR: join(tmpdir(), 'nalm-cli-cache') };

function nalm(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('nalm plan: bad flags → a message naming the problem and exit code 2', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'zero task hours',
      ['plan', '--preset', 'quick', '--task-hours', '0'],
      /--task-hours: expected a number > 0/,
    ],
    [
      'task hours not a number',
      ['plan', '--preset', 'quick', '--task-hours', 'soon'],
      /--task-hours: expected a number/,
    ],
    [
      'zero workers',
      ['plan', '--preset', 'quick', '--workers', '0'],
      /--workers: expected a whole number from 1/,
    ],
    [
      'negative calibration',
      ['plan', '--preset', 'quick', '--calibration-seconds=-1'],
      /--calibration-seconds: expected a number > 0/,
    ],
    ['unknown preset', ['plan', '--preset', 'nope'], /unknown preset 'nope'/],
    ['an NSR preset', ['plan', '--preset', 'nsr-compare-quick'], /static-task presets.*nalm presets/],
    ['no grid', ['plan'], /give --preset NAME .* or both --model and --op/],
    ['bad engine', ['plan', '--preset', 'quick', '--engine', 'gpu'], /--engine: use auto, fast or tfjs/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const r = nalm(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|at .*\.ts:\d+/);
    });
  }
});

describe('nalm plan: a tiny grid', () => {
  const grid = ['--model', 'nau,nmu', '--op', 'add,mul', '--seeds', '0..4', '--iterations', '3000'];
  grid.push('--eval-every', '500', '--calibration-seconds', '0.2');

  it('gives counts, a measured rate per model and estimates consistent with them (--json)', () => {
    const r = nalm(['plan', ...grid, '--workers', '2', '--task-hours', '0.001', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.runs).toBe(2 * 2 * 5);
    expect(p.seedIterations).toBe(20 * 3000);
    expect(p.calibration.map((c: { model: string }) => c.model).sort()).toEqual(['nau', 'nmu']);
    const rate = (m: string) => p.calibration.find((c: { model: string }) => c.model === m).rate as number;
    // Each model has 10 runs of 3,000 iterations; one worker trains them at its measured rate.
    expect(p.coreSeconds).toBeCloseTo(30_000 / rate('nau') + 30_000 / rate('nmu'), 6);
    expect(p.wallSeconds).toBeGreaterThanOrEqual(p.coreSeconds / p.cores - 1e-9);
    expect(p.wallSeconds).toBeLessThanOrEqual(p.coreSeconds + 1e-9);
    expect(p.longestRunSeconds).toBeCloseTo(3000 / Math.min(rate('nau'), rate('nmu')), 6);
    if (p.shards === null) expect(p.longestRunSeconds).toBeGreaterThan(3.6);
    else {
      expect(p.shards).toBeGreaterThanOrEqual(Math.ceil(p.coreSeconds / (2 * 3.6)));
      expect(p.maxTaskSeconds).toBeLessThanOrEqual(3.6);
    }
  });

  it('prints the plan and the command that submits it', () => {
    const r = nalm(['plan', ...grid, '--workers', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/4 configurations × 5 seeds = 20 runs of 3,000 iterations/);
    expect(r.stdout).toMatch(
      /nau +fast +\d+ replicas × [\d,]+ iterations in [\d.]+ s +→ [\d,]+ seed-it\/s per worker/,
    );
    expect(r.stdout).toMatch(/estimated wall time on this machine/);
    expect(r.stdout).toMatch(/array job: 1 task\(s\) of 3 worker\(s\) keep every task under 4 h/);
    expect(r.stdout).toMatch(/SHARDS=1 CPUS=3 bash benchmarks\/cluster\/slurm-array.sh/);
  });
});
