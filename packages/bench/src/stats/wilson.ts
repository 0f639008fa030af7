/**
 * Wilson score interval for a success rate k/n (benchmark.md §5), the `method = 'wilson'` of R's
 * `binom.confint` that produced the published tables.
 */
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';

/** z for a two-sided 95% interval, qnorm(0.975) = 1.959964 (computed, not typed in). */
export const Z95 = normalQuantile(0.975, 0, 1);

/**
 * Success rate k/n with its Wilson score interval:
 * centre = (p + z²/2n)/(1 + z²/n), half = z/(1 + z²/n) · sqrt(p(1−p)/n + z²/4n²).
 * The mean is p itself (as binom.confint reports it), not the Wilson centre. Bounds are clamped to
 * [0, 1] only to remove the ±1e−17 rounding at k = 0 and k = n. n = 0 gives NaN throughout.
 */
export function wilson(
  k: number,
  n: number,
  z: number = Z95,
): { mean: number; lower: number; upper: number } {
  if (!(n > 0) || !Number.isInteger(k) || !Number.isInteger(n) || k < 0 || k > n) {
    if (n === 0) return { mean: NaN, lower: NaN, upper: NaN };
    throw new RangeError(`wilson: need integers 0 ≤ k ≤ n, got k = ${k}, n = ${n}`);
  }
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return {
    mean: p,
    lower: k === 0 ? 0 : Math.max(0, centre - half),
    upper: k === n ? 1 : Math.min(1, centre + half),
  };
}
