/**
 * Published results as data: the numbers of a paper's table or figure, cell by cell, with where
 * they come from. Plain JSON-compatible objects, so a user's own file (`nalm report --compare
 * file.json`) has the same shape as the shipped tables (validated by `parsePublishedTable`).
 */
import type { Op } from '../tasks/static.js';

/** A published estimate with its 95% interval (bounds absent where the paper prints none). */
export interface PublishedEstimate {
  mean: number;
  lower?: number | null;
  upper?: number | null;
}

export interface PublishedCell {
  /** The registry model name that reproduces the paper's model (e.g. 'nmu'). */
  model: string;
  op: Op;
  /** Seeds behind the cell and how many were solved (the success interval is Wilson's on k/n). */
  n: number;
  solved: number;
  /** Solved at: median and mean [95% CI] (absent when no seed solved). */
  solvedAt?: PublishedEstimate & { median: number };
  /** Sparsity error at the best step: mean [95% CI], as the paper's analysis computed it. */
  sparsityError?: PublishedEstimate;
  /** A range pair or other task detail that tells this cell apart from others of the same model and op. */
  variant?: string;
}

export interface PublishedTable {
  /** Short name used with --compare, e.g. 'iclr2020-all'. */
  name: string;
  /** The paper. */
  paper: string;
  /** Which table or figure, as the paper (or its code) labels it. */
  source: string;
  /** Where the numbers were read from (a file in the authors' repository, or "figure"). */
  readFrom: string;
  /** The settings behind the numbers (seeds, iterations, task). */
  settings: string;
  /**
   * Task fields a measured configuration must have to be compared with this table (e.g.
   * `{ simple: true }`); fields not listed are not checked.
   */
  task?: Readonly<Record<string, unknown>>;
  /** The run length behind the numbers (runs of another length are compared, with a note). */
  iterations: number;
  /** Whether the solved-at and sparsity columns come from the paper's own (quirky) analysis. */
  analysis: 'paper-compat' | 'correct';
  cells: readonly PublishedCell[];
}
