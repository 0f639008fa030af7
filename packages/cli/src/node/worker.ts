/**
 * A worker thread of `nalm run --workers N`: trains one batch of replicas per task and returns its
 * records. Only the main thread writes the result store (one writer, no locks).
 */
import type { MessagePort } from 'node:worker_threads';
import type { BackendName } from '@nalm/units';
import { initBackend } from '@nalm/units';
import type { RunRecord } from '@nalm/bench';
import type { ReplicaSpec, TrainProgress } from '@nalm/bench';
import { trainReplicas } from '@nalm/bench';
import { fastTrainer } from '@nalm/bench';
import { loadKernels } from './kernels.js';

export interface WorkerTask {
  replicas: ReplicaSpec[];
  engine: 'fast' | 'tfjs';
  backend: BackendName;
  /** Int32Array view: [0] != 0 asks every worker to stop at its next evaluation. */
  stop: SharedArrayBuffer;
  /** Receives TrainProgress messages. */
  port: MessagePort;
  /** Modules to import first (e.g. ones that call registerModel for user models). */
  setupModules: string[];
}

let ready: Promise<void> | null = null;

async function prepare(task: WorkerTask): Promise<void> {
  for (const m of task.setupModules) await import(m);
  await initBackend(task.backend);
  if (task.engine === 'fast') loadKernels();
}

export default async function run(task: WorkerTask): Promise<RunRecord[] | null> {
  ready ??= prepare(task);
  await ready;
  const stop = new Int32Array(task.stop);
  const opts = {
    replicas: task.replicas,
    onProgress: (p: TrainProgress) => task.port.postMessage(p),
    shouldStop: () => Atomics.load(stop, 0) !== 0,
  };
  try {
    if (task.engine === 'fast') {
      if (!fastTrainer) throw new Error('the fused trainer is not available in this build');
      return await fastTrainer.train(opts);
    }
    return await trainReplicas(opts);
  } finally {
    task.port.close();
  }
}
