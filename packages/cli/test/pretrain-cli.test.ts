/**
 * `nalm calc pretrain`: a tiny run writes the model, tokenizer and record and loads back; a stopped
 * run resumes to the same weights as an uninterrupted one; a run extends with a larger --steps;
 * missing, corrupt and mismatched directories and bad flags exit 2 with a message that says what to
 * do. Small synthetic corpus (the SOTU loader has its own test), tiny model: each run takes well
 * under a second.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CalcPretrainArgs, PretrainHooks } from '../src/cli/pretrain.js';
import { calcPretrain } from '../src/cli/pretrain.js';
import { formatDuration } from '../src/cli/progress.js';
import { calcCommand } from '../src/cli/calc.js';
import { UsageError } from '../src/cli/errors.js';
import type { TextCorpus } from '../src/node/corpus.js';
import { SOTU_PACKAGE, loadSotuCorpus } from '../src/node/corpus.js';
import type { PretrainMeta } from '../src/node/lm-files.js';
import { loadPretrainedLanguageModel, readPretrainMeta } from '../src/node/lm-files.js';

const corpus = (): TextCorpus => ({
  name: 'test-corpus',
  version: '1.0.0',
  description: 'forty short documents',
  documents: Array.from({ length: 40 }, (_, i) => ({
    id: `doc ${i}`,
    text: `Document ${i}: the quick brown fox jumps over the lazy dog ${7 * i} times.\n`.repeat(3),
  })),
});

const tinyFlags = { layers: 1, dim: 16, heads: 2, context: 16, batch: 4, quiet: true };
const fresh = () => mkdtempSync(join(tmpdir(), 'nalm-pretrain-'));
const meta = (dir: string) => readPretrainMeta(dir) as PretrainMeta;
const weights = async (dir: string) => {
  const { lm } = await loadPretrainedLanguageModel(dir);
  const w = lm.model.getWeights().map((t) => Array.from(t.dataSync()));
  lm.dispose();
  return w;
};

async function pretrain(args: Partial<CalcPretrainArgs> & { out: string }, hooks: PretrainHooks = {}) {
  let log = '';
  const code = await calcPretrain({ ...tinyFlags, ...args } as CalcPretrainArgs, {
    corpus,
    log: (s) => (log += s),
    ...hooks,
  });
  return { code, log };
}

/** Through yargs and the calc command's error handling, as `nalm calc pretrain …` runs. */
async function cli(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
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
    err.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stderr };
}

afterEach(() => {
  process.exitCode = 0;
});

