/**
 * One record per (configuration, seed) across several inputs: a report over two runs of one grid,
 * one store passed twice, or shards next to their merged store must count each seed once, or n is
 * inflated and the intervals are too narrow. Pure (browser-safe): callers read the inputs.
 */
import type { StoreRecord } from '../record.js';
import { canonicalRecord, recordId } from './codec.js';

/** The records of one input (a store directory, a records file, an upload), named for messages. */
export interface SourcedRecords<R extends StoreRecord = StoreRecord> {
  source: string;
  records: readonly R[];
}

/** Inputs holding different records for one configuration and seed. */
export interface DedupeConflict {
  key: string;
  seed: number;
  /** The inputs in order; the first holds the record that was kept. */
  sources: string[];
}

export interface DedupeResult<R extends StoreRecord = StoreRecord> {
  /** The first record of every (configuration, seed), in input then record order. */
  records: R[];
  /** Identical copies dropped. */
  duplicates: number;
  /** Conflicting copies (also dropped; the caller decides whether that is an error). */
  conflicts: DedupeConflict[];
}

/**
 * Sorts records one at a time into the first of their (configuration, seed), identical copies and
 * conflicting copies — the one rule that `dedupeRecords` (reports) and `nalm merge` (stores) share.
 */
export class RecordDeduper<R extends StoreRecord = StoreRecord> {
  private readonly first = new Map<string, { record: R; source: string; canon?: string }>();
  private readonly conflictMap = new Map<string, DedupeConflict>();
  /** Identical copies seen. */
  duplicates = 0;

  /** 'first' for a new (configuration, seed); else the copy is dropped as 'duplicate' or 'conflict'. */
  add(record: R, source: string): 'first' | 'duplicate' | 'conflict' {
    const id = recordId(record.key, record.seed);
    const kept = this.first.get(id);
    if (!kept) {
      this.first.set(id, { record, source });
      return 'first';
    }
    kept.canon ??= canonicalRecord(kept.record);
    if (canonicalRecord(record) === kept.canon) {
      this.duplicates++;
      return 'duplicate';
    }
    let c = this.conflictMap.get(id);
    if (!c) {
      c = { key: record.key, seed: record.seed, sources: [kept.source] };
      this.conflictMap.set(id, c);
    }
    if (!c.sources.includes(source)) c.sources.push(source);
    return 'conflict';
  }

  conflicts(): DedupeConflict[] {
    return [...this.conflictMap.values()];
  }
}

export function dedupeRecords<R extends StoreRecord>(inputs: readonly SourcedRecords<R>[]): DedupeResult<R> {
  const deduper = new RecordDeduper<R>();
  const records: R[] = [];
  for (const { source, records: list } of inputs)
    for (const record of list) if (deduper.add(record, source) === 'first') records.push(record);
  return { records, duplicates: deduper.duplicates, conflicts: deduper.conflicts() };
}
