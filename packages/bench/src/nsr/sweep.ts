/**
 * Configurations × seeds → batches of replicas → trainer → store. Cells already in the store are
 * skipped, so an interrupted run resumes where it stopped; a batch is stored in one write.
 */
import type { NsrRecord, NsrRunConfig } from './config.js';
import { nsrConfigKey, nsrRecordId, validateNsrRun } from './config.js';
import type { NsrReplica, NsrTrainProgress } from './trainer.js';
import { trainNsrFloat64 } from './float64.js';
import { nsrBatchKey, trainNsrReplicas } from './trainer.js';

export type NsrSweepEvent =
  | { type: 'plan'; cells: number; done: number; pending: number; batches: number }
  | { type: 'progress'; batch: number; batches: number; label: string; progress: NsrTrainProgress }
  | {
      type: 'batch-done';
      batch: number;
      batches: number;
      label: string;
      records: NsrRecord[];
      seconds: number;
    };

/** Where the sweep reads finished records and appends new ones (the CLI's is a file; see @nalm/cli). */
export interface NsrRecordSink {
  read(): { records: readonly NsrRecord[] };
  append(records: readonly NsrRecord[]): void;
}

export interface NsrSweepOptions {
  configs: readonly NsrRunConfig[];
  seeds: readonly number[];
  store: NsrRecordSink;
  /** Most replicas per float32 batch (default 120; float64 batches hold one). */
  maxReplicas?: number;
  onEvent?: (e: NsrSweepEvent) => void;
  shouldStop?: () => boolean;
}

export interface NsrSweepResult {
  trained: number;
  skipped: number;
  interrupted: boolean;
}

export async function runNsrSweep(opts: NsrSweepOptions): Promise<NsrSweepResult> {
  opts.configs.forEach(validateNsrRun);
  const have = new Set(opts.store.read().records.map((r) => nsrRecordId(r.key, r.seed)));
  const pending: NsrReplica[] = [];
  let skipped = 0;
  for (const config of opts.configs) {
    const key = nsrConfigKey(config);
    for (const seed of opts.seeds) {
      if (have.has(nsrRecordId(key, seed))) skipped++;
      else pending.push({ config, seed });
    }
  }
  const byKey = new Map<string, NsrReplica[]>();
  for (const r of pending) {
    const k = nsrBatchKey(r.config);
    byKey.set(k, [...(byKey.get(k) ?? []), r]);
  }
  const batches: NsrReplica[][] = [];
  for (const group of byKey.values()) {
    // float64 replicas train one after another anyway: a batch of one stores each record as it
    // finishes, so an interrupted run loses at most the replica in training.
    const max = group[0]!.config.numeric === 'float64' ? 1 : (opts.maxReplicas ?? 120);
    for (let i = 0; i < group.length; i += max) batches.push(group.slice(i, i + max));
  }
  opts.onEvent?.({
    type: 'plan',
    cells: pending.length + skipped,
    done: skipped,
    pending: pending.length,
    batches: batches.length,
  });
  let trained = 0;
  for (const [bi, batch] of batches.entries()) {
    const c = batch[0]!.config;
    const ops = [...new Set(batch.map((r) => r.config.task.op ?? ''))].filter(Boolean).join(',');
    const label = `${c.task.kind}${ops ? ` ${ops}` : ''} ${c.model}`;
    const started = Date.now();
    const train = c.numeric === 'float64' ? trainNsrFloat64 : trainNsrReplicas;
    const records = await train({
      replicas: batch,
      onProgress: (progress) =>
        opts.onEvent?.({ type: 'progress', batch: bi, batches: batches.length, label, progress }),
      shouldStop: opts.shouldStop,
    });
    if (records === null) return { trained, skipped, interrupted: true };
    opts.store.append(records);
    trained += records.length;
    opts.onEvent?.({
      type: 'batch-done',
      batch: bi,
      batches: batches.length,
      label,
      records,
      seconds: (Date.now() - started) / 1000,
    });
    if (opts.shouldStop?.()) return { trained, skipped, interrupted: bi < batches.length - 1 };
  }
  return { trained, skipped, interrupted: false };
}
