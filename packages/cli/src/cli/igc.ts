/**
 * `nalm calc igc-train` / `nalm calc igc-eval`: the gated calculator inserted into a pretrained,
 * frozen transformer host (@nalm/calculator igc.ts; issue 16), against the baseline of the same
 * host with a trainable adapter of about the same parameter count at the same place, same data,
 * same steps.
 *
 * A run directory:
 *
 *   OUT/igc-run.json                 what is fixed for the directory: the host (its directory,
 *                                    step, config, held-out perplexity), the layer k, the task
 *                                    split, the training settings, the modules' sizes
 *   OUT/<variant>/seed-<k>/state.json   the seed's progress: step, wall time, loss history, which
 *                                    checkpoint holds its module, complete or not (the commit point)
 *   OUT/<variant>/seed-<k>/step-NNNNNN/ module.json + module.bin (the trained module),
 *                                    optimizer.json + optimizer.bin (AdamW's state, for --resume)
 *
 * Seed k gives the module's initial weights and the data stream (step s's batch is a function of
 * (k, s)), so a run resumed with --resume takes the steps an uninterrupted one would.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type {
  IgcEvaluation,
  IgcTrainSettings,
  InsertedModule,
  LanguageModel,
  Perplexity,
} from '@nalm/calculator';
import {
  ARITH_SUBTASKS,
  DEFAULT_IGC_TRAIN,
  DEFAULT_NON_ARITH_SHARE,
  IgcCalculator,
  IgcTrainer,
  ResidualAdapter,
  adapterWidthFor,
  createTask,
  decodeInsertedModule,
  decodeOptimizerState,
  encodeInsertedModule,
  encodeOptimizerState,
  evaluateIgc,
  heldOutPerplexity,
  splitCorpus,
} from '@nalm/calculator';
import type * as tf from '@tensorflow/tfjs';
import { NALM_VERSION, wilson } from '@nalm/bench';
import type { BackendName } from '@nalm/units';
import { initBackend } from '@nalm/units';
import { checkInt, checkNumber, parseSeeds } from './args.js';
import { UsageError } from './errors.js';
import { stopSignals } from './signals.js';
import { formatDuration } from './progress.js';
import { ensureDir, writeFileAtomic } from '../store/atomic.js';
import { commandLine, lockStore } from '../store/lock.js';
import type { TextCorpus } from '../node/corpus.js';
import { loadSotuCorpus } from '../node/corpus.js';
import type { PretrainMeta } from '../node/lm-files.js';
import { loadPretrainedLanguageModel } from '../node/lm-files.js';

export const IGC_VARIANTS = ['calculator', 'baseline'] as const;
export type IgcVariant = (typeof IGC_VARIANTS)[number];

const RUN_FILE = 'igc-run.json';
const RUN_FORMAT = 'nalm-igc-run';
const RUN_VERSION = 1;
const STATE_FILE = 'state.json';
const STEP_DIR = /^step-\d{6,}$/;
/** Steps between a seed's checkpoints unless --checkpoint-every says otherwise. */
export const IGC_CHECKPOINT_EVERY = 250;
/** Held-out characters for the perplexities of `igc-eval` unless --eval-tokens says otherwise. */
export const IGC_EVAL_TOKENS = 16_384;

/** igc-run.json. */
export interface IgcRunSettings {
  format: typeof RUN_FORMAT;
  formatVersion: number;
  host: {
    dir: string;
    step: number;
    parameters: number;
    config: LanguageModel['config'];
    heldOutPerplexity: number | null;
    corpus: { package: string; version: string; split: string };
  };
  /** The module sits after this many blocks. */
  layer: number;
  task: { splitSeed: number; testPerSubtask: number; nonArithShare: number };
  train: Omit<IgcTrainSettings, 'seed'>;
  calculator: { operandDigits: number; keyDim: number; window: number; parameters: number };
  adapter: { width: number; parameters: number };
}

