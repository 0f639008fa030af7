/**
 * Records ⇄ lines of a records file, with a structural validator.
 *
 * JSON has no NaN or ±Infinity, and a diverged run can legitimately have non-finite MSEs in its curve.
 * So the measured real-valued fields (`threshold`, `sparsityError`, and `interpolation`,
 * `extrapolation`, `sparsityError` of each curve point) are written as the strings `"NaN"`,
 * `"Infinity"`, `"-Infinity"` when not finite and decoded back to numbers on read. Everything else
 * is plain JSON; unknown extra fields are kept.
 *
 * The same checks run on write (`recordLine`) and on read (`parseRecordLine`), so a line that was
 * edited, corrupted or written by something else is never counted as a finished run: the shape of
 * every field, a valid run configuration, `key` = configKey(config), and the outcome fields
 * (`bestStep`, `solved`, `solvedAt`, `sparsityError`) equal to what the curve and threshold give.
 *
 * One file holds records of every task kind (kinds/): the envelope (`v`, `key`, `seed`, `config`)
 * is common, `kind` says whose payload follows. Static-task lines carry no `kind` (they are exactly
 * what they were before there were kinds); NSR lines carry `"kind":"nsr"` and are checked the same
 * way: a valid NSR configuration, its key, the test points its task defines, and `success` equal to
 * every item right.
 */
import { canonicalJson, configKey } from '../config.js';
import type { RunConfig } from '../config.js';
import { RECORD_VERSION } from '../record.js';
import type { EvalPoint, RunRecord, StoreRecord } from '../record.js';
import type { NsrPointResult, NsrRecord, NsrRunConfig } from '../nsr/config.js';
import { NSR_RECORD_VERSION, nsrConfigKey, validateNsrRun } from '../nsr/config.js';
import { testPoints } from '../nsr/tasks.js';
import { curveOutcome } from '../success.js';
import type { StaticTaskConfig } from '../tasks/static.js';
import { TaskConfigError, validateStaticTask } from '../tasks/static.js';

/** `${key}:${seed}`: the identity of a record (one per configuration and seed). */
export function recordId(key: string, seed: number): string {
  return `${key}:${seed}`;
}

const KEY_RE = /^[0-9a-f]{16}$/;
const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

type Json = unknown;
type Obj = Record<string, Json>;

class Invalid extends Error {}

function isObj(x: Json): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: Json): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}…` : x)}`;
  if (typeof x === 'object') return 'an object';
  return `${typeof x} ${String(x)}`;
}

function fail(path: string, expected: string, got: Json): never {
  throw new Invalid(`${path}: expected ${expected}, got ${describe(got)}`);
}

function field(o: Obj, name: string, path: string): Json {
  if (!(name in o)) throw new Invalid(`${path}${name}: missing`);
  return o[name];
}

function int(x: Json, path: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x)) fail(path, 'an integer', x);
  return x;
}

function intOrNull(x: Json, path: string): number | null {
  return x === null ? null : int(x, path);
}

/** A measured real: a JSON number or one of the non-finite spellings. */
function real(x: Json, path: string): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'string' && x in NON_FINITE) return NON_FINITE[x] as number;
  return fail(path, 'a number', x);
}

function realOrNull(x: Json, path: string): number | null {
  return x === null ? null : real(x, path);
}

function bool(x: Json, path: string): boolean {
  if (typeof x !== 'boolean') fail(path, 'a boolean', x);
  return x;
}

function encReal(x: number | null): number | string | null {
  return typeof x === 'number' && !Number.isFinite(x) ? String(x) : x;
}

function positiveInt(x: Json, path: string, min: number): number {
  const n = int(x, path);
  if (n < min) fail(path, `an integer ≥ ${min}`, x);
  return n;
}

function finite(x: Json, path: string, what: string, ok: (n: number) => boolean): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) fail(path, what, x);
  return x;
}

