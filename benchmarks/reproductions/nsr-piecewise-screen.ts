// Issue 18: does the piecewise NSR find its gate? A seed's outcome is sealed within ~10,000 epochs
// (nsr.md), so short runs screen many seeds: the preset's NSR configuration with `epochs` replaced
// (regulariser from the same fraction, 8% of the epochs), one seed at a time on the float64 trainer.
// "found" = training MAE < 1 at the end (failing seeds sit on plateaus at MAE 3–40); "reach" = the
// largest test magnitude 2^k up to which every magnitude is right (and the gate's own reach).
//   node --conditions=@nalm/source --import tsx benchmarks/reproductions/nsr-piecewise-screen.ts \
//     [--op gt|eq] [--redundancy R] [--selection-penalty λ] [--regularize-from 0.08]
//     [--selection-from F] [--seeds 0..9]
//     [--epochs 30000] [--uniform-selections]   (R and λ default to the preset's: nsr-piecewise-args.ts)
// --uniform-selections starts both operand selections at V = 0 (d ≡ 0 at init: no saturated row).
import { nsrDef } from '@nalm/units';
import { trainFloat64Replica } from '@nalm/bench';
import { parseSeeds } from '../../packages/cli/src/cli/args.js';
import { arg, piecewiseNsrConfig } from './nsr-piecewise-args.js';

const seeds = parseSeeds(arg('seeds', '0..9'));

if (process.argv.includes('--uniform-selections')) {
  const init = nsrDef.init;
  nsrDef.init = (param, ...rest) =>
    param.name === 'V1' || param.name === 'V2'
      ? new Float32Array(param.shape.reduce((a, b) => a * b, 1))
      : init(param, ...rest);
}
const config = piecewiseNsrConfig();
const { epochs, redundancy = 1, selectionPenalty = 0 } = config;
const op = config.task.op;
const out: string[] = [];
let found = 0;
let reached = 0;
const t0 = performance.now();
for (const seed of seeds) {
  const { record } = trainFloat64Replica({ config, seed })!;
  const loss = record.trainLoss;
  // The largest 2^k up to which every magnitude is right (null: not even the first).
  const reachOf = (ok: (p: (typeof record.points)[number]) => boolean) => {
    const first = record.points.findIndex((p) => !ok(p));
    return first < 0 ? record.points.at(-1)!.exponent : first > 0 ? record.points[first - 1]!.exponent : null;
  };
  const show = (k: number | null) => (k === null ? '-' : `2^${k}`);
  const reach = reachOf((p) => p.success);
  const gateReach = reachOf((p) => p.gateSuccess === true);
  const firstWrong = record.points.findIndex((p) => !p.success);
  if (loss < 1) found++;
  if (firstWrong < 0) reached++;
  out.push(`${seed}:${loss.toFixed(2)}/${show(reach)}/gate ${show(gateReach)}`);
  process.stderr.write(
    `  seed ${seed}: train MAE ${loss.toFixed(4)}, right to ${show(reach)}, gate right to ${show(gateReach)}\n`,
  );
}
console.log(
  `piecewise ${op}, R = ${redundancy}, NAU regulariser from epoch ${Math.floor(config.regularizeFrom * epochs)}, ` +
    `selection penalty ${selectionPenalty} from epoch ${Math.floor((config.selectionFrom ?? config.regularizeFrom) * epochs)}, ` +
    `${epochs} epochs${process.argv.includes('--uniform-selections') ? ', uniform selections' : ''}: ` +
    `found ${found}/${seeds.length}, right at every magnitude ${reached}/${seeds.length}  ${out.join(' ')}  (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
);
