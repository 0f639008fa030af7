/**
 * A task kind: everything the generic pipeline (sweep, result store, worker pool, `--shard`,
 * `nalm merge`) needs to know about one family of tasks. The pipeline itself never looks inside a
 * configuration or a record's payload; it asks the kind.
 *
 * The contract, in the order a run uses it:
 * 1. `parse(raw)` at the boundary (CLI flags, a preset, an API call): checks everything once and
 *    returns the configuration downstream code trusts (no later stage validates it again).
 * 2. `key(config)`: the configuration's identity. A record is identified by (key, seed), a cell
 *    belongs to shard `shardOf(key, seed, N)`, and a stored (key, seed) is not trained again.
 * 3. `plan(cells, ctx)`: pending cells → batches (which cells may train together, how many, in
 *    what order). A record must depend only on its configuration and seed, never on its batch.
 * 4. `train(batch, ctx)`: one batch → one record per cell, or null when asked to stop. Runs in the
 *    main thread or on a worker (batches are plain data: structured-clone safe).
 * 5. Records are validated when written and read by the kind's decoder (`store/codec.ts`).
 */
import type { StoreRecord } from '../record.js';

export type KindName = 'static' | 'nsr';

/** One (configuration, seed) cell of a grid. */
export interface Cell<C> {
  config: C;
  seed: number;
}

/** What a batch of any kind carries; the kind's own batch type adds its replicas and engine. */
export interface BatchBase {
  kind: KindName;
  /** Position in the sweep's order and the number of batches (set by `plan`). */
  index: number;
  count: number;
}

/** How the sweep asks a kind to run a batch. */
export interface TrainContext<P> {
  onProgress?: (p: P) => void;
  /** Polled at the kind's progress points; true stops the batch (train returns null). */
  shouldStop?: () => boolean;
}

export interface TaskKind<C, R extends StoreRecord, B extends BatchBase, P, PlanCtx, TrainCtx> {
  readonly name: KindName;
  /** Validate a configuration once, at the boundary; throws a message naming the bad field. */
  parse(raw: unknown): C;
  /** 16 hex digits: the identity of the configuration (with the seed, of its record). */
  key(config: C): string;
  /** Seed-iterations (or epochs) one cell trains, and that work weighted by its relative cost. */
  work(config: C): { iterations: number; weighted: number };
  /** Pending cells → batches in the order they should run (index and count set). */
  plan(cells: readonly Cell<C>[], ctx: PlanCtx): B[];
  /** Train one batch: a record per replica in the batch's order, or null if stopped. */
  train(batch: B, ctx: TrainContext<P> & TrainCtx): Promise<R[] | null>;
}
