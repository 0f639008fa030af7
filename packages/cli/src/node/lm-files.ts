/**
 * A pretrained language model on disk (what `nalm calc pretrain` writes and the later IGC steps
 * load):
 *
 *   DIR/lm.json              the run: model config, training settings, corpus (package, version,
 *                            split), step reached, held-out perplexity, progress; and which
 *                            checkpoint directory holds the weights. Written last: the commit point.
 *   DIR/tokenizer.json       the character tokenizer (also inside model.json's metadata)
 *   DIR/step-NNNNNN/         the checkpoint of step NNNNNN:
 *     model.json, weights.bin      the tfjs model (@nalm/units/node's file handler)
 *     optimizer.json, optimizer.bin  AdamW's state (step, first and second moments), for --resume
 *
 * A checkpoint is written into a new step directory first and lm.json is then replaced atomically
 * to point at it, so a crash at any moment leaves the previous complete checkpoint in force; older
 * step directories are removed afterwards.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type {
  CharTokenizerJSON,
  LanguageModel,
  LmConfig,
  OptimizerState,
  Perplexity,
  PretrainSettings,
} from '@nalm/calculator';
import {
  CharTokenizer,
  LanguageModelInputError,
  decodeOptimizerState,
  encodeOptimizerState,
  loadLanguageModel,
  saveLanguageModel,
} from '@nalm/calculator';
import type * as tf from '@tensorflow/tfjs';
import { fileSystemHandler } from '@nalm/units/node';
import { writeFileAtomic } from '../store/atomic.js';

export const LM_META_FILE = 'lm.json';
export const TOKENIZER_FILE = 'tokenizer.json';
const OPTIMIZER_JSON = 'optimizer.json';
const OPTIMIZER_BIN = 'optimizer.bin';
const META_FORMAT = 'nalm-lm-pretrain';
const META_VERSION = 1;
const STEP_DIR = /^step-\d{6,}$/;

/** lm.json. */
export interface PretrainMeta {
  format: typeof META_FORMAT;
  formatVersion: number;
  /** The checkpoint directory (relative to DIR) holding the weights of `step`. */
  checkpoint: string;
  /** Training steps taken. */
  step: number;
  /** Whether `step` reached `train.steps` (and `heldOut` is the final, full evaluation). */
  complete: boolean;
  model: LmConfig;
  parameters: number;
  train: PretrainSettings;
  corpus: {
    package: string;
    version: string;
    description: string;
    documents: number;
    split: string;
    trainDocuments: number;
    heldOutDocuments: readonly string[];
    trainTokens: number;
    heldOutTokens: number;
  };
  /** Held-out perplexity at `step`: over the whole held-out split when complete, else a prefix. */
  heldOut: (Perplexity & { step: number; whole: boolean }) | null;
  /** One entry per checkpoint: mean training loss since the previous one, held-out prefix perplexity. */
  progress: { step: number; loss: number; heldOutPerplexity: number; seconds: number }[];
  /** Wall time of all sessions (training, evaluation, checkpoints). */
  seconds: number;
  backend: string;
  nalmVersion: string;
}

const stepDirName = (step: number) => `step-${String(step).padStart(6, '0')}`;

function damaged(file: string, what: string): LanguageModelInputError {
  return new LanguageModelInputError(
    `${file}: ${what}. The pretraining directory is damaged: restore the file, or delete the directory and pretrain again.`,
  );
}

/** lm.json of a pretraining directory, or null if it has none; a damaged one is an error. */
export function readPretrainMeta(dir: string): PretrainMeta | null {
  const file = join(resolve(dir), LM_META_FILE);
  if (!existsSync(file)) return null;
  let m: Partial<PretrainMeta>;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Partial<PretrainMeta>;
  } catch (e) {
    throw damaged(file, `not valid JSON (${(e as Error).message})`);
  }
  if (m === null || typeof m !== 'object' || m.format !== META_FORMAT) {
    throw new LanguageModelInputError(
      `${file} is not a nalm pretraining record (expected "format": "${META_FORMAT}"); give a directory written by 'nalm calc pretrain'.`,
    );
  }
  if (m.formatVersion !== META_VERSION) {
    throw new LanguageModelInputError(
      `${file} has format version ${String(m.formatVersion)}; this nalm reads version ${META_VERSION}.`,
    );
  }
  if (
    typeof m.checkpoint !== 'string' ||
    !STEP_DIR.test(m.checkpoint) ||
    !Number.isInteger(m.step) ||
    typeof m.model !== 'object' ||
    typeof m.train !== 'object' ||
    typeof m.corpus !== 'object' ||
    !Array.isArray(m.progress)
  ) {
    throw damaged(file, 'fields are missing or malformed (checkpoint, step, model, train, corpus, progress)');
  }
  return m as PretrainMeta;
}

