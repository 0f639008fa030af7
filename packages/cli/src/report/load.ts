/**
 * Reading report inputs: result store directories, records .jsonl files, stable-nalu per-run CSVs.
 * Corrupt lines are reported and skipped; an input with nothing usable is an error.
 */
import { readFileSync, statSync } from 'node:fs';
import type { DedupeConflict, SourcedRecords, StoreRecord } from '@nalm/bench';
import type { StoreProblem } from '@nalm/bench';
import { StoreError, dedupeRecords } from '@nalm/bench';
import { openStore, readRecordsFile } from '../store/index.js';
import type { StableNaluRun } from '@nalm/bench';
import { parseStableNaluCsv } from '@nalm/bench';

export type InputFormat = 'nalm' | 'stable-nalu';

export class ReportInputError extends Error {
  override readonly name = 'ReportInputError';
}

/** 'stable-nalu' for .csv files, 'nalm' for directories and .jsonl files. */
export function detectFormat(path: string): InputFormat {
  return /\.csv$/i.test(path) ? 'stable-nalu' : 'nalm';
}

export interface LoadedRecords {
  /** One record per (configuration, seed) over all inputs, of every task kind (`staticRecords`, `nsrRecords`). */
  records: StoreRecord[];
  problems: StoreProblem[];
  /** Identical copies of a record in several inputs (or one input given twice), dropped. */
  duplicates: number;
  /** Different records for one (configuration, seed) in several inputs; none of them is used. */
  conflicts: DedupeConflict[];
}

/**
 * Read every input and keep one record per (configuration, seed): two runs of one grid, a store
 * given twice, or shards next to their merged store must not count a seed twice.
 */
export function loadRecords(paths: readonly string[]): LoadedRecords {
  const inputs: SourcedRecords[] = [];
  const problems: StoreProblem[] = [];
  for (const path of paths) {
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new ReportInputError(
        `${path}: no such file or directory. Pass a result store directory (nalm run --out DIR) or a records .jsonl file.`,
      );
    }
    const result = st.isDirectory() ? openStore(path).read() : readRecordsFile(path);
    if (result.records.length === 0 && result.problems.length > 0) {
      throw new ReportInputError(
        `${path}: no valid record in it (${result.problems.length} unreadable line(s), first at line ${result.problems[0]!.line}: ${result.problems[0]!.reason}). Is this a nalm records file?`,
      );
    }
    inputs.push({ source: path, records: result.records });
    problems.push(...result.problems);
  }
  return { ...dedupeRecords(inputs), problems };
}

export function loadStableNalu(paths: readonly string[]): StableNaluRun[] {
  const runs: StableNaluRun[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ReportInputError(
        `${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`,
      );
    }
    runs.push(...parseStableNaluCsv(text, path));
  }
  return runs;
}

export { StoreError };
