/**
 * The success criterion of spec §4, as a pure function of an evaluation curve and a threshold.
 */
import type { EvalPoint } from './record.js';

export interface CurveOutcome {
  bestStep: number | null;
  solved: boolean;
  solvedAt: number | null;
  sparsityError: number | null;
}

/**
 * Best step: lowest interpolation MSE with step 0 excluded (non-finite values never win).
 * Solved: extrapolation MSE at the best step < threshold. Solved at: first step whose extrapolation
 * MSE < threshold. Sparsity error: at the best step.
 */
export function curveOutcome(curve: readonly EvalPoint[], threshold: number): CurveOutcome {
  let best: EvalPoint | null = null;
  for (const p of curve) {
    if (p.step === 0 || !Number.isFinite(p.interpolation)) continue;
    if (best === null || p.interpolation < best.interpolation) best = p;
  }
  const first = curve.find((p) => p.extrapolation < threshold);
  return {
    bestStep: best?.step ?? null,
    solved: best !== null && best.extrapolation < threshold,
    solvedAt: first?.step ?? null,
    sparsityError: best ? best.sparsityError : null,
  };
}
