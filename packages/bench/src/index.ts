/**
 * @nalm/bench — the extrapolation benchmark: tasks, multi-seed training, the success criterion,
 * statistics with confidence intervals, record encoding and reports. Browser-safe: no file system,
 * workers or process here (those are in @nalm/cli); the layers themselves live in @nalm/units.
 */
export type { RunConfig, Schedule } from './config.js';
export { canonicalJson, configKey } from './config.js';
export type { EvalPoint, RunRecord, StoreRecord } from './record.js';
export { RECORD_VERSION, nsrRecords, recordKind, staticRecords } from './record.js';
export type {
  ModelDef,
  ModelLayer,
  ModelTraining,
  RegularizerWeight,
  RegularizerWeightContext,
  ReinitRule,
} from './models/registry.js';
export {
  getModel,
  listModels,
  registerModel,
  SINGLE_MODULE_MODELS,
  SINGLE_MODULE_THROUGHPUT,
  UnknownModelError,
} from './models/registry.js';
export { seededSnmuDef } from './models/snmu.js';
export { denseDef } from './models/dense.js';
export { gatedNauNmuDef } from './models/gated.js';
export type { Op, Range, StaticTaskConfig, StaticTaskInstance } from './tasks/static.js';
export {
  OPS,
  createStaticTask,
  defaultStaticTask,
  evaluationInputs,
  formatRange,
  parseRange,
  subsetLayout,
  isValidatedStaticTask,
  validateStaticTask,
  TaskConfigError,
} from './tasks/static.js';
export type { RangePair, SingleModuleThresholdOptions } from './tasks/single-module.js';
export {
  SINGLE_MODULE_EPSILON,
  SINGLE_MODULE_OPS,
  SINGLE_MODULE_RANGES,
  estimateSingleModuleThreshold,
  singleModulePerturbation,
  singleModuleTask,
  singleModuleThreshold,
} from './tasks/single-module.js';
export type { ThresholdCache, ThresholdOptions } from './threshold.js';
export { cachedThreshold, estimateThreshold, threshold } from './threshold.js';
export type { CurveOutcome } from './success.js';
export { curveOutcome } from './success.js';
export type { ReplicaSpec, TrainProgress, TrainReplicasOptions } from './train/replicas.js';
export { batchKey, buildRecord, clipGradients, trainReplicas } from './train/replicas.js';
export { LossBuffer, stalled } from './train/reinit.js';
export type { BetaSchedule } from './train/schedule.js';
export { betaSchedule, scaleSchedule, scheduleValue } from './train/schedule.js';
export type { Preset } from './presets.js';
export {
  PRESETS,
  expandPreset,
  getPreset,
  presetLr,
  presetOps,
  presetSchedule,
  presetSize,
  presetWallTime,
  WALL_TIME_UNDER_LOAD,
} from './presets.js';
export type {
  BatchExecutor,
  Engine,
  FastTrainer,
  RecordSink,
  Shard,
  StaticBatch,
  SweepBatch,
  SweepEvent,
  SweepOptions,
  SweepProgress,
  SweepResult,
  StaticSweepEvent,
  NsrSweepEvent,
} from './sweep.js';
export {
  DEFAULT_MAX_REPLICAS,
  FAST_BATCH_WORK,
  batchSizeFor,
  modelCost,
  planBatches,
  runSweep,
  shardOf,
} from './sweep.js';
export type {
  Cell,
  KindName,
  NsrBatch,
  NsrPlanContext,
  StaticPlanContext,
  TaskKind,
  TrainContext,
} from './kinds/index.js';
export {
  KIND_NAMES,
  NSR_MAX_REPLICAS,
  TASK_KINDS,
  nsrEpochCost,
  nsrKind,
  parseBatch,
  staticKind,
  trainBatch,
} from './kinds/index.js';
export type { ArrayPlan, PlanGrid, Rates } from './plan.js';
export {
  batchGroup,
  batchSeconds,
  calibrationBatches,
  coreSeconds,
  gridBatches,
  gridSize,
  lanesMakespan,
  shardSeconds,
  suggestArraySize,
} from './plan.js';
export { fastTrainer } from './fast-trainer.js';
export { kernelsLoaded, useKernels } from './fast/wasm.js';
export * from './stats/index.js';
export * from './store/index.js';
export type { Report, ReportGroup } from './report/report.js';
export type { GridCell } from './report/grid.js';
export { formatGridMarkdown, gridCellText, gridSpec, singleModuleGrid } from './report/grid.js';
export {
  reportThreshold,
  formatJson,
  formatLatex,
  formatMarkdown,
  reportFromRecords,
  reportFromStableNalu,
} from './report/report.js';
export type { StableNaluRun } from './report/stable-nalu.js';
export {
  CsvFormatError,
  formatPerRunCsv,
  formatSummaryCsv,
  parseStableNaluCsv,
} from './report/stable-nalu.js';
export { NALM_VERSION } from './version.js';
export type {
  Plot,
  PlotOptions,
  RenderedPlot,
  SeedStatus,
  SweepDimension,
  VegaLiteSpec,
} from './report/plots.js';
export {
  curvesSpec,
  downsampleCurve,
  recordsByGroup,
  renderPlots,
  renderSvg,
  reportPlots,
  solvedAtSpec,
  successSpec,
  sweepDimensions,
  sweepSpec,
} from './report/plots.js';
export type { HtmlOptions } from './report/html.js';
export { escapeHtml, formatHtml, htmlReport } from './report/html.js';
export * from './nsr/index.js';
export {
  PUBLISHED,
  PublishedFormatError,
  UnknownPublishedError,
  getPublished,
  parsePublishedTable,
  type PublishedCell,
  type PublishedEstimate,
  type PublishedTable,
} from './published/index.js';
export {
  compareWithPublished,
  comparisonRows,
  formatComparisonJson,
  formatComparisonMarkdown,
  intervalsOverlap,
  type Comparison,
  type ComparisonRow,
  type Verdict,
} from './report/compare.js';
