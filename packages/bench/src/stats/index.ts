/** Statistics of the benchmark (benchmark.md §5). */
export { summarize } from './summary.js';
export type { Estimate, GroupSummary, RunOutcome, SummarizeOptions } from './summary.js';
export { wilson, Z95 } from './wilson.js';
export { fitGammaMean, gammaMle, paperGammaMean, gammaNll, CHISQ95, GAMMA_MIN_SD } from './gamma.js';
export type { FitResult } from './gamma.js';
export { fitBetaMean, betaMle, clampSparsity, SPARSITY_MAX, SPARSITY_EPS, BETA_MIN_SD } from './beta.js';
export type { BetaMode } from './beta.js';
export { tInterval, mean, median, sd, variance } from './t-interval.js';
export type { Interval } from './t-interval.js';
