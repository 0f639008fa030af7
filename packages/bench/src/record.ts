/**
 * The record: one per (configuration, seed). Everything a summary needs lives in the record, so
 * reports never reach back into training (data flows one way: task → trainer → records → report).
 */
import type { RunConfig } from './config.js';
import type { NsrRecord } from './nsr/config.js';

export const RECORD_VERSION = 1;

export interface EvalPoint {
  /** Iteration at which the evaluation ran (before that iteration's update). */
  step: number;
  /** MSE on the validation (interpolation) set. */
  interpolation: number;
  /** MSE on the test (extrapolation) set. */
  extrapolation: number;
  /** Sparsity error of the model at this step (units.md). */
  sparsityError: number;
}

/** A static-task record (task kind 'static': its lines carry no `kind` field). */
export interface RunRecord {
  v: typeof RECORD_VERSION;
  kind?: undefined;
  /** Stable hash of `config` (see configKey); with `seed` it identifies the record. */
  key: string;
  config: RunConfig;
  seed: number;
  /** Extrapolation MSE threshold of the success criterion for this configuration. */
  threshold: number;
  /** Evaluation curve, every `config.evalEvery` iterations including 0. */
  curve: EvalPoint[];
  /** Step with the lowest interpolation MSE, step 0 excluded; null if no evaluation after 0. */
  bestStep: number | null;
  /** Extrapolation MSE at the best step < threshold. */
  solved: boolean;
  /** First evaluation step whose extrapolation MSE < threshold; null if never. */
  solvedAt: number | null;
  /** Sparsity error at the best step. */
  sparsityError: number | null;
  /** Set when the replica's loss or parameters became non-finite; training stopped there. */
  diverged: { step: number; reason: string } | null;
  /** Iterations actually trained. */
  iterations: number;
}

/**
 * A record of any task kind, as the result store, `nalm merge` and the worker pool see it: one
 * envelope (`v`, `key`, `seed`, `config`; `kind` absent for the static task, `'nsr'` for the NSR
 * tasks) and the kind's own payload. See `kinds/`.
 */
export type StoreRecord = RunRecord | NsrRecord;

/** The task kind of a record (static records carry no `kind` field, so their lines stay as they were). */
export function recordKind(r: StoreRecord): 'static' | 'nsr' {
  return r.kind === 'nsr' ? 'nsr' : 'static';
}

/** Only the static-task records (a store may hold records of several task kinds). */
export function staticRecords(records: readonly StoreRecord[]): RunRecord[] {
  return records.filter((r): r is RunRecord => r.kind !== 'nsr');
}

/** Only the NSR-task records. */
export function nsrRecords(records: readonly StoreRecord[]): NsrRecord[] {
  return records.filter((r): r is NsrRecord => r.kind === 'nsr');
}
