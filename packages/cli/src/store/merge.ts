/**
 * Merge result stores from several machines (or single records .jsonl files) into one store.
 *
 * Sources are only read, never modified. Records are taken in source order; for a key and seed that
 * is already present (in the output store or an earlier source) the first record wins: an identical
 * copy is counted as a duplicate, a different one is reported as a conflict. The output store may
 * already exist: what it holds counts as present, so re-running an interrupted merge resumes it and
 * re-running a finished one adds nothing.
 */
import { realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DedupeConflict, StoreRecord } from '@nalm/bench';
import { RecordDeduper } from '@nalm/bench';
import { StoreError } from '@nalm/bench';
import type { StoreProblem } from '@nalm/bench';
import type { StoreReadResult } from './records.js';
import { openStore, readRecordsFile } from './store.js';
import type { LockOptions } from './lock.js';
import { lockStore } from './lock.js';

/** Sources holding differing records for one key and seed; the first one's record was kept. */
export type MergeConflict = DedupeConflict;

export interface MergeResult {
  /** Records appended to the output store. */
  added: number;
  /** Records skipped because an identical record was already present. */
  identicalDuplicates: number;
  conflicts: MergeConflict[];
  /** Lines of the sources that were skipped (see `ResultStore.read`). */
  problems: StoreProblem[];
  /** Identical duplicates within a source. */
  notes: StoreProblem[];
}

export interface MergeOptions {
  /** Recorded in the output's store.json if it is created. */
  nalmVersion?: string;
  /** Append to `records.<writerId>.jsonl` of the output store (default `records.jsonl`). */
  writerId?: string;
  /**
   * Hold the output's lock (see lock.ts) while reading what it has and appending: two merges into
   * one output would otherwise both find a record missing and both append it.
   */
  lock?: LockOptions;
}

const BATCH = 1000;

function realOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** Read a source: a result store directory, or a single records `.jsonl` file. */
function readSource(path: string): { result: StoreReadResult; dir: string } {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StoreError(
        path,
        `${path}: no such file or directory. Pass result store directories or records .jsonl files to merge.`,
      );
    }
    return { result: readRecordsFile(path), dir: dirname(path) }; // reports the access error
  }
  if (isDir) return { result: openStore(path).read(), dir: path };
  if (!path.endsWith('.jsonl')) {
    throw new StoreError(
      path,
      `${path}: not a result store directory or a records .jsonl file. Pass directories written by \`nalm run --out DIR\` or their records*.jsonl files.`,
    );
  }
  return { result: readRecordsFile(path), dir: dirname(path) };
}

export function mergeStores(
  sources: readonly string[],
  outDir: string,
  options: MergeOptions = {},
): MergeResult {
  // Read every source before touching the output, so a bad source aborts without side effects.
  const read = sources.map((path) => ({ path, ...readSource(path) }));
  const outReal = realOrNull(outDir) ?? resolve(outDir);
  for (const s of read) {
    if ((realOrNull(s.dir) ?? resolve(s.dir)) === outReal) {
      throw new StoreError(
        outDir,
        `${outDir}: is also the source ${s.path}; merging into a source would modify it. Merge into a new directory.`,
      );
    }
  }
  const out = openStore(outDir, {
    create: true,
    ...(options.nalmVersion !== undefined ? { nalmVersion: options.nalmVersion } : {}),
    ...(options.writerId !== undefined ? { writerId: options.writerId } : {}),
  });

  const lock = options.lock ? lockStore(outDir, options.lock) : null;
  try {
    // What the output already holds counts as first: merging again adds nothing.
    const deduper = new RecordDeduper<StoreRecord>();
    for (const record of out.read().records) deduper.add(record, outDir);

    const problems: StoreProblem[] = [];
    const notes: StoreProblem[] = [];
    let added = 0;
    let batch: StoreRecord[] = [];
    const flush = (): void => {
      out.appendMany(batch);
      added += batch.length;
      batch = [];
    };

    for (const { path, result } of read) {
      problems.push(...result.problems);
      notes.push(...result.notes);
      for (const record of result.records) {
        if (deduper.add(record, path) !== 'first') continue;
        batch.push(record);
        if (batch.length >= BATCH) flush();
      }
    }
    if (batch.length > 0) flush();
    return {
      added,
      identicalDuplicates: deduper.duplicates,
      conflicts: deduper.conflicts(),
      problems,
      notes,
    };
  } finally {
    lock?.release();
  }
}
