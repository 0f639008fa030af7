/**
 * The NSR tasks on the benchmark's pipeline (issue 18, item 4): a preset trained with 2 workers,
 * as two shards merged with `nalm merge`, and killed with SIGKILL mid-run then resumed, stores
 * exactly the records of a one-worker run: a record depends only on its configuration and seed.
 * Runs the built `nalm` bin, as a user would. No timing assertions: the kill waits for the first
 * stored record, whatever the machine's load.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { nsrRecords } from '../../bench/src/record.js';
import { recordLine } from '../../bench/src/store/codec.js';
import { openStore, parseRecordLine } from '../src/store/index.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../bin/nalm.js');
const env = { ...process.env, NALM_CACHE_DIR: join(tmpdir(), 'nalm-cli-cache') };
const nalm = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
const root = mkdtempSync(join(tmpdir(), 'nalm-nsr-pipeline-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** float64 (one replica per batch): 4 configurations × 6 seeds, long enough to be killed mid-run. */
const F64 = ['run', '--preset', 'nsr-compare-quick', '--seeds', '0..5', '--epochs', '5000'];
/** float32 (tfjs, batched): 3 configurations × 3 seeds; shards regroup the batches. */
const F32 = ['run', '--preset', 'nsr-compare', '--model', 'nsr,mlp', '--seeds', '0..2', '--epochs', '60'];
const COMMON = ['--backend', 'cpu', '--no-report', '--quiet'];

/** The store's records as their lines, sorted by id: equal iff the records are byte-identical. */
function lines(dir: string): string[] {
  const { records, problems, notes } = openStore(dir).read();
  expect(notes).toEqual([]);
  expect(problems.filter((p) => !/not valid JSON|incomplete last line/.test(p.reason))).toEqual([]);
  const nsr = nsrRecords(records);
  expect(nsr).toHaveLength(records.length);
  return nsr
    .map((r) => [`${r.key}:${r.seed}`, recordLine(r)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, l]) => l);
}
const digest = (ls: readonly string[]) => createHash('sha256').update(ls.join('\n')).digest('hex');

function train(grid: string[], out: string, ...extra: string[]) {
  const r = nalm([...grid, ...COMMON, '--out', join(root, out), ...extra]);
  expect(r.status, r.stderr).toBe(0);
  return r;
}

function shardsMerged(grid: string[], name: string): string[] {
  const sizes: number[] = [];
  for (const k of [0, 1]) {
    train(grid, `${name}-shard-${k}`, '--workers', '2', '--shard', `${k}/2`);
    sizes.push(openStore(join(root, `${name}-shard-${k}`)).read().records.length);
  }
  expect(Math.min(...sizes)).toBeGreaterThan(0); // both shards trained something
  const merged = nalm([
    'merge',
    join(root, `${name}-shard-0`),
    join(root, `${name}-shard-1`),
    '--out',
    join(root, `${name}-merged`),
  ]);
  expect(merged.status, merged.stderr).toBe(0);
  expect(merged.stderr).toMatch(new RegExp(`${sizes[0]! + sizes[1]!} record\\(s\\) added.*0 conflict`));
  return lines(join(root, `${name}-merged`));
}

/** Start a run, SIGKILL it once its first record is stored, and return how many were stored. */
async function killAfterFirstRecord(grid: string[], out: string): Promise<number> {
  const dir = join(root, out);
  const child = spawn(process.execPath, [bin, ...grid, ...COMMON, '--workers', '2', '--out', dir], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += String(c)));
  const exited = new Promise<NodeJS.Signals | null>((res) =>
    child.on('close', (_code, signal) => res(signal)),
  );
  const file = join(dir, 'records.jsonl');
  const stored = () =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '' && parseRecordLine(l).ok).length
      : 0;
  let done = false;
  void exited.then(() => (done = true));
  while (!done && stored() === 0) await new Promise((res) => setTimeout(res, 20));
  child.kill('SIGKILL');
  const signal = await exited;
  expect(signal, `the run finished before it could be killed: ${stderr}`).toBe('SIGKILL');
  expect(existsSync(join(dir, 'nalm.lock'))).toBe(true); // left behind: stale on resume
  return stored();
}

describe('NSR presets on the pipeline', () => {
  it('float64: --workers 2, --shard 0/2 + 1/2 + nalm merge, and kill -9 + resume store identical records', async () => {
    train(F64, 'f64-one', '--workers', '1');
    const one = lines(join(root, 'f64-one'));
    expect(one).toHaveLength(24);
    expect(new Set(one).size).toBe(24); // not vacuous: seeds and configurations differ

    train(F64, 'f64-two', '--workers', '2');
    expect(lines(join(root, 'f64-two'))).toEqual(one);

    expect(shardsMerged(F64, 'f64')).toEqual(one);

    const before = await killAfterFirstRecord(F64, 'f64-killed');
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(24);
    // What a kill inside write() leaves: a strict prefix of a line, without its newline.
    appendFileSync(join(root, 'f64-killed', 'records.jsonl'), one[0]!.slice(0, 40));
    const resumed = nalm([...F64, '--backend', 'cpu', '--no-report', '--out', join(root, 'f64-killed')]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/removed a stale lock/);
    expect(resumed.stderr).toMatch(new RegExp(`24 runs, ${before} already stored, ${24 - before} to train`));
    expect(resumed.stderr).toMatch(/line skipped and left in place/);
    expect(lines(join(root, 'f64-killed'))).toEqual(one);
    expect(digest(lines(join(root, 'f64-killed')))).toBe(digest(one));
  }, 300_000);

  it('float32: --workers 2 and two shards merged store the records of one worker', () => {
    train(F32, 'f32-one', '--workers', '1');
    const one = lines(join(root, 'f32-one'));
    expect(one).toHaveLength(2 * 6 * 3); // nsr, mlp × six comparisons × 3 seeds
    train(F32, 'f32-two', '--workers', '2');
    expect(lines(join(root, 'f32-two'))).toEqual(one);
    expect(shardsMerged(F32, 'f32')).toEqual(one);
  }, 300_000);

  it('nalm report reads an NSR store', () => {
    const r = nalm(['report', join(root, 'f32-one')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| compare > \| NSR \|/);
  });
});
