/**
 * A worker thread of `nalm run --workers N`: trains one batch of any task kind per task and returns
 * its records. Only the main thread writes the result store (one writer, no locks).
 */
import type { MessagePort } from 'node:worker_threads';
import type { BackendName } from '@nalm/units';
import { initBackend } from '@nalm/units';
import type { StoreRecord, SweepBatch, SweepProgress } from '@nalm/bench';
import { fastTrainer, parseBatch, trainBatch } from '@nalm/bench';
import { loadKernels } from './kernels.js';

export interface WorkerTask {
  /** The batch, as the sweep planned it (its `kind` picks the trainer). */
  batch: SweepBatch;
  backend: BackendName;
  /** Int32Array view: [0] != 0 asks every worker to stop at its next evaluation. */
  stop: SharedArrayBuffer;
  /** Receives progress messages (the kind's progress type). */
  port: MessagePort;
  /** Modules to import first (e.g. ones that call registerModel for user models). */
  setupModules: string[];
}

let ready: Promise<void> | null = null;

async function prepare(task: WorkerTask): Promise<void> {
  for (const m of task.setupModules) await import(m);
  await initBackend(task.backend);
}

export default async function run(task: WorkerTask): Promise<StoreRecord[] | null> {
  ready ??= prepare(task);
  await ready;
  // Once (idempotent), for tfjs batches too: the generic trainer draws its batches with the kernels.
  if (task.batch.kind === 'static') loadKernels();
  const stop = new Int32Array(task.stop);
  try {
    // The message is a boundary: parse each configuration once (the trainer then trusts it).
    return await trainBatch(parseBatch(task.batch), {
      onProgress: (p: SweepProgress) => task.port.postMessage(p),
      shouldStop: () => Atomics.load(stop, 0) !== 0,
      fast: fastTrainer,
    });
  } finally {
    task.port.close();
  }
}
