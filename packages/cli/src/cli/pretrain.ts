/**
 * `nalm calc pretrain`: pretrain the transformer language model of @nalm/calculator (the host of
 * issue 16's IGC experiment) on the State of the Union corpus, with a progress line, checkpoints and
 * `--resume`. What a directory holds: node/lm-files.ts.
 *
 * A run is deterministic given its flags: the initial weights come from --seed, step s's batch from
 * (--seed, s), and a checkpoint stores the weights and AdamW's state, so an interrupted and resumed
 * run takes the same steps as an uninterrupted one.
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LanguageModel, LmConfig, Perplexity, PretrainSettings } from '@nalm/calculator';
import {
  DEFAULT_LM,
  DEFAULT_PRETRAIN,
  CharTokenizer,
  Pretrainer,
  buildLanguageModel,
  heldOutPerplexity,
  learningRateAt,
  resolveLmConfig,
  splitCorpus,
} from '@nalm/calculator';
import { NALM_VERSION } from '@nalm/bench';
import type { BackendName } from '@nalm/units';
import { initBackend } from '@nalm/units';
import { checkInt, checkNumber } from './args.js';
import { UsageError } from './errors.js';
import { stopSignals } from './signals.js';
import { formatDuration } from './progress.js';
import { ensureDir } from '../store/atomic.js';
import { LOCK_FILE, commandLine, lockStore } from '../store/lock.js';
import type { TextCorpus } from '../node/corpus.js';
import { loadSotuCorpus } from '../node/corpus.js';
import type { PretrainMeta } from '../node/lm-files.js';
import {
  LM_META_FILE,
  TOKENIZER_FILE,
  loadCheckpoint,
  readPretrainMeta,
  strayCheckpoints,
  writeCheckpoint,
} from '../node/lm-files.js';

/** Characters of the held-out split (evenly spaced windows) whose perplexity each checkpoint reports. */
export const CHECKPOINT_EVAL_TOKENS = 16_384;
/** Characters of the held-out split for the final perplexity, unless --eval-tokens says otherwise. */
export const FINAL_EVAL_TOKENS = 65_536;
/** Steps between checkpoints, unless --checkpoint-every says otherwise (about 3 minutes by default). */
export const CHECKPOINT_EVERY = 250;

export interface CalcPretrainArgs {
  out: string;
  steps?: number;
  layers?: number;
  dim?: number;
  heads?: number;
  context?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  resume?: boolean;
  'checkpoint-every'?: number;
  /** A number of characters, or 'all' (the whole held-out split). */
  'eval-tokens'?: number | string;
  backend?: string;
  quiet?: boolean;
}

export interface PretrainHooks {
  /** Progress and messages (default: stderr). */
  log?: (s: string) => unknown;
  /** The corpus (default: the SOTU addresses); tests pass a small one. */
  corpus?: () => TextCorpus;
  /** Asked after every step: true stops the run there with a checkpoint, as SIGINT does. */
  shouldStop?: (step: number) => boolean;
}

const MODEL_FLAGS = ['layers', 'dim', 'heads', 'context'] as const;

function checkBackend(b: string | undefined): BackendName {
  if (b === undefined) return 'wasm';
  if (b !== 'wasm' && b !== 'cpu')
    throw new UsageError(`--backend: unknown backend '${b}'. Use wasm or cpu.`);
  return b;
}

/** The model config the flags ask for (vocabulary: the character tokenizer's). */
export function modelConfigOf(args: CalcPretrainArgs, vocabSize: number): LmConfig {
  const config = {
    vocabSize,
    layers: checkInt(args.layers ?? DEFAULT_LM.layers, '--layers', 1, 64),
    dim: checkInt(args.dim ?? DEFAULT_LM.dim, '--dim', 2, 4096),
    heads: checkInt(args.heads ?? DEFAULT_LM.heads, '--heads', 1, 256),
    context: checkInt(args.context ?? DEFAULT_LM.context, '--context', 8, 4096),
    mlpRatio: DEFAULT_LM.mlpRatio,
    seed: checkInt(args.seed ?? 0, '--seed', 0, 2 ** 32 - 1),
  };
  if (config.dim % config.heads !== 0) {
    throw new UsageError(`--dim ${config.dim} is not a multiple of --heads ${config.heads}.`);
  }
  return resolveLmConfig(config);
}

