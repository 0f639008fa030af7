/**
 * Runs sweep batches of any task kind on a pool of worker threads (piscina), one batch per worker
 * at a time. The workers run the same code as this module: compiled JavaScript when installed, the
 * TypeScript sources (through tsx) in the workspace's tests.
 */
import { createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import type { BackendName } from '@nalm/units';
import type { StoreRecord } from '@nalm/bench';
import type { BatchExecutor, SweepBatch, SweepProgress } from '@nalm/bench';
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
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = fileURLToPath(new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url));
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--inspect'));
  if (fromSource) {
    // tsx is resolved from this package, not the working directory, and the workers read the
    // workspace's sources like their parent (the `@nalm/source` export condition).
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    execArgv.push('--conditions=@nalm/source', '--import', tsx);
  }
  const pool = new Piscina({
    filename,
    // Threads start as batches arrive: one pending batch starts one worker, not `workers` of them.
    minThreads: 0,
    maxThreads: opts.workers,
    execArgv,
    idleTimeout: 60_000,
  });
  const stop = new SharedArrayBuffer(4);
  return {
    async execute(batch: SweepBatch, onProgress: (p: SweepProgress) => void): Promise<StoreRecord[] | null> {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (p: SweepProgress) => onProgress(p));
      const task: WorkerTask = {
        batch,
        backend: opts.backend,
        stop,
        port: port2,
        setupModules: opts.setupModules ?? [],
      };
      try {
        return (await pool.run(task, { transferList: [port2] })) as StoreRecord[] | null;
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
