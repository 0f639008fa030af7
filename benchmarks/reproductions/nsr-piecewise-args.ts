// The piecewise experiments' shared command line: the nsr-piecewise preset's NSR configuration for
// --op, with --epochs, --redundancy, --selection-penalty, --regularize-from and --selection-from
// (fractions of the epochs) replacing the preset's values (default: the preset's, except 30,000 epochs;
// the regulariser from the preset's fraction, 8%; the penalty with it).
import type { NsrRunConfig } from '@nalm/bench';
import { expandNsrPreset, getNsrPreset } from '@nalm/bench';

/** The value after `--name`, or the fallback. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

export function piecewiseNsrConfig(): NsrRunConfig {
  const op = arg('op', 'gt');
  const base = expandNsrPreset(getNsrPreset('nsr-piecewise')!).find(
    (c) => c.model === 'nsr' && c.task.op === op,
  );
  if (!base) throw new Error(`--op ${op}: use gt or eq.`);
  // --selection-penalty 0 runs without it (the reference): drop the field, as the preset would.
  const { selectionPenalty: presetPenalty, selectionFrom: presetFrom, ...reference } = base;
  const selectionPenalty = Number(arg('selection-penalty', String(presetPenalty ?? 0)));
  const from = arg('selection-from', presetFrom === undefined ? '' : String(presetFrom));
  const selectionFrom = from === '' ? undefined : Number(from);
  return {
    ...reference,
    epochs: Number(arg('epochs', '30000')),
    redundancy: Number(arg('redundancy', String(base.redundancy ?? 1))),
    ...(selectionPenalty > 0 ? { selectionPenalty } : {}),
    ...(selectionPenalty > 0 && selectionFrom !== undefined ? { selectionFrom } : {}),
    regularizeFrom: Number(arg('regularize-from', String(base.regularizeFrom))),
  };
}