/** Write a checkpoint of step `meta.step` and make it the directory's current one. */
export async function writeCheckpoint(
  dir: string,
  lm: LanguageModel,
  optimizer: OptimizerState,
  meta: Omit<PretrainMeta, 'format' | 'formatVersion' | 'checkpoint'>,
): Promise<PretrainMeta> {
  const root = resolve(dir);
  const name = stepDirName(meta.step);
  const ckpt = join(root, name);
  // A leftover of an interrupted write of this very step: never the current checkpoint (lm.json
  // is written after its files), so it can go.
  const current = readPretrainMeta(root);
  if (current?.checkpoint !== name) rmSync(ckpt, { recursive: true, force: true });
  await saveLanguageModel(lm, fileSystemHandler(ckpt));
  const enc = await encodeOptimizerState(optimizer);
  writeFileAtomic(join(ckpt, OPTIMIZER_BIN), new Uint8Array(enc.data));
  writeFileAtomic(
    join(ckpt, OPTIMIZER_JSON),
    `${JSON.stringify({ format: 'nalm-adamw-state', formatVersion: 1, step: enc.step, specs: enc.specs })}\n`,
  );
  writeFileAtomic(join(root, TOKENIZER_FILE), `${JSON.stringify(lm.tokenizer.toJSON(), null, 2)}\n`);
  const full: PretrainMeta = { format: META_FORMAT, formatVersion: META_VERSION, checkpoint: name, ...meta };
  writeFileAtomic(join(root, LM_META_FILE), `${JSON.stringify(full, null, 2)}\n`);
  // The new checkpoint is in force: older step directories go.
  for (const f of readdirSync(root)) {
    if (STEP_DIR.test(f) && f !== name) rmSync(join(root, f), { recursive: true, force: true });
  }
  return full;
}

/** Step directories that lm.json does not point at (left by a crash before lm.json moved). */
export function strayCheckpoints(dir: string, meta: PretrainMeta | null): string[] {
  const root = resolve(dir);
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((f) => STEP_DIR.test(f) && f !== meta?.checkpoint);
}

function checkpointDir(dir: string, meta: PretrainMeta): string {
  const ckpt = join(resolve(dir), meta.checkpoint);
  for (const f of ['model.json', 'weights.bin']) {
    if (!existsSync(join(ckpt, f))) throw damaged(join(ckpt, f), 'missing');
  }
  return ckpt;
}

/** The model of the directory's current checkpoint, checked against lm.json and tokenizer.json. */
async function loadCheckpointModel(dir: string, meta: PretrainMeta): Promise<LanguageModel> {
  const ckpt = checkpointDir(dir, meta);
  let lm: LanguageModel;
  try {
    lm = await loadLanguageModel(fileSystemHandler(ckpt));
  } catch (e) {
    if (e instanceof LanguageModelInputError) throw damaged(join(ckpt, 'model.json'), e.message);
    throw damaged(join(ckpt, 'weights.bin'), `cannot be loaded (${(e as Error).message})`);
  }
  for (const k of Object.keys(meta.model) as (keyof LmConfig)[]) {
    if (lm.config[k] !== meta.model[k]) {
      lm.dispose();
      throw damaged(
        join(ckpt, 'model.json'),
        `its ${k} ${lm.config[k]} differs from lm.json's ${meta.model[k]}`,
      );
    }
  }
  const tokFile = join(resolve(dir), TOKENIZER_FILE);
  if (existsSync(tokFile)) {
    let tok: CharTokenizerJSON;
    try {
      tok = JSON.parse(readFileSync(tokFile, 'utf8')) as CharTokenizerJSON;
      CharTokenizer.fromJSON(tok);
    } catch (e) {
      lm.dispose();
      throw damaged(tokFile, `not a tokenizer (${(e as Error).message})`);
    }
    if (tok.alphabet !== lm.tokenizer.alphabet) {
      lm.dispose();
      throw damaged(tokFile, 'its alphabet differs from the one saved with the model');
    }
  }
  return lm;
}

/** The model and optimiser state of the directory's current checkpoint (for --resume). */
export async function loadCheckpoint(
  dir: string,
  meta: PretrainMeta,
): Promise<{ lm: LanguageModel; optimizer: OptimizerState }> {
  const lm = await loadCheckpointModel(dir, meta);
  const ckpt = join(resolve(dir), meta.checkpoint);
  try {
    const jsonFile = join(ckpt, OPTIMIZER_JSON);
    const binFile = join(ckpt, OPTIMIZER_BIN);
    for (const f of [jsonFile, binFile]) if (!existsSync(f)) throw damaged(f, 'missing');
    let j: { step?: unknown; specs?: unknown };
    try {
      j = JSON.parse(readFileSync(jsonFile, 'utf8')) as typeof j;
    } catch (e) {
      throw damaged(jsonFile, `not valid JSON (${(e as Error).message})`);
    }
    if (j.step !== meta.step || !Array.isArray(j.specs)) {
      throw damaged(
        jsonFile,
        `its step ${String(j.step)} differs from lm.json's ${meta.step}, or it has no weight specs`,
      );
    }
    const b = readFileSync(binFile);
    const data = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    const specs = j.specs as tf.io.WeightsManifestEntry[];
    const expected = specs.reduce((a, s) => a + 4 * s.shape.reduce((x, y) => x * y, 1), 0);
    if (data.byteLength !== expected) {
      throw damaged(binFile, `${data.byteLength} bytes where its specs describe ${expected} (truncated?)`);
    }
    return { lm, optimizer: decodeOptimizerState({ step: meta.step, specs, data }) };
  } catch (e) {
    lm.dispose();
    throw e;
  }
}

/**
 * A pretrained language model from a directory written by `nalm calc pretrain` (its current
 * checkpoint), with the run's record. Every problem is a `LanguageModelInputError` naming the file
 * and what to do.
 */
export async function loadPretrainedLanguageModel(
  dir: string,
): Promise<{ lm: LanguageModel; meta: PretrainMeta }> {
  const root = resolve(dir);
  if (!existsSync(root)) {
    throw new LanguageModelInputError(
      `${root}: no such directory; give one written by 'nalm calc pretrain --out DIR'.`,
    );
  }
  const meta = readPretrainMeta(root);
  if (!meta) {
    throw new LanguageModelInputError(
      `${root} holds no pretrained language model (no ${LM_META_FILE}); pretrain one with 'nalm calc pretrain --out ${dir}'.`,
    );
  }
  return { lm: await loadCheckpointModel(root, meta), meta };
}