describe('nalm calc pretrain', () => {
  it('writes the model, tokenizer and record, which load back through the API', async () => {
    const dir = fresh();
    const { code, log } = await pretrain({ out: dir, steps: 4, 'eval-tokens': 'all' });
    expect(code, log).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['lm.json', 'step-000004', 'tokenizer.json']);
    expect(readdirSync(join(dir, 'step-000004')).sort()).toEqual([
      'model.json',
      'optimizer.bin',
      'optimizer.json',
      'weights.bin',
    ]);
    const m = meta(dir);
    expect(m).toMatchObject({
      step: 4,
      complete: true,
      model: { layers: 1, dim: 16, heads: 2, context: 16, vocabSize: 97, seed: 0 },
      train: { steps: 4, batchSize: 4 },
      corpus: {
        package: 'test-corpus',
        version: '1.0.0',
        documents: 40,
        heldOutDocuments: ['doc 10', 'doc 30'],
      },
    });
    expect(m.heldOut!.whole).toBe(true);
    expect(m.heldOut!.tokens).toBe(m.corpus.heldOutTokens - 1);
    expect(m.heldOut!.perplexity).toBeGreaterThan(1);
    expect(m.heldOut!.perplexity).toBeLessThan(97);
    expect(m.progress.map((p) => p.step)).toEqual([4]);
    const { lm, meta: loadedMeta } = await loadPretrainedLanguageModel(dir);
    expect(loadedMeta.step).toBe(4);
    expect(lm.config).toEqual(m.model);
    expect(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'))).toEqual(lm.tokenizer.toJSON());
    expect(lm.generate(['The quick'], { maxNewTokens: 3, stop: '' })[0]).toHaveLength(3);
    lm.dispose();
  });

  it('prints a progress line with steps/s, loss and ETA', async () => {
    const dir = fresh();
    const { code, log } = await pretrain({ out: dir, steps: 3, quiet: false, 'eval-tokens': 64 });
    expect(code).toBe(0);
    expect(log).toMatch(
      /step 1\/3 \(33%\) {2}[\d.]+ steps\/s {2}loss [\d.]+ {2}lr [\d.e+-]+ {2}elapsed \d+s {2}ETA \d+s/,
    );
    expect(log).toMatch(/step 3\/3 \(100%\)/);
    expect(log).toMatch(
      /done — 3 steps, .*held-out perplexity [\d.]+ \([\d.]+ bits\/char over 64 characters\)/,
    );
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(61)).toBe('1m01s');
  });

  it('resumes a stopped run to the same weights as an uninterrupted one, continuing the step count', async () => {
    const straight = fresh();
    expect((await pretrain({ out: straight, steps: 6, 'eval-tokens': 64 })).code).toBe(0);
    const dir = fresh();
    expect(
      (await pretrain({ out: dir, steps: 6, 'eval-tokens': 64 }, { shouldStop: (s) => s === 3 })).code,
    ).toBe(130);
    await expect(pretrain({ out: dir, steps: 6 })).rejects.toThrow(
      /already holds a pretraining run \(step 3 of 6\).*--resume/,
    );

    const resumed = await pretrain({ out: dir, resume: true, 'eval-tokens': 64, quiet: false });
    expect(resumed.code, resumed.log).toBe(0);
    expect(resumed.log).toMatch(/resuming .* at step 3 of 6/);
    expect(resumed.log).toMatch(/step 4\/6/);
    const m = meta(dir);
    expect(m).toMatchObject({ step: 6, complete: true, checkpoint: 'step-000006' });
    expect(m.progress.map((p) => p.step)).toEqual([3, 6]);
    expect(readdirSync(dir).filter((f) => f.startsWith('step-'))).toEqual(['step-000006']);
    expect(await weights(dir)).toEqual(await weights(straight));
    expect(m.heldOut!.perplexity).toBe(meta(straight).heldOut!.perplexity);

    // Complete: nothing to do; a larger --steps extends the run.
    const done = await pretrain({ out: dir, resume: true, quiet: false });
    expect(done.code).toBe(0);
    expect(done.log).toMatch(/is complete \(6 steps.*nothing to do/);
    const more = await pretrain({ out: dir, resume: true, steps: 8, 'eval-tokens': 64 });
    expect(more.code).toBe(0);
    expect(meta(dir)).toMatchObject({ step: 8, complete: true, train: { steps: 8 } });
    await expect(pretrain({ out: dir, resume: true, steps: 5 })).rejects.toThrow(
      /--steps 5 is below the 8 steps/,
    );
    await expect(pretrain({ out: dir, resume: true, dim: 32 })).rejects.toThrow(/--dim 32 \(run: 16\)/);
  });

  it('says what to do when there is nothing to resume, or the directory is damaged', async () => {
    const missing = join(fresh(), 'nope');
    await expect(pretrain({ out: missing, resume: true })).rejects.toThrow(
      /no such directory to resume; start a run without --resume/,
    );
    const empty = fresh();
    await expect(pretrain({ out: empty, resume: true })).rejects.toThrow(
      /no pretraining checkpoint \(no lm.json\).*without --resume/,
    );

    const dir = fresh();
    expect(
      (await pretrain({ out: dir, steps: 4, 'eval-tokens': 64 }, { shouldStop: (s) => s === 2 })).code,
    ).toBe(130);
    const ckpt = join(dir, 'step-000002');

    const good = readFileSync(join(dir, 'lm.json'), 'utf8');
    writeFileSync(join(dir, 'lm.json'), '{"format": "nalm-lm-pre');
    await expect(pretrain({ out: dir, resume: true })).rejects.toThrow(
      /lm.json: not valid JSON .*damaged: restore the file, or delete the directory/,
    );
    await expect(loadPretrainedLanguageModel(dir)).rejects.toThrow(/not valid JSON/);
    writeFileSync(join(dir, 'lm.json'), good);

    const bin = readFileSync(join(ckpt, 'optimizer.bin'));
    truncateSync(join(ckpt, 'optimizer.bin'), 100);
    await expect(pretrain({ out: dir, resume: true })).rejects.toThrow(
      /optimizer.bin: 100 bytes where its specs describe \d+ \(truncated\?\)/,
    );
    writeFileSync(join(ckpt, 'optimizer.bin'), bin);

    const w = readFileSync(join(ckpt, 'weights.bin'));
    truncateSync(join(ckpt, 'weights.bin'), 64);
    await expect(loadPretrainedLanguageModel(dir)).rejects.toThrow(/weights.bin: cannot be loaded/);
    rmSync(join(ckpt, 'weights.bin'));
    await expect(pretrain({ out: dir, resume: true })).rejects.toThrow(
      /weights.bin: missing\. The pretraining directory is damaged/,
    );
    writeFileSync(join(ckpt, 'weights.bin'), w);

    // Restored: it resumes.
    expect((await pretrain({ out: dir, resume: true, 'eval-tokens': 64 })).code).toBe(0);
    expect(meta(dir).step).toBe(4);

    const other = fresh();
    writeFileSync(join(other, 'notes.txt'), 'mine');
    await expect(pretrain({ out: other, steps: 2 })).rejects.toThrow(
      /is not empty \(notes.txt\) and holds no pretraining run/,
    );
    await expect(loadPretrainedLanguageModel(other)).rejects.toThrow(/no lm.json.*nalm calc pretrain --out/);
  });

  it('leaves the previous checkpoint in force when a newer one was not finished', async () => {
    const dir = fresh();
    expect(
      (await pretrain({ out: dir, steps: 4, 'eval-tokens': 64 }, { shouldStop: (s) => s === 2 })).code,
    ).toBe(130);
    // A crash while step 3's checkpoint was being written: its directory exists, lm.json was not moved.
    mkdirSync(join(dir, 'step-000003'));
    writeFileSync(join(dir, 'step-000003', 'weights.bin'), 'partial');
    const r = await pretrain({ out: dir, resume: true, 'eval-tokens': 64, quiet: false });
    expect(r.code).toBe(0);
    expect(r.log).toMatch(/removing step-000003, an unfinished checkpoint/);
    expect(existsSync(join(dir, 'step-000003'))).toBe(false);
    expect(meta(dir).step).toBe(4);
  });

  it('exits 2 with a message on bad flags and unusable directories', async () => {
    const dir = fresh();
    const r1 = await cli(['calc', 'pretrain', '--out', dir, '--dim', '10', '--heads', '4', '--quiet']);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/nalm calc pretrain: --dim 10 is not a multiple of --heads 4/);
    const r2 = await cli(['calc', 'pretrain', '--out', dir, '--eval-tokens', 'lots', '--quiet']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--eval-tokens: expected a whole number/);
    const r3 = await cli(['calc', 'pretrain', '--out', dir, '--resume', '--quiet']);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/no pretraining checkpoint/);
    const r4 = await cli(['calc', 'pretrain', '--out', dir, '--steps', '0']);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/--steps: expected a whole number ≥ 1, got 0/);
  });
});

