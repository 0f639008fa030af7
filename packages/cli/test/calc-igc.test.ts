/**
 * `nalm calc igc-train` / `igc-eval` on a tiny host pretrained for a few steps inside the test: the
 * run directory's files, a stopped run resumed to the same module as an uninterrupted one, the
 * evaluation table (20 subtasks + copy/count, both variants, perplexities) and its JSON, and usage
 * mistakes as clear errors. A small synthetic corpus; every run takes seconds.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IgcRunEvaluation, IgcTrainArgs } from '../src/cli/igc.js';
import { igcEval, igcTrain } from '../src/cli/igc.js';
import { calcPretrain } from '../src/cli/pretrain.js';
import { UsageError } from '../src/cli/errors.js';
import type { TextCorpus } from '../src/node/corpus.js';

const corpus = (): TextCorpus => ({
  name: 'test-corpus',
  version: '1.0.0',
  description: 'forty short documents',
  documents: Array.from({ length: 40 }, (_, i) => ({
    id: `doc ${i}`,
    text: `Document ${i}: the quick brown fox jumps over the lazy dog ${7 * i} times.\n`.repeat(3),
  })),
});
const fresh = () => mkdtempSync(join(tmpdir(), 'nalm-igc-'));
const quiet = { log: () => {}, corpus };
let hostDir = '';

beforeAll(async () => {
  hostDir = join(fresh(), 'lm');
  const code = await calcPretrain(
    {
      out: hostDir,
      layers: 2,
      dim: 16,
      heads: 2,
      context: 64,
      batch: 4,
      steps: 3,
      quiet: true,
      'eval-tokens': 512,
    },
    quiet,
  );
  expect(code).toBe(0);
});

const tiny = (out: string, extra: Partial<IgcTrainArgs> = {}): IgcTrainArgs => ({
  host: hostDir,
  out,
  seeds: '0',
  steps: 4,
  batch: 8,
  'test-per-subtask': 2,
  'checkpoint-every': 2,
  quiet: true,
  ...extra,
});
const moduleBytes = (out: string, variant: string) => {
  const state = JSON.parse(readFileSync(join(out, variant, 'seed-0', 'state.json'), 'utf8')) as {
    checkpoint: string;
  };
  return readFileSync(join(out, variant, 'seed-0', state.checkpoint, 'module.bin'));
};

describe('nalm calc igc-train / igc-eval', () => {
  it('trains both variants, resumes a stopped run to the same modules, and evaluates them', async () => {
    const a = join(fresh(), 'run');
    expect(await igcTrain(tiny(a), quiet)).toBe(0);
    const run = JSON.parse(readFileSync(join(a, 'igc-run.json'), 'utf8')) as {
      layer: number;
      calculator: { parameters: number };
      adapter: { parameters: number };
    };
    expect(run.layer).toBe(1); // the middle of 2 blocks
    expect(
      Math.abs(run.adapter.parameters - run.calculator.parameters) / run.calculator.parameters,
    ).toBeLessThan(0.05);
    for (const v of ['calculator', 'baseline']) {
      const state = JSON.parse(readFileSync(join(a, v, 'seed-0', 'state.json'), 'utf8')) as {
        step: number;
        complete: boolean;
      };
      expect(state).toMatchObject({ step: 4, complete: true });
    }
    // Stopped after step 2 of the calculator, then resumed: the same bytes as the uninterrupted run.
    const b = join(fresh(), 'run');
    let log = '';
    const stopped = await igcTrain(tiny(b), {
      corpus,
      log: (s) => (log += s),
      shouldStop: (v, _s, step) => v === 'calculator' && step === 2,
    });
    expect(stopped).toBe(130);
    expect(log).toMatch(/--resume/);
    await expect(igcTrain(tiny(b), quiet)).rejects.toThrow(/--resume/);
    expect(await igcTrain({ out: b, resume: true, seeds: '0', quiet: true }, quiet)).toBe(0);
    expect(moduleBytes(b, 'calculator').equals(moduleBytes(a, 'calculator'))).toBe(true);
    expect(moduleBytes(b, 'baseline').equals(moduleBytes(a, 'baseline'))).toBe(true);

    let out = '';
    expect(
      await igcEval(
        { dir: a, items: 1, 'eval-tokens': 256, quiet: true },
        { ...quiet, out: (s) => (out += s) },
      ),
    ).toBe(0);
    expect(out).toMatch(/\| 5_digit_division \| 1 \|/);
    expect(out).toMatch(/calculator % \[95% CI\].*baseline % \[95% CI\]/);
    expect(out).toMatch(/host before insertion \d+\.\d{3}/);
    expect(out).toMatch(/Mean gate value/);
    let json = '';
    await igcEval(
      { dir: a, items: 1, 'eval-tokens': 256, json: true, quiet: true },
      { ...quiet, out: (s) => (json += s) },
    );
    const ev = JSON.parse(json) as IgcRunEvaluation;
    expect(ev.rows).toHaveLength(22);
    expect(ev.models.map((m) => m.variant)).toEqual(['calculator', 'baseline']);
    for (const m of ev.models) expect(Number.isFinite(m.evaluation.perplexity.perplexity)).toBe(true);
    // The calculator writes nothing into text without an answer marker: the host's own perplexity.
    expect(ev.models[0]!.evaluation.perplexity.perplexity).toBe(ev.hostPerplexity.perplexity);
  });

  it('usage mistakes are clear errors', async () => {
    const out = join(fresh(), 'run');
    await expect(igcTrain({ out, quiet: true }, quiet)).rejects.toThrow(/--host/);
    await expect(igcTrain({ host: join(fresh(), 'none'), out, quiet: true }, quiet)).rejects.toThrow(
      /no such directory/,
    );
    await expect(igcTrain(tiny(out, { layer: 3 }), quiet)).rejects.toThrow(UsageError);
    await expect(igcTrain({ out, resume: true, quiet: true }, quiet)).rejects.toThrow(/no IGC run to resume/);
    await expect(igcEval({ dir: join(fresh(), 'nothing') }, quiet)).rejects.toThrow(/no such directory/);
    expect(existsSync(join(out, 'igc-run.json'))).toBe(false);
  });
});
