/** Parsers for command-line values; each error names the flag and shows an accepted form. */
import { UsageError } from './errors.js';

/** `0..99`, `7`, `1,2,5`, or combinations (`0..4,10`). Seeds are integers ≥ 0; order kept, repeats dropped. */
export function parseSeeds(text: string, flag = '--seeds'): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  const bad = (why: string) =>
    new UsageError(
      `${flag} ${JSON.stringify(text)}: ${why}. Use a range '0..99', a seed '7' or a list '1,2,5'.`,
    );
  for (const part of String(text).split(',')) {
    const p = part.trim();
    const m = /^(-?\d+)(?:\.\.(-?\d+))?$/.exec(p);
    if (!m) throw bad(`'${p}' is not a seed or a range`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 0 || hi < 0) throw bad('seeds must be integers ≥ 0');
    if (hi < lo) throw bad(`range '${p}' is empty (the end is below the start)`);
    if (!Number.isSafeInteger(hi) || hi - lo > 1_000_000) throw bad(`range '${p}' is too large`);
    for (let s = lo; s <= hi; s++) {
      if (!seen.has(s)) {
        seen.add(s);
        out.push(s);
      }
    }
  }
  return out;
}

/** A comma-separated list of names from a known set. */
export function parseNames<T extends string>(
  text: string,
  known: readonly T[],
  flag: string,
  what: string,
): T[] {
  const names = String(text)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0)
    throw new UsageError(`${flag}: give at least one ${what} (one of ${known.join(', ')}).`);
  for (const n of names) {
    if (!known.includes(n as T)) {
      throw new UsageError(`${flag}: unknown ${what} '${n}'. Known: ${known.join(', ')}.`);
    }
  }
  return names as T[];
}

/** A whole number within bounds. */
export function checkInt(value: unknown, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `${flag}: expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}, got ${JSON.stringify(value)}.`,
    );
  }
  return n;
}

/** A finite number within (min, max]. */
export function checkNumber(value: unknown, flag: string, min: number, max = Infinity): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n <= min || n > max) {
    throw new UsageError(
      `${flag}: expected a number > ${min}${max < Infinity ? ` and ≤ ${max}` : ''}, got ${JSON.stringify(value)}.`,
    );
  }
  return n;
}
