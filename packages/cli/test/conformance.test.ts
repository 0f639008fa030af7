/**
 * Conformance with the published stable-nalu analysis (benchmark.md §5 "Conformance data"):
 * summarising the 6,000 per-run results of sft-last.csv per (model, operation) in paper-compatible
 * mode must reproduce all 60 groups × 10 numbers of sft-short.csv.
 *
 * The reference data lives outside the repository (../shared/reference/stable-nalu next to the repo
 * root); a fresh clone without it skips this file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  formatSummaryCsv,
  groupRuns,
  parseStableNaluCsv,
  SUMMARY_COLUMNS,
  toRunOutcome,
  type StableNaluRun,
} from '../../bench/src/report/stable-nalu.js';
import { summarize, type GroupSummary } from '../../bench/src/stats/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const referenceDir = path.resolve(repoRoot, '../shared/reference/stable-nalu');
const lastCsv = path.join(referenceDir, 'sft-last.csv');
const shortCsv = path.join(referenceDir, 'sft-short.csv');
const missing = !existsSync(lastCsv) || !existsSync(shortCsv);

/** Published cells; RFC 4180 split (model names are quoted because they contain commas). */
function readPublished(text: string): { header: string[]; rows: string[][] } {
  const lines = text.trimEnd().split('\n');
  const split = (line: string) => {
    const out: string[] = [];
    let cur = '';
    let quoted = false;
    for (const ch of line) {
      if (ch === '"') quoted = !quoted;
      else if (ch === ',' && !quoted) {
        out.push(cur);
        cur = '';
      } else cur += ch;
    }
    out.push(cur);
    return out;
  };
  return { header: split(lines[0] as string), rows: lines.slice(1).map(split) };
}

/** The raw text of a line up to and including the comma after the second field. */
function rawGroupPrefix(line: string): string {
  let quoted = false;
  let commas = 0;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    else if (line[i] === ',' && !quoted && ++commas === 2) return line.slice(0, i + 1);
  }
  return line;
}

/** The ten summary cells of a group (sft-short.csv's columns after model and operation). */
const COLUMNS = SUMMARY_COLUMNS.slice(2) as Exclude<
  (typeof SUMMARY_COLUMNS)[number],
  'model' | 'operation'
>[];
type Column = (typeof COLUMNS)[number];

function cells(s: GroupSummary): Record<Column, number | null> {
  return {
    'success.rate.mean': s.success.mean,
    'success.rate.lower': s.success.lower,
    'success.rate.upper': s.success.upper,
    'converged.at.median': s.solvedAt.median,
    'converged.at.mean': s.solvedAt.mean,
    'converged.at.lower': s.solvedAt.lower,
    'converged.at.upper': s.solvedAt.upper,
    'sparse.error.mean': s.sparsityError.mean,
    'sparse.error.lower': s.sparsityError.lower,
    'sparse.error.upper': s.sparsityError.upper,
  };
}

/**
 * Rule 4 of §5: two cells follow from where R's optimiser happened to stop in the two-parameter
 * beta fit and are held to 5% instead of 2%.
 */
const RULE4 = new Set([
  '$\\mathrm{NAC}_{\\bullet}$|$\\bm{\\times}$|sparse.error.mean',
  'NMU|$\\bm{-}$|sparse.error.upper',
]);

/** Why a published cell is not matched, or null when it is. */
function mismatch(
  model: string,
  operation: string,
  column: Column,
  published: string,
  ours: number | null,
): string | null {
  const where = `${model} ${operation} ${column}: published ${published}, ours ${ours}`;
  if (published === 'NA') return ours === null ? null : where;
  if (published === 'NaN') return ours !== null && Number.isNaN(ours) ? null : where;
  const want = Number(published);
  if (ours === null || !Number.isFinite(ours)) return where;
  if (column.startsWith('success.rate')) return Math.abs(ours - want) <= 1e-6 ? null : where;
  if (column === 'converged.at.median') return ours === want ? null : where;
  const tol = RULE4.has(`${model}|${operation}|${column}`) ? 0.05 : 0.02;
  const rel = Math.abs(ours - want) / Math.abs(want);
  // A published 0 (a bound clamped to the support) must be matched exactly.
  return want === 0
    ? ours === 0
      ? null
      : where
    : rel <= tol
      ? null
      : `${where} (${(rel * 100).toFixed(2)}% off)`;
}

