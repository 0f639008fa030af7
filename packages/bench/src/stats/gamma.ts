/**
 * Gamma fits of "solved at" (benchmark.md §5): the mean of a gamma distribution with a 95%
 * profile-likelihood interval.
 *
 * - `fitGammaMean` — the correct statistics: gamma fitted in shape and rate; the interval profiles
 *   the shape out for every candidate mean.
 * - `paperGammaMean` — what the published analysis (R `bbmle::mle2`, L-BFGS-B) actually reported:
 *   the variance never left the sample variance, so everything happens on the slice σ² = var(x),
 *   and the reported mean is where bbmle's profiler walk stopped (rule 3).
 *
 * Both return null when no fit is possible (n < 2, degenerate or non-positive sample); the caller
 * then falls back to the t interval.
 */
import chisqQuantile from '@stdlib/stats-base-dists-chisquare-quantile';
import digamma from '@stdlib/math-base-special-digamma';
import gammaln from '@stdlib/math-base-special-gammaln';
import { gridMin, profileBound, secondDerivative } from './optimize.js';
import { mean, sd, variance } from './t-interval.js';

/** 2ΔNLL at the ends of a 95% profile-likelihood interval: qchisq(0.95, 1) = 3.841459. */
export const CHISQ95 = chisqQuantile(0.95, 1);

/** Rule 1: gamma is fitted only if sd(x) > 1e−5 (n − 1 denominator); else the t fallback. */
export const GAMMA_MIN_SD = 1e-5;

export interface FitResult {
  mean: number;
  lower: number;
  upper: number;
}

/** Sufficient statistics of a gamma sample: the NLL depends on x only through these. */
interface GammaSample {
  n: number;
  sumX: number;
  sumLogX: number;
}

function sufficient(x: readonly number[]): GammaSample {
  let sumX = 0;
  let sumLogX = 0;
  for (const v of x) {
    sumX += v;
    sumLogX += Math.log(v);
  }
  return { n: x.length, sumX, sumLogX };
}

/**
 * −Σ log dgamma(x; shape, rate) = −[n(shape·log rate − lgamma(shape)) + (shape − 1)Σlog x − rate·Σx].
 * The one place the gamma log-likelihood is written.
 */
export function gammaNll(s: GammaSample, shape: number, rate: number): number {
  if (!(shape > 0) || !(rate > 0)) return Infinity;
  return -(s.n * (shape * Math.log(rate) - gammaln(shape)) + (shape - 1) * s.sumLogX - rate * s.sumX);
}

function fittable(x: readonly number[]): boolean {
  return x.length > 1 && sd(x) > GAMMA_MIN_SD && x.every((v) => v > 0 && Number.isFinite(v));
}

/**
 * Shape k maximising the likelihood for a given mean μ (rate = k/μ). Setting ∂ℓ/∂k = 0 gives
 * log k − ψ(k) = log μ + x̄/μ − 1 − mean(log x) =: c, and log k − ψ(k) falls monotonically from +∞
 * to 0, so c > 0 has exactly one root; bisection on log k finds it.
 */
function profileShape(s: GammaSample, mu: number): number {
  const c = Math.log(mu) + s.sumX / s.n / mu - 1 - s.sumLogX / s.n;
  if (!(c > 0)) return Infinity; // only at μ = x̄ with a degenerate sample
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-13; i++) {
    const mid = (lo + hi) / 2;
    const k = Math.exp(mid);
    if (Math.log(k) - digamma(k) > c) lo = mid;
    else hi = mid;
  }
  return Math.exp((lo + hi) / 2);
}

/** Maximum-likelihood gamma (shape, rate) of a positive, non-degenerate sample; null otherwise. */
export function gammaMle(x: readonly number[]): { shape: number; rate: number } | null {
  if (!fittable(x)) return null;
  const mu = mean(x); // μ̂ = x̄, see fitGammaMean
  const shape = profileShape(sufficient(x), mu);
  return Number.isFinite(shape) ? { shape, rate: shape / mu } : null;
}

/**
 * Correct statistics: maximum-likelihood gamma in (shape, rate). In the (mean, shape)
 * parametrisation ∂ℓ/∂μ = 0 gives μ̂ = x̄ for every shape, so the MLE of the mean is the sample mean;
 * the interval is where the profile NLL (shape re-fitted at each μ) rises by χ²₁(0.95)/2.
 */