/** The training settings the flags ask for. */
export function pretrainSettingsOf(args: CalcPretrainArgs): PretrainSettings {
  const steps = checkInt(args.steps ?? DEFAULT_PRETRAIN.steps, '--steps', 1);
  return {
    ...DEFAULT_PRETRAIN,
    steps,
    batchSize: checkInt(args.batch ?? DEFAULT_PRETRAIN.batchSize, '--batch', 1, 4096),
    learningRate: checkNumber(args.lr ?? DEFAULT_PRETRAIN.learningRate, '--lr', 0, 1),
    // Short runs (a smoke test) warm up over their first tenth.
    warmupSteps: Math.min(DEFAULT_PRETRAIN.warmupSteps, Math.max(1, Math.floor(steps / 10))),
    seed: checkInt(args.seed ?? 0, '--seed', 0, 2 ** 32 - 1),
  };
}

/** What a new run may find in its directory: nothing, or what an interrupted first checkpoint left. */
function checkFreshDir(dir: string): void {
  if (!existsSync(dir)) return;
  const meta = readPretrainMeta(dir);
  if (meta) {
    throw new UsageError(
      `${dir} already holds a pretraining run (step ${meta.step} of ${meta.train.steps}${meta.complete ? ', complete' : ''}). ` +
        `Continue it with --resume, or give another --out directory.`,
    );
  }
  const other = readdirSync(dir).filter(
    (f) => f !== LOCK_FILE && f !== TOKENIZER_FILE && !/^step-\d{6,}$/.test(f) && !f.startsWith('.'),
  );
  if (other.length > 0) {
    throw new UsageError(
      `${dir} is not empty (${other.slice(0, 3).join(', ')}${other.length > 3 ? ', …' : ''}) and holds no pretraining run; ` +
        `give a new or empty --out directory.`,
    );
  }
}

/** Flags that cannot change on --resume must match the directory's run. */
function checkResumeFlags(args: CalcPretrainArgs, meta: PretrainMeta, dir: string): PretrainSettings {
  const differs: string[] = [];
  for (const f of MODEL_FLAGS) {
    if (args[f] !== undefined && args[f] !== meta.model[f])
      differs.push(`--${f} ${args[f]} (run: ${meta.model[f]})`);
  }
  if (args.seed !== undefined && args.seed !== meta.model.seed)
    differs.push(`--seed ${args.seed} (run: ${meta.model.seed})`);
  if (args.batch !== undefined && args.batch !== meta.train.batchSize)
    differs.push(`--batch ${args.batch} (run: ${meta.train.batchSize})`);
  if (args.lr !== undefined && args.lr !== meta.train.learningRate)
    differs.push(`--lr ${args.lr} (run: ${meta.train.learningRate})`);
  if (differs.length > 0) {
    throw new UsageError(
      `${dir} was pretrained with other settings: ${differs.join(', ')}. Resume without these flags (or with the run's values), or give another --out directory.`,
    );
  }
  const steps = args.steps === undefined ? meta.train.steps : checkInt(args.steps, '--steps', 1);
  if (steps < meta.step) {
    throw new UsageError(`--steps ${steps} is below the ${meta.step} steps ${dir} has already taken.`);
  }
  // A larger --steps extends the run: the cosine schedule stretches to the new end from here on.
  return { ...meta.train, steps };
}

