/**
 * Per-group summary of a benchmark cell (benchmark.md §5): success rate with its Wilson interval,
 * "solved at" (gamma) and sparsity error (beta) over the solved runs, each with a 95% interval and
 * the Student-t fallback of rule 1.
 *
 * Default mode reports the correct statistics; `paperCompat` reproduces the published stable-nalu
 * tables (rules 1–4 of §5's "Paper-compatible mode, exact rules").
 */
import { clampSparsity, fitBetaMean, SPARSITY_MAX } from './beta.js';
import { fitGammaMean, paperGammaMean, type FitResult } from './gamma.js';
import { median, tInterval } from './t-interval.js';
import { wilson } from './wilson.js';

export interface RunOutcome {
  solved: boolean;
  solvedAt: number | null;
  sparsityError: number | null;
}

export interface Estimate {
  mean: number;
  lower: number | null;
  upper: number | null;
  method: 'wilson' | 'gamma' | 'beta' | 't' | 'none';
}

export interface GroupSummary {
  n: number;
  solved: number;
  /** Wilson score interval. */
  success: Estimate;
  /** Gamma fit (profile likelihood) or t fallback, over solved runs. */
  solvedAt: Estimate & { median: number | null };
  /** Beta fit on [0, 0.5] or t fallback, over solved runs. */
  sparsityError: Estimate;
  mode: 'correct' | 'paper-compat';
}

export interface SummarizeOptions {
  /** Reproduce the published analysis' quirks (benchmark.md §5, rules 1–4). */
  paperCompat?: boolean;
}

/** No solved runs: mean NaN and bounds NA, as the published tables write it. */
const NONE: Estimate = { mean: NaN, lower: null, upper: null, method: 'none' };

function fitted(fit: FitResult, method: 'gamma' | 'beta'): Estimate {
  return { mean: fit.mean, lower: fit.lower, upper: fit.upper, method };
}

function fallback(x: readonly number[], hi: number): Estimate {
  return { ...tInterval(x, 0, hi), method: 't' };
}

/** Solved at: gamma mean on [0, ∞) or, when it cannot be fitted, the t interval clamped to [0, ∞). */
function solvedAtEstimate(x: readonly number[], paper: boolean): Estimate {
  if (x.length === 0) return NONE;
  const fit = paper ? paperGammaMean(x) : fitGammaMean(x);
  return fit ? fitted(fit, 'gamma') : fallback(x, Infinity);
}

/** Sparsity error: beta mean on [0, 0.5] or the t interval of the clamped values, clamped to [0, 0.5]. */
function sparsityEstimate(raw: readonly number[], paper: boolean): Estimate {
  if (raw.length === 0) return NONE;
  const x = clampSparsity(raw);
  const fit = fitBetaMean(x, paper ? 'paper' : 'correct');
  return fit ? fitted(fit, 'beta') : fallback(x, SPARSITY_MAX);
}

/**
 * Summarises one group of runs. Solved runs without a solvedAt / sparsityError value are left out
 * of that statistic (they cannot occur in records this project writes).
 */
export function summarize(runs: readonly RunOutcome[], options: SummarizeOptions = {}): GroupSummary {
  const paper = options.paperCompat === true;
  const solvedRuns = runs.filter((r) => r.solved);
  const at = solvedRuns.map((r) => r.solvedAt).filter((v): v is number => v !== null && !Number.isNaN(v));
  const sparsity = solvedRuns
    .map((r) => r.sparsityError)
    .filter((v): v is number => v !== null && !Number.isNaN(v));

  const w = wilson(solvedRuns.length, runs.length);
  const success: Estimate =
    runs.length === 0 ? NONE : { mean: w.mean, lower: w.lower, upper: w.upper, method: 'wilson' };

  return {
    n: runs.length,
    solved: solvedRuns.length,
    success,
    solvedAt: { ...solvedAtEstimate(at, paper), median: median(at) },
    sparsityError: sparsityEstimate(sparsity, paper),
    mode: paper ? 'paper-compat' : 'correct',
  };
}
