/**
 * The browser-safe part of the result store: record encoding, ids and validation, and the store's
 * error types. The file-system store (directories of JSONL files, resume, merge) is in @nalm/cli.
 */
export { StoreError } from './errors.js';
export type { StoreProblem } from './errors.js';
export { canonicalRecord, parseRecordLine, parseRunConfig, recordId, recordLine } from './codec.js';
export type { ParsedLine } from './codec.js';
export { RecordDeduper, dedupeRecords } from './dedupe.js';
export type { DedupeConflict, DedupeResult, SourcedRecords } from './dedupe.js';
