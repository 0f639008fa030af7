/** The result store: durable, resumable, mergeable records of a benchmark run (see store.ts). */
export { StoreError } from './errors.js';
export type { StoreProblem } from './errors.js';
export { canonicalRecord, parseRecordLine, recordId, recordLine } from './codec.js';
export type { ParsedLine } from './codec.js';
export type { StoreReadResult } from './records.js';
export {
  DEFAULT_RECORDS_FILE,
  STORE_FORMAT,
  STORE_FORMAT_VERSION,
  STORE_META_FILE,
  listRecordFiles,
  openStore,
  pendingSeeds,
  readRecordsFile,
} from './store.js';
export type { OpenStoreOptions, ResultStore, StoreMeta } from './store.js';
export { mergeStores } from './merge.js';
export type { MergeConflict, MergeOptions, MergeResult } from './merge.js';
