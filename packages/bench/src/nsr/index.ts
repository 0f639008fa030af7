/**
 * The Neural Status Register tasks (benchmark.md §7): tasks, models, trainers, summaries, report.
 * They run on the benchmark's sweep, store and workers as the task kind `nsr` (kinds/nsr.ts).
 */
export * from './resolution.js';
export * from './tasks.js';
export type { LayerSpec, ModelOptions, ModelVars, NsrModelName } from './models.js';
export { BASELINE_HIDDEN, NSR_MODEL_LABEL, NSR_MODELS, architectureOutput, modelLayers } from './models.js';
export * from './config.js';
export type { NsrReplica, NsrTrainOptions, NsrTrainProgress, TrainedNsrModel } from './trainer.js';
export { nsrBatchKey, trainNsrModel, trainNsrReplicas } from './trainer.js';
export type { Float64Params } from './float64.js';
export {
  float64LossAndGrad,
  float64Predict,
  initFloat64Params,
  trainFloat64Replica,
  trainNsrFloat64,
} from './float64.js';
export { summarizeNsr } from './summary.js';
export type { NsrSummaryRow } from './summary.js';
export {
  formatNsrHtml,
  formatNsrJson,
  formatNsrMarkdown,
  nsrReport,
  nsrSuccessSpec,
  renderNsrPlots,
} from './report.js';
export type { NsrPlot, NsrReport } from './report.js';
export {
  NSR_PRESETS,
  REFERENCE_EPOCHS,
  REFERENCE_PIECEWISE_EPOCHS,
  REFERENCE_REGULARIZE_EPOCH,
  referenceRegularizeFrom,
  expandNsrPreset,
  getNsrPreset,
  nsrPresetSize,
  presetForTask,
} from './presets.js';
export type { NsrPreset } from './presets.js';
