/**
 * The Neural Status Register tasks (benchmark.md §7) as a task kind: `NsrRunConfig` cells; float64
 * configurations train on the fused plain-JS trainer one replica per batch (replicas are
 * independent loops there, and a batch of one is stored as soon as it finishes), float32 ones on
 * the batched tfjs trainer, up to `maxReplicas` sharing an `nsrBatchKey`.
 */
import type { NsrRecord, NsrRunConfig } from '../nsr/config.js';
import { nsrConfigKey, validateNsrRun } from '../nsr/config.js';
import { trainNsrFloat64 } from '../nsr/float64.js';
import type { NumericType } from '../nsr/resolution.js';
import { NsrTaskError } from '../nsr/tasks.js';
import type { NsrReplica, NsrTrainProgress } from '../nsr/trainer.js';
import { nsrBatchKey, trainNsrReplicas } from '../nsr/trainer.js';
import type { BatchBase, Cell, TaskKind } from './kind.js';

/** A batch of NSR-task replicas; `engine` is the numeric type (and so the trainer). */
export interface NsrBatch extends BatchBase {
  kind: 'nsr';
  replicas: NsrReplica[];
  engine: NumericType;
}

/** Most replicas in one float32 (tfjs) batch unless the sweep's options say otherwise. */
export const NSR_MAX_REPLICAS = 120;

export interface NsrPlanContext {
  /** Most replicas in one float32 batch (default 120; float64 batches hold one). */
  maxReplicas?: number | undefined;
  /** Batches that run at once (the workers): float32 batches are split until each has one. */
  parallel: number;
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * An epoch's cost relative to the NAU gate's, for progress and ETAs only: per-row tanh per operand
 * pair (NSR), 20 sigmoids (MLP). Measured on piecewise in float64 (nsr-piecewise-speed.ts: NSR with
 * R = 10 about 4×, the MLP about 5× the NAU gate); other tasks keep roughly the same order.
 */
export function nsrEpochCost(c: NsrRunConfig): number {
  return c.model === 'nsr' ? 0.4 + 0.4 * (c.redundancy ?? 1) : c.model === 'mlp' ? 5 : 1;
}

export const nsrKind: TaskKind<NsrRunConfig, NsrRecord, NsrBatch, NsrTrainProgress, NsrPlanContext, object> =
  {
    name: 'nsr',
    parse(raw) {
      if (!isObject(raw) || !isObject(raw.task))
        throw new NsrTaskError('an NSR run configuration is an object with a task object.');
      return validateNsrRun(raw as unknown as NsrRunConfig);
    },
    key: nsrConfigKey,
    work(c) {
      return { iterations: c.epochs, weighted: c.epochs * nsrEpochCost(c) };
    },
    plan(cells: readonly Cell<NsrRunConfig>[], ctx) {
      const groups = new Map<string, NsrReplica[]>();
      for (const cell of cells) {
        const k = `${cell.config.numeric}|${nsrBatchKey(cell.config)}`;
        const g = groups.get(k);
        if (g) g.push({ config: cell.config, seed: cell.seed });
        else groups.set(k, [{ config: cell.config, seed: cell.seed }]);
      }
      const batches: NsrBatch[] = [];
      for (const group of groups.values()) {
        const engine = group[0]!.config.numeric;
        const size = engine === 'float64' ? 1 : (ctx.maxReplicas ?? NSR_MAX_REPLICAS);
        for (let i = 0; i < group.length; i += size)
          batches.push({ kind: 'nsr', index: 0, count: 0, replicas: group.slice(i, i + size), engine });
      }
      // Every worker gets a batch: a float32 record does not depend on its batch mates (tested).
      while (batches.length < ctx.parallel) {
        let at = -1;
        for (let k = 0; k < batches.length; k++) {
          const n = batches[k]!.replicas.length;
          if (n > 1 && (at < 0 || n > batches[at]!.replicas.length)) at = k;
        }
        if (at < 0) break;
        const b = batches[at]!;
        const half = Math.ceil(b.replicas.length / 2);
        batches.splice(at + 1, 0, { ...b, replicas: b.replicas.slice(half) });
        b.replicas = b.replicas.slice(0, half);
      }
      const cost = (b: NsrBatch) => b.replicas.length * b.replicas[0]!.config.epochs;
      batches.sort((a, b) => cost(b) - cost(a)); // stable: equal costs keep grid order
      batches.forEach((b, i) => Object.assign(b, { index: i, count: batches.length }));
      return batches;
    },
    train(batch, ctx) {
      const train = batch.engine === 'float64' ? trainNsrFloat64 : trainNsrReplicas;
      return train({ replicas: batch.replicas, onProgress: ctx.onProgress, shouldStop: ctx.shouldStop });
    },
  };