/** Pretrain into `args.out`; returns the exit code (130 when stopped early with a checkpoint). */
export async function calcPretrain(args: CalcPretrainArgs, hooks: PretrainHooks = {}): Promise<number> {
  const log = hooks.log ?? ((s: string) => process.stderr.write(s));
  const say = (s: string) => {
    if (!args.quiet) log(s);
  };
  if (!args.out) throw new UsageError('--out: give the directory to write the language model into.');
  const dir = resolve(args.out);
  const backend = checkBackend(args.backend);
  const checkpointEvery = checkInt(args['checkpoint-every'] ?? CHECKPOINT_EVERY, '--checkpoint-every', 1);
  // undefined: the whole held-out split.
  const evalTokens =
    args['eval-tokens'] === 'all'
      ? undefined
      : checkInt(args['eval-tokens'] ?? FINAL_EVAL_TOKENS, '--eval-tokens', 1);
  const tokenizer = new CharTokenizer();

  let meta: PretrainMeta | null = null;
  let settings: PretrainSettings;
  let config: LmConfig;
  if (args.resume) {
    if (!existsSync(dir)) {
      throw new UsageError(`${dir}: no such directory to resume; start a run without --resume.`);
    }
    meta = readPretrainMeta(dir);
    if (!meta) {
      throw new UsageError(
        `${dir} holds no pretraining checkpoint (no ${LM_META_FILE}) to resume; start a run there without --resume.`,
      );
    }
    settings = checkResumeFlags(args, meta, dir);
    config = meta.model;
    if (meta.complete && settings.steps === meta.step) {
      say(
        `nalm calc pretrain: ${dir} is complete (${meta.step} steps, held-out perplexity ` +
          `${meta.heldOut?.perplexity.toFixed(3) ?? '?'}); nothing to do. A larger --steps continues it.\n`,
      );
      return 0;
    }
  } else {
    settings = pretrainSettingsOf(args);
    config = modelConfigOf(args, tokenizer.vocabSize);
    checkFreshDir(dir);
  }

  ensureDir(dir);
  const lock = lockStore(dir, { command: commandLine(), onStale: (m) => log(`nalm calc pretrain: ${m}\n`) });
  let lm: LanguageModel | null = null;
  let trainer: Pretrainer | null = null;
  try {
    await initBackend(backend);
    const corpus = (hooks.corpus ?? loadSotuCorpus)();
    const split = splitCorpus(corpus.documents, tokenizer);
    const corpusMeta: PretrainMeta['corpus'] = {
      package: corpus.name,
      version: corpus.version,
      description: corpus.description,
      documents: corpus.documents.length,
      split: split.rule,
      trainDocuments: split.trainDocuments.length,
      heldOutDocuments: split.heldOutDocuments,
      trainTokens: split.train.length,
      heldOutTokens: split.heldOut.length,
    };
    if (meta) {
      const was = meta.corpus;
      if (
        was.package !== corpusMeta.package ||
        was.version !== corpusMeta.version ||
        was.trainTokens !== corpusMeta.trainTokens ||
        was.heldOutTokens !== corpusMeta.heldOutTokens
      ) {
        throw new UsageError(
          `${dir} was pretrained on ${was.package}@${was.version} (${was.trainTokens} training tokens); this nalm reads ` +
            `${corpusMeta.package}@${corpusMeta.version} (${corpusMeta.trainTokens}). Resume with the same corpus version, or start a new run.`,
        );
      }
    }

    let progress: PretrainMeta['progress'] = meta?.progress ?? [];
    const priorSeconds = meta?.seconds ?? 0;
    if (meta) {
      for (const f of strayCheckpoints(dir, meta))
        say(`nalm calc pretrain: removing ${f}, an unfinished checkpoint\n`);
      const loaded = await loadCheckpoint(dir, meta);
      lm = loaded.lm;
      trainer = new Pretrainer(lm, split.train, settings);
      trainer.optimizer.restore(loaded.optimizer);
      loaded.optimizer.tensors.forEach((t) => t.tensor.dispose());
      say(`nalm calc pretrain: resuming ${dir} at step ${meta.step} of ${settings.steps}\n`);
    } else {
      lm = buildLanguageModel(config, tokenizer);
      trainer = new Pretrainer(lm, split.train, settings);
    }
    say(
      `nalm calc pretrain: ${lm.parameterCount.toLocaleString('en-US')} parameters (${config.layers} layers, dim ${config.dim}, ` +
        `${config.heads} heads, context ${config.context}); corpus ${corpus.name}@${corpus.version}: ` +
        `${split.train.length.toLocaleString('en-US')} training / ${split.heldOut.length.toLocaleString('en-US')} held-out characters; ` +
        `batch ${settings.batchSize} × ${config.context}; backend ${backend}\n`,
    );

    const signals = stopSignals(
      (sig) => `nalm calc pretrain: ${sig} — saving a checkpoint after this step.`,
      log,
    );

    const sessionStart = Date.now();
    const firstStep = trainer.step;
    let lastLine = 0;
    let lossSum = 0;
    let lossCount = 0;
    let ckptLossSum = 0;
    let ckptLossCount = 0;
    const seconds = () => priorSeconds + (Date.now() - sessionStart) / 1000;

    const checkpoint = (heldOut: PretrainMeta['heldOut'], complete: boolean) =>
      writeCheckpoint(dir, lm!, trainer!.optimizer.state(), {
        step: trainer!.step,
        complete,
        model: config,
        parameters: lm!.parameterCount,
        train: settings,
        corpus: corpusMeta,
        heldOut,
        progress,
        seconds: seconds(),
        backend,
        nalmVersion: NALM_VERSION,
      });
    const evalPrefix = (): Perplexity =>
      heldOutPerplexity(lm!, split.heldOut, {
        maxTokens: Math.min(CHECKPOINT_EVAL_TOKENS, evalTokens ?? Infinity),
      });

    try {
      while (trainer.step < settings.steps) {
        const lossT = trainer.trainStep();
        const loss = lossT.dataSync()[0]!;
        lossT.dispose();
        if (!Number.isFinite(loss)) {
          throw new Error(
            `the training loss became ${loss} at step ${trainer.step}; lower --lr (now ${settings.learningRate}) and start again.`,
          );
        }
        lossSum += loss;
        lossCount++;
        ckptLossSum += loss;
        ckptLossCount++;
        const step = trainer.step;
        const now = Date.now();
        const last = step === settings.steps;
        if (!args.quiet && (now - lastLine >= 10_000 || step === firstStep + 1 || last)) {
          const elapsed = (now - sessionStart) / 1000;
          const rate = (step - firstStep) / Math.max(elapsed, 1e-3);
          log(
            `step ${step}/${settings.steps} (${((100 * step) / settings.steps).toFixed(0)}%)  ${rate.toFixed(2)} steps/s  ` +
              `loss ${(lossSum / lossCount).toFixed(4)}  lr ${learningRateAt(step - 1, settings).toExponential(2)}  ` +
              `elapsed ${formatDuration(elapsed)}  ETA ${formatDuration((settings.steps - step) / rate)}\n`,
          );
          lastLine = now;
          lossSum = 0;
          lossCount = 0;
        }
        await signals.turn();
        const stopHere = signals.requested !== null || (hooks.shouldStop?.(step) ?? false);
        if ((step % checkpointEvery === 0 && !last) || (stopHere && !last)) {
          const p = evalPrefix();
          progress = [
            ...progress,
            { step, loss: ckptLossSum / ckptLossCount, heldOutPerplexity: p.perplexity, seconds: seconds() },
          ];
          ckptLossSum = 0;
          ckptLossCount = 0;
          await checkpoint({ ...p, step, whole: false }, false);
          say(
            `checkpoint at step ${step}: held-out perplexity ${p.perplexity.toFixed(3)} (${p.tokens} characters) → ${dir}\n`,
          );
        }
        if (stopHere && !last) {
          log(
            `nalm calc pretrain: stopped at step ${step} of ${settings.steps}; the checkpoint is saved. ` +
              `Run 'nalm calc pretrain --out ${args.out} --resume' to continue.\n`,
          );
          return 130;
        }
      }
      // The end: the whole held-out split (or --eval-tokens of it).
      say(
        `nalm calc pretrain: held-out perplexity over ${evalTokens === undefined || evalTokens >= split.heldOut.length - 1 ? 'the whole held-out split' : `${evalTokens} of its characters`}…\n`,
      );
      const p = heldOutPerplexity(
        lm,
        split.heldOut,
        evalTokens === undefined ? {} : { maxTokens: evalTokens },
      );
      if (ckptLossCount > 0) {
        progress = [
          ...progress,
          {
            step: trainer.step,
            loss: ckptLossSum / ckptLossCount,
            heldOutPerplexity: p.perplexity,
            seconds: seconds(),
          },
        ];
      }
      const written = await checkpoint(
        { ...p, step: trainer.step, whole: evalTokens === undefined || p.tokens >= split.heldOut.length - 1 },
        true,
      );
      say(
        `nalm calc pretrain: done — ${written.step} steps, ${formatDuration(written.seconds)} in all; held-out perplexity ` +
          `${p.perplexity.toFixed(3)} (${p.bitsPerChar.toFixed(3)} bits/char over ${p.tokens.toLocaleString('en-US')} characters) → ${dir}\n`,
      );
      return 0;
    } finally {
      signals.release();
    }
  } finally {
    trainer?.dispose();
    lm?.dispose();
    lock.release();
  }
}
