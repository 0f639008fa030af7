/** The result store on disk: durable, resumable, mergeable records of a benchmark run (see store.ts). */
export { fsError } from './fs-error.js';
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
// Record encoding and the store's error types live in the browser-safe core; re-exported here so
// the store's API is in one place for Node users.
export { StoreError, canonicalRecord, parseRecordLine, recordId, recordLine } from '@nalm/bench';
export type { ParsedLine, StoreProblem } from '@nalm/bench';
