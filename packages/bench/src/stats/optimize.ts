/**
 * One-dimensional numerical tools shared by the gamma and beta fits: Brent's minimiser, a grid +
 * Brent search for functions that are unimodal but may be flat or non-finite near the edges, and
 * the outward walk + bisection that finds a profile-likelihood bound.
 *
 * Every objective is wrapped so that NaN counts as +Infinity: a parameter outside the support then
 * simply looks bad instead of poisoning comparisons.
 */

const GOLDEN = (3 - Math.sqrt(5)) / 2;
const SQRT_EPS = Math.sqrt(Number.EPSILON);

function finiteOrInf(f: (x: number) => number): (x: number) => number {
  return (x) => {
    const y = f(x);
    return Number.isNaN(y) ? Infinity : y;
  };
}

export interface Minimum {
  x: number;
  fx: number;
}

/**
 * Brent's method (golden section + parabolic interpolation) for a minimum of `f` on [a, b], the
 * algorithm of R's `optimize`. `tol` is the absolute tolerance on x (plus √eps relative).
 */
export function brentMin(fn: (x: number) => number, a: number, b: number, tol = 1e-10): Minimum {
  const f = finiteOrInf(fn);
  let v = a + GOLDEN * (b - a);
  let w = v;
  let x = v;
  let d = 0;
  let e = 0;
  let fx = f(x);
  let fv = fx;
  let fw = fx;
  const tol3 = tol / 3;
  for (let iter = 0; iter < 1000; iter++) {
    const xm = (a + b) / 2;
    const tol1 = SQRT_EPS * Math.abs(x) + tol3;
    const t2 = 2 * tol1;
    if (Math.abs(x - xm) <= t2 - (b - a) / 2) break;
    let p = 0;
    let q = 0;
    let r = 0;
    if (Math.abs(e) > tol1) {
      // Fit a parabola through x, w, v.
      r = (x - w) * (fx - fv);
      q = (x - v) * (fx - fw);
      p = (x - v) * q - (x - w) * r;
      q = (q - r) * 2;
      if (q > 0) p = -p;
      else q = -q;
      r = e;
      e = d;
    }
    if (Math.abs(p) >= Math.abs(q * 0.5 * r) || p <= q * (a - x) || p >= q * (b - x)) {
      e = x < xm ? b - x : a - x;
      d = GOLDEN * e;
    } else {
      d = p / q;
      const u = x + d;
      if (u - a < t2 || b - u < t2) d = x < xm ? tol1 : -tol1;
    }
    const u = Math.abs(d) >= tol1 ? x + d : d > 0 ? x + tol1 : x - tol1;
    const fu = f(u);
    if (fu <= fx) {
      if (u < x) b = x;
      else a = x;
      v = w;
      fv = fw;
      w = x;
      fw = fx;
      x = u;
      fx = fu;
    } else {
      if (u < x) a = u;
      else b = u;
      if (fu <= fw || w === x) {
        v = w;
        fv = fw;
        w = u;
        fw = fu;
      } else if (fu <= fv || v === x || v === w) {
        v = u;
        fv = fu;
      }
    }
  }
  return { x, fx };
}

/**
 * Minimum of `f` on [lo, hi]: scan a grid of `n` intervals, then refine with Brent between the
 * neighbours of the best grid point. The grid protects Brent from flat or infinite stretches (the
 * clamped beta density, shapes near 0) that would mislead a bare golden-section search.
 */
export function gridMin(fn: (x: number) => number, lo: number, hi: number, n = 64, tol = 1e-10): Minimum {
  const f = finiteOrInf(fn);
  let best = 0;
  let bestF = Infinity;
  const xs: number[] = [];
  for (let i = 0; i <= n; i++) {
    const x = lo + ((hi - lo) * i) / n;
    xs.push(x);
    const fx = f(x);
    if (fx < bestF) {
      bestF = fx;
      best = i;
    }
  }
  const a = xs[Math.max(0, best - 1)] as number;
  const b = xs[Math.min(n, best + 1)] as number;
  const refined = brentMin(f, a, b, tol);
  return refined.fx <= bestF ? refined : { x: xs[best] as number, fx: bestF };
}

/**
 * Profile-likelihood bound: walking from `center` towards `limit`, the first point where
 * `deviance(u) ≥ target` (NaN counts as beyond), located by bisection. The walk starts with `step`
 * and doubles it. Returns `limit` itself when the deviance stays below `target` all the way there
 * (the interval is then open at the edge of the parameter space); `limit` may be ±Infinity.
 */
export function profileBound(
  deviance: (u: number) => number,
  center: number,
  limit: number,
  step: number,
  target: number,
): number {
  const dir = Math.sign(limit - center);
  if (dir === 0) return limit;
  const inside = (u: number) => deviance(u) < target; // false for NaN
  let inner = center;
  let s = Math.abs(step);
  for (let i = 0; i < 2000; i++) {
    let outer = inner + dir * s;
    if ((outer - limit) * dir >= 0) outer = limit;
    if (!Number.isFinite(outer)) return limit; // walked off to ±∞ without leaving the interval
    if (!inside(outer)) {
      // Bisect between the last inside point and the first outside point.
      for (let j = 0; j < 200; j++) {
        const mid = (inner + outer) / 2;
        if (mid === inner || mid === outer) break;
        if (inside(mid)) inner = mid;
        else outer = mid;
      }
      return (inner + outer) / 2;
    }
    if (outer === limit) return limit;
    inner = outer;
    s *= 2;
  }
  return limit;
}

/** Central-difference second derivative; `h` should be a small fraction of the curvature scale. */
export function secondDerivative(f: (x: number) => number, x: number, h: number): number {
  return (f(x + h) - 2 * f(x) + f(x - h)) / (h * h);
}
