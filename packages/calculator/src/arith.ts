/**
 * The exact calculator stage: integers in, an integer (or "invalid") out. No floating point and no
 * rounding anywhere: BigInt throughout, so every supported operand size is exact by construction
 * (a 5-digit × 5-digit product happens to fit a double, but nothing here relies on that).
 */

/** The operators, in the order of the operator head's classes. Extend by appending. */
export const OPERATORS = ['+', '-', '*', '/'] as const;
export type Operator = (typeof OPERATORS)[number];

/** The calculator's output: a value, or the defined "invalid" result (never NaN, never a throw). */
export interface CalcResult {
  readonly value: bigint;
  readonly invalid: boolean;
}

export const INVALID: CalcResult = Object.freeze({ value: 0n, invalid: true });

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/**
 * a op b, exactly. Invalid when an operand has more than `operandDigits` digits, the operator index
 * is unknown, b = 0 in a division, or |result| has more than `resultDigits` digits. Division is the
 * integer quotient truncated towards zero (exact for the task's divisible problems).
 */
export function calculate(
  a: bigint,
  b: bigint,
  op: number,
  operandDigits: number,
  resultDigits: number,
): CalcResult {
  const limit = pow10(operandDigits);
  if (a >= limit || -a >= limit || b >= limit || -b >= limit) return INVALID;
  let value: bigint;
  switch (OPERATORS[op]) {
    case '+':
      value = a + b;
      break;
    case '-':
      value = a - b;
      break;
    case '*':
      value = a * b;
      break;
    case '/':
      if (b === 0n) return INVALID;
      value = a / b;
      break;
    default:
      return INVALID;
  }
  const rlimit = pow10(resultDigits);
  if (value >= rlimit || -value >= rlimit) return INVALID;
  return { value, invalid: false };
}

/** |n|'s decimal digits, least significant first, zero-padded to `slots` (n must fit). */
export function digitsOf(n: bigint, slots: number): number[] {
  let m = n < 0n ? -n : n;
  const out = new Array<number>(slots).fill(0);
  for (let j = 0; j < slots && m > 0n; j++) {
    out[j] = Number(m % 10n);
    m /= 10n;
  }
  if (m > 0n) throw new RangeError(`digitsOf: ${n} has more than ${slots} digits.`);
  return out;
}

/** The integer of `digits` (least significant first) with a sign; the inverse of digitsOf. */
export function fromDigits(digits: ArrayLike<number>, negative: boolean): bigint {
  let v = 0n;
  for (let j = digits.length - 1; j >= 0; j--) v = v * 10n + BigInt(digits[j]!);
  return negative ? -v : v;
}

/** Bits per result digit in the output mapping's features (binary code of 0–9). */
export const DIGIT_BITS = 4;

/** Width of `resultFeatures` for `resultDigits` digit slots. */
export const resultFeatureSize = (resultDigits: number): number => resultDigits * DIGIT_BITS + 2;

/**
 * The result's features as the output mapping sees them: each digit (least significant first) as
 * its 4-bit binary code, then a sign bit and an invalid bit; invalid results have all digit bits 0.
 * Binary rather than one-hot: a per-digit readout from d-dimensional hidden states can be exactly
 * linear only if the code's width (R·4 + 2 = 42 for R = 10) fits into d; one-hot (R·10 + 2 = 102)
 * would not fit the 64-wide host, and 128 wide costs 3× the step time on tfjs-wasm.
 */
export function resultFeatures(r: CalcResult, resultDigits: number, out: Float32Array, offset = 0): void {
  const width = resultFeatureSize(resultDigits);
  out.fill(0, offset, offset + width);
  if (r.invalid) {
    out[offset + width - 1] = 1;
    return;
  }
  const d = digitsOf(r.value, resultDigits);
  for (let j = 0; j < resultDigits; j++) {
    for (let k = 0; k < DIGIT_BITS; k++) out[offset + j * DIGIT_BITS + k] = (d[j]! >> k) & 1;
  }
  if (r.value < 0n) out[offset + width - 2] = 1;
}
