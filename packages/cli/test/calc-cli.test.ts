/**
 * `nalm calc train|eval` through a yargs instance holding only the calc command: a tiny run trains,
 * resumes, evaluates to the documented JSON shape, and usage mistakes exit with code 2.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CalcEvaluation } from '../src/cli/calc.js';
import {
  calcCommand,
  calcEval,
  calcTrain,
  formatCalcEvaluation,
  settingsOf,
  variantsOf,
} from '../src/cli/calc.js';
import { UsageError } from '../src/cli/errors.js';

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  process.exitCode = 0;
  try {
    await yargs(argv)
      .command(calcCommand)
      .strict()
      .fail((msg, e) => {
        throw new UsageError(msg ?? e?.message);
      })
      .parseAsync();
  } catch (e) {
    stderr += (e as Error).message;
    process.exitCode = 2;
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stdout, stderr };
}

afterEach(() => {
  process.exitCode = 0;
});

describe('nalm calc', () => {
  it('--with-calculator / --baseline pick one variant; neither or both train both', () => {
    expect(variantsOf({})).toEqual(['calculator', 'baseline']);
    expect(variantsOf({ 'with-calculator': true })).toEqual(['calculator']);
    expect(variantsOf({ baseline: true })).toEqual(['baseline']);
    expect(variantsOf({ baseline: true, 'with-calculator': true })).toEqual(['calculator', 'baseline']);
  });

  it('trains, resumes, and evaluates to one row per subtask with Wilson intervals', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nalm-calc-cli-'));
    const common = ['--out', dir, '--seeds', '0', '--steps', '3', '--batch', '16', '--test-per-subtask', '4'];
    const first = await run(['calc', 'train', ...common, '--hidden', '16', '--quiet']);
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(join(dir, 'calculator', 'seed-0', 'model.json'))).toBe(true);
    expect(existsSync(join(dir, 'baseline', 'seed-0', 'weights.bin'))).toBe(true);
    const before = readFileSync(join(dir, 'calculator', 'seed-0', 'weights.bin'));
    const again = await run(['calc', 'train', ...common, '--hidden', '16']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/calculator seed 0: already trained, skipped/);
    expect(readFileSync(join(dir, 'calculator', 'seed-0', 'weights.bin'))).toEqual(before);

    const changed = await run(['calc', 'train', ...common, '--hidden', '32']);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toMatch(/written with other settings/);

    let text = '';
    await calcEval({ dir, json: true }, (s) => {
      text += s;
    });
    const ev = JSON.parse(text) as CalcEvaluation;
    expect(ev.rows).toHaveLength(22);
    expect(ev.models.map((m) => m.variant)).toEqual(['calculator', 'baseline']);
    for (const r of ev.rows) {
      for (const v of Object.values(r.variants)) {
        expect(v.lower).toBeLessThanOrEqual(v.mean);
        expect(v.upper).toBeGreaterThanOrEqual(v.mean);
        expect(v.correct).toBeLessThanOrEqual(v.n);
      }
      expect(r.operands === null).toBe(!r.arithmetic);
    }
    const gate = ev.models[0]!.gateNonArithmetic!;
    expect(gate).toBeGreaterThan(0);
    expect(gate).toBeLessThan(1);
    const md = formatCalcEvaluation(ev);
    expect(md).toMatch(/\| 5_digit_multiplication \| 4 \|/);
    expect(md).toMatch(/seed 0: arithmetic digits \d\.\d{4}, all tokens \d\.\d{4}; non-arithmetic \d\.\d{4}/);

    // An unreadable model is left out with its file named; the other one is still evaluated.
    const weights = join(dir, 'baseline', 'seed-0', 'weights.bin');
    writeFileSync(weights, readFileSync(weights).subarray(0, 10));
    text = '';
    const code = await calcEval({ dir, json: true }, (s) => {
      text += s;
    });
    expect(code).toBe(2);
    const partial = JSON.parse(text) as CalcEvaluation;
    expect(partial.models.map((m) => m.variant)).toEqual(['calculator']);
    expect(partial.skipped).toEqual([
      { variant: 'baseline', seed: 0, file: weights, reason: expect.any(String) },
    ]);
    writeFileSync(join(dir, 'calculator', 'seed-0', 'train.json'), '{"steps": 3, "wal');
    await expect(calcEval({ dir }, () => {})).rejects.toThrow(
      /no model could be read .*calculator[/\\]seed-0[/\\]train\.json: .*JSON/,
    );
  });

  it('usage mistakes exit with code 2 and say what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nalm-calc-cli-'));
    const cases: [string[], RegExp][] = [
      [['calc', 'train', '--out', dir, '--seeds', 'x'], /--seeds "x": 'x' is not a seed/],
      [['calc', 'train', '--out', dir, '--steps', '0'], /--steps: expected a whole number ≥ 1/],
      [['calc', 'train', '--out', dir, '--backend', 'gpu'], /--backend: unknown backend 'gpu'/],
      [
        ['calc', 'train', '--out', dir, '--non-arith-share', '1'],
        /--non-arith-share: expected a number > 0 and ≤ 0.95/,
      ],
      [['calc', 'train'], /Missing required argument: out/],
      [['calc', 'eval', join(dir, 'nope')], /no such directory/],
      [['calc', 'eval', dir], /has no calc-run.json/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    await expect(calcTrain({ out: '' })).rejects.toThrow(/--out/);
  });

  it('does not add models to a directory of an earlier trainer, and leaves it as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nalm-calc-cli-'));
    const old = JSON.stringify({ ...settingsOf({ out: dir }), formatVersion: 1 });
    writeFileSync(join(dir, 'calc-run.json'), old);
    const r = await run(['calc', 'train', '--out', dir, '--steps', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/earlier trainer \(format version 1\).*train into another --out directory/);
    expect(readFileSync(join(dir, 'calc-run.json'), 'utf8')).toBe(old);
  });
});