export function fitGammaMean(x: readonly number[]): FitResult | null {
  if (!fittable(x)) return null;
  const s = sufficient(x);
  const nllAt = (mu: number) => {
    if (!(mu > 0)) return Infinity;
    const k = profileShape(s, mu);
    return Number.isFinite(k) ? gammaNll(s, k, k / mu) : Infinity;
  };
  const mu = mean(x);
  const nll0 = nllAt(mu);
  if (!Number.isFinite(nll0)) return null;
  const dev = (t: number) => 2 * (nllAt(t) - nll0);
  const step = sd(x) / Math.sqrt(x.length) / 4;
  return {
    mean: mu,
    lower: profileBound(dev, mu, 0, step, CHISQ95),
    upper: profileBound(dev, mu, Infinity, step, CHISQ95),
  };
}

// ---- paper-compatible mode (benchmark.md §5, rule 3) ----

/** bbmle's profile: zmax = sqrt(qchisq(1 − 0.01/2, 2)) = 3.255247 (2 parameters), step δ = zmax/5. */
const PROFILE_ZMAX = Math.sqrt(chisqQuantile(1 - 0.01 / 2, 2));
const PROFILE_DELTA = PROFILE_ZMAX / 5;
/** bbmle's tol.newmin: a probe this much better (in deviance) is a "better solution". */
const NEWMIN_TOL = 0.001;
/** L-BFGS-B's convergence test: factr (1e7) × machine epsilon. */
const LBFGSB_FACTR_EPS = 1e7 * Number.EPSILON;
/** Step of the central-difference slope at the start point. */
const START_SLOPE_STEP = 0.001;

/**
 * Rule 3: gamma mean as the original profiler walked it, on the slice σ² = var(x) (shape μ²/σ²,
 * rate μ/σ²). Start at x̄ if L-BFGS-B would have declared x̄ converged, else at the slice minimum;
 * then walk bbmle's profile grid, jumping to any probe that is better by more than 0.001 in
 * deviance, until a full pass finds none. The interval is measured from that reported μ.
 */
export function paperGammaMean(x: readonly number[]): FitResult | null {
  if (!(x.length > 1 && sd(x) > GAMMA_MIN_SD)) return null;
  const s = sufficient(x);
  const s2 = variance(x);
  const nll = (mu: number) => (mu > 0 ? gammaNll(s, (mu * mu) / s2, mu / s2) : Infinity);
  const m = mean(x);
  const seScale = Math.sqrt(s2 / x.length);

  const nllM = nll(m);
  if (!Number.isFinite(nllM)) return null;
  const g = (nll(m + START_SLOPE_STEP) - nll(m - START_SLOPE_STEP)) / (2 * START_SLOPE_STEP);
  let mu = m;
  if (g * g > LBFGSB_FACTR_EPS * Math.max(Math.abs(nllM), 1)) {
    mu = gridMin(nll, Math.max(m - 20 * seScale, m * 1e-9), m + 20 * seScale, 200).x;
  }

  for (let pass = 0; pass < 1000; pass++) {
    const better = betterProbe(nll, mu, seScale);
    if (better === null) break;
    mu = better;
  }

  const nll0 = nll(mu);
  const dev = (t: number) => 2 * (nll(t) - nll0);
  return {
    mean: mu,
    lower: profileBound(dev, mu, 0, seScale / 4, CHISQ95),
    upper: profileBound(dev, mu, Infinity, seScale / 4, CHISQ95),
  };
}

/**
 * One pass of bbmle's profile walk around mu: probes mu ∓ k·δ·SE (down first, then up), each
 * direction until μ < 0 or |signed root deviance| ≥ zmax, with half steps when a direction has
 * fewer than 5 points including the centre. Returns the first probe whose deviance is below
 * −tol.newmin, or null.
 */
function betterProbe(nll: (mu: number) => number, mu: number, seScale: number): number | null {
  const f0 = nll(mu);
  const d2 = secondDerivative(nll, mu, seScale * 1e-2);
  const se = d2 > 0 ? 1 / Math.sqrt(d2) : seScale;
  const probe = (p: number): 'better' | 'far' | 'near' => {
    const dev = 2 * (nll(p) - f0);
    if (dev < -NEWMIN_TOL) return 'better';
    return !(Math.sqrt(Math.max(dev, 0)) < PROFILE_ZMAX) ? 'far' : 'near';
  };
  for (const sgn of [-1, 1]) {
    let k = 1;
    let points = 1; // the centre
    for (; k < 100; k++) {
      const p = mu + sgn * k * PROFILE_DELTA * se;
      if (p < 0) break;
      const r = probe(p);
      if (r === 'better') return p;
      points++;
      if (r === 'far') {
        k++;
        break;
      }
    }
    if (points < 5) {
      // bbmle "try smaller steps": 1.5, 2.5, … below the last full step taken.
      for (let h = 1.5; h < k - 1; h++) {
        const p = mu + sgn * h * PROFILE_DELTA * se;
        if (p < 0) break;
        if (probe(p) === 'better') return p;
      }
    }
  }
  return null;
}
