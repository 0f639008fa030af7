/**
 * The `nalm` command line: `nalm run`, `report`, `merge`, `presets`, `calc`.
 * Usage mistakes (bad flags, unknown names, unreadable inputs) print what is wrong and how to fix
 * it, and exit with code 2; nothing already stored is touched.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  CsvFormatError,
  NALM_VERSION,
  NsrTaskError,
  StoreError,
  TaskConfigError,
  UnknownModelError,
  fastTrainer,
} from '@nalm/bench';
import { ReportInputError } from '../report/load.js';
import { loadKernels } from '../node/kernels.js';
import { UsageError, printable } from './errors.js';
import { checkSingleValues, prepareArgv } from './args.js';
import { calcCommand } from './calc.js';
import type { PlanArgs } from './plan.js';
import { planCommand, planOptions } from './plan.js';
import { gridOptions } from './grid-options.js';
import { presetsCommand } from './presets.js';
import type { ReportArgs } from './report.js';
import { REPORT_FORMATS, reportCommand } from './report.js';
import type { RunArgs } from './run.js';
import { runCommand } from './run.js';
import type { MergeArgs } from './merge.js';
import { mergeCommand } from './merge.js';
import type { NsrRunArgs } from './nsr.js';
import { isNsrRun, runNsr } from './nsr.js';

const USAGE_ERRORS = [
  UsageError,
  StoreError,
  TaskConfigError,
  CsvFormatError,
  ReportInputError,
  UnknownModelError,
  NsrTaskError,
];

async function guarded(
  command: string,
  argv: Record<string, unknown>,
  fn: () => Promise<number> | number,
): Promise<void> {
  try {
    checkSingleValues(argv, ['inputs', 'sources']);
    process.exitCode = await fn();
  } catch (e) {
    if (USAGE_ERRORS.some((cls) => e instanceof cls)) {
      // Messages may quote file contents: never let corrupt bytes reach the terminal raw.
      process.stderr.write(`nalm ${command}: ${printable((e as Error).message, 4000)}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`nalm ${command}: internal error — please report it with the command you ran:\n`);
      process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  loadKernels();
  // `nalm report … | head` closes stdout early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  await yargs(prepareArgv(argv))
    .scriptName('nalm')
    .usage('$0 <command> [options]\n\nThe extrapolation benchmark for neural arithmetic units.')
    .command(
      'run',
      'Train a preset or an explicit grid over many seeds into a result store, then report it',
      (y) =>
        gridOptions(y)
          .option('out', { type: 'string', describe: 'Result store directory [default: results/<preset>]' })
          .option('task', {
            type: 'string',
            choices: ['static', 'nsr-compare', 'nsr-piecewise', 'nsr-min', 'nsr-count'],
            describe: 'Task: static arithmetic, or a Neural Status Register task (runs its preset)',
          })
          .option('epochs', {
            type: 'number',
            describe: "NSR tasks: full-batch epochs per run [default: the preset's]",
          })
          .option('redundancy', {
            type: 'number',
            describe:
              "NSR tasks: the NSR's redundancy R, operand pairs compared in parallel (1: the reference's runs) [default: the preset's]",
          })
          .option('selection-penalty', {
            type: 'number',
            describe:
              "NSR tasks: weight of the NSR's selection-entropy regulariser (0: the reference's runs) [default: the preset's]",
          })
          .option('regularize-epoch', {
            type: 'number',
            describe:
              "NSR tasks: every model's NAU regulariser starts after this epoch (40000: the reference's) [default: the preset's]",
          })
          .option('selection-epoch', {
            type: 'number',
            describe:
              "NSR tasks: the NSR's selection penalty starts after this epoch [default: the preset's, else with the NAU regulariser]",
          })
          .option('backend', {
            type: 'string',
            describe: 'tfjs backend for the tfjs engine: wasm or cpu [default: wasm]',
          })
          .option('workers', {
            type: 'number',
            describe:
              'Worker threads training batches in parallel, at most one per core (started as batches need them) [default: number of cores]',
          })
          .option('shard', {
            type: 'string',
            describe: 'Train only shard K of N of the (configuration, seed) grid, K from 0 (e.g. 2/8)',
          })
          .option('time-limit', {
            type: 'string',
            describe:
              'Start no new batch after this long (45m, 2h, 1h30m): batches in flight finish and are stored, the report shows what is stored, exit code 75; the same command continues',
          })
          .option('report', {
            type: 'boolean',
            default: true,
            describe: 'Write the report when done (--no-report to skip)',
          })
          .option('quiet', { type: 'boolean', describe: 'No progress output' })
          .example('$0 run --preset quick', 'the headline result in about a minute on 2 cores')
          .example('$0 run --preset nsr-compare-quick', 'Neural Status Register vs an MLP on > and =')
          .example('$0 run --model nmu --op mul --seeds 0..9 --iterations 50000', 'an explicit grid'),
      (a) =>
        guarded('run', a, () =>
          isNsrRun(a) ? runNsr(a as unknown as NsrRunArgs) : runCommand(a as unknown as RunArgs, fastTrainer),
        ),
    )
    .command(
      'report <inputs..>',
      'Success rates with confidence intervals from result stores or a stable-nalu per-run CSV',
      (y) =>
        y
          .positional('inputs', {
            type: 'string',
            array: true,
            describe: 'Result store directories, records .jsonl or .csv files',
          })
          .option('paper-compat', {
            type: 'boolean',
            describe: "Reproduce the published analysis' statistics and thresholds",
          })
          .option('format', {
            type: 'string',
            describe: `Comma-separated: ${REPORT_FORMATS.join(', ')} [default: md]`,
          })
          .option('out', { type: 'string', describe: 'Write files into this directory instead of printing' })
          .option('from', {
            type: 'string',
            describe: 'Input kind: nalm or stable-nalu [default: by file extension]',
          })
          .option('compare', {
            type: 'string',
            describe:
              'Put published results beside the measured ones: a table name (iclr2020-table1, iclr2020-all, iclr2020-simple, iclr2020-gate) or a .json file',
          })
          .example('$0 report results/quick', 'print the markdown table')
          .example(
            '$0 report results/iclr2020 --compare iclr2020-table1',
            'published vs measured, with verdicts',
          )
          .example(
            '$0 report sft-last.csv --from stable-nalu --paper-compat --format csv',
            'the published summary',
          ),
      (a) => guarded('report', a, () => reportCommand(a as unknown as ReportArgs)),
    )
    .command(
      'merge <sources..>',
      'Combine result stores (shards, machines) into one; duplicates are detected, conflicts reported. ' +
        'Exit code 0: merged; 3: merged, but some records conflicted (the first source was kept); 2: bad input',
      (y) =>
        y
          .positional('sources', {
            type: 'string',
            array: true,
            describe: 'Result store directories or records .jsonl files',
          })
          .option('out', {
            type: 'string',
            describe: 'The store to merge into (created if missing)',
            demandOption: true,
          })
          .example('$0 merge shard-*/ --out results/all', 'after a cluster array job'),
      (a) => guarded('merge', a, () => mergeCommand(a as unknown as MergeArgs)),
    )
    .command(
      'presets',
      'List the presets with their size',
      (y) => y.option('json', { type: 'boolean', describe: 'Machine-readable output' }),
      (a) => guarded('presets', a, () => presetsCommand(a.json === true)),
    )
    .command(
      'plan',
      'Size and estimated wall time of a preset or grid (from a short calibration here), and the array size for a cluster',
      planOptions,
      (a) => guarded('plan', a, () => planCommand(a as unknown as PlanArgs, fastTrainer)),
    )
    .command(calcCommand)
    .demandCommand(1, 'Give a command: run, report, merge, presets, plan or calc.')
    .strict()
    .recommendCommands()
    .fail((msg, err) => {
      if (err && !msg) throw err;
      process.stderr.write(
        `nalm: ${printable(msg ?? err?.message ?? '', 4000)}\nRun \`nalm --help\` or \`nalm <command> --help\` for the options.\n`,
      );
      process.exit(2);
    })
    .help()
    .alias('h', 'help')
    .version(NALM_VERSION)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .parseAsync();
}

await main(hideBin(process.argv));
