/**
 * `nalm calc train` / `nalm calc eval`: the gated calculator (@nalm/calculator) on the arithmetic
 * text task, with and without the calculator from the same seeds.
 *
 * A run directory holds `calc-run.json` (task split and training settings, fixed for the
 * directory) and one model per variant and seed: `<variant>/seed-<k>/{model.json, weights.bin,
 * train.json}`. Training skips models already present, so an interrupted run resumes.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { SubtaskResult, TrainSettings, TrainSummary } from '@nalm/calculator';
import {
  ARITH_SUBTASKS,
  ArithmeticInputError,
  DEFAULT_IGC_TRAIN,
  DEFAULT_LM,
  DEFAULT_PRETRAIN,
  LanguageModelInputError,
  DEFAULT_NON_ARITH_SHARE,
  DEFAULT_TRAIN,
  buildHostModel,
  createTask,
  evaluateHost,
} from '@nalm/calculator';
import { trainHost } from '@nalm/calculator';
import type { BackendName } from '@nalm/units';
import { initBackend } from '@nalm/units';
import { loadModel, saveModel } from '@nalm/units/node';
import { wilson, StoreError } from '@nalm/bench';
import { checkInt, checkNumber, checkSingleValues, parseSeeds } from './args.js';
import { ensureDir, writeFileAtomic } from '../store/atomic.js';
import { commandLine, lockStore } from '../store/lock.js';
import { UsageError, printable } from './errors.js';
import type { CalcPretrainArgs } from './pretrain.js';
import { CHECKPOINT_EVERY, FINAL_EVAL_TOKENS, calcPretrain } from './pretrain.js';
import type { IgcEvalArgs, IgcTrainArgs } from './igc.js';
import { IGC_CHECKPOINT_EVERY, IGC_EVAL_TOKENS, igcEval, igcTrain } from './igc.js';

export const CALC_VARIANTS = ['calculator', 'baseline'] as const;
export type CalcVariant = (typeof CALC_VARIANTS)[number];

const RUN_FILE = 'calc-run.json';
const RUN_FORMAT = 'nalm-calc-run';
/**
 * Version 2: the gate target opens on the operand digits only and slot queries start at zero.
 * Models of a version-1 directory still load and evaluate; training does not add to it, so one
 * directory never mixes models of the two trainers.
 */
const RUN_VERSION = 2;
const READABLE_VERSIONS = [1, 2];

/** What is fixed for a run directory: the split and the training settings. */
export interface CalcRunSettings {
  format: typeof RUN_FORMAT;
  formatVersion: number;
  task: { splitSeed: number; testPerSubtask: number; nonArithShare: number };
  host: { hidden: number };
  train: TrainSettings & { timeBudgetMinutes: number };
}

export interface CalcTrainArgs {
  out: string;
  seeds?: string;
  'with-calculator'?: boolean;
  baseline?: boolean;
  steps?: number;
  batch?: number;
  lr?: number;
  'teacher-steps'?: number;
  'time-budget'?: number;
  hidden?: number;
  'split-seed'?: number;
  'test-per-subtask'?: number;
  'non-arith-share'?: number;
  backend?: string;
  quiet?: boolean;
}

export interface CalcEvalArgs {
  dir: string;
  json?: boolean;
  backend?: string;
}

function checkBackend(b: string | undefined): BackendName {
  if (b === undefined) return 'wasm';
  if (b !== 'wasm' && b !== 'cpu')
    throw new UsageError(`--backend: unknown backend '${b}'. Use wasm or cpu.`);
  return b;
}

function readSettings(dir: string): CalcRunSettings | null {
  const file = join(dir, RUN_FILE);
  if (!existsSync(file)) return null;
  let s: CalcRunSettings;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as CalcRunSettings;
  } catch (e) {
    throw new UsageError(`${file} is not valid JSON (${(e as Error).message}).`);
  }
  if (s.format !== RUN_FORMAT || !READABLE_VERSIONS.includes(s.formatVersion)) {
    throw new UsageError(
      `${file} is not a calculator run of format version ${READABLE_VERSIONS.join(' or ')}; use another --out directory.`,
    );
  }
  return s;
}

/** Which variants the flags ask for: both unless exactly one flag is given. */
export function variantsOf(args: Pick<CalcTrainArgs, 'with-calculator' | 'baseline'>): CalcVariant[] {
  const calc = args['with-calculator'] === true;
  const base = args.baseline === true;
  if (calc === base) return ['calculator', 'baseline'];
  return calc ? ['calculator'] : ['baseline'];
}

