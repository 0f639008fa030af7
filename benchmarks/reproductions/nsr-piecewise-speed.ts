// Issue 18: epochs per CPU-second of the float64 trainer on the nsr-piecewise preset's models, and what
// that makes of a 500,000-epoch run. To compare two versions, run it in a checkout of each, alternately,
// on an idle machine (the figures drift between days and with load; only ratios within one run count):
//   node --conditions=@nalm/source --import tsx benchmarks/reproductions/nsr-piecewise-speed.ts \
//     [--op gt|eq] [--models nsr,mlp,nau-gate] [--epochs 2000] [--seed 0]
// It prints the record's training loss too: two versions that claim the same bits must print the same.
import { expandNsrPreset, getNsrPreset, trainFloat64Replica } from '@nalm/bench';
import { arg } from './nsr-piecewise-args.js';

const op = arg('op', 'gt');
const epochs = Number(arg('epochs', '2000'));
const seed = Number(arg('seed', '0'));
const configs = expandNsrPreset(getNsrPreset('nsr-piecewise')!);
for (const model of arg('models', 'nsr,mlp,nau-gate').split(',')) {
  const c = configs.find((k) => k.model === model && k.task.kind === 'piecewise' && k.task.op === op);
  if (!c) throw new Error(`nsr-piecewise has no ${model} on ${op}`);
  const cpu0 = process.cpuUsage().user;
  const { record } = trainFloat64Replica({ config: { ...c, epochs }, seed })!;
  const perCpuS = epochs / ((process.cpuUsage().user - cpu0) / 1e6);
  console.log(
    `${model}\t${op}\t${epochs} epochs\t${perCpuS.toFixed(0)} epochs/CPU-s\t500,000 epochs ≈ ${(500_000 / perCpuS / 60).toFixed(1)} CPU-min\ttrain loss ${record.trainLoss}`,
  );
}
