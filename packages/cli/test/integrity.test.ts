/**
 * Results that stay right under any use (issue 14): reports count each (configuration, seed) once
 * whatever inputs they are given, and a tampered record is reported with file:line, left out of
 * reports, retrained by run, and does not stop merge.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { curveOutcome } from '@nalm/bench';
import type { RunRecord } from '@nalm/bench';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../bin/nalm.js');
const env = { ...process.env, NALM_CACHE_DIR: join(tmpdir(), 'nalm-cli-cache') };
const nalm = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
const GRID = [
  'run',
  '--model',
  'nau',
  '--op',
  'add,sub',
  '--input-size',
  '8',
  '--seeds',
  '0..3',
  '--iterations',
  '300',
  '--eval-every',
  '100',
  '--engine',
  'tfjs',
  '--backend',
  'cpu',
  '--workers',
  '1',
  '--no-report',
  '--quiet',
];

let root: string;
let S: string;
const recordsOf = (dir: string) => join(dir, 'records.jsonl');
const lines = (dir: string) => readFileSync(recordsOf(dir), 'utf8').split('\n').filter(Boolean);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'nalm-integrity-'));
  S = join(root, 'S');
  const r = nalm([...GRID, '--out', S]);
  expect(r.status, r.stderr).toBe(0);
  expect(lines(S)).toHaveLength(8);
}, 120_000);

describe('nalm report over several inputs', () => {
  it('counts each (configuration, seed) once and says how many duplicates it dropped', () => {
    const one = nalm(['report', S, '--format', 'json']);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stderr).not.toMatch(/duplicate/);
    const twice = nalm(['report', S, S, '--format', 'json']);
    expect(twice.status, twice.stderr).toBe(0);
    expect(twice.stdout).toBe(one.stdout);
    expect(twice.stderr).toMatch(/8 duplicate record\(s\) dropped/);
    // The store next to its own records file (what shards + a merged store look like).
    const withFile = nalm(['report', S, recordsOf(S), '--format', 'json']);
    expect(withFile.stdout).toBe(one.stdout);
    expect(withFile.stderr).toMatch(/8 duplicate record\(s\) dropped/);
    const groups = JSON.parse(one.stdout).groups as { summary: { n: number } }[];
    expect(groups.map((g) => g.summary.n)).toEqual([4, 4]);
  });

  it('refuses conflicting records of one (configuration, seed), naming both inputs', () => {
    const T = join(root, 'T');
    cpSync(S, T, { recursive: true });
    // A valid record for the same cell with another outcome (as if trained by other code).
    const [first, ...rest] = lines(T);
    const r = JSON.parse(first!) as RunRecord;
    const curve = r.curve.map((p) => ({ ...p, extrapolation: p.extrapolation * 2 }));
    const other = { ...r, curve, ...curveOutcome(curve, r.threshold) };
    writeFileSync(recordsOf(T), [JSON.stringify(other), ...rest, ''].join('\n'));
    const out = nalm(['report', S, T]);
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(
      new RegExp(`configuration ${r.key} seed ${r.seed} in ${S} and ${T}.*Report the inputs separately`),
    );
  });
});

describe('a tampered record (key ≠ its configuration)', () => {
  it('is reported with file:line, left out by report, retrained by run, and merge completes', () => {
    const X = join(root, 'X');
    cpSync(S, X, { recursive: true });
    const all = lines(X);
    const victim = JSON.parse(all[2]!) as RunRecord;
    const otherKey = (JSON.parse(all.find((l) => !l.includes(victim.key))!) as RunRecord).key;
    all[2] = JSON.stringify({ ...victim, key: otherKey, seed: 99, solved: true });
    writeFileSync(recordsOf(X), `${all.join('\n')}\n`);
    const where = `${recordsOf(X)}:3`;

    const rep = nalm(['report', X, '--format', 'json']);
    expect(rep.status, rep.stderr).toBe(0);
    expect(rep.stderr).toMatch(
      new RegExp(`warning: ${where}: not a valid record: key ${otherKey} is not the key`),
    );
    const n = (JSON.parse(rep.stdout).groups as { summary: { n: number } }[]).map((g) => g.summary.n);
    expect(n.reduce((a, b) => a + b, 0)).toBe(7);

    const M = join(root, 'M');
    const merge = nalm(['merge', X, '--out', M]);
    expect(merge.status, merge.stderr).toBe(0);
    expect(merge.stderr).toMatch(new RegExp(`warning: ${where}: .*line skipped and left in place`));
    expect(merge.stderr).toMatch(/7 record\(s\) added/);

    const run = nalm([...GRID, '--out', X].filter((a) => a !== '--quiet'));
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      new RegExp(`warning: ${where}: .*line skipped and left in place; its seed counts as not run`),
    );
    expect(run.stderr).toMatch(/8 runs, 7 already in the store, 1 to train/);
    const again = lines(X);
    expect(again[2]).toBe(all[2]); // left in place byte for byte
    expect(again.at(-1)).toBe(lines(S)[2]); // retrained: the same record as the original
  }, 120_000);
});

describe('nalm run --workers', () => {
  it('refuses more workers than cores with the reason', () => {
    const grid = GRID.filter((a, i) => a !== '--workers' && GRID[i - 1] !== '--workers');
    const r = nalm([...grid, '--workers', '4096', '--out', join(root, 'W')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--workers 4096: this machine has \d+ core\(s\); use at most \d+/);
  });
});