describe.skipIf(missing)(
  `stable-nalu conformance (needs ${referenceDir}; skipped in a clone without the shared reference data)`,
  () => {
    const runs: StableNaluRun[] = missing ? [] : parseStableNaluCsv(readFileSync(lastCsv, 'utf8'), lastCsv);
    const published = missing ? { header: [], rows: [] } : readPublished(readFileSync(shortCsv, 'utf8'));
    const groups = groupRuns(runs);
    const byKey = new Map(groups.map((g) => [`${g.model}|${g.operation}`, g]));
    const summaries = (paperCompat: boolean) =>
      new Map(
        groups.map((g) => [
          `${g.model}|${g.operation}`,
          summarize(g.runs.map(toRunOutcome), { paperCompat }),
        ]),
      );
    const paper = summaries(true);

    it('reads the 6,000 runs of sft-last.csv into 60 groups of 100 seeds', () => {
      expect(runs).toHaveLength(6000);
      expect(groups).toHaveLength(60);
      for (const g of groups) expect(new Set(g.runs.map((r) => r.seed)).size).toBe(100);
      expect(published.rows).toHaveLength(60);
    });

    it('paper-compatible mode reproduces all 600 published cells', () => {
      const failures: string[] = [];
      let checked = 0;
      for (const row of published.rows) {
        const [model, operation, ...values] = row as [string, string, ...string[]];
        const summary = paper.get(`${model}|${operation}`);
        expect(summary, `group ${model} ${operation} of sft-short.csv`).toBeDefined();
        const ours = cells(summary!);
        COLUMNS.forEach((column, i) => {
          checked++;
          const why = mismatch(model, operation, column, values[i] as string, ours[column]);
          if (why !== null) failures.push(why);
        });
      }
      expect(checked).toBe(600);
      expect(failures).toEqual([]);
    });

    it('writes the summary in sft-short.csv layout: header, quoting, NA and NaN cells as published', () => {
      const text = formatSummaryCsv(
        published.rows.map(([model, operation]) => ({
          model: model as string,
          operation: operation as string,
          summary: paper.get(`${model}|${operation}`)!,
        })),
      );
      const publishedLines = readFileSync(shortCsv, 'utf8').trimEnd().split('\n');
      const ourLines = text.trimEnd().split('\n');
      expect(ourLines[0]).toBe(publishedLines[0]);
      expect(ourLines).toHaveLength(publishedLines.length);
      const ours = readPublished(text);
      ours.rows.forEach((row, r) => {
        const pub = published.rows[r] as string[];
        // Model and operation are written exactly as published, quotes included.
        expect(rawGroupPrefix(ourLines[r + 1] as string)).toBe(
          rawGroupPrefix(publishedLines[r + 1] as string),
        );
        row.forEach((cell, c) => {
          if (pub[c] === 'NA' || pub[c] === 'NaN') expect(cell).toBe(pub[c]);
          // Cells we reproduce to the last bit are also spelled as readr spelled them.
          else if (c >= 2 && Number(cell) === Number(pub[c])) expect(cell).toBe(pub[c]);
        });
      });
    });

    it('correct mode reports sparsity means about twice the published ones (quirk b undone)', () => {
      const correct = summaries(false);
      let compared = 0;
      for (const [key, p] of paper) {
        const c = correct.get(key)!;
        // Enough solved runs for a real beta fit in both modes.
        if (p.solved < 5 || p.sparsityError.method !== 'beta' || c.sparsityError.method !== 'beta') continue;
        const ratio = c.sparsityError.mean / p.sparsityError.mean;
        expect(ratio, key).toBeGreaterThan(1.6);
        // NAU − (bimodal sparsity errors near 0 and 0.5) comes out at 2.5: the paper fit is not
        // just a rescaling of the correct one.
        expect(ratio, key).toBeLessThan(2.6);
        compared++;
        // The gamma mean of the correct fit is the sample mean of the solved runs' steps.
        const steps = byKey
          .get(key)!
          .runs.filter((r) => r.solved)
          .map((r) => r.extrapolationStepSolved as number);
        expect(c.solvedAt.mean).toBeCloseTo(steps.reduce((s, v) => s + v, 0) / steps.length, 3);
      }
      expect(compared).toBeGreaterThanOrEqual(10);
    });

    it('the CLI reproduces the published summary: nalm report sft-last.csv --from stable-nalu --paper-compat', () => {
      const bin = path.join(repoRoot, 'packages/cli/bin/nalm.js');
      const run = (args: string[]) =>
        spawnSync(process.execPath, [bin, 'report', lastCsv, '--from', 'stable-nalu', ...args], {
          encoding: 'utf8',
        });
      const csv = run(['--paper-compat', '--format', 'csv']);
      expect(csv.status, csv.stderr).toBe(0);
      const ours = readPublished(csv.stdout);
      expect(ours.header).toEqual(published.header);
      expect(ours.rows).toHaveLength(published.rows.length);
      const byGroup = new Map(ours.rows.map((row) => [`${row[0]}|${row[1]}`, row]));
      const failures: string[] = [];
      published.rows.forEach((pub) => {
        const row = byGroup.get(`${pub[0]}|${pub[1]}`);
        expect(row, `group ${pub[0]} ${pub[1]}`).toBeDefined();
        COLUMNS.forEach((column, i) => {
          const cell = row![i + 2]!;
          const value = cell === 'NA' ? null : Number(cell);
          const why = mismatch(pub[0]!, pub[1]!, column, pub[i + 2]!, value);
          if (why !== null) failures.push(why);
        });
      });
      expect(failures).toEqual([]);
      // The human-readable report says which statistics it used.
      expect(run(['--paper-compat']).stdout).toMatch(/paper-compatible mode/);
      expect(run([]).stdout).toMatch(/correct mode \(default\)/);
    });
  },
);