describe('the SOTU corpus', () => {
  it('loads from node_modules, in a fixed order, with its package version', () => {
    const c = loadSotuCorpus();
    expect(c.name).toBe(SOTU_PACKAGE);
    expect(c.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(c.documents.length).toBeGreaterThanOrEqual(233);
    expect(c.documents[0]!.id).toBe('1790 George Washington');
    const years = c.documents.map((d) => Number(d.id.slice(0, 4)));
    expect([...years].sort((a, b) => a - b)).toEqual(years);
    const chars = c.documents.reduce((a, d) => a + d.text.length, 0);
    expect(chars).toBeGreaterThan(10_000_000);
  });
});

describe('Ctrl-C on a real process', () => {
  // The training loop is synchronous tfjs: unless it yields once per step, Node never runs the
  // SIGINT handler, and the handler's presence also removes the default exit, so the process could
  // only be killed with -9 (found on a 10-minute `nalm calc igc-train`).
  it('stops a running `nalm calc pretrain` at the next step with a checkpoint, exit code 130', async () => {
    const dir = fresh();
    const bin = join(dirname(fileURLToPath(import.meta.url)), '../bin/nalm.js');
    const child = spawn(
      process.execPath,
      [
        bin,
        'calc',
        'pretrain',
        '--out',
        dir,
        '--steps',
        '1000000',
        '--layers',
        '1',
        '--dim',
        '8',
        '--heads',
        '2',
        '--context',
        '8',
        '--batch',
        '2',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      // After the first progress line the loop is running.
      if (!sent && /step \d+\/1000000/.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    // Without the fix the process ignores SIGINT forever: kill it so the test fails, not hangs.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    clearTimeout(guard);
    expect(sent).toBe(true);
    expect(stderr).toMatch(/SIGINT — saving a checkpoint after this step/);
    expect(stderr).toMatch(/stopped at step (\d+) of 1000000; the checkpoint is saved/);
    expect(code).toBe(130);
    const meta = readPretrainMeta(dir)!;
    expect(meta.complete).toBe(false);
    expect(meta.step).toBeGreaterThan(0);
  }, 120_000);
});