/** state.json of a seed. */
export interface IgcSeedState {
  format: 'nalm-igc-seed';
  formatVersion: 1;
  variant: IgcVariant;
  seed: number;
  step: number;
  complete: boolean;
  checkpoint: string;
  seconds: number;
  /** Mean loss parts between checkpoints. */
  progress: {
    step: number;
    total: number;
    answer: number;
    text: number;
    operands: number | null;
    gate: number | null;
  }[];
  backend: string;
  nalmVersion: string;
}

export interface IgcTrainArgs {
  host?: string;
  out?: string;
  seeds?: string;
  steps?: number;
  layer?: number;
  batch?: number;
  lr?: number;
  resume?: boolean;
  'with-calculator'?: boolean;
  baseline?: boolean;
  'checkpoint-every'?: number;
  'split-seed'?: number;
  'test-per-subtask'?: number;
  backend?: string;
  quiet?: boolean;
}

export interface IgcEvalArgs {
  dir: string;
  json?: boolean;
  host?: string;
  items?: number;
  'eval-tokens'?: number | string;
  backend?: string;
  quiet?: boolean;
}

export interface IgcHooks {
  log?: (s: string) => unknown;
  /** The text corpus (default: the SOTU addresses, as pretraining used); tests pass a small one. */
  corpus?: () => TextCorpus;
  /** Asked after every step: true stops there with a checkpoint (as SIGINT does). */
  shouldStop?: (variant: IgcVariant, seed: number, step: number) => boolean;
}

function checkBackend(b: string | undefined): BackendName {
  if (b === undefined) return 'wasm';
  if (b !== 'wasm' && b !== 'cpu')
    throw new UsageError(`--backend: unknown backend '${b}'. Use wasm or cpu.`);
  return b;
}

const seedDir = (dir: string, variant: IgcVariant, seed: number) => join(dir, variant, `seed-${seed}`);
const stepDirName = (step: number) => `step-${String(step).padStart(6, '0')}`;

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new UsageError(`${file}: cannot read ${what} (${(e as Error).message}).`);
  }
}

function readRun(dir: string): IgcRunSettings | null {
  const file = join(dir, RUN_FILE);
  if (!existsSync(file)) return null;
  const s = readJson<IgcRunSettings>(file, 'the run settings');
  if (s?.format !== RUN_FORMAT || s.formatVersion !== RUN_VERSION) {
    throw new UsageError(
      `${file} is not an IGC run of format version ${RUN_VERSION}; use another --out directory.`,
    );
  }
  return s;
}

function readState(dir: string): IgcSeedState | null {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return null;
  const s = readJson<IgcSeedState>(file, "the seed's state");
  if (s?.format !== 'nalm-igc-seed' || !Number.isInteger(s.step) || typeof s.checkpoint !== 'string') {
    throw new UsageError(
      `${file} is damaged (format, step, checkpoint); delete ${dir} to retrain that seed.`,
    );
  }
  return s;
}

/** The pretrained host, frozen, and the corpus split it was pretrained on. */
async function loadHost(hostDir: string, corpusFn: () => TextCorpus) {
  const { lm, meta } = await loadPretrainedLanguageModel(hostDir);
  lm.freeze();
  const corpus = corpusFn();
  const split = splitCorpus(corpus.documents, lm.tokenizer);
  if (meta.corpus.package !== corpus.name || meta.corpus.split !== split.rule) {
    lm.dispose();
    throw new UsageError(
      `${hostDir} was pretrained on ${meta.corpus.package} (${meta.corpus.split}); this nalm reads ${corpus.name} (${split.rule}). ` +
        `Training and evaluation use the pretraining corpus's split, so they need the same one.`,
    );
  }
  return { lm, meta, split, corpus };
}

