/**
 * Runs sweep batches on a pool of worker threads (piscina), one batch per worker at a time. The
 * workers run the TypeScript sources through tsx, as the CLI does.
 */
import { MessageChannel } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { BackendName } from '@nalm/units';
import type { RunRecord } from '../record.js';
import type { BatchExecutor, SweepBatch } from '../sweep.js';
import type { TrainProgress } from '../train/replicas.js';
import type { WorkerTask } from './worker.js';

export interface WorkerPool {
  execute: BatchExecutor;
  /** Ask running batches to stop at their next evaluation. */
  stop(): void;
  close(): Promise<void>;
}

export function createWorkerPool(opts: {
  workers: number;
  backend: BackendName;
  setupModules?: string[];
}): WorkerPool {
  const filename = fileURLToPath(new URL('./worker.ts', import.meta.url));
  const pool = new Piscina({
    filename,
    minThreads: opts.workers,
    maxThreads: opts.workers,
    // The sources are TypeScript: every worker loads them through tsx, like the CLI itself.
    execArgv: [...process.execArgv.filter((a) => !a.startsWith('--inspect')), '--import', 'tsx'],
    idleTimeout: 60_000,
  });
  const stop = new SharedArrayBuffer(4);
  return {
    async execute(batch: SweepBatch, onProgress: (p: TrainProgress) => void): Promise<RunRecord[] | null> {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (p: TrainProgress) => onProgress(p));
      const task: WorkerTask = {
        replicas: batch.replicas,
        engine: batch.engine,
        backend: opts.backend,
        stop,
        port: port2,
        setupModules: opts.setupModules ?? [],
      };
      try {
        return (await pool.run(task, { transferList: [port2] })) as RunRecord[] | null;
      } finally {
        port1.close();
      }
    },
    stop() {
      Atomics.store(new Int32Array(stop), 0, 1);
    },
    async close() {
      await pool.destroy();
    },
  };
}