export function settingsOf(args: CalcTrainArgs): CalcRunSettings {
  return {
    format: RUN_FORMAT,
    formatVersion: RUN_VERSION,
    task: {
      splitSeed: checkInt(args['split-seed'] ?? 2025, '--split-seed', 0),
      testPerSubtask: checkInt(args['test-per-subtask'] ?? 200, '--test-per-subtask', 1, 100_000),
      nonArithShare: checkNumber(
        args['non-arith-share'] ?? DEFAULT_NON_ARITH_SHARE,
        '--non-arith-share',
        0,
        0.95,
      ),
    },
    host: { hidden: checkInt(args.hidden ?? 64, '--hidden', 4, 4096) },
    train: {
      steps: checkInt(args.steps ?? DEFAULT_TRAIN.steps, '--steps', 1),
      batchSize: checkInt(args.batch ?? DEFAULT_TRAIN.batchSize, '--batch', 1, 65_536),
      learningRate: checkNumber(args.lr ?? DEFAULT_TRAIN.learningRate, '--lr', 0, 10),
      teacherSteps: checkInt(args['teacher-steps'] ?? DEFAULT_TRAIN.teacherSteps, '--teacher-steps', 0),
      auxWeight: DEFAULT_TRAIN.auxWeight,
      gatePenalty: DEFAULT_TRAIN.gatePenalty,
      gateMargin: DEFAULT_TRAIN.gateMargin,
      decayFraction: DEFAULT_TRAIN.decayFraction,
      timeBudgetMinutes: checkNumber(args['time-budget'] ?? 15, '--time-budget', 0),
    },
  };
}

const modelDir = (dir: string, variant: CalcVariant, seed: number) => join(dir, variant, `seed-${seed}`);

/** Train the requested variants and seeds into `out`; returns the exit code. */
export async function calcTrain(
  args: CalcTrainArgs,
  log: (s: string) => unknown = (s) => process.stderr.write(s),
): Promise<number> {
  if (!args.out) throw new UsageError('--out: give the run directory to write the models into.');
  const dir = resolve(args.out);
  const seeds = parseSeeds(args.seeds ?? '0..2');
  const variants = variantsOf(args);
  const settings = settingsOf(args);
  const backend = checkBackend(args.backend);
  const existing = readSettings(dir);
  if (existing && existing.formatVersion !== RUN_VERSION) {
    throw new UsageError(
      `${join(dir, RUN_FILE)} holds models of an earlier trainer (format version ${existing.formatVersion}); ` +
        `'nalm calc eval' still reads it, but train into another --out directory.`,
    );
  }
  if (existing && JSON.stringify(existing) !== JSON.stringify(settings)) {
    throw new UsageError(
      `${join(dir, RUN_FILE)} was written with other settings (${JSON.stringify(existing.train)}, ` +
        `${JSON.stringify(existing.task)}); use the same flags or another --out directory.`,
    );
  }
  ensureDir(dir);
  // One trainer per directory: a second one would train the same seeds again.
  const lock = lockStore(dir, {
    command: commandLine(),
    onStale: (m) => log(`nalm calc train: ${m}\n`),
  });
  try {
    await initBackend(backend);
    writeFileAtomic(join(dir, RUN_FILE), `${JSON.stringify(settings, null, 2)}\n`);
    const task = createTask(settings.task);
    const t = settings.train;
    for (const seed of seeds) {
      for (const variant of variants) {
        const md = modelDir(dir, variant, seed);
        if (existsSync(join(md, 'train.json'))) {
          if (!args.quiet) log(`${variant} seed ${seed}: already trained, skipped\n`);
          continue;
        }
        const model = buildHostModel({
          withCalculator: variant === 'calculator',
          seed,
          hidden: settings.host.hidden,
        });
        const summary: TrainSummary = await trainHost(model, {
          task,
          seed,
          steps: t.steps,
          batchSize: t.batchSize,
          learningRate: t.learningRate,
          teacherSteps: t.teacherSteps,
          auxWeight: t.auxWeight,
          gatePenalty: t.gatePenalty,
          gateMargin: t.gateMargin,
          decayFraction: t.decayFraction,
          timeBudgetMs: t.timeBudgetMinutes * 60_000,
          progressEvery: Math.max(1, Math.round(t.steps / 10)),
          onProgress: args.quiet
            ? undefined
            : (p) =>
                log(
                  `${variant} seed ${seed}: step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} ` +
                    `(${(p.elapsedMs / 1000).toFixed(0)} s)\n`,
                ),
        });
        await saveModel(model, md);
        // train.json marks the seed as done: written whole or not at all.
        writeFileAtomic(
          join(md, 'train.json'),
          `${JSON.stringify({ variant, seed, backend, ...summary }, null, 2)}\n`,
        );
        model.dispose();
        if (!args.quiet) {
          log(
            `${variant} seed ${seed}: ${summary.steps} steps in ${(summary.wallMs / 1000).toFixed(1)} s` +
              `${summary.stoppedByBudget ? ' (stopped by the time budget)' : ''}\n`,
          );
        }
      }
    }
    return 0;
  } finally {
    lock.release();
  }
}