function runSettingsOf(
  args: IgcTrainArgs,
  hostDir: string,
  lm: LanguageModel,
  meta: PretrainMeta,
  split: string,
): IgcRunSettings {
  const L = lm.config.layers;
  const layer = checkInt(args.layer ?? Math.floor(L / 2), '--layer', 0, L);
  const probe = new IgcCalculator({ dim: lm.config.dim, seed: 0 }, lm.tokenizer);
  const calcParams = probe.parameterCount;
  const cfg = probe.cfg;
  probe.dispose();
  const width = adapterWidthFor(calcParams, lm.config.dim);
  const steps = checkInt(args.steps ?? DEFAULT_IGC_TRAIN.steps, '--steps', 1);
  return {
    format: RUN_FORMAT,
    formatVersion: RUN_VERSION,
    host: {
      dir: hostDir,
      step: meta.step,
      parameters: meta.parameters,
      config: lm.config,
      heldOutPerplexity: meta.heldOut?.perplexity ?? null,
      corpus: { package: meta.corpus.package, version: meta.corpus.version, split },
    },
    layer,
    task: {
      splitSeed: checkInt(args['split-seed'] ?? 2025, '--split-seed', 0),
      testPerSubtask: checkInt(args['test-per-subtask'] ?? 200, '--test-per-subtask', 1, 100_000),
      nonArithShare: DEFAULT_NON_ARITH_SHARE,
    },
    train: {
      ...DEFAULT_IGC_TRAIN,
      steps,
      batchSize: checkInt(args.batch ?? DEFAULT_IGC_TRAIN.batchSize, '--batch', 2, 4096),
      learningRate: checkNumber(args.lr ?? DEFAULT_IGC_TRAIN.learningRate, '--lr', 0, 1),
      warmupSteps: Math.min(DEFAULT_IGC_TRAIN.warmupSteps, Math.max(1, Math.floor(steps / 10))),
    },
    calculator: {
      operandDigits: cfg.operandDigits,
      keyDim: cfg.keyDim,
      window: cfg.window,
      parameters: calcParams,
    },
    adapter: { width, parameters: 2 * lm.config.dim * width + width + lm.config.dim },
  };
}

function newModule(
  run: IgcRunSettings,
  variant: IgcVariant,
  seed: number,
  lm: LanguageModel,
): InsertedModule {
  const d = lm.config.dim;
  return variant === 'calculator'
    ? new IgcCalculator(
        {
          dim: d,
          operandDigits: run.calculator.operandDigits,
          keyDim: run.calculator.keyDim,
          window: run.calculator.window,
          seed,
        },
        lm.tokenizer,
      )
    : new ResidualAdapter({ dim: d, width: run.adapter.width, seed });
}

async function writeSeedCheckpoint(
  sdir: string,
  trainer: IgcTrainer,
  state: Omit<IgcSeedState, 'checkpoint' | 'format' | 'formatVersion'>,
): Promise<IgcSeedState> {
  const name = stepDirName(state.step);
  const ckpt = join(sdir, name);
  const current = readState(sdir);
  if (current?.checkpoint !== name) rmSync(ckpt, { recursive: true, force: true });
  ensureDir(ckpt);
  const mod = await encodeInsertedModule(trainer.module);
  writeFileAtomic(join(ckpt, 'module.bin'), new Uint8Array(mod.data));
  writeFileAtomic(join(ckpt, 'module.json'), `${JSON.stringify(mod.json)}\n`);
  const opt = await encodeOptimizerState(trainer.optimizer.state());
  writeFileAtomic(join(ckpt, 'optimizer.bin'), new Uint8Array(opt.data));
  writeFileAtomic(join(ckpt, 'optimizer.json'), `${JSON.stringify({ step: opt.step, specs: opt.specs })}\n`);
  const full: IgcSeedState = { format: 'nalm-igc-seed', formatVersion: 1, checkpoint: name, ...state };
  writeFileAtomic(join(sdir, STATE_FILE), `${JSON.stringify(full, null, 2)}\n`);
  for (const f of readdirSync(sdir))
    if (STEP_DIR.test(f) && f !== name) rmSync(join(sdir, f), { recursive: true, force: true });
  return full;
}

