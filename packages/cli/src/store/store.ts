/**
 * The result store of a benchmark run: a directory of append-only JSON Lines files.
 *
 * ```
 * DIR/
 *   store.json                 {"format":"nalm-result-store","formatVersion":1,"createdAt":…,"nalmVersion":…}
 *   records.jsonl              records appended by the default writer (no writerId)
 *   records.<writerId>.jsonl   one file per concurrent writer (worker process, machine, merge)
 * ```
 *
 * - One record per (configuration, seed), identified by `${key}:${seed}`.
 * - Each writer appends only to its own file, so concurrent workers never interleave bytes within a
 *   file and there are no locks to go stale. A writerId must be used by one process at a time.
 * - An append is one `write` of whole lines followed by `fsync`: when `append` returns, the record
 *   survives kill -9 (and, with the directory fsync on file creation, a power cut). A kill mid-write
 *   leaves at most one truncated last line, which reads as a problem and is skipped; the next append
 *   to that file first terminates it with `\n`. Nothing is ever rewritten or deleted.
 * - Reading takes all `records*.jsonl` (records.jsonl first, then by file name), keeps the first of
 *   any duplicate key+seed, reports identical duplicates as notes and conflicting ones as problems.
 *   Reads are incremental: a long-lived store object only parses what was appended since last time.
 */
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
  fsyncSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { StoreRecord } from '@nalm/bench';
import { recordId, recordLine } from '@nalm/bench';
import { StoreError } from '@nalm/bench';
import { fsError } from './fs-error.js';
import { appendLines, fsyncDir } from './jsonl.js';
import { RecordFiles } from './records.js';
import type { StoreReadResult } from './records.js';

export const STORE_FORMAT = 'nalm-result-store';
export const STORE_FORMAT_VERSION = 1;
export const STORE_META_FILE = 'store.json';
export const DEFAULT_RECORDS_FILE = 'records.jsonl';

const WRITER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const RECORDS_FILE_RE = /^records(?:\.([A-Za-z0-9][A-Za-z0-9_.-]*))?\.jsonl$/;
const RUN_HINT = 'Pass the directory written by `nalm run --out DIR`.';

/** Contents of `store.json`. */
export interface StoreMeta {
  format: typeof STORE_FORMAT;
  formatVersion: number;
  /** ISO 8601 time the store was created. */
  createdAt: string;
  /** Version of nalm that created the store. */
  nalmVersion: string;
}

export interface OpenStoreOptions {
  /** Create the directory and `store.json` if missing (default false: the store must exist). */
  create?: boolean;
  /**
   * Appends go to `records.<writerId>.jsonl` instead of `records.jsonl`. Give each concurrent
   * writer (worker process, machine) its own id; letters, digits, `_`, `-`, `.`, at most 64.
   */
  writerId?: string;
  /** Recorded in `store.json` when the store is created. */
  nalmVersion?: string;
}

export interface ResultStore {
  readonly dir: string;
  readonly meta: StoreMeta;
  readonly writerId: string | null;
  /** The file this store object appends to. */
  readonly recordsFile: string;
  /** Append one record durably (written and fsynced when this returns). */
  append(record: StoreRecord): void;
  /** Append several records in one write and one fsync. */
  appendMany(records: readonly StoreRecord[]): void;
  /** All valid records of all writers, with the lines that were skipped and why. */
  read(): StoreReadResult;
  /** `${key}:${seed}` of every valid record in the store (all writers). */
  doneKeys(): Set<string>;
  has(key: string, seed: number): boolean;
}

export type { StoreReadResult };

/** The `records*.jsonl` files of a store directory, `records.jsonl` first, then by name. */
export function listRecordFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw fsError(dir, 'list the result store directory', err);
  }
  return names
    .filter((n) => RECORDS_FILE_RE.test(n))
    .sort((a, b) =>
      a === DEFAULT_RECORDS_FILE ? -1 : b === DEFAULT_RECORDS_FILE ? 1 : a < b ? -1 : a > b ? 1 : 0,
    );
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fsError(path, 'access', err);
  }
}