// ---------------------------------------------------------------------------------------------

export interface CalcModelResult {
  variant: CalcVariant;
  seed: number;
  trainSteps: number;
  trainSeconds: number;
  subtasks: SubtaskResult[];
  /** Mean gate value over arithmetic / non-arithmetic test inputs (calculator only). */
  gateArithmetic: number | null;
  /** Mean gate value over the digits of arithmetic test inputs, where the target opens it. */
  gateArithmeticDigits: number | null;
  gateNonArithmetic: number | null;
}

export interface CalcRow {
  subtask: string;
  arithmetic: boolean;
  /** Per variant: pooled over seeds, with the Wilson 95% interval, and the worst seed. */
  variants: Partial<
    Record<
      CalcVariant,
      {
        correct: number;
        n: number;
        mean: number;
        lower: number;
        upper: number;
        minSeed: number;
        perSeed: number[];
      }
    >
  >;
  /** Calculator: share of items whose operands and operator were all read right, and operator only. */
  operands: number | null;
  operator: number | null;
}

export interface CalcEvaluation {
  dir: string;
  settings: CalcRunSettings;
  models: CalcModelResult[];
  rows: CalcRow[];
  /** Models that could not be read (corrupt or truncated files): left out, with the file and why. */
  skipped: { variant: CalcVariant; seed: number; file: string; reason: string }[];
}

/** Load one trained model, or say which of its files is unreadable and why. */
async function loadTrained(
  md: string,
): Promise<
  | { ok: true; train: TrainSummary; model: Awaited<ReturnType<typeof loadModel>> }
  | { ok: false; file: string; reason: string }
> {
  const read = (name: string): { ok: true; value: unknown } | { ok: false; file: string; reason: string } => {
    const file = join(md, name);
    try {
      return { ok: true, value: JSON.parse(readFileSync(file, 'utf8')) };
    } catch (e) {
      return { ok: false, file, reason: printable((e as Error).message) };
    }
  };
  const train = read('train.json');
  if (!train.ok) return train;
  const t = train.value as Partial<TrainSummary> | null;
  if (typeof t?.steps !== 'number' || typeof t.wallMs !== 'number')
    return { ok: false, file: join(md, 'train.json'), reason: 'not a training summary (steps, wallMs)' };
  const spec = read('model.json');
  if (!spec.ok) return spec;
  try {
    return { ok: true, train: t as TrainSummary, model: await loadModel(md) };
  } catch (e) {
    // model.json parsed, so what failed is its content or the weights it points to.
    return { ok: false, file: join(md, 'weights.bin'), reason: printable((e as Error).message) };
  }
}

function meanGate(
  results: SubtaskResult[],
  arithmetic: boolean,
  which: 'meanGate' | 'meanGateOnDigits' = 'meanGate',
): number | null {
  const rs = results.filter((r) => r.arithmetic === arithmetic && r[which] !== null);
  const n = rs.reduce((a, r) => a + r.n, 0);
  return rs.length === 0 || n === 0 ? null : rs.reduce((a, r) => a + r[which]! * r.n, 0) / n;
}

