/**
 * Beta fits of the sparsity error (benchmark.md §5). The sparsity error lives on [0, 0.5]; the
 * beta distribution on [0, 1], parametrised by its mean m and concentration v (α = m·v,
 * β = (1 − m)·v, v ≥ 1e−5 as in the original bounds).
 *
 * - correct mode: fit y = 2x on [0, 1]; the sparsity mean is m/2.
 * - paper mode (quirk b): the published analysis fitted the raw x with α = 2μv, β = (1 − 2μ)v, i.e.
 *   m = 2μ and the reported μ = m/2 — half the real mean; log-densities clamped to [−1e6, 1e6].
 *
 * Either way the reported mean is m/2 of a beta fitted in m, so one fitter serves both; only the
 * data (2x or x) and the clamp differ. The interval profiles v out for every candidate m.
 */
import betaln from '@stdlib/math-base-special-betaln';
import { CHISQ95, type FitResult } from './gamma.js';
import { gridMin, profileBound } from './optimize.js';
import { mean, sd, variance } from './t-interval.js';

/** Upper end of the sparsity error's support. */
export const SPARSITY_MAX = 0.5;
/** Rule 1: observations are clamped to [1e−16, 0.5 − 1e−16] before anything else. */
export const SPARSITY_EPS = 1e-16;
/** Rule 1: beta is fitted only if sd(x) > 1e−10; else the t fallback. */
export const BETA_MIN_SD = 1e-10;
/** The original objective clamped every log-density to [−1e6, 1e6]. */
const LOGPDF_CLAMP = 1e6;
/** Lower bound of the concentration v in the original fit. */
const V_MIN = 1e-5;
/** Rule 2(b): a fitted μ̂ below this made R's numerical Hessian step out of the parameter space. */
const HESSIAN_MIN_MU = 2e-5;

/** Search ranges: log v (v up to 1e22 covers sd down to 1e−10) and logit m (m down to ~4e−18). */
const LOG_V_RANGE: readonly [number, number] = [Math.log(V_MIN), Math.log(1e22)];
const LOGIT_RANGE = 40;

export type BetaMode = 'correct' | 'paper';

/** Clamp sparsity errors into the open support, as rule 1 does before fitting or falling back. */
export function clampSparsity(x: readonly number[]): number[] {
  return x.map((v) => Math.min(SPARSITY_MAX - SPARSITY_EPS, Math.max(SPARSITY_EPS, v)));
}

interface BetaData {
  logY: number[];
  log1mY: number[];
  clampLog: boolean;
}

/**
 * Per-observation beta log-densities in the (m, v) parametrisation:
 * log f(y) = (α − 1)·log y + (β − 1)·log(1 − y) − log B(α, β). The one place the density is written.
 */
function betaLogDensities(d: BetaData, m: number, v: number): number[] {
  const a = m * v;
  const b = (1 - m) * v;
  const lb = betaln(a, b);
  return d.logY.map((ly, i) => (a - 1) * ly + (b - 1) * (d.log1mY[i] as number) - lb);
}

function betaNll(d: BetaData, m: number, v: number): number {
  if (!(m > 0 && m < 1 && v > 0)) return Infinity;
  let s = 0;
  for (const l of betaLogDensities(d, m, v)) {
    s += d.clampLog ? Math.min(LOGPDF_CLAMP, Math.max(-LOGPDF_CLAMP, l)) : l;
  }
  return -s;
}

const logistic = (t: number) => 1 / (1 + Math.exp(-t));

interface BetaFit {
  /** logit of the fitted mean m, and the fitted m and v. */
  t: number;
  m: number;
  v: number;
  nll: number;
  /** Profile NLL in t = logit(m), v re-fitted. */
  profile: (t: number) => number;
}

/**
 * Maximum-likelihood beta in (m, v) on data in (0, 1). The profile NLL is taken in t = logit(m)
 * with v re-fitted on log v at every m. The beta NLL is convex in (α, β), so both the inner problem
 * and the profile are unimodal; the grids only guard the flat or infinite edges. Null when the
 * optimum is not finite or runs to the edge of the search range.
 */
function fitBeta01(d: BetaData): BetaFit | null {
  const inner = (m: number) => gridMin((u) => betaNll(d, m, Math.exp(u)), LOG_V_RANGE[0], LOG_V_RANGE[1], 64);
  const profile = (t: number) => inner(logistic(t)).fx;
  const best = gridMin(profile, -LOGIT_RANGE, LOGIT_RANGE, 160);
  if (!Number.isFinite(best.fx) || Math.abs(best.x) >= LOGIT_RANGE) return null;
  const m = logistic(best.x);
  return { t: best.x, m, v: Math.exp(inner(m).x), nll: best.fx, profile };
}

function betaData(y: readonly number[], clampLog: boolean): BetaData {
  return { logY: y.map((v) => Math.log(v)), log1mY: y.map((v) => Math.log1p(-v)), clampLog };
}

/** Maximum-likelihood Beta(α, β) of a sample in (0, 1) (no clamping); null if the fit fails. */
export function betaMle(y: readonly number[]): { alpha: number; beta: number } | null {
  const fit = fitBeta01(betaData(y, false));
  return fit && { alpha: fit.m * fit.v, beta: (1 - fit.m) * fit.v };
}

/**
 * Fits the beta mean of sparsity errors `x` (already clamped with clampSparsity) and its 95%
 * profile-likelihood interval, on the [0, 0.5] scale. Returns null where the t fallback applies:
 * too few or degenerate observations, a failed fit, and in paper mode rule 2's Hessian failures.
 */
export function fitBetaMean(x: readonly number[], mode: BetaMode): FitResult | null {
  if (!(x.length > 1 && sd(x) > BETA_MIN_SD)) return null;
  const paper = mode === 'paper';
  const d = betaData(paper ? x : x.map((v) => 2 * v), paper);

  if (paper) {
    // Rule 2(a): at the original start point every log-density clamped at −1e6 → Hessian NaN.
    const mu0 = mean(x);
    const v0 = (mu0 * (SPARSITY_MAX - mu0)) / variance(x) - 1;
    if (betaLogDensities(d, 2 * mu0, v0).every((l) => l <= -LOGPDF_CLAMP)) return null;
  }

  const fit = fitBeta01(d);
  if (fit === null) return null;
  if (paper && fit.m / 2 < HESSIAN_MIN_MU) return null; // rule 2(b)

  const dev = (t: number) => 2 * (fit.profile(t) - fit.nll);
  const tLower = profileBound(dev, fit.t, -LOGIT_RANGE, 0.02, CHISQ95);
  const tUpper = profileBound(dev, fit.t, LOGIT_RANGE, 0.02, CHISQ95);
  // An interval that reaches the edge of the search range is open there: report the support's end.
  const toScale = (t: number, edge: number) => (Math.abs(t) >= LOGIT_RANGE ? edge : logistic(t) / 2);
  return { mean: fit.m / 2, lower: toScale(tLower, 0), upper: toScale(tUpper, SPARSITY_MAX) };
}
