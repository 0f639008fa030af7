/**
 * The `nalm` command as a user runs it: exit codes, messages, resume after kill -9.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(here, '../bin/nalm.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'nalm-cli-'));
const env = { ...process.env, NALM_CACHE_DIR: join(tmpdir(), 'nalm-cli-cache') };

function nalm(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const lines = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /^records.*\.jsonl$/.test(f))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));

describe('nalm CLI: bad input → a message naming the problem and exit code 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown preset', ['run', '--preset', 'nope'], /unknown preset 'nope'.*quick/],
    [
      'unknown model',
      ['run', '--model', 'transformer', '--op', 'add'],
      /--model: unknown model 'transformer'/,
    ],
    ['unknown op', ['run', '--model', 'nmu', '--op', 'pow'], /--op: unknown operation 'pow'/],
    [
      'malformed range',
      ['run', '--model', 'nmu', '--op', 'mul', '--interp', '1;2'],
      /--interp: .*accepted syntax/,
    ],
    ['inverted range', ['run', '--model', 'nmu', '--op', 'mul', '--extrap', '6,2'], /--extrap: .*inverted/],
    ['negative seeds', ['run', '--preset', 'quick', '--seeds=-3..2'], /--seeds .*≥ 0/],
    [
      'zero iterations',
      ['run', '--preset', 'quick', '--iterations', '0'],
      /--iterations: expected a whole number ≥ 1/,
    ],
    ['unknown flag', ['run', '--preset', 'quick', '--iters', '5'], /Unknown argument: iters/],
    ['no command', [], /Give a command/],
    ['bad report format', ['report', 'x', '--format', 'pdf'], /--format: unknown format 'pdf'/],
    ['missing input', ['report', '/nonexistent/store'], /no such file or directory/],
    // What was typed is shown, not what yargs made of it.
    ['non-numeric value', ['run', '--preset', 'quick', '--iterations', 'abc'], /--iterations: .*got "abc"/],
    [
      'repeated flag',
      ['run', '--preset', 'quick', '--iterations', '1000', '--iterations', '0'],
      /--iterations given 2 times \(1000, 0\): give it once/,
    ],
    ['negative shard', ['run', '--preset', 'quick', '--shard', '-1/4'], /--shard "-1\/4": use K\/N/],
    [
      'bad time limit',
      ['run', '--preset', 'nsr-min-quick', '--time-limit', 'soon'],
      /--time-limit: expected a duration such as 45m, 2h or 1h30m, got "soon"/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const r = nalm(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|at .*\.ts:\d+/);
    });
  }

  it('an unreadable records file is an error and is left byte for byte', () => {
    const dir = tmp();
    const file = join(dir, 'records.jsonl');
    writeFileSync(file, 'this is not json\n{"v":1,"trunc');
    const before = sha(file);
    const r = nalm(['report', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no valid record/);
    expect(sha(file)).toBe(before);
  });

  it('a corrupt records line: report and run say it stays and its seed is trained again', () => {
    const dir = tmp();
    const run = ['run', '--model', 'nau', '--op', 'add', '--seeds', '0..1', '--iterations', '10'];
    expect(nalm([...run, '--out', dir, '--no-report']).code).toBe(0);
    const file = join(dir, 'records.jsonl');
    const [first] = lines(dir);
    // Seed 1's record replaced by a line a crash or an editor could leave.
    writeFileSync(file, `${first}\n{"v":1,"seed":1,"cur\n`);
    const report = nalm(['report', dir]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stderr).toMatch(
      /records\.jsonl:2: .*left in place.*`nalm run` on this store trains it again/,
    );
    const again = nalm([...run, '--out', dir, '--no-report']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/records\.jsonl:2: .*left in place/);
    const seeds = lines(dir).flatMap((l) => {
      try {
        return [(JSON.parse(l) as { seed: number }).seed];
      } catch {
        return [];
      }
    });
    expect(seeds.sort()).toEqual([0, 1]);
    expect(readFileSync(file, 'utf8')).toContain('{"v":1,"seed":1,"cur\n');
  });

  it('a store of an unknown format version is refused and not touched', () => {
    const dir = tmp();
    writeFileSync(
      join(dir, 'store.json'),
      JSON.stringify({ format: 'nalm-result-store', formatVersion: 99 }),
    );
    writeFileSync(join(dir, 'records.jsonl'), 'keep me\n');
    const before = sha(join(dir, 'records.jsonl'));
    const r = nalm([
      'run',
      '--model',
      'nau',
      '--op',
      'add',
      '--seeds',
      '0',
      '--iterations',
      '10',
      '--out',
      dir,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/version/);
    expect(sha(join(dir, 'records.jsonl'))).toBe(before);
  });

  it('--help works on every command', () => {
    for (const cmd of ['run', 'report', 'presets']) {
      const r = nalm([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`nalm ${cmd}`));
    }
  });
});

describe.each([1, 2])('nalm run --workers %i: resume after kill -9', (workers) => {
  it('loses no finished record and duplicates none', async () => {
    const out = join(tmp(), 'store');
    const args = [
      bin,
      'run',
      '--model',
      'nau',
      '--op',
      'add,sub',
      '--input-size',
      '10',
      '--seeds',
      '0..4',
      '--iterations',
      '400',
      '--eval-every',
      '100',
      '--max-replicas',
      '1',
      '--workers',
      String(workers),
      '--engine',
      'tfjs',
      '--backend',
      'cpu',
      '--no-report',
      '--quiet',
      '--out',
      out,
    ];
    // First run: kill -9 once a few records are on disk.
    const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      if (existsSync(out) && lines(out).length >= 3) break;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = lines(out).filter((l) => {
      try {
        JSON.parse(l);
        return true;
      } catch {
        return false;
      }
    });
    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(before.length).toBeLessThan(10);

    // Same command again: finishes the rest.
    const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // The killed run's lock is stale: removed with a message, not a reason to refuse.
    expect(r.stderr).toMatch(/removed a stale lock of pid \d+ .*no longer running/);
    const after = lines(out)
      .map((l) => {
        try {
          return JSON.parse(l) as { key: string; seed: number };
        } catch {
          return null;
        }
      })
      .filter((x) => x !== null);
    const ids = after.map((x) => `${x.key}:${x.seed}`);
    expect(new Set(ids).size).toBe(ids.length); // no duplicates
    expect(ids).toHaveLength(10); // 2 ops × 5 seeds
    const afterText = lines(out);
    for (const l of before) expect(afterText).toContain(l); // nothing finished was lost or rewritten
  });
});

describe('nalm presets and report', () => {
  it('lists presets with their size', () => {
    const r = nalm(['presets']);
    expect(r.code).toBe(0);
    for (const p of ['quick', 'iclr2020', 'simple', 'single-module', 'single-module-quick'])
      expect(r.stdout).toMatch(new RegExp(`^${p}$`, 'm'));
    expect(r.stdout).toMatch(/seed-iterations/);
    // the full single-module preset states its expected wall time on this machine
    expect(r.stdout).toMatch(
      /^single-module\n(?:.*\n){3} {2}expected wall time on this machine with --workers 2: ~\d/m,
    );
  });

  it('writes every report format for a small run', () => {
    const out = join(tmp(), 'store');
    mkdirSync(out, { recursive: true });
    const run = nalm([
      'run',
      '--model',
      'nau',
      '--op',
      'add',
      '--input-size',
      '8',
      '--seeds',
      '0..1',
      '--iterations',
      '200',
      '--eval-every',
      '100',
      '--backend',
      'cpu',
      '--quiet',
      '--out',
      out,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\| \+ \| NAU \|/);
    // Progress goes to stderr: the piped stdout is exactly the report file, nothing interleaved.
    expect(run.stdout).toBe(readFileSync(join(out, 'report.md'), 'utf8'));
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    const rep = nalm(['report', out, '--format', 'md,csv,tex,json,runs', '--out', join(out, 'rep')]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(readFileSync(join(out, 'rep', 'summary.csv'), 'utf8').split('\n')[0]).toBe(
      'model,operation,success.rate.mean,success.rate.lower,success.rate.upper,converged.at.median,converged.at.mean,converged.at.lower,converged.at.upper,sparse.error.mean,sparse.error.lower,sparse.error.upper',
    );
    expect(readFileSync(join(out, 'rep', 'runs.csv'), 'utf8').split('\n')).toHaveLength(2 + 1 + 1 - 1 + 1); // header + 2 runs + trailing newline
    expect(JSON.parse(readFileSync(join(out, 'rep', 'report.json'), 'utf8')).mode).toBe('correct');
    expect(readFileSync(join(out, 'rep', 'report.tex'), 'utf8')).toMatch(/\\begin\{tabular\}/);
  });
});