/** Evaluate every model in a run directory on its test split. */
export async function evaluateRun(dirArg: string, backend: BackendName = 'wasm'): Promise<CalcEvaluation> {
  const dir = resolve(dirArg);
  if (!existsSync(dir))
    throw new UsageError(`${dir}: no such directory. Give a directory written by 'nalm calc train'.`);
  const settings = readSettings(dir);
  if (!settings)
    throw new UsageError(`${dir} has no ${RUN_FILE}; give a directory written by 'nalm calc train'.`);
  await initBackend(backend);
  const task = createTask(settings.task);
  const models: CalcModelResult[] = [];
  const skipped: CalcEvaluation['skipped'] = [];
  for (const variant of CALC_VARIANTS) {
    const vdir = join(dir, variant);
    if (!existsSync(vdir)) continue;
    const seeds = readdirSync(vdir)
      .map((f) => /^seed-(\d+)$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null && existsSync(join(vdir, m[0], 'train.json')))
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const seed of seeds) {
      const md = modelDir(dir, variant, seed);
      // One unreadable seed is reported and left out; the others are still evaluated.
      const loaded = await loadTrained(md);
      if (!loaded.ok) {
        skipped.push({ variant, seed, file: loaded.file, reason: loaded.reason });
        continue;
      }
      const { train, model } = loaded;
      const subtasks = evaluateHost(model, task);
      model.dispose();
      models.push({
        variant,
        seed,
        trainSteps: train.steps,
        trainSeconds: train.wallMs / 1000,
        subtasks,
        gateArithmetic: meanGate(subtasks, true),
        gateArithmeticDigits: meanGate(subtasks, true, 'meanGateOnDigits'),
        gateNonArithmetic: meanGate(subtasks, false),
      });
    }
  }
  if (models.length === 0 && skipped.length > 0)
    throw new UsageError(
      `${dir}: no model could be read (${skipped.map((s) => `${s.file}: ${s.reason}`).join('; ')}). ` +
        `Delete the broken seed directories and run 'nalm calc train --out ${dirArg}' again to retrain them.`,
    );
  if (models.length === 0)
    throw new UsageError(`${dir} holds no trained model yet; run 'nalm calc train --out ${dirArg}'.`);
  const names = models[0]!.subtasks.map((s) => s.subtask);
  const rows: CalcRow[] = names.map((subtask, i) => {
    const row: CalcRow = {
      subtask,
      arithmetic: models[0]!.subtasks[i]!.arithmetic,
      variants: {},
      operands: null,
      operator: null,
    };
    for (const variant of CALC_VARIANTS) {
      const ms = models.filter((m) => m.variant === variant);
      if (ms.length === 0) continue;
      const rs = ms.map((m) => m.subtasks[i]!);
      const correct = rs.reduce((a, r) => a + r.correct, 0);
      const n = rs.reduce((a, r) => a + r.n, 0);
      const perSeed = rs.map((r) => r.correct / r.n);
      row.variants[variant] = { correct, n, ...wilson(correct, n), minSeed: Math.min(...perSeed), perSeed };
      if (variant === 'calculator' && row.arithmetic) {
        row.operands = rs.reduce((a, r) => a + (r.operandsCorrect ?? 0), 0) / n;
        row.operator = rs.reduce((a, r) => a + (r.operatorCorrect ?? 0), 0) / n;
      }
    }
    return row;
  });
  return { dir, settings, models, rows, skipped };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;

