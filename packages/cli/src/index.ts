/**
 * @nalm/cli — the Node side of the benchmark: the `nalm` command, the result store on disk (resume,
 * merge), worker threads, the on-disk threshold cache and the wasm kernel loader. The browser-safe
 * core (tasks, trainers, statistics, reports) is @nalm/bench.
 */
export * from './store/index.js';
export { loadKernels } from './node/kernels.js';
export { createWorkerPool } from './node/pool.js';
export type { WorkerPool } from './node/pool.js';
export { diskThresholdCache } from './node/threshold-cache.js';
export { ReportInputError, detectFormat, loadRecords, loadStableNalu } from './report/load.js';
export type { InputFormat } from './report/load.js';
export { SOTU_PACKAGE, loadSotuCorpus } from './node/corpus.js';
export type { TextCorpus } from './node/corpus.js';
export {
  LM_META_FILE,
  TOKENIZER_FILE,
  loadCheckpoint,
  loadPretrainedLanguageModel,
  readPretrainMeta,
  writeCheckpoint,
} from './node/lm-files.js';
export type { PretrainMeta } from './node/lm-files.js';
