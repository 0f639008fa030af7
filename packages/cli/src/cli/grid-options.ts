/**
 * The flags that define a grid of runs (preset, models, operations, seeds and the task and training
 * settings): `nalm run` trains the grid, `nalm plan` sizes it, so both read it from one list.
 */
import type { Argv } from 'yargs';

export function gridOptions<T>(y: Argv<T>) {
  return y
    .option('preset', { type: 'string', describe: 'Named sweep (see `nalm presets`)' })
    .option('model', {
      type: 'string',
      describe:
        'Model(s), comma-separated: nmu, nau, nac-mul, nac, nalu, gated, linear, relu, relu6, nac-mul-sigma, ' +
        'nac-mul-nmu, nac-nalu, nac-nalu-separate, nau-gated, single-* (an unknown name lists them all)',
    })
    .option('op', {
      type: 'string',
      describe: 'Operation(s), comma-separated: add, sub, mul, div, squared, root',
    })
    .option('seeds', { type: 'string', describe: "Seeds: '0..99', '7' or '1,2,5'" })
    .option('iterations', { type: 'number', describe: 'Training iterations per run' })
    .option('input-size', { type: 'number', describe: 'Input size I [default: 100]' })
    .option('subset', { type: 'number', describe: 'Subset ratio [default: 0.25]' })
    .option('overlap', {
      type: 'number',
      describe: 'Overlap ratio, a fraction of the subset [default: 0.5]',
    })
    .option('subsets', { type: 'number', describe: 'Number of subsets [default: 2]' })
    .option('interp', {
      type: 'string',
      describe: "Interpolation range: '1,2' or '-6,-2,2,6' [default: 1,2]",
    })
    .option('extrap', { type: 'string', describe: 'Extrapolation range [default: 2,6]' })
    .option('simple', { type: 'boolean', describe: 'The simple variant (I = 4)' })
    .option('hidden', { type: 'number', describe: 'Hidden width [default: 2]' })
    .option('batch', { type: 'number', describe: 'Batch size [default: 128]' })
    .option('lr', { type: 'number', describe: 'Adam learning rate [default: 1e-3]' })
    .option('eval-every', { type: 'number', describe: 'Evaluate every N iterations [default: 1000]' })
    .option('schedule', {
      type: 'string',
      describe: "Sparsity schedule: paper, scaled, none or 'LAMBDA,START,END'",
    })
    .option('engine', {
      type: 'string',
      describe: 'auto (fused path where supported), fast or tfjs [default: auto]',
    })
    .option('max-replicas', {
      type: 'number',
      describe:
        'Most seeds trained in one tfjs batch [default: 100; NSR float32: 120] (fused-path batches: at most 10, fewer for long runs so that a kill loses little; NSR float64: 1)',
    });
}