/** The markdown report of an evaluation. */
export function formatCalcEvaluation(ev: CalcEvaluation): string {
  const has = (v: CalcVariant) => ev.models.some((m) => m.variant === v);
  const seedsOf = (v: CalcVariant) =>
    ev.models
      .filter((m) => m.variant === v)
      .map((m) => m.seed)
      .join(', ');
  const lines: string[] = [];
  lines.push(`# Gated calculator: exact match per subtask (${ev.dir})`, '');
  for (const v of CALC_VARIANTS) if (has(v)) lines.push(`- ${v}: seeds ${seedsOf(v)}`);
  lines.push(
    `- test items per subtask and seed: up to ${ev.settings.task.testPerSubtask} (split seed ${ev.settings.task.splitSeed}); ` +
      'accuracy pooled over seeds with Wilson 95% intervals; "worst seed" is the lowest per-seed accuracy',
    '',
  );
  const header = ['subtask', 'n'];
  if (has('calculator'))
    header.push('calculator % [95% CI]', 'worst seed %', 'operands read %', 'operator read %');
  if (has('baseline')) header.push('baseline % [95% CI]', 'worst seed %');
  lines.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ':---' : '---:')).join('|')}|`);
  for (const r of ev.rows) {
    const cells = [r.subtask, String(Object.values(r.variants)[0]?.n ?? 0)];
    const c = r.variants.calculator;
    if (has('calculator') && c) {
      cells.push(
        `${pct(c.mean)} [${pct(c.lower)}, ${pct(c.upper)}]`,
        pct(c.minSeed),
        r.operands === null ? '—' : pct(r.operands),
        r.operator === null ? '—' : pct(r.operator),
      );
    }
    const b = r.variants.baseline;
    if (has('baseline') && b) cells.push(`${pct(b.mean)} [${pct(b.lower)}, ${pct(b.upper)}]`, pct(b.minSeed));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
  if (has('calculator')) {
    lines.push(
      'Mean gate value (calculator models) on arithmetic test inputs (over their digits, where the ' +
        'result is meant to enter, and over all their tokens) and on non-arithmetic ones (all tokens):',
      '',
    );
    for (const m of ev.models.filter((x) => x.variant === 'calculator')) {
      lines.push(
        `- seed ${m.seed}: arithmetic digits ${m.gateArithmeticDigits?.toFixed(4)}, all tokens ` +
          `${m.gateArithmetic?.toFixed(4)}; non-arithmetic ${m.gateNonArithmetic?.toFixed(4)}`,
      );
    }
    lines.push('');
  }
  lines.push('Training (steps, wall time):', '');
  for (const m of ev.models)
    lines.push(`- ${m.variant} seed ${m.seed}: ${m.trainSteps} steps, ${m.trainSeconds.toFixed(1)} s`);
  const arith = ARITH_SUBTASKS.map((s) => s.name);
  if (has('calculator')) {
    const worst = Math.min(
      ...ev.rows.filter((r) => arith.includes(r.subtask)).map((r) => r.variants.calculator?.minSeed ?? 0),
    );
    lines.push('', `Worst arithmetic subtask × seed with the calculator: ${pct(worst)}%.`);
  }
  return `${lines.join('\n')}\n`;
}

export async function calcEval(
  args: CalcEvalArgs,
  out: (s: string) => unknown = (s) => process.stdout.write(s),
): Promise<number> {
  const ev = await evaluateRun(args.dir, checkBackend(args.backend));
  out(args.json ? `${JSON.stringify(ev, null, 2)}\n` : formatCalcEvaluation(ev));
  for (const s of ev.skipped) {
    process.stderr.write(
      `nalm calc eval: ${s.file}: cannot read it (${s.reason}); ${s.variant} seed ${s.seed} left out. ` +
        `Delete ${dirname(s.file)} and run 'nalm calc train --out ${args.dir} --seeds ${s.seed}' to retrain it.\n`,
    );
  }
  // The table is printed, but a run with unreadable models is not a clean result.
  return ev.skipped.length > 0 ? 2 : 0;
}

// ---------------------------------------------------------------------------------------------

/** Usage errors exit with code 2 and a message; anything else is an internal error (code 1). */
async function guarded(
  command: string,
  argv: Record<string, unknown>,
  fn: () => Promise<number>,
): Promise<void> {
  try {
    checkSingleValues(argv);
    process.exitCode = await fn();
  } catch (e) {
    if (
      e instanceof UsageError ||
      e instanceof ArithmeticInputError ||
      e instanceof LanguageModelInputError ||
      e instanceof StoreError
    ) {
      process.stderr.write(`nalm calc ${command}: ${printable((e as Error).message, 4000)}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(
        `nalm calc ${command}: internal error — please report it with the command you ran:\n`,
      );
      process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  }
}

/**
 * A yargs instance with only the calc command (`runCalcCli(['calc', 'eval', dir])`): for tests and
 * for running the command before it is registered in main.ts.
 */
export async function runCalcCli(argv: string[]): Promise<void> {
  const { default: yargs } = await import('yargs');
  await yargs(argv)
    .scriptName('nalm')
    .command(calcCommand)
    .demandCommand(1, 'Give a command: calc.')
    .strict()
    .help()
    .version(false)
    .parseAsync();
}