/** The rules every configuration written by nalm satisfies (the CLI and presets validate them). */
function checkConfig(config: Obj): void {
  const task = field(config, 'task', 'config.');
  if (!isObj(task)) fail('config.task', 'an object', task);
  try {
    validateStaticTask(task as unknown as StaticTaskConfig);
  } catch (err) {
    if (err instanceof TaskConfigError) throw new Invalid(`config.task.${err.message}`);
    throw err;
  }
  const model = field(config, 'model', 'config.');
  if (typeof model !== 'string' || model === '') fail('config.model', 'a model name', model);
  positiveInt(field(config, 'hidden', 'config.'), 'config.hidden', 0);
  positiveInt(field(config, 'batch', 'config.'), 'config.batch', 1);
  finite(field(config, 'lr', 'config.'), 'config.lr', 'a number > 0', (n) => n > 0);
  positiveInt(field(config, 'iterations', 'config.'), 'config.iterations', 1);
  positiveInt(field(config, 'evalEvery', 'config.'), 'config.evalEvery', 1);
  const schedule = field(config, 'schedule', 'config.');
  if (schedule !== null) {
    if (!isObj(schedule)) fail('config.schedule', 'null or an object', schedule);
    for (const k of ['lambda', 'start', 'end']) {
      finite(field(schedule, k, 'config.schedule.'), `config.schedule.${k}`, 'a number', () => true);
    }
  }
  finite(field(config, 'oobWeight', 'config.'), 'config.oobWeight', 'a number ≥ 0', (n) => n >= 0);
}

/**
 * A static-task run configuration checked against the rules every stored configuration satisfies
 * (the task, positive sizes and rates, the schedule's shape): the static kind's `parse`. Throws a
 * `TaskConfigError` naming the field.
 */
export function parseRunConfig(raw: unknown): RunConfig {
  if (!isObj(raw)) throw new TaskConfigError('config', `expected an object, got ${describe(raw)}`);
  try {
    checkConfig(raw);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    const m = /^([^:]+): (.*)$/s.exec(err.message);
    throw new TaskConfigError(m?.[1] ?? 'config', m?.[2] ?? err.message);
  }
  return raw as unknown as RunConfig;
}

const same = (a: number | null, b: number | null): boolean =>
  a === b || (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b));

const show = (x: number | boolean | null): string => (typeof x === 'number' ? String(x) : JSON.stringify(x));

/** Decode and validate one parsed line of any task kind. Throws `Invalid` with a path-qualified reason. */
function decode(raw: Json): StoreRecord {
  if (!isObj(raw)) fail('record', 'a JSON object', raw);
  const kind = raw.kind;
  if (kind === undefined) return decodeStatic(raw);
  if (kind === 'nsr') return decodeNsr(raw);
  return fail('kind', "absent (the static task) or 'nsr'", kind);
}

/**
 * The envelope every kind's record shares: its version, `key`, `config` and `seed`. `checkConfig`
 * validates the configuration (throwing `Invalid`) and returns its key, which `key` must equal.
 */
function decodeEnvelope(
  raw: Obj,
  version: number,
  what: string,
  checkConfig: (config: Obj) => string,
): { key: string; config: Obj; seed: number } {
  const v = field(raw, 'v', '');
  if (v !== version) {
    if (typeof v === 'number')
      throw new Invalid(`${what} version ${v} is not supported (this nalm reads version ${version})`);
    fail('v', `the ${what} version ${version}`, v);
  }
  const key = field(raw, 'key', '');
  if (typeof key !== 'string' || !KEY_RE.test(key)) fail('key', 'a 16-hex-digit configuration key', key);
  const config = field(raw, 'config', '');
  if (!isObj(config)) fail('config', 'an object', config);
  const expectedKey = checkConfig(config);
  if (key !== expectedKey)
    throw new Invalid(`key ${key} is not the key of its configuration (${expectedKey})`);
  const seed = positiveInt(field(raw, 'seed', ''), 'seed', 0);
  return { key, config, seed };
}

