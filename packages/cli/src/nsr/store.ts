/**
 * NSR-task records in a result directory: one JSON line per (configuration, seed) in
 * `nsr-records.jsonl`, appended with the store's primitive (one write + fsync per batch, so a kill
 * loses at most the batch in flight and leaves at most one truncated line, which is skipped).
 * The file name does not match `records*.jsonl`, so `nalm report` on the same directory ignores it.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsError } from '../store/fs-error.js';
import { appendLines } from '../store/jsonl.js';
import type { NsrRecord } from '@nalm/bench';
import { nsrRecordId, nsrRecordLine, parseNsrRecord } from '@nalm/bench';

export const NSR_RECORDS_FILE = 'nsr-records.jsonl';

export interface NsrStoreProblem {
  file: string;
  line: number;
  reason: string;
}

export interface NsrStore {
  readonly dir: string;
  readonly file: string;
  /** All readable records (first of any duplicate id kept) and the lines that were skipped. */
  read(): { records: NsrRecord[]; problems: NsrStoreProblem[] };
  /** Append records durably (one write, fsynced). */
  append(records: readonly NsrRecord[]): void;
}

export function openNsrStore(dir: string): NsrStore {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fsError(dir, 'create the result directory', e);
  }
  const file = join(dir, NSR_RECORDS_FILE);
  return {
    dir,
    file,
    read() {
      if (!existsSync(file)) return { records: [], problems: [] };
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw fsError(file, 'read the NSR records', e);
      }
      const records: NsrRecord[] = [];
      const problems: NsrStoreProblem[] = [];
      const seen = new Set<string>();
      text.split('\n').forEach((line, i) => {
        if (line.trim() === '') return;
        try {
          const r = parseNsrRecord(line);
          const id = nsrRecordId(r.key, r.seed);
          if (seen.has(id)) return;
          seen.add(id);
          records.push(r);
        } catch (e) {
          problems.push({ file, line: i + 1, reason: `unreadable record (${(e as Error).message})` });
        }
      });
      return { records, problems };
    },
    append(records) {
      appendLines(file, records.map(nsrRecordLine));
    },
  };
}
