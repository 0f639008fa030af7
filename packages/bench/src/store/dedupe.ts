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

export function dedupeRecords<R extends StoreRecord>(inputs: readonly SourcedRecords<R>[]): DedupeResult<R> {
  const first = new Map<string, { record: R; source: string; canon?: string }>();
  const conflicts = new Map<string, DedupeConflict>();
  const records: R[] = [];
  let duplicates = 0;
  for (const { source, records: list } of inputs) {
    for (const record of list) {
      const id = recordId(record.key, record.seed);
      const kept = first.get(id);
      if (!kept) {
        first.set(id, { record, source });
        records.push(record);
        continue;
      }
      kept.canon ??= canonicalRecord(kept.record);
      if (canonicalRecord(record) === kept.canon) {
        duplicates++;
        continue;
      }
      let c = conflicts.get(id);
      if (!c) {
        c = { key: record.key, seed: record.seed, sources: [kept.source] };
        conflicts.set(id, c);
      }
      if (!c.sources.includes(source)) c.sources.push(source);
    }
  }
  return { records, duplicates, conflicts: [...conflicts.values()] };
}
