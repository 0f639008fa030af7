/**
 * Scale-out: shards of the grid merged back equal one unsharded run, record by record, whatever
 * the number of workers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.js';
import { shardOf } from '../../bench/src/sweep.js';
import { parseShard } from '../src/cli/run.js';
import type { StoreRecord } from '../../bench/src/record.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../bin/nalm.js');
const env = { ...process.env, NALM_CACHE_DIR: join(tmpdir(), 'nalm-cli-cache') };
const nalm = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
const GRID = [
  'run',
  '--model',
  'nau,nac',
  '--op',
  'add,sub',
  '--input-size',
  '8',
  '--seeds',
  '0..5',
  '--iterations',
  '300',
  '--eval-every',
  '100',
  '--engine',
  'tfjs',
  '--backend',
  'cpu',
  '--no-report',
  '--quiet',
];
const byId = (records: StoreRecord[]) => new Map(records.map((r) => [`${r.key}:${r.seed}`, r]));

describe('sharding and merging', () => {
  it('3 shards (2 workers each) merged are identical to one unsharded run (1 worker)', () => {
    const root = mkdtempSync(join(tmpdir(), 'nalm-shard-'));
    const whole = nalm([...GRID, '--workers', '1', '--out', join(root, 'whole')]);
    expect(whole.status, whole.stderr).toBe(0);
    const sizes: number[] = [];
    for (let k = 0; k < 3; k++) {
      const r = nalm([...GRID, '--workers', '2', '--shard', `${k}/3`, '--out', join(root, `shard-${k}`)]);
      expect(r.status, r.stderr).toBe(0);
      sizes.push(openStore(join(root, `shard-${k}`)).read().records.length);
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(24); // the shards partition the 4 × 6 grid
    expect(Math.min(...sizes)).toBeGreaterThan(0);
    const merged = nalm([
      'merge',
      ...[0, 1, 2].map((k) => join(root, `shard-${k}`)),
      '--out',
      join(root, 'merged'),
    ]);
    expect(merged.status, merged.stderr).toBe(0);
    expect(merged.stderr).toMatch(/24 record\(s\) added/);

    const a = byId(openStore(join(root, 'whole')).read().records);
    const b = byId(openStore(join(root, 'merged')).read().records);
    expect(a.size).toBe(24);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [id, rec] of a) expect(b.get(id), id).toEqual(rec);

    // Merging again adds nothing (conflicts are covered in store.test.ts).
    const again = nalm(['merge', join(root, 'whole'), '--out', join(root, 'merged')]);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/0 record\(s\) added to .*, 24 identical duplicate/);
  });

  it('assigns every cell to exactly one shard, stably', () => {
    for (let seed = 0; seed < 200; seed++) {
      const s = shardOf('0123456789abcdef', seed, 7);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(7);
      expect(shardOf('0123456789abcdef', seed, 7)).toBe(s);
    }
    const counts = new Array(4).fill(0);
    for (let seed = 0; seed < 400; seed++) counts[shardOf('feedface00000000', seed, 4)]++;
    for (const c of counts) expect(c).toBeGreaterThan(60); // roughly even
  });

  it('parses K/N and rejects out-of-range or malformed shards by name', () => {
    expect(parseShard('0/1')).toEqual({ index: 0, count: 1 });
    expect(parseShard(' 7/8 ')).toEqual({ index: 7, count: 8 });
    for (const bad of ['3/3', '-1/3', '1/0', 'a/b', '1', '1/2/3', '']) {
      expect(() => parseShard(bad), bad).toThrow(/--shard/);
    }
  });

  for (const bad of ['3/3', 'a/b']) {
    it(`nalm run --shard ${bad} → exit 2 with a message`, () => {
      const r = nalm([
        'run',
        '--preset',
        'quick',
        `--shard=${bad}`,
        '--out',
        mkdtempSync(join(tmpdir(), 'nalm-bad-')),
      ]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--shard/);
    });
  }
});
