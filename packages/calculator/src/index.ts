/**
 * @nalm/calculator — a gated exact calculator as a TensorFlow.js layer (shared/spec/calculator.md),
 * the BIG-bench-style arithmetic text task it is measured on, a small host model with its trainer,
 * and a small decoder-only transformer language model (character tokenizer, pretraining steps,
 * held-out perplexity) to host the calculator. Browser-safe: nothing here touches Node's fs
 * (save/load with '@nalm/units/node'; the pretraining command and its files are @nalm/cli's).
 */
export {
  DIGIT_BITS,
  OPERATORS,
  INVALID,
  calculate,
  digitsOf,
  fromDigits,
  resultFeatureSize,
  resultFeatures,
} from './arith.js';
export type { CalcResult, Operator } from './arith.js';
export {
  GatedCalculator,
  SlotReadout,
  gateValues,
  decodeOperands,
  operandLabels,
  operandLoss,
  operandSlots,
  slotAttention,
} from './layers.js';
export type {
  GatedCalculatorArgs,
  Operands,
  SlotAttentionOptions,
  SlotParams,
  SlotReadoutArgs,
} from './layers.js';
export {
  ARITH_SUBTASKS,
  DEFAULT_NON_ARITH_SHARE,
  ArithmeticInputError,
  MAX_DIGITS,
  MAX_NUMBERS,
  NON_ARITH_KINDS,
  NON_ARITH_SUBTASKS,
  OPERATOR_WORDS,
  SUBTASKS,
  Tokenizer,
  VOCAB_SIZE,
  answerLabels,
  answerOf,
  arithmeticQuestion,
  createTask,
  numberLengthOf,
  parseQuestion,
} from './task.js';
export type {
  ArithSubtask,
  ArithmeticTask,
  Encoded,
  Item,
  NonArithKind,
  NonArithSubtask,
  Subtask,
  TaskOptions,
  TokenizerOptions,
} from './task.js';
export {
  DEFAULT_TRAIN,
  buildHostModel,
  calculatorOf,
  evaluateHost,
  hostConfigOf,
  predict,
  resolveHostConfig,
  trainHost,
} from './host.js';
export type {
  HostConfig,
  Prediction,
  ResolvedHostConfig,
  SubtaskResult,
  SubtaskScore,
  TrainOptions,
  TrainSettings,
  TrainSummary,
} from './host.js';
export { BOS_ID, CharTokenizer, LM_ALPHABET, LanguageModelInputError } from './char-tokenizer.js';
export type { CharTokenizerJSON } from './char-tokenizer.js';
export {
  DEFAULT_LM,
  LanguageModel,
  LmBlock,
  LmEmbedding,
  LmHead,
  buildLanguageModel,
  causalMask,
  gelu,
  languageModelOf,
  layerNorm,
  linear,
  loadLanguageModel,
  matMul2d,
  parameterCount,
  resolveLmConfig,
  saveLanguageModel,
} from './transformer.js';
export type {
  ForwardOptions,
  GenerateOptions,
  LmBlockArgs,
  LmConfig,
  LmEmbeddingArgs,
  LmHeadArgs,
} from './transformer.js';
export {
  AdamW,
  DEFAULT_PRETRAIN,
  Pretrainer,
  batchWindows,
  decodeOptimizerState,
  encodeOptimizerState,
  heldOutPerplexity,
  languageModelLoss,
  learningRateAt,
  splitCorpus,
  windowsToTensors,
} from './pretrain.js';
export type {
  CorpusDocument,
  CorpusSplit,
  OptimizerState,
  Perplexity,
  PretrainSettings,
  SplitOptions,
} from './pretrain.js';
export {
  ANSWER_MARKER,
  IgcCalculator,
  OUTPUT_CHARS,
  ResidualAdapter,
  adapterWidthFor,
  answerText,
  decodeInsertedModule,
  encodeInsertedModule,
  igcPrompt,
  keyWindow,
  markerEnd,
  resolveIgcConfig,
} from './igc.js';
export type {
  EncodedModule,
  IgcCalculatorConfig,
  IgcOutput,
  IgcRowInfo,
  InsertFn,
  InsertedModule,
  ResidualAdapterConfig,
} from './igc.js';
export {
  DEFAULT_IGC_TRAIN,
  IgcTrainer,
  answerQuestions,
  evaluateIgc,
  igcBatch,
  igcLoss,
  parseAnswer,
  questionIds,
  readOperands,
  slotPositions,
} from './igc-train.js';
export type {
  IgcAnswer,
  IgcBatch,
  IgcEvalOptions,
  IgcEvaluation,
  IgcLossParts,
  IgcSubtaskResult,
  IgcTrainSettings,
} from './igc-train.js';
