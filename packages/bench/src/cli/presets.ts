/** `nalm presets`: the named sweeps with their size. */
import { PRESETS, presetSize } from '../presets.js';

export function presetsCommand(json: boolean): number {
  const rows = PRESETS.map((p) => ({ ...p, size: presetSize(p) }));
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  for (const p of rows) {
    process.stdout.write(
      `${p.name}\n  ${p.description}\n  models: ${p.models.join(', ')}; ops: ${p.ops.join(', ')}\n` +
        `  ${p.size.configurations} configurations × ${p.seeds} seeds = ${p.size.runs.toLocaleString('en')} runs of ` +
        `${p.iterations.toLocaleString('en')} iterations (${p.size.seedIterations.toExponential(2)} seed-iterations), ` +
        `schedules ${p.schedules}\n\n`,
    );
  }
  return 0;
}