function readMeta(dir: string): StoreMeta | null {
  const file = join(dir, STORE_META_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fsError(file, 'read the store metadata', err);
  }
  const corrupt = (why: string): StoreError =>
    new StoreError(
      file,
      `${file}: corrupt store metadata (${why}). If ${dir} holds records you need, restore store.json as ` +
        `{"format":"${STORE_FORMAT}","formatVersion":${STORE_FORMAT_VERSION},"createdAt":"…","nalmVersion":"…"}, ` +
        'or merge its records*.jsonl files into a new store.',
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw corrupt(`not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw corrupt('not a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.format !== STORE_FORMAT) {
    throw new StoreError(
      file,
      `${file}: not a nalm result store (format ${JSON.stringify(m.format)}, expected "${STORE_FORMAT}"). ${RUN_HINT}`,
    );
  }
  if (typeof m.formatVersion !== 'number' || !Number.isInteger(m.formatVersion)) {
    throw corrupt('formatVersion is not an integer');
  }
  if (m.formatVersion !== STORE_FORMAT_VERSION) {
    const by = typeof m.nalmVersion === 'string' ? ` (written by nalm ${m.nalmVersion})` : '';
    throw new StoreError(
      file,
      `${file}: unknown result store format version ${m.formatVersion}${by}; this nalm reads version ` +
        `${STORE_FORMAT_VERSION}. Use a nalm version that supports it.`,
    );
  }
  return {
    format: STORE_FORMAT,
    formatVersion: m.formatVersion,
    createdAt: typeof m.createdAt === 'string' ? m.createdAt : '',
    nalmVersion: typeof m.nalmVersion === 'string' ? m.nalmVersion : '',
  };
}

/**
 * Write `store.json` atomically: a complete temporary file is hard-linked into place, which fails if
 * another process created the store first (then theirs is used). A crash never leaves a partial one.
 */
function createMeta(dir: string, nalmVersion: string): StoreMeta {
  const file = join(dir, STORE_META_FILE);
  const meta: StoreMeta = {
    format: STORE_FORMAT,
    formatVersion: STORE_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    nalmVersion,
  };
  const text = `${JSON.stringify(meta, null, 2)}\n`;
  const tmp = join(dir, `.${STORE_META_FILE}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return readMeta(dir) ?? meta;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      // No hard links on this filesystem: exclusive create (not crash-atomic, but never clobbers).
      try {
        writeFileSync(file, text, { flag: 'wx' });
      } catch (err2) {
        if ((err2 as NodeJS.ErrnoException).code === 'EEXIST') return readMeta(dir) ?? meta;
        throw err2;
      }
    }
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw fsError(file, 'create the store metadata', err);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
  fsyncDir(dir);
  return meta;
}

/**
 * Open (or with `create`, create) the result store in `dir`. Throws a `StoreError` naming the path and
 * what to do if `dir` is not a result store, has an unknown format version, or cannot be accessed.
 */
export function openStore(dir: string, options: OpenStoreOptions = {}): ResultStore {
  const { create = false, writerId, nalmVersion = 'unknown' } = options;
  if (writerId !== undefined && !WRITER_ID_RE.test(writerId)) {
    throw new StoreError(
      dir,
      `${dir}: invalid writer id ${JSON.stringify(writerId)}: use 1–64 letters, digits, '_', '-' or '.', starting with a letter or digit.`,
    );
  }
  const st = statOrNull(dir);
  if (st === null) {
    if (!create) {
      throw new StoreError(dir, `${dir}: no such result store (the directory does not exist). ${RUN_HINT}`);
    }
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw fsError(dir, 'create the result store directory', err);
    }
  } else if (!st.isDirectory()) {
    const jsonl = dir.endsWith('.jsonl')
      ? ' (A single .jsonl file can be merged into a store as a merge source.)'
      : '';
    throw new StoreError(
      dir,
      `${dir}: not a nalm result store (a file, not a directory with store.json). ${RUN_HINT}${jsonl}`,
    );
  }
  let meta = readMeta(dir);
  if (meta === null) {
    if (!create) {
      throw new StoreError(dir, `${dir}: not a nalm result store (no store.json). ${RUN_HINT}`);
    }
    const stray = listRecordFiles(dir);
    if (stray.length > 0) {
      throw new StoreError(
        dir,
        `${dir}: has ${stray.join(', ')} but no store.json, so it was not created by nalm (or its store.json was lost); ` +
          'refusing to add to it. Write to a new directory, and merge those files into it if you need them.',
      );
    }
    meta = createMeta(dir, nalmVersion);
  }
  return new DirStore(dir, meta, writerId ?? null);
}

class DirStore implements ResultStore {
  readonly recordsFile: string;
  private readonly files: RecordFiles;

  constructor(
    readonly dir: string,
    readonly meta: StoreMeta,
    readonly writerId: string | null,
  ) {
    this.recordsFile = join(dir, writerId === null ? DEFAULT_RECORDS_FILE : `records.${writerId}.jsonl`);
    this.files = new RecordFiles(() => listRecordFiles(dir).map((n) => join(dir, n)));
  }

  append(record: StoreRecord): void {
    this.appendMany([record]);
  }

  appendMany(records: readonly StoreRecord[]): void {
    const lines = records.map((r) => {
      try {
        return recordLine(r);
      } catch (err) {
        const who = `${String((r as Partial<StoreRecord>)?.key)}:${String((r as Partial<StoreRecord>)?.seed)}`;
        throw new StoreError(
          this.recordsFile,
          `${this.recordsFile}: refusing to append record ${who}: ${(err as Error).message}. This is a bug in the code that built the record.`,
          err,
        );
      }
    });
    appendLines(this.recordsFile, lines);
  }

  read(): StoreReadResult {
    return this.files.read();
  }

  doneKeys(): Set<string> {
    return this.files.doneKeys();
  }

  has(key: string, seed: number): boolean {
    return this.files.has(recordId(key, seed));
  }
}

/**
 * Read one records file on its own (no store.json needed), e.g. a `records.jsonl` copied from another
 * machine. Throws a `StoreError` if it cannot be read.
 */
export function readRecordsFile(path: string): StoreReadResult {
  const st = statOrNull(path);
  if (st === null)
    throw new StoreError(
      path,
      `${path}: no such file. Pass a records .jsonl file or a result store directory.`,
    );
  if (!st.isFile())
    throw new StoreError(
      path,
      `${path}: not a file. Pass a records .jsonl file or a result store directory.`,
    );
  return new RecordFiles(() => [path]).read();
}

/**
 * The seeds of `seeds` (in order, without repeats) that have no record for configuration `key`.
 * Pass the store, or a `doneKeys()` set computed once for a whole grid.
 */
export function pendingSeeds(
  store: Pick<ResultStore, 'doneKeys'> | ReadonlySet<string>,
  key: string,
  seeds: readonly number[],
): number[] {
  const done = 'doneKeys' in store ? store.doneKeys() : store;
  const seen = new Set<number>();
  const out: number[] = [];
  for (const seed of seeds) {
    if (seen.has(seed)) continue;
    seen.add(seed);
    if (!done.has(recordId(key, seed))) out.push(seed);
  }
  return out;
}