/** A static-task record. */
function decodeStatic(raw: Obj): RunRecord {
  const { key, config, seed } = decodeEnvelope(raw, RECORD_VERSION, 'record', (c) => {
    checkConfig(c);
    return configKey(c as unknown as RunConfig);
  });
  const threshold = real(field(raw, 'threshold', ''), 'threshold');
  const curveRaw = field(raw, 'curve', '');
  if (!Array.isArray(curveRaw)) fail('curve', 'an array', curveRaw);
  const curve: EvalPoint[] = curveRaw.map((p: Json, i) => {
    const at = `curve[${i}]`;
    if (!isObj(p)) fail(at, 'an object', p);
    return {
      ...p,
      step: int(field(p, 'step', `${at}.`), `${at}.step`),
      interpolation: real(field(p, 'interpolation', `${at}.`), `${at}.interpolation`),
      extrapolation: real(field(p, 'extrapolation', `${at}.`), `${at}.extrapolation`),
      sparsityError: real(field(p, 'sparsityError', `${at}.`), `${at}.sparsityError`),
    };
  });
  const bestStep = intOrNull(field(raw, 'bestStep', ''), 'bestStep');
  const solved = bool(field(raw, 'solved', ''), 'solved');
  const solvedAt = intOrNull(field(raw, 'solvedAt', ''), 'solvedAt');
  const sparsityError = realOrNull(field(raw, 'sparsityError', ''), 'sparsityError');
  const divergedRaw = field(raw, 'diverged', '');
  let diverged: RunRecord['diverged'] = null;
  if (divergedRaw !== null) {
    if (!isObj(divergedRaw)) fail('diverged', 'null or an object', divergedRaw);
    const reason = field(divergedRaw, 'reason', 'diverged.');
    if (typeof reason !== 'string') fail('diverged.reason', 'a string', reason);
    diverged = {
      ...divergedRaw,
      step: int(field(divergedRaw, 'step', 'diverged.'), 'diverged.step'),
      reason,
    };
  }
  const iterations = positiveInt(field(raw, 'iterations', ''), 'iterations', 0);
  if (iterations > (config.iterations as number)) {
    fail('iterations', `at most config.iterations = ${String(config.iterations)}`, iterations);
  }
  // The outcome is a function of the curve: a record claiming another one was altered.
  const outcome = curveOutcome(curve, threshold);
  const claimed = { bestStep, solved, solvedAt, sparsityError };
  for (const name of ['bestStep', 'solved', 'solvedAt', 'sparsityError'] as const) {
    const [got, want] = [claimed[name], outcome[name]];
    if (typeof got === 'boolean' ? got !== want : !same(got, want as number | null)) {
      throw new Invalid(
        `${name} is ${show(got)} but its curve and threshold give ${show(want)} (the record was altered)`,
      );
    }
  }
  return {
    ...raw,
    v: RECORD_VERSION,
    key,
    config: config as unknown as RunConfig,
    seed,
    threshold,
    curve,
    bestStep,
    solved,
    solvedAt,
    sparsityError,
    diverged,
    iterations,
  };
}

/** The JSON value written for a record (non-finite measured reals spelled as strings). */
function encode(record: StoreRecord): Obj {
  return record.kind === 'nsr' ? encodeNsr(record) : encodeStatic(record);
}

function encodeStatic(record: RunRecord): Obj {
  const r = record as unknown as Obj;
  const curve = Array.isArray(r.curve)
    ? (r.curve as Json[]).map((p) =>
        isObj(p)
          ? {
              ...p,
              interpolation: encReal(p.interpolation as number),
              extrapolation: encReal(p.extrapolation as number),
              sparsityError: encReal(p.sparsityError as number),
            }
          : p,
      )
    : r.curve;
  // Identity first, so the files are easy to read and grep.
  return {
    v: r.v,
    key: r.key,
    seed: r.seed,
    ...r,
    threshold: encReal(r.threshold as number),
    sparsityError: encReal(r.sparsityError as number | null),
    curve,
  };
}

/**
 * Canonical text of a record's content (sorted keys, non-finite reals spelled out), used to tell
 * identical duplicates from conflicting ones. Two records are identical iff their canonical texts are.
 */
export function canonicalRecord(record: StoreRecord): string {
  return canonicalJson(encode(record));
}

export type ParsedLine = { ok: true; record: StoreRecord; id: string } | { ok: false; reason: string };