/** `nalm calc train|eval`, registered in main.ts with `.command(calcCommand)`. */
export const calcCommand: CommandModule = {
  command: 'calc <command>',
  describe:
    'The gated calculator on BIG-bench-style arithmetic questions: train, then evaluate; pretrain its transformer host',
  builder: (y: Argv) =>
    y
      .command(
        'train',
        'Train the host with and/or without the gated calculator, same seeds',
        (yy) =>
          yy
            .option('out', {
              type: 'string',
              demandOption: true,
              describe: 'Run directory (created; resumes)',
            })
            .option('seeds', { type: 'string', describe: "Seeds: '0..2', '7' or '1,2,5' [default: 0..2]" })
            .option('with-calculator', { type: 'boolean', describe: 'Only the host with the calculator' })
            .option('baseline', { type: 'boolean', describe: 'Only the host without the calculator' })
            .option('steps', { type: 'number', describe: `Training steps [default: ${DEFAULT_TRAIN.steps}]` })
            .option('batch', { type: 'number', describe: `Batch size [default: ${DEFAULT_TRAIN.batchSize}]` })
            .option('lr', {
              type: 'number',
              describe: `Adam learning rate [default: ${DEFAULT_TRAIN.learningRate}]`,
            })
            .option('teacher-steps', {
              type: 'number',
              describe: `Steps with teacher-forced operands [default: ${DEFAULT_TRAIN.teacherSteps}]`,
            })
            .option('time-budget', {
              type: 'number',
              describe: 'Minutes of training per model at most [default: 15]',
            })
            .option('hidden', { type: 'number', describe: 'Hidden width of the host [default: 64]' })
            .option('split-seed', {
              type: 'number',
              describe: 'Seed of the train/test split [default: 2025]',
            })
            .option('test-per-subtask', { type: 'number', describe: 'Test items per subtask [default: 200]' })
            .option('non-arith-share', {
              type: 'number',
              describe: `Share of copy/count inputs in training [default: ${DEFAULT_NON_ARITH_SHARE}]`,
            })
            .option('backend', { type: 'string', describe: 'tfjs backend: wasm or cpu [default: wasm]' })
            .option('quiet', { type: 'boolean', describe: 'No progress output' })
            .example('$0 calc train --seeds 0..2 --out results/calc', 'both variants, three seeds'),
        (a) => guarded('train', a, () => calcTrain(a as unknown as CalcTrainArgs)),
      )
      .command(
        'eval <dir>',
        'Exact match per subtask with Wilson CIs, operand decoding, gate values',
        (yy) =>
          yy
            .positional('dir', { type: 'string', describe: 'A directory written by `nalm calc train`' })
            .option('json', { type: 'boolean', describe: 'Machine-readable output' })
            .option('backend', { type: 'string', describe: 'tfjs backend: wasm or cpu [default: wasm]' }),
        (a) => guarded('eval', a, () => calcEval(a as unknown as CalcEvalArgs)),
      )
      .command(
        'pretrain',
        'Pretrain the transformer language model that hosts the calculator (State of the Union corpus)',
        (yy) =>
          yy
            .option('out', {
              type: 'string',
              demandOption: true,
              describe: 'Directory of the model: lm.json, tokenizer.json, the checkpoint',
            })
            .option('steps', {
              type: 'number',
              describe: `Training steps [default: ${DEFAULT_PRETRAIN.steps}; on --resume: the run's]`,
            })
            .option('layers', {
              type: 'number',
              describe: `Transformer blocks [default: ${DEFAULT_LM.layers}]`,
            })
            .option('dim', { type: 'number', describe: `Model width [default: ${DEFAULT_LM.dim}]` })
            .option('heads', { type: 'number', describe: `Attention heads [default: ${DEFAULT_LM.heads}]` })
            .option('context', {
              type: 'number',
              describe: `Context length in characters [default: ${DEFAULT_LM.context}]`,
            })
            .option('batch', {
              type: 'number',
              describe: `Windows per step [default: ${DEFAULT_PRETRAIN.batchSize}]`,
            })
            .option('lr', {
              type: 'number',
              describe: `Peak learning rate (AdamW, warm-up then cosine) [default: ${DEFAULT_PRETRAIN.learningRate}]`,
            })
            .option('seed', {
              type: 'number',
              describe: 'Seed of the initial weights and the batches [default: 0]',
            })
            .option('resume', { type: 'boolean', describe: 'Continue the run in --out from its checkpoint' })
            .option('checkpoint-every', {
              type: 'number',
              describe: `Steps between checkpoints [default: ${CHECKPOINT_EVERY}]`,
            })
            .option('eval-tokens', {
              type: 'string',
              describe: `Held-out characters for the final perplexity (evenly spaced windows), or 'all' [default: ${FINAL_EVAL_TOKENS}]`,
            })
            .option('backend', { type: 'string', describe: 'tfjs backend: wasm or cpu [default: wasm]' })
            .option('quiet', { type: 'boolean', describe: 'No progress output' })
            .example('$0 calc pretrain --out results/lm', 'the default host (about 40 minutes on 2 cores)')
            .example('$0 calc pretrain --out results/lm --resume', 'continue after an interruption')
            .example('$0 calc pretrain --out /tmp/lm --steps 20', 'a smoke run (seconds)'),
        (a) => guarded('pretrain', a, () => calcPretrain(a as unknown as CalcPretrainArgs)),
      )
      .command(
        'igc-train',
        'Insert the calculator into a pretrained, frozen host after block k and train it; train the adapter baseline alike',
        (yy) =>
          yy
            .option('host', {
              type: 'string',
              describe:
                "Directory of the pretrained host ('nalm calc pretrain --out DIR'); on --resume: the run's",
            })
            .option('out', {
              type: 'string',
              demandOption: true,
              describe: 'Run directory (created; --resume continues it)',
            })
            .option('seeds', { type: 'string', describe: "Seeds: '0..2', '7' or '1,2,5' [default: 0..2]" })
            .option('steps', {
              type: 'number',
              describe: `Training steps per module [default: ${DEFAULT_IGC_TRAIN.steps}]`,
            })
            .option('layer', {
              type: 'number',
              describe: 'Insert after this many blocks (0 = the embeddings) [default: the middle, ⌊L/2⌋]',
            })
            .option('batch', {
              type: 'number',
              describe: `Rows per step [default: ${DEFAULT_IGC_TRAIN.batchSize}]`,
            })
            .option('lr', {
              type: 'number',
              describe: `Peak learning rate (AdamW, warm-up then cosine) [default: ${DEFAULT_IGC_TRAIN.learningRate}]`,
            })
            .option('with-calculator', { type: 'boolean', describe: 'Only the calculator' })
            .option('baseline', { type: 'boolean', describe: 'Only the adapter baseline' })
            .option('resume', { type: 'boolean', describe: 'Continue the run in --out' })
            .option('checkpoint-every', {
              type: 'number',
              describe: `Steps between checkpoints [default: ${IGC_CHECKPOINT_EVERY}]`,
            })
            .option('split-seed', {
              type: 'number',
              describe: 'Seed of the train/test split [default: 2025]',
            })
            .option('test-per-subtask', { type: 'number', describe: 'Test items per subtask [default: 200]' })
            .option('backend', { type: 'string', describe: 'tfjs backend: wasm or cpu [default: wasm]' })
            .option('quiet', { type: 'boolean', describe: 'No progress output' })
            .example(
              '$0 calc igc-train --host results/lm --out results/igc',
              'calculator and baseline, seeds 0..2',
            )
            .example('$0 calc igc-train --out results/igc --resume', 'continue after an interruption'),
        (a) => guarded('igc-train', a, () => igcTrain(a as unknown as IgcTrainArgs)),
      )
      .command(
        'igc-eval <dir>',
        'Calculator vs baseline: exact match per subtask by generation, read-out, gate, held-out perplexities',
        (yy) =>
          yy
            .positional('dir', { type: 'string', describe: "A directory written by 'nalm calc igc-train'" })
            .option('json', { type: 'boolean', describe: 'Machine-readable output' })
            .option('host', {
              type: 'string',
              describe: "The host's directory if it moved [default: the run's]",
            })
            .option('items', {
              type: 'number',
              describe: "Test items per subtask at most [default: the run's]",
            })
            .option('eval-tokens', {
              type: 'string',
              describe: `Held-out characters for the perplexities, or 'all' [default: ${IGC_EVAL_TOKENS}]`,
            })
            .option('backend', { type: 'string', describe: 'tfjs backend: wasm or cpu [default: wasm]' })
            .option('quiet', { type: 'boolean', describe: 'No progress output' }),
        (a) => guarded('igc-eval', a, () => igcEval(a as unknown as IgcEvalArgs)),
      )
      .demandCommand(1, 'Give a calc command: train, eval, pretrain, igc-train or igc-eval.'),
  handler: () => {},
};
