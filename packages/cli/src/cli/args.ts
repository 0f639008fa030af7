/** Parsers for command-line values; each error names the flag and shows an accepted form. */
import { UsageError, printable } from './errors.js';

/** Flags that take no value: a token after them is not theirs. */
const BOOLEAN_FLAGS = new Set([
  'report',
  'no-report',
  'quiet',
  'simple',
  'paper-compat',
  'json',
  'help',
  'with-calculator',
  'baseline',
]);

/** The values of each `--flag` exactly as typed (yargs turns `--iterations abc` into NaN). */
const rawValues = new Map<string, string[]>();

/**
 * Prepare argv for yargs and remember what was typed: a value that starts with `-` and a digit
 * (`--shard -1/4`, `--interp -2,2`) is attached with `=`, since yargs would read it as short flags.
 */
export function prepareArgv(argv: readonly string[]): string[] {
  rawValues.clear();
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--([^=]+)(?:=(.*))?$/s.exec(a);
    if (!m) {
      out.push(a);
      continue;
    }
    const name = m[1]!;
    let value = m[2];
    const next = argv[i + 1];
    if (value === undefined && next !== undefined && !BOOLEAN_FLAGS.has(name) && /^-\.?\d/.test(next)) {
      value = next;
      i++;
      out.push(`--${name}=${value}`);
    } else {
      out.push(a);
      if (value === undefined && next !== undefined && !next.startsWith('-') && !BOOLEAN_FLAGS.has(name))
        value = next;
    }
    if (value !== undefined) rawValues.set(name, [...(rawValues.get(name) ?? []), value]);
  }
  return out;
}

/** How to show a flag's value in a message: as typed when yargs could not read it as a number. */
function shown(value: unknown, flag: string): string {
  const typed = rawValues.get(flag.replace(/^--/, ''));
  if (typeof value === 'number' && Number.isNaN(value) && typed?.length) {
    return JSON.stringify(printable(typed.at(-1)!, 60));
  }
  return printable(JSON.stringify(value) ?? String(value), 60);
}

/**
 * Throw a UsageError for any flag given more than once (yargs collects the values in an array and
 * the command would silently take one of them, or crash on the array).
 */
export function checkSingleValues(argv: Record<string, unknown>, lists: readonly string[] = []): void {
  for (const [key, v] of Object.entries(argv)) {
    if (!Array.isArray(v) || key === '_' || lists.includes(key) || /[A-Z]/.test(key)) continue;
    const typed = rawValues.get(key);
    const values = (typed && typed.length === v.length ? typed : v.map((x) => String(x))).map((x) =>
      printable(x, 40),
    );
    throw new UsageError(`--${key} given ${v.length} times (${values.join(', ')}): give it once.`);
  }
}

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
      `${flag}: expected a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}, got ${shown(value, flag)}.`,
    );
  }
  return n;
}

/** A finite number ≥ 0. */
export function checkNonNegative(value: unknown, flag: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`${flag}: expected a number ≥ 0, got ${shown(value, flag)}.`);
  return n;
}

/** A finite number within (min, max]. */
export function checkNumber(value: unknown, flag: string, min: number, max = Infinity): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n <= min || n > max) {
    throw new UsageError(
      `${flag}: expected a number > ${min}${max < Infinity ? ` and ≤ ${max}` : ''}, got ${shown(value, flag)}.`,
    );
  }
  return n;
}

/** A duration such as 90s, 45m, 2h, 1.5h or 1h30m, in seconds (> 0). */
export function parseDuration(value: unknown, flag: string): number {
  const text = String(value).trim();
  const parts = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(text);
  const seconds = parts
    ? 3600 * Number(parts[1] ?? 0) + 60 * Number(parts[2] ?? 0) + Number(parts[3] ?? 0)
    : NaN;
  if (!parts || text === '' || !(seconds > 0))
    throw new UsageError(`${flag}: expected a duration such as 45m, 2h or 1h30m, got ${shown(value, flag)}.`);
  return seconds;
}