const bytesOf = (file: string): ArrayBuffer => {
  const b = readFileSync(file);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};

/** The module of a seed's current checkpoint. */
function loadSeedModule(sdir: string, state: IgcSeedState, lm: LanguageModel): InsertedModule {
  const ckpt = join(sdir, state.checkpoint);
  try {
    const json = readJson<Parameters<typeof decodeInsertedModule>[0]['json']>(
      join(ckpt, 'module.json'),
      'the module',
    );
    return decodeInsertedModule({ json, data: bytesOf(join(ckpt, 'module.bin')) }, lm.tokenizer);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      `${ckpt}: the module cannot be loaded (${(e as Error).message}); delete ${sdir} to retrain that seed.`,
    );
  }
}

/** Train the calculator and the baseline for every seed into --out; returns the exit code. */
export async function igcTrain(args: IgcTrainArgs, hooks: IgcHooks = {}): Promise<number> {
  const log = hooks.log ?? ((s: string) => process.stderr.write(s));
  const say = (s: string) => {
    if (!args.quiet) log(s);
  };
  if (!args.out) throw new UsageError('--out: give the run directory to write the modules into.');
  const dir = resolve(args.out);
  const existing = readRun(dir);
  if (existing && !args.resume) {
    throw new UsageError(
      `${dir} already holds an IGC run; continue it with --resume, or give another --out directory.`,
    );
  }
  if (!existing && args.resume)
    throw new UsageError(`${dir} holds no IGC run to resume; start one without --resume.`);
  const hostArg = args.host ?? existing?.host.dir;
  if (!hostArg)
    throw new UsageError("--host: give the directory of a pretrained host ('nalm calc pretrain --out DIR').");
  const hostDir = resolve(hostArg);
  const seeds = parseSeeds(args.seeds ?? '0..2');
  const calcOnly = args['with-calculator'] === true && args.baseline !== true;
  const baseOnly = args.baseline === true && args['with-calculator'] !== true;
  const variants: IgcVariant[] = calcOnly
    ? ['calculator']
    : baseOnly
      ? ['baseline']
      : ['calculator', 'baseline'];
  const backend = checkBackend(args.backend);
  const checkpointEvery = checkInt(args['checkpoint-every'] ?? IGC_CHECKPOINT_EVERY, '--checkpoint-every', 1);
  await initBackend(backend);
  const { lm, meta, split } = await loadHost(hostDir, hooks.corpus ?? loadSotuCorpus);
  let lock: ReturnType<typeof lockStore> | null = null;
  try {
    const fresh = runSettingsOf(args, hostDir, lm, meta, split.rule);
    let run = fresh;
    if (existing) {
      // Flags given on --resume must agree with the run; the host must be the same pretrained model.
      const differs: string[] = [];
      if (args.layer !== undefined && args.layer !== existing.layer)
        differs.push(`--layer ${args.layer} (run: ${existing.layer})`);
      if (args.steps !== undefined && args.steps !== existing.train.steps)
        differs.push(`--steps ${args.steps} (run: ${existing.train.steps})`);
      if (args.batch !== undefined && args.batch !== existing.train.batchSize)
        differs.push(`--batch ${args.batch} (run: ${existing.train.batchSize})`);
      if (args.lr !== undefined && args.lr !== existing.train.learningRate)
        differs.push(`--lr ${args.lr} (run: ${existing.train.learningRate})`);
      if (
        existing.host.step !== meta.step ||
        JSON.stringify(existing.host.config) !== JSON.stringify(lm.config)
      )
        differs.push(`host ${hostDir} at step ${meta.step} (run: step ${existing.host.step})`);
      if (differs.length > 0) {
        throw new UsageError(
          `${dir} was trained with other settings: ${differs.join(', ')}. Resume with the run's values, or give another --out directory.`,
        );
      }
      run = existing;
    }
    ensureDir(dir);
    lock = lockStore(dir, { command: commandLine(), onStale: (m) => log(`nalm calc igc-train: ${m}\n`) });
    writeFileAtomic(join(dir, RUN_FILE), `${JSON.stringify(run, null, 2)}\n`);
    const task = createTask(run.task);
    say(
      `nalm calc igc-train: host ${hostDir} (${run.host.parameters.toLocaleString('en-US')} parameters, ${lm.config.layers} blocks, frozen); ` +
        `module after block ${run.layer}; calculator ${run.calculator.parameters.toLocaleString('en-US')} trainable parameters, ` +
        `baseline adapter ${run.adapter.parameters.toLocaleString('en-US')} (width ${run.adapter.width}); ${run.train.steps} steps of ${run.train.batchSize}; backend ${backend}\n`,
    );

    const signals = stopSignals(
      (sig) => `nalm calc igc-train: ${sig} — saving a checkpoint after this step.`,
      log,
    );
    try {
      for (const seed of seeds) {
        for (const variant of variants) {
          const sdir = seedDir(dir, variant, seed);
          const state = readState(sdir);
          if (state?.complete) {
            say(`${variant} seed ${seed}: already trained (${state.step} steps), skipped\n`);
            continue;
          }
          const module = state ? loadSeedModule(sdir, state, lm) : newModule(run, variant, seed, lm);
          const trainer = new IgcTrainer(lm, module, run.layer, task, split.train, { ...run.train, seed });
          try {
            if (state) {
              const ckpt = join(sdir, state.checkpoint);
              const j = readJson<{ step: number; specs: tf.io.WeightsManifestEntry[] }>(
                join(ckpt, 'optimizer.json'),
                'the optimizer state',
              );
              const opt = decodeOptimizerState({
                step: j.step,
                specs: j.specs,
                data: bytesOf(join(ckpt, 'optimizer.bin')),
              });
              try {
                trainer.optimizer.restore(opt);
              } finally {
                opt.tensors.forEach((t) => t.tensor.dispose());
              }
              say(`${variant} seed ${seed}: resuming at step ${state.step} of ${run.train.steps}\n`);
            }
            let progress = state?.progress ?? [];
            const prior = state?.seconds ?? 0;
            const started = Date.now();
            const first = trainer.step;
            let lastLine = 0;
            const acc = { n: 0, total: 0, answer: 0, text: 0, operands: 0, gate: 0 };
            const seconds = () => prior + (Date.now() - started) / 1000;
            const save = (complete: boolean) => {
              if (acc.n > 0) {
                const mean = (x: number) => x / acc.n;
                progress = [
                  ...progress,
                  {
                    step: trainer.step,
                    total: mean(acc.total),
                    answer: mean(acc.answer),
                    text: mean(acc.text),
                    operands: variant === 'calculator' ? mean(acc.operands) : null,
                    gate: variant === 'calculator' ? mean(acc.gate) : null,
                  },
                ];
                Object.assign(acc, { n: 0, total: 0, answer: 0, text: 0, operands: 0, gate: 0 });
              }
              return writeSeedCheckpoint(sdir, trainer, {
                variant,
                seed,
                step: trainer.step,
                complete,
                seconds: seconds(),
                progress,
                backend,
                nalmVersion: NALM_VERSION,
              });
            };
            while (trainer.step < run.train.steps) {
              const p = trainer.trainStep();
              if (!Number.isFinite(p.total)) {
                throw new Error(
                  `${variant} seed ${seed}: the loss became ${p.total} at step ${trainer.step}; lower --lr and start again.`,
                );
              }
              acc.n++;
              acc.total += p.total;
              acc.answer += p.answer;
              acc.text += p.text;
              acc.operands += p.operands ?? 0;
              acc.gate += p.gate ?? 0;
              const step = trainer.step;
              const last = step === run.train.steps;
              const now = Date.now();
              if (!args.quiet && (now - lastLine >= 10_000 || step === first + 1 || last)) {
                const rate = (step - first) / Math.max((now - started) / 1000, 1e-3);
                const parts =
                  p.operands === null
                    ? ''
                    : `, read-out ${p.operands.toFixed(3)}, gate ${(p.gate ?? 0).toFixed(3)}`;
                log(
                  `${variant} seed ${seed}: step ${step}/${run.train.steps} (${((100 * step) / run.train.steps).toFixed(0)}%)  ${rate.toFixed(2)} steps/s  ` +
                    `loss ${p.total.toFixed(4)} (answer ${p.answer.toFixed(3)}, text ${p.text.toFixed(3)}${parts})  ETA ${formatDuration((run.train.steps - step) / rate)}\n`,
                );
                lastLine = now;
              }
              await signals.turn();
              const stopHere =
                signals.requested !== null || (hooks.shouldStop?.(variant, seed, step) ?? false);
              if (last) break;
              if (step % checkpointEvery === 0 || stopHere) await save(false);
              if (stopHere) {
                log(
                  `nalm calc igc-train: stopped at ${variant} seed ${seed} step ${step}; the checkpoint is saved. ` +
                    `Run 'nalm calc igc-train --out ${args.out} --resume' to continue.\n`,
                );
                return 130;
              }
            }
            const done = await save(true);
            say(`${variant} seed ${seed}: ${done.step} steps in ${formatDuration(done.seconds)}\n`);
          } finally {
            trainer.dispose();
            module.dispose();
          }
        }
      }
      return 0;
    } finally {
      signals.release();
    }
  } finally {
    lock?.release();
    lm.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

export interface IgcModelResult {
  variant: IgcVariant;
  seed: number;
  trainSteps: number;
  trainSeconds: number;
  evaluation: IgcEvaluation;
}

interface Pooled {
  correct: number;
  n: number;
  mean: number;
  lower: number;
  upper: number;
  minSeed: number;
  perSeed: number[];
}

export interface IgcRow {
  subtask: string;
  arithmetic: boolean;
  variants: Partial<Record<IgcVariant, Pooled>>;
  /** Calculator: share of items whose operands and operator were all read right, operator only (pooled over seeds). */
  operands: number | null;
  operator: number | null;
}

export interface IgcRunEvaluation {
  dir: string;
  run: IgcRunSettings;
  /** Held-out perplexity of the host alone (before insertion), on the same windows as the others. */
  hostPerplexity: Perplexity;
  models: IgcModelResult[];
  rows: IgcRow[];
  /** Seeds not yet complete: left out. */
  incomplete: { variant: IgcVariant; seed: number; step: number }[];
}

export async function evaluateIgcRun(args: IgcEvalArgs, hooks: IgcHooks = {}): Promise<IgcRunEvaluation> {
  const dir = resolve(args.dir);
  if (!existsSync(dir))
    throw new UsageError(`${dir}: no such directory. Give one written by 'nalm calc igc-train'.`);
  const run = readRun(dir);
  if (!run)
    throw new UsageError(`${dir} has no ${RUN_FILE}; give a directory written by 'nalm calc igc-train'.`);
  const evalTokens =
    args['eval-tokens'] === 'all'
      ? undefined
      : checkInt(args['eval-tokens'] ?? IGC_EVAL_TOKENS, '--eval-tokens', 1);
  const items = args.items === undefined ? undefined : checkInt(args.items, '--items', 1);
  await initBackend(checkBackend(args.backend));
  const hostDir = resolve(args.host ?? run.host.dir);
  const { lm, meta, split } = await loadHost(hostDir, hooks.corpus ?? loadSotuCorpus);
  const log = hooks.log ?? ((s: string) => process.stderr.write(s));
  try {
    if (meta.step !== run.host.step || JSON.stringify(lm.config) !== JSON.stringify(run.host.config)) {
      throw new UsageError(
        `${hostDir} (step ${meta.step}) is not the host ${dir} was trained on (step ${run.host.step}); give it with --host.`,
      );
    }
    const task = createTask(run.task);
    const hostPerplexity = heldOutPerplexity(
      lm,
      split.heldOut,
      evalTokens === undefined ? {} : { maxTokens: evalTokens },
    );
    const models: IgcModelResult[] = [];
    const incomplete: IgcRunEvaluation['incomplete'] = [];
    for (const variant of IGC_VARIANTS) {
      const vdir = join(dir, variant);
      if (!existsSync(vdir)) continue;
      const seeds = readdirSync(vdir)
        .map((f) => /^seed-(\d+)$/.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      for (const seed of seeds) {
        const sdir = seedDir(dir, variant, seed);
        const state = readState(sdir);
        if (!state) continue;
        if (!state.complete) {
          incomplete.push({ variant, seed, step: state.step });
          continue;
        }
        const module = loadSeedModule(sdir, state, lm);
        const t0 = Date.now();
        try {
          const evaluation = evaluateIgc(lm, module, {
            insertAfter: run.layer,
            task,
            heldOut: split.heldOut,
            ...(evalTokens !== undefined ? { evalTokens } : {}),
            ...(items !== undefined ? { itemsPerSubtask: items } : {}),
          });
          models.push({ variant, seed, trainSteps: state.step, trainSeconds: state.seconds, evaluation });
          if (!args.quiet)
            log(`${variant} seed ${seed}: evaluated in ${formatDuration((Date.now() - t0) / 1000)}\n`);
        } finally {
          module.dispose();
        }
      }
    }
    if (models.length === 0) {
      throw new UsageError(
        `${dir} holds no completely trained module yet; run 'nalm calc igc-train --out ${args.dir} --resume'.`,
      );
    }
    const names = models[0]!.evaluation.subtasks.map((s) => s.subtask);
    const rows: IgcRow[] = names.map((subtask, i) => {
      const row: IgcRow = {
        subtask,
        arithmetic: models[0]!.evaluation.subtasks[i]!.arithmetic,
        variants: {},
        operands: null,
        operator: null,
      };
      for (const variant of IGC_VARIANTS) {
        const rs = models.filter((m) => m.variant === variant).map((m) => m.evaluation.subtasks[i]!);
        if (rs.length === 0) continue;
        const correct = rs.reduce((a, r) => a + r.correct, 0);
        const n = rs.reduce((a, r) => a + r.n, 0);
        const perSeed = rs.map((r) => r.correct / Math.max(1, r.n));
        row.variants[variant] = { correct, n, ...wilson(correct, n), minSeed: Math.min(...perSeed), perSeed };
        if (variant === 'calculator' && row.arithmetic) {
          row.operands = rs.reduce((a, r) => a + (r.operandsCorrect ?? 0), 0) / Math.max(1, n);
          row.operator = rs.reduce((a, r) => a + (r.operatorCorrect ?? 0), 0) / Math.max(1, n);
        }
      }
      return row;
    });
    return { dir, run, hostPerplexity, models, rows, incomplete };
  } finally {
    lm.dispose();
  }
}

const pct = (x: number) => (100 * x).toFixed(1);

export function formatIgcEvaluation(ev: IgcRunEvaluation): string {
  const has = (v: IgcVariant) => ev.models.some((m) => m.variant === v);
  const of = (v: IgcVariant) => ev.models.filter((m) => m.variant === v);
  const r = ev.run;
  const lines: string[] = [];
  lines.push(`# The calculator in the frozen transformer host vs the adapter baseline (${ev.dir})`, '');
  lines.push(
    `- host: ${r.host.dir}, ${r.host.parameters.toLocaleString('en-US')} parameters (${r.host.config.layers} blocks × width ${r.host.config.dim}, ` +
      `context ${r.host.config.context}), pretrained ${r.host.step} steps on ${r.host.corpus.package}@${r.host.corpus.version}; frozen`,
    `- inserted after block ${r.layer}; trainable: calculator ${r.calculator.parameters.toLocaleString('en-US')} parameters, ` +
      `baseline adapter ${r.adapter.parameters.toLocaleString('en-US')}; ${r.train.steps} steps × batch ${r.train.batchSize} (text share ${r.train.textShare})`,
  );
  for (const v of IGC_VARIANTS)
    if (has(v))
      lines.push(
        `- ${v}: seeds ${of(v)
          .map((m) => m.seed)
          .join(', ')}`,
      );
  lines.push(
    `- answers by greedy generation up to the newline; exact match pooled over test items and seeds, Wilson 95% intervals; "worst" = lowest seed`,
    '',
  );
  const header = ['subtask', 'n'];
  if (has('calculator'))
    header.push('calculator % [95% CI]', 'worst %', 'operands read %', 'operator read %');
  if (has('baseline')) header.push('baseline % [95% CI]', 'worst %');
  lines.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ':---' : '---:')).join('|')}|`);
  for (const row of ev.rows) {
    const cells = [row.subtask, String(Object.values(row.variants)[0]?.n ?? 0)];
    const c = row.variants.calculator;
    if (has('calculator'))
      cells.push(
        c ? `${pct(c.mean)} [${pct(c.lower)}, ${pct(c.upper)}]` : '—',
        c ? pct(c.minSeed) : '—',
        row.operands === null ? '—' : pct(row.operands),
        row.operator === null ? '—' : pct(row.operator),
      );
    const b = row.variants.baseline;
    if (has('baseline'))
      cells.push(b ? `${pct(b.mean)} [${pct(b.lower)}, ${pct(b.upper)}]` : '—', b ? pct(b.minSeed) : '—');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
  const hp = ev.hostPerplexity.perplexity;
  lines.push(
    `Held-out text perplexity (${ev.hostPerplexity.tokens.toLocaleString('en-US')} characters): host before insertion ${hp.toFixed(3)}`,
    '',
  );
  for (const m of ev.models) {
    const p = m.evaluation.perplexity.perplexity;
    lines.push(
      `- ${m.variant} seed ${m.seed}: ${p.toFixed(3)} (${p >= hp ? '+' : ''}${pct((p - hp) / hp)}%)`,
    );
  }
  if (has('calculator')) {
    lines.push(
      '',
      'Mean gate value (calculator): where it writes an arithmetic answer / over arithmetic prompts / at copy-count answers / on held-out text',
      '',
    );
    for (const m of of('calculator')) {
      const g = m.evaluation.gate!;
      lines.push(
        `- seed ${m.seed}: ${g.arithmeticAnswer.toFixed(4)} / ${g.arithmeticPrompt.toFixed(4)} / ${g.nonArithmeticAnswer.toFixed(4)} / ${g.text.toFixed(4)}`,
      );
    }
    const arith = ARITH_SUBTASKS.map((s) => s.name);
    const worst = Math.min(
      ...ev.rows.filter((x) => arith.includes(x.subtask)).map((x) => x.variants.calculator?.minSeed ?? 0),
    );
    lines.push('', `Worst arithmetic subtask × seed with the calculator: ${pct(worst)}%.`);
  }
  lines.push('', 'Training (steps, wall time):', '');
  for (const m of ev.models)
    lines.push(`- ${m.variant} seed ${m.seed}: ${m.trainSteps} steps, ${formatDuration(m.trainSeconds)}`);
  for (const s of ev.incomplete)
    lines.push(`- ${s.variant} seed ${s.seed}: incomplete (step ${s.step}), left out`);
  return `${lines.join('\n')}\n`;
}

export async function igcEval(
  args: IgcEvalArgs,
  hooks: IgcHooks & { out?: (s: string) => unknown } = {},
): Promise<number> {
  const ev = await evaluateIgcRun(args, hooks);
  const out = hooks.out ?? ((s: string) => process.stdout.write(s));
  out(
    args.json
      ? `${JSON.stringify(ev, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`
      : formatIgcEvaluation(ev),
  );
  return 0;
}
