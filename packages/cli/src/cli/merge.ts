/** `nalm merge`: combine result stores from several machines or shards into one. */
import { mergeStores } from '../store/index.js';
import { NALM_VERSION } from '@nalm/bench';
import { UsageError, skippedLineWarning } from './errors.js';
import { commandLine } from '../store/lock.js';

export interface MergeArgs {
  sources: string[];
  out?: string;
}

export function mergeCommand(args: MergeArgs): number {
  if (!args.out) throw new UsageError('--out DIR is required: the store to merge into (created if missing).');
  if (args.sources.length === 0)
    throw new UsageError('give at least one result store (or records .jsonl) to merge.');
  const r = mergeStores(args.sources, args.out, {
    nalmVersion: NALM_VERSION,
    lock: { command: commandLine(), onStale: (m) => process.stderr.write(`nalm merge: ${m}\n`) },
  });
  for (const p of r.problems) process.stderr.write(skippedLineWarning('nalm merge', p));
  for (const c of r.conflicts) {
    process.stderr.write(
      `nalm merge: conflict: configuration ${c.key} seed ${c.seed} differs between ${c.sources.join(' and ')} — kept the first\n`,
    );
  }
  process.stderr.write(
    `nalm merge: ${r.added} record(s) added to ${args.out}, ${r.identicalDuplicates} identical duplicate(s) skipped, ${r.conflicts.length} conflict(s).\n`,
  );
  return r.conflicts.length > 0 ? 3 : 0;
}
