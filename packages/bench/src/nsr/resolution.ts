/**
 * What the Neural Status Register can resolve, and in which numeric type.
 *
 * Two separate limits decide whether an NSR tells a − b = δ apart from a − b = 0:
 *
 * 1. The scale ζ. The status bits are s = tanh(ζd) and q = 1 − 2 tanh²(ζd), d = c·(a − b) with c the
 *    gap between the two soft operand selections (c → 1 once they are one-hot). A difference δ moves
 *    the bits visibly when ζ·δ is of order 1: at ζδ = 1, s = 0.76 and q = −0.16 against s = 0, q = 1 at
 *    d = 0. Much smaller ζδ leaves every difference in tanh's linear zone, much larger saturates tanh
 *    for all training differences and the operand selection gets no gradient. Hence ζ = 1/δ, with δ
 *    the data's step (1 for integers): `zetaForStep` / `stepOfZeta`.
 *
 * 2. The numeric type. The soft selection computes o = x·p in floating point and d = o1 − o2
 *    inherits its rounding. With operands up to X and unit roundoff u (2^−24 for float32, 2^−53 for
 *    float64) we count `ROUNDING_ULPS` = 8 units of u·X: each operand rounds two products and a sum
 *    (2uX), twice for d (4uX), and the rounded softmax rows sum to 1 only within about 2u each, which
 *    leaves x·(Σp1 − Σp2) ≈ 4uX even for equal candidates. A step δ is resolved while that error
 *    stays below δ/2, i.e. for X ≤ δ / (2 · 8 · u), and while the values are exact multiples of δ
 *    (X/δ ≤ 2^p, p = 24 or 53). For δ = 1: X ≈ 1.05e6 in float32 (comparison magnitudes 10^k with
 *    k ≤ 5, x < 10^6) and X ≈ 5.6e14 in float64 (k ≤ 13). ζ does not enter: it scales d and its
 *    error alike. Equality is the more fragile decision (its zero bit is flat at d = 0), which is
 *    why the margin is two-fold rather than a bare bound.
 */

export type NumericType = 'float32' | 'float64';

export const NUMERIC_TYPES: readonly NumericType[] = ['float32', 'float64'];

/** Unit roundoff u (half an ulp of 1) and significand bits p of each type. */
export const NUMERIC: Readonly<Record<NumericType, { unitRoundoff: number; significandBits: number }>> = {
  float32: { unitRoundoff: 2 ** -24, significandBits: 24 },
  float64: { unitRoundoff: 2 ** -53, significandBits: 53 },
};

/** Rounding error of d = o1 − o2, in units of u·X (see the module comment). */
export const ROUNDING_ULPS = 8;

/** ζ that resolves differences of `step` (ζ·step = 1). */
export function zetaForStep(step: number): number {
  if (!(step > 0) || !Number.isFinite(step))
    throw new RangeError(`zetaForStep: step must be > 0, got ${step}.`);
  return 1 / step;
}

/** The smallest difference a given ζ is scaled for (1/ζ). */
export function stepOfZeta(zeta: number): number {
  if (!(zeta > 0) || !Number.isFinite(zeta)) throw new RangeError(`stepOfZeta: ζ must be > 0, got ${zeta}.`);
  return 1 / zeta;
}

/** Largest |value| at which a difference of `step` is still reliably resolved in `type`. */
export function maxResolvedValue(type: NumericType, step = 1): number {
  const { unitRoundoff, significandBits } = NUMERIC[type];
  return Math.min(step / (2 * ROUNDING_ULPS * unitRoundoff), step * 2 ** significandBits);
}

/** Largest k such that every value below base^(k+1) is resolved (the test magnitudes base^k). */
export function maxMagnitudeExponent(type: NumericType, base: number, step = 1): number {
  return Math.floor(Math.log(maxResolvedValue(type, step)) / Math.log(base) + 1e-9) - 1;
}

/** One line for reports: the numeric type and what it resolves. */
export function describeNumericLimit(type: NumericType, step = 1): string {
  const x = maxResolvedValue(type, step);
  return (
    `numeric type ${type}: a difference of ${step} is resolved for values up to about ${x.toExponential(1)} ` +
    `(comparison magnitudes 10^k up to k = ${maxMagnitudeExponent(type, 10, step)}); ` +
    `ζ = 1/step = ${zetaForStep(step)} sets the scale of the status bits`
  );
}
