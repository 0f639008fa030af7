/** `nalm presets`: the named sweeps with their size (and, where measured, expected wall time). */
import { NSR_PRESETS, nsrPresetSize } from '@nalm/bench';
import { PRESETS, WALL_TIME_UNDER_LOAD, presetSize, presetWallTime } from '@nalm/bench';

/** Workers the wall-time estimate assumes (this machine's cores). */
const ESTIMATE_WORKERS = 2;

function formatDuration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function presetsCommand(json: boolean): number {
  const rows = PRESETS.map((p) => ({
    ...p,
    size: presetSize(p),
    expectedSeconds: presetWallTime(p, ESTIMATE_WORKERS),
  }));
  const nsr = NSR_PRESETS.map((p) => ({ ...p, size: nsrPresetSize(p) }));
  if (json) {
    process.stdout.write(`${JSON.stringify([...rows, ...nsr], null, 2)}\n`);
    return 0;
  }
  for (const p of rows) {
    const ranges = p.ranges ? ` × ${p.ranges.length} range pairs` : '';
    const wall =
      p.expectedSeconds === null
        ? ''
        : `  expected wall time on this machine with --workers ${ESTIMATE_WORKERS}: ~${formatDuration(p.expectedSeconds)} ` +
          `with both cores free, up to ~${formatDuration(p.expectedSeconds * WALL_TIME_UNDER_LOAD)} while other jobs share them ` +
          `(from the seed-iterations/s measured per model, SINGLE_MODULE_THROUGHPUT; the upper end from ` +
          `single-module-quick's measured run, WALL_TIME_UNDER_LOAD)\n`;
    process.stdout.write(
      `${p.name}\n  ${p.description}\n  models: ${p.models.join(', ')}; ops: ${p.ops.join(', ')}` +
        `${
          p.modelOps
            ? ` (${Object.entries(p.modelOps)
                .map(([m, o]) => `${m}: ${o.join(', ')} only`)
                .join('; ')})`
            : ''
        }\n` +
        `  ${p.size.configurations} configurations${ranges ? ` (${p.models.length} models × ${p.ops.length} ops${ranges})` : ''} × ${p.seeds} seeds = ${p.size.runs.toLocaleString('en')} runs of ` +
        `${p.iterations.toLocaleString('en')} iterations (${p.size.seedIterations.toExponential(2)} seed-iterations), ` +
        `schedules ${p.schedules}\n${wall}\n`,
    );
  }
  for (const p of nsr) {
    process.stdout.write(
      `${p.name}\n  ${p.description}\n  ${p.size.runs.toLocaleString('en')} runs, ` +
        `${p.epochs.toLocaleString('en')} epochs, ${p.numeric}; ${p.expected}\n\n`,
    );
  }
  return 0;
}