/** Parse and validate one line of a records file. Never throws. */
export function parseRecordLine(text: string): ParsedLine {
  let raw: Json;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not valid JSON (${(err as Error).message})` };
  }
  try {
    const record = decode(raw);
    return { ok: true, record, id: recordId(record.key, record.seed) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: `not a valid record: ${err.message}` };
    throw err;
  }
}

/**
 * The line (without `\n`) to append for `record`. Throws an `Error` saying why if the record would
 * not read back as a valid record (the checks of `parseRecordLine`).
 */
export function recordLine(record: StoreRecord): string {
  const line = JSON.stringify(encode(record));
  const back = parseRecordLine(line);
  if (!back.ok) throw new Error(back.reason);
  return line;
}

function str(x: Json, path: string): string {
  if (typeof x !== 'string') fail(path, 'a string', x);
  return x;
}

/** An NSR-task record (`kind: 'nsr'`). */
function decodeNsr(raw: Obj): NsrRecord {
  const { key, config, seed } = decodeEnvelope(raw, NSR_RECORD_VERSION, 'NSR record', (config) => {
    if (!isObj(config.task)) fail('config.task', 'an object', config.task);
    try {
      validateNsrRun(config as unknown as NsrRunConfig);
    } catch (err) {
      throw new Invalid(`config: ${(err as Error).message}`);
    }
    return nsrConfigKey(config as unknown as NsrRunConfig);
  });
  const c = config as unknown as NsrRunConfig;
  const trainLoss = real(field(raw, 'trainLoss', ''), 'trainLoss');
  const trainSolved = bool(field(raw, 'trainSolved', ''), 'trainSolved');
  const divergedRaw = field(raw, 'diverged', '');
  let diverged: NsrRecord['diverged'] = null;
  if (divergedRaw !== null) {
    if (!isObj(divergedRaw)) fail('diverged', 'null or an object', divergedRaw);
    diverged = {
      ...divergedRaw,
      epoch: int(field(divergedRaw, 'epoch', 'diverged.'), 'diverged.epoch'),
      reason: str(field(divergedRaw, 'reason', 'diverged.'), 'diverged.reason'),
    };
  }
  const pointsRaw = field(raw, 'points', '');
  if (!Array.isArray(pointsRaw)) fail('points', 'an array', pointsRaw);
  const expected = testPoints(c.task);
  if (pointsRaw.length !== expected.length)
    fail('points', `the ${expected.length} test points of its task`, pointsRaw);
  const points: NsrPointResult[] = pointsRaw.map((p: Json, i) => {
    const at = `points[${i}]`;
    if (!isObj(p)) fail(at, 'an object', p);
    const label = str(field(p, 'label', `${at}.`), `${at}.label`);
    if (label !== expected[i]!.label) fail(`${at}.label`, JSON.stringify(expected[i]!.label), label);
    const items = positiveInt(field(p, 'items', `${at}.`), `${at}.items`, 0);
    const correct = positiveInt(field(p, 'correct', `${at}.`), `${at}.correct`, 0);
    const success = bool(field(p, 'success', `${at}.`), `${at}.success`);
    if (success !== (correct === items))
      throw new Invalid(
        `${at}.success is ${success} but ${correct} of ${items} items are right (the record was altered)`,
      );
    const gate = field(p, 'gateSuccess', `${at}.`);
    return {
      ...p,
      exponent: int(field(p, 'exponent', `${at}.`), `${at}.exponent`),
      length: intOrNull(field(p, 'length', `${at}.`), `${at}.length`),
      label,
      items,
      correct,
      success,
      meanError: real(field(p, 'meanError', `${at}.`), `${at}.meanError`),
      maxError: real(field(p, 'maxError', `${at}.`), `${at}.maxError`),
      gateSuccess: gate === null ? null : bool(gate, `${at}.gateSuccess`),
      beyondPrecision: bool(field(p, 'beyondPrecision', `${at}.`), `${at}.beyondPrecision`),
    };
  });
  return {
    ...raw,
    v: NSR_RECORD_VERSION,
    kind: 'nsr',
    key,
    config: c,
    seed,
    trainLoss,
    trainSolved,
    diverged,
    points,
  };
}

function encodeNsr(record: NsrRecord): Obj {
  const r = record as unknown as Obj;
  const points = Array.isArray(r.points)
    ? (r.points as Json[]).map((p) =>
        isObj(p)
          ? { ...p, meanError: encReal(p.meanError as number), maxError: encReal(p.maxError as number) }
          : p,
      )
    : r.points;
  return {
    v: r.v,
    kind: r.kind,
    key: r.key,
    seed: r.seed,
    ...r,
    trainLoss: encReal(r.trainLoss as number),
    points,
  };
}
