/**
 * Descriptive statistics with R's conventions and the Student-t fallback interval
 * (benchmark.md §5, rule 1): mean(x) ± |t_{0.025, n−1}| · sd/√n, clamped to the support.
 */
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { mean as ssMean, median as ssMedian, sampleVariance } from 'simple-statistics';

/** Arithmetic mean; NaN for an empty sample (R's mean(numeric(0))). */
export function mean(x: readonly number[]): number {
  return x.length === 0 ? NaN : ssMean(x as number[]);
}

/** Sample variance with the n − 1 denominator (R's var); NaN when n < 2. */
export function variance(x: readonly number[]): number {
  return x.length < 2 ? NaN : sampleVariance(x as number[]);
}

/** Sample standard deviation with the n − 1 denominator (R's sd); NaN when n < 2. */
export function sd(x: readonly number[]): number {
  return Math.sqrt(variance(x));
}

/** Median (mean of the two middle values for even n, as R's median); null for an empty sample. */
export function median(x: readonly number[]): number | null {
  return x.length === 0 ? null : ssMedian([...x]);
}

export interface Interval {
  mean: number;
  lower: number | null;
  upper: number | null;
}

/**
 * Student-t 95% interval of the mean, clamped to [lo, hi]. n = 1 has no interval (bounds null);
 * n = 0 has no mean either (NaN).
 */
export function tInterval(x: readonly number[], lo: number, hi: number): Interval {
  const m = mean(x);
  if (x.length < 2) return { mean: m, lower: null, upper: null };
  const half = Math.abs(tQuantile(0.025, x.length - 1)) * (sd(x) / Math.sqrt(x.length));
  const clamp = (v: number) => Math.min(hi, Math.max(lo, v));
  return { mean: m, lower: clamp(m - half), upper: clamp(m + half) };
}
