/**
 * Published vs measured (`nalm report DIR --compare`): on a small stored result set (20 seeds each of
 * NMU ×, NALU × and NAU + of the quick preset, curves thinned to the points the outcome needs), the
 * cells are matched by model, operation and task, the verdict is whether the Wilson intervals
 * overlap, and a user's JSON table is validated with messages that name the field.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadRecords } from '../src/report/load.js';
import {
  PUBLISHED,
  compareWithPublished,
  formatComparisonJson,
  formatComparisonMarkdown,
  getPublished,
  intervalsOverlap,
  parsePublishedTable,
  reportFromRecords,
  staticRecords,
  wilson,
} from '@nalm/bench';
import { reportCommand } from '../src/cli/report.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'quick-subset.jsonl');
const records = staticRecords(loadRecords([FIXTURE]).records);
const report = reportFromRecords(records);

describe('compareWithPublished', () => {
  it('matches cells by model, op and task, with verdicts from the two Wilson intervals', () => {
    const c = compareWithPublished(report, getPublished('iclr2020-simple'));
    expect(c.rows.map((r) => [r.model, r.verdict === 'not measured'])).toEqual([
      ['nac-mul', true],
      ['nalu', false],
      ['nmu', false],
    ]);
    for (const r of c.rows.filter((x) => x.measured)) {
      const solved = records.filter((x) => x.config.model === r.model && x.solved).length;
      const n = records.filter((x) => x.config.model === r.model && x.config.task.op === 'mul').length;
      expect(r.measured!.summary.solved).toBe(solved);
      const m = wilson(solved, n);
      const p = wilson(r.published.solved, r.published.n);
      expect(r.verdict).toBe(
        intervalsOverlap([p.lower, p.upper], [m.lower, m.upper]) ? 'overlap' : 'no overlap',
      );
      expect(r.iterations).toBe(30_000);
    }
    // The NAU + group has no cell in the simple table: it is not listed.
    expect(c.rows.some((r) => r.model === 'nau')).toBe(false);
    expect(c.notes.join(' ')).toMatch(/30,000 iterations.*200,000/);
  });

  it('a table for another task (I = 100) matches none of the simple-task groups', () => {
    const c = compareWithPublished(report, getPublished('iclr2020-table1'));
    expect(c.rows.every((r) => r.verdict === 'not measured')).toBe(true);
    expect(formatComparisonMarkdown(c)).toMatch(
      /0 of 0 measured cells overlap.*11 published cells not measured/,
    );
  });

  it('Markdown and JSON carry both sides and the tally', () => {
    const c = compareWithPublished(report, getPublished('iclr2020-simple'));
    const md = formatComparisonMarkdown(c);
    expect(md).toMatch(/\| × \| NMU \| 94% \[87\.5, 97\.2\] \(94\/100\) \|/);
    const apart = c.rows.filter((r) => r.verdict === 'no overlap').map((r) => `${r.label} ×`);
    expect(md).toContain(
      apart.length ? `not overlapping: ${apart.join(', ')}` : 'overlap the published interval.',
    );
    const json = JSON.parse(formatComparisonJson(c));
    expect(json.rows).toHaveLength(3);
    expect(json.rows[2].published.success.lower).toBeCloseTo(wilson(94, 100).lower, 12);
  });

  it('intervalsOverlap is symmetric and true exactly when the intervals share a point (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true }),
        fc.double({ noNaN: true }),
        fc.double({ noNaN: true }),
        fc.double({ noNaN: true }),
        (a, b, c, d) => {
          const i = [Math.min(a, b), Math.max(a, b)] as const;
          const j = [Math.min(c, d), Math.max(c, d)] as const;
          expect(intervalsOverlap(i, j)).toBe(intervalsOverlap(j, i));
          const shared = Math.max(i[0], j[0]) <= Math.min(i[1], j[1]);
          expect(intervalsOverlap(i, j)).toBe(shared);
        },
      ),
    );
  });
});

describe('published tables', () => {
  it('every shipped table validates as a user file would, and names its source', () => {
    for (const t of PUBLISHED) {
      expect(parsePublishedTable(JSON.parse(JSON.stringify(t)), t.name)).toEqual(t);
      expect(t.source).toMatch(/[Tt]able|[Ff]igure/);
      for (const c of t.cells) expect(c.solved).toBeLessThanOrEqual(c.n);
    }
    // Table 1's cells are the appendix table's (the same runs).
    const all = getPublished('iclr2020-all');
    for (const c of getPublished('iclr2020-table1').cells) {
      expect(all.cells.find((a) => a.model === c.model && a.op === c.op)).toEqual(c);
    }
  });

  it('a bad user table says which field is wrong and what it must be', () => {
    const ok = {
      name: 'x',
      paper: 'p',
      source: 'Table 9',
      iterations: 1000,
      cells: [{ model: 'nmu', op: 'mul', n: 10, solved: 3 }],
    };
    expect(parsePublishedTable(ok).cells[0]!.solved).toBe(3);
    expect(() =>
      parsePublishedTable({ ...ok, cells: [{ model: 'nmu', op: 'times', n: 10, solved: 3 }] }),
    ).toThrow(/cells\[0\]\.op: must be one of add, sub, mul/);
    expect(() =>
      parsePublishedTable({ ...ok, cells: [{ model: 'nmu', op: 'mul', n: 10, solved: 11 }] }),
    ).toThrow(/'solved' \(0…n\)/);
    expect(() => parsePublishedTable({ ...ok, iterations: 0 })).toThrow(
      /'iterations' must be the published run length/,
    );
    expect(() => getPublished('iclr2021')).toThrow(/Known: iclr2020-table1, iclr2020-all/);
  });
});

describe('nalm report --compare', () => {
  it('prints the comparison after the report, and reads a user table from a .json file', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    const dir = mkdtempSync(join(tmpdir(), 'nalm-compare-'));
    const file = join(dir, 'mine.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'mine',
        paper: 'p',
        source: 'Table 9',
        iterations: 30_000,
        task: { simple: true },
        cells: [{ model: 'nau', op: 'add', n: 10, solved: 9 }],
      }),
    );
    try {
      expect(await reportCommand({ inputs: [FIXTURE], compare: 'iclr2020-simple' })).toBe(0);
      expect(await reportCommand({ inputs: [FIXTURE], compare: file })).toBe(0);
      await expect(reportCommand({ inputs: [FIXTURE], compare: 'nope' })).rejects.toThrow(
        /--compare: unknown published table 'nope'/,
      );
      await expect(reportCommand({ inputs: [FIXTURE], compare: join(dir, 'missing.json') })).rejects.toThrow(
        /no such file/,
      );
    } finally {
      process.stdout.write = write;
    }
    const text = out.join('');
    expect(text).toMatch(/# Published vs measured: iclr2020-simple/);
    expect(text).toMatch(/# Published vs measured: mine[\s\S]*\| \+ \| NAU \| 90%/);
  });
});
