/**
 * `nalm run --time-limit`: no batch starts after the limit, the batches in flight are stored, the
 * report of what is stored is written, exit code 75, and the same command continues where it stopped.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveRun, trainIntoStore } from '../src/cli/run.js';
import { parseDuration } from '../src/cli/args.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('--time-limit', () => {
  it('parses 90s, 45m, 2h, 1.5h and 1h30m, and names the fix for anything else', () => {
    expect(
      ['90s', '45m', '2h', '1.5h', '1h30m', '1h0m5s'].map((d) => parseDuration(d, '--time-limit')),
    ).toEqual([90, 2700, 7200, 5400, 5400, 3605]);
    for (const bad of ['', 'soon', '0m', '5', '2d', 'h', '-1h'])
      expect(() => parseDuration(bad, '--time-limit')).toThrow(
        /--time-limit: expected a duration such as 45m, 2h/,
      );
  });

  it('a limit reached before a batch starts stores nothing, says so, exits 75; the same run then completes', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nalm-limit-')), 'store');
    const { configs, seeds } = resolveRun({ model: 'nmu', op: 'mul', seeds: '0..2', iterations: 200 });
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (stderr.push(String(s)), true));
    const reports: number[] = [];
    const run = (timeLimit?: number) =>
      trainIntoStore(
        { out, configs, seeds, backend: 'cpu', workers: 1, quiet: true, onEvent: () => {}, timeLimit },
        async (store) => void reports.push(store.read().records.length),
      );
    // A limit of 0 s has passed when the first batch would start: deterministic, whatever the machine.
    expect(await run(0)).toBe(75);
    expect(stderr.join('')).toMatch(
      /time limit \(0s\) reached: no new batch started after it; 0 new run\(s\) stored in .*, 1 batch\(es\) left\. Run the same command again to continue\./,
    );
    expect(reports).toEqual([0]); // the report of what is stored so far
    expect(await run()).toBe(0);
    expect(reports).toEqual([0, 3]);
    expect(readFileSync(join(out, 'records.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
  });
});
