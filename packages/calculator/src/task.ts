/**
 * The arithmetic text task in the BIG-bench Arithmetic format (`What is 132 plus 762?`): 20 subtasks
 * (1–5 digit operands × addition, subtraction, multiplication, division), plus non-arithmetic
 * inputs (copy: `Repeat 4821.`, count: `How many digits in 4821?`) that the calculator must leave
 * alone. Parsing the text happens here, for labels only; the model sees the tokenizer's output.
 *
 * Sampling (n-digit subtask): operands uniform in [0, 10ⁿ − 1]; subtraction may go negative;
 * division draws a divisor d in [1, 10ⁿ − 1] and a quotient q in [0, ⌊(10ⁿ − 1)/d⌋] and asks for
 * (q·d) / d, so both operands have at most n digits and the answer is an exact integer.
 *
 * Splits: the test set of a subtask is drawn from a fixed split seed, distinct items only; the
 * training stream rejects every test item, so the two never overlap. No subtask puts more than
 * half of its problems into the test set (1-digit: 100 pairs, 1-digit division: 32).
 */
import { Rng } from '@nalm/units';
import type { Operator } from './arith.js';
import { OPERATORS, digitsOf } from './arith.js';

/** A mistake in a question or task configuration: says what is wrong and what is accepted. */
export class ArithmeticInputError extends Error {
  override readonly name = 'ArithmeticInputError';
}

export const OPERATOR_WORDS: Readonly<Record<Operator, string>> = {
  '+': 'plus',
  '-': 'minus',
  '*': 'times',
  '/': 'divided by',
};
const OP_NAMES: Readonly<Record<Operator, string>> = {
  '+': 'addition',
  '-': 'subtraction',
  '*': 'multiplication',
  '/': 'division',
};

export const MAX_DIGITS = 5;
export type NonArithKind = 'copy' | 'count';
export const NON_ARITH_KINDS: readonly NonArithKind[] = ['copy', 'count'];

export interface ArithSubtask {
  readonly name: string; // BIG-bench's names: '3_digit_multiplication'
  readonly kind: 'arith';
  readonly digits: number;
  readonly op: number; // index into OPERATORS
}
export interface NonArithSubtask {
  readonly name: NonArithKind;
  readonly kind: NonArithKind;
}
export type Subtask = ArithSubtask | NonArithSubtask;

/** The 20 BIG-bench Arithmetic subtasks, by operation then digits. */
export const ARITH_SUBTASKS: readonly ArithSubtask[] = OPERATORS.flatMap((o, op) =>
  [1, 2, 3, 4, 5].map((digits) => ({
    name: `${digits}_digit_${OP_NAMES[o]}`,
    kind: 'arith' as const,
    digits,
    op,
  })),
);
export const NON_ARITH_SUBTASKS: readonly NonArithSubtask[] = NON_ARITH_KINDS.map((k) => ({
  name: k,
  kind: k,
}));
export const SUBTASKS: readonly Subtask[] = [...ARITH_SUBTASKS, ...NON_ARITH_SUBTASKS];

/** One question with everything the labels need. */
export interface Item {
  readonly subtask: string;
  readonly text: string;
  readonly answer: bigint;
  /** The operands and operator of an arithmetic question; null for non-arithmetic inputs. */
  readonly operands: { readonly a: bigint; readonly b: bigint; readonly op: number } | null;
}

// ---------------------------------------------------------------------------------------------
// Questions: format and parse (the only place that knows the wording).

export function arithmeticQuestion(a: bigint, b: bigint, op: number): string {
  const o = OPERATORS[op];
  if (o === undefined)
    throw new ArithmeticInputError(`unknown operator index ${op}; have 0..${OPERATORS.length - 1}.`);
  return `What is ${a} ${OPERATOR_WORDS[o]} ${b}?`;
}

function checkNumber(s: string, text: string, maxDigits: number): bigint {
  if (s.length > maxDigits) {
    throw new ArithmeticInputError(
      `${JSON.stringify(text)}: the number ${s} has ${s.length} digits; at most ${maxDigits} are supported.`,
    );
  }
  return BigInt(s);
}

/** A part of a question's text: its characters and where they start. */
export interface TextSpan {
  readonly text: string;
  readonly start: number;
}

/**
 * The parts of an arithmetic question's text (first operand, operator word, second operand), or
 * null when `text` does not have its shape. Shape only: `parseQuestion` checks the parts.
 */
export function arithmeticSpans(text: string): { a: TextSpan; word: TextSpan; b: TextSpan } | null {
  const m = /^What is (\S+) (.+?) (\S+)\?$/d.exec(text);
  if (!m) return null;
  const span = (i: number): TextSpan => ({ text: m[i]!, start: m.indices![i]![0] });
  return { a: span(1), word: span(2), b: span(3) };
}

/**
 * The item of a question text (answer included), or an ArithmeticInputError naming the problem:
 * unknown operator, a number with too many digits, or a text in none of the accepted forms.
 */
export function parseQuestion(text: string, maxDigits = MAX_DIGITS): Item {
  const arith = arithmeticSpans(text);
  if (arith) {
    const [sa, word, sb] = [arith.a.text, arith.word.text, arith.b.text];
    const op = OPERATORS.findIndex((o) => OPERATOR_WORDS[o] === word);
    if (op < 0) {
      throw new ArithmeticInputError(
        `${JSON.stringify(text)}: unknown operator '${word}'; use one of: ${OPERATORS.map((o) => OPERATOR_WORDS[o]).join(', ')}.`,
      );
    }
    for (const s of [sa, sb]) {
      if (!/^\d+$/.test(s)) {
        throw new ArithmeticInputError(
          `${JSON.stringify(text)}: '${s}' is not a non-negative whole number written with digits.`,
        );
      }
    }
    const a = checkNumber(sa, text, maxDigits);
    const b = checkNumber(sb, text, maxDigits);
    const o = OPERATORS[op]!;
    if (o === '/' && b === 0n) throw new ArithmeticInputError(`${JSON.stringify(text)}: division by zero.`);
    if (o === '/' && a % b !== 0n) {
      throw new ArithmeticInputError(
        `${JSON.stringify(text)}: ${a} is not divisible by ${b}; the task's division problems have exact integer answers.`,
      );
    }
    const answer = o === '+' ? a + b : o === '-' ? a - b : o === '*' ? a * b : a / b;
    const digits = Math.max(sa.length, sb.length);
    const name = `${digits}_digit_${OP_NAMES[o]}`;
    return { subtask: name, text, answer, operands: { a, b, op } };
  }
  const copy = /^Repeat (\d+)\.$/.exec(text);
  if (copy) {
    const n = checkNumber(copy[1]!, text, maxDigits);
    return { subtask: 'copy', text, answer: n, operands: null };
  }
  const count = /^How many digits in (\d+)\?$/.exec(text);
  if (count) {
    checkNumber(count[1]!, text, maxDigits);
    return { subtask: 'count', text, answer: BigInt(count[1]!.length), operands: null };
  }
  throw new ArithmeticInputError(
    `${JSON.stringify(text)} is not a question of this task. Accepted forms: 'What is 132 plus 762?' ` +
      `(plus, minus, times, divided by), 'Repeat 4821.', 'How many digits in 4821?'.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Sampling and splits.

const pow10 = (n: number) => 10 ** n;

function sampleItem(st: Subtask, rng: Rng): Item {
  if (st.kind === 'arith') {
    const max = pow10(st.digits) - 1;
    let a: number;
    let b: number;
    if (OPERATORS[st.op] === '/') {
      b = rng.int(1, max);
      a = rng.int(0, Math.floor(max / b)) * b;
    } else {
      a = rng.int(0, max);
      b = rng.int(0, max);
    }
    return itemOf(st, BigInt(a), BigInt(b));
  }
  const len = rng.int(1, MAX_DIGITS);
  const n = len === 1 ? rng.int(0, 9) : rng.int(pow10(len - 1), pow10(len) - 1);
  return itemOf(st, BigInt(n), 0n);
}

function itemOf(st: Subtask, a: bigint, b: bigint): Item {
  if (st.kind === 'arith') {
    const o = OPERATORS[st.op]!;
    const answer = o === '+' ? a + b : o === '-' ? a - b : o === '*' ? a * b : a / b;
    return { subtask: st.name, text: arithmeticQuestion(a, b, st.op), answer, operands: { a, b, op: st.op } };
  }
  if (st.kind === 'copy') return { subtask: 'copy', text: `Repeat ${a}.`, answer: a, operands: null };
  return {
    subtask: 'count',
    text: `How many digits in ${a}?`,
    answer: BigInt(String(a).length),
    operands: null,
  };
}

/** Every problem of a subtask whose universe is small (≤ 20 000 items), else null. */
function enumerate(st: Subtask): Item[] | null {
  if (st.kind !== 'arith' || st.digits > 2) return null;
  const max = pow10(st.digits) - 1;
  const out: Item[] = [];
  if (OPERATORS[st.op] === '/') {
    for (let b = 1; b <= max; b++)
      for (let q = 0; q * b <= max; q++) out.push(itemOf(st, BigInt(q * b), BigInt(b)));
  } else {
    for (let a = 0; a <= max; a++) for (let b = 0; b <= max; b++) out.push(itemOf(st, BigInt(a), BigInt(b)));
  }
  return out;
}

/** How many distinct problems an arithmetic subtask has (division: every divisor × every quotient). */
function universeSize(st: ArithSubtask): number {
  const max = pow10(st.digits) - 1;
  if (OPERATORS[st.op] !== '/') return (max + 1) ** 2;
  let n = 0;
  for (let b = 1; b <= max; b++) n += Math.floor(max / b) + 1;
  return n;
}

/** How many numbers have exactly `len` digits (no leading zeros; 0 is a 1-digit number). */
const numbersOfLength = (len: number) => (len === 1 ? 10 : 9 * pow10(len - 1));
/** Digits of the number in a non-arithmetic item. */
export const numberLengthOf = (it: Item): number => it.text.replace(/\D/g, '').length;
/** Most test items of a non-arithmetic subtask: half the numbers of each length. */
const nonArithTestCap = () =>
  Array.from({ length: MAX_DIGITS }, (_, i) => Math.floor(numbersOfLength(i + 1) / 2)).reduce(
    (a, b) => a + b,
    0,
  );

/** Default share of non-arithmetic (copy/count) inputs in the training stream. */
export const DEFAULT_NON_ARITH_SHARE = 0.2;

export interface TaskOptions {
  /** Seed of the train/test split (fixed across training seeds). */
  splitSeed?: number;
  /** Test items per subtask (fewer where the subtask has few problems: at most half of them). */
  testPerSubtask?: number;
  /** Share of non-arithmetic inputs in the training stream. */
  nonArithShare?: number;
}

export interface ArithmeticTask {
  readonly splitSeed: number;
  readonly testPerSubtask: number;
  readonly nonArithShare: number;
  /** Test items, grouped by subtask name (20 arithmetic subtasks, then copy and count). */
  readonly test: ReadonlyMap<string, readonly Item[]>;
  /** A training item stream for a training seed; never yields a test item. */
  trainStream(seed: number): () => Item;
  /** Whether a text belongs to the test split. */
  isTest(text: string): boolean;
}

export function createTask(options: TaskOptions = {}): ArithmeticTask {
  const splitSeed = options.splitSeed ?? 2025;
  const testPerSubtask = options.testPerSubtask ?? 200;
  const nonArithShare = options.nonArithShare ?? DEFAULT_NON_ARITH_SHARE;
  if (!Number.isInteger(testPerSubtask) || testPerSubtask < 1) {
    throw new ArithmeticInputError(`testPerSubtask must be a whole number ≥ 1, got ${testPerSubtask}.`);
  }
  if (!(nonArithShare >= 0 && nonArithShare < 1)) {
    throw new ArithmeticInputError(`nonArithShare must be in [0, 1), got ${nonArithShare}.`);
  }
  const test = new Map<string, Item[]>();
  const testTexts = new Set<string>();
  /** Training pools of small subtasks (their complement of the test set). */
  const pools = new Map<string, Item[]>();
  for (const st of SUBTASKS) {
    const rng = new Rng(splitSeed, 'calc-split', st.name);
    const all = enumerate(st);
    const items: Item[] = [];
    if (all) {
      // Fisher–Yates with the split seed, then the first (at most half) are the test set.
      for (let i = all.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [all[i], all[j]] = [all[j]!, all[i]!];
      }
      const n = Math.min(testPerSubtask, Math.floor(all.length / 2));
      items.push(...all.slice(0, n));
      pools.set(st.name, all.slice(n));
    } else {
      const seen = new Set<string>();
      // Non-arithmetic inputs draw the number's length first, so without a cap all ten 1-digit
      // numbers land in the test set and training never sees a 1-digit copy or count (both
      // variants then fail them alike): each length keeps at least half its numbers for training.
      const perLength = new Map<number, number>();
      // Like the enumerated subtasks, at most half of the problems go to the test set (asking for
      // more distinct items than exist would never finish).
      const cap = st.kind === 'arith' ? Math.floor(universeSize(st) / 2) : nonArithTestCap();
      const n = Math.min(testPerSubtask, cap);
      while (items.length < n) {
        const it = sampleItem(st, rng);
        if (seen.has(it.text)) continue;
        if (st.kind !== 'arith') {
          const len = numberLengthOf(it);
          const k = perLength.get(len) ?? 0;
          if (k >= Math.floor(numbersOfLength(len) / 2)) continue;
          perLength.set(len, k + 1);
        }
        seen.add(it.text);
        items.push(it);
      }
    }
    for (const it of items) testTexts.add(it.text);
    test.set(st.name, items);
  }
  // A small subtask's problems can also be drawn by a larger one ("What is 5 plus 3?" is a 2-digit
  // addition too): no test item of any subtask may stay in a training pool.
  for (const [name, pool] of pools)
    pools.set(
      name,
      pool.filter((it) => !testTexts.has(it.text)),
    );
  return {
    splitSeed,
    testPerSubtask,
    nonArithShare,
    test,
    isTest: (text) => testTexts.has(text),
    trainStream(seed: number) {
      const rng = new Rng(seed, 'calc-train', splitSeed);
      return () => {
        const arith = rng.next() >= nonArithShare;
        const list = arith ? ARITH_SUBTASKS : NON_ARITH_SUBTASKS;
        const st = list[rng.int(0, list.length - 1)]!;
        const pool = pools.get(st.name);
        if (pool) return pool[rng.int(0, pool.length - 1)]!;
        for (;;) {
          const it = sampleItem(st, rng);
          if (!testTexts.has(it.text)) return it;
        }
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Tokenizer: words, single digits and punctuation (spaces separate tokens and are dropped), plus
// two token-level number features (as in "abacus" embeddings): the place of a digit counted from
// the end of its number (1 = units) and the ordinal of its number in the text (1 = first number).
// Non-digits have 0 for both. No arithmetic knowledge: the features mark where digits are, not what
// they mean. Word tokens keep sequences short (T = 16), which halves the step time against
// character tokens.

/** The vocabulary after the padding token 0. */
export const VOCABULARY: readonly string[] = [
  ...'0123456789',
  '?',
  '.',
  ',',
  '-',
  'What',
  'is',
  'plus',
  'minus',
  'times',
  'divided',
  'by',
  'Repeat',
  'How',
  'many',
  'digits',
  'in',
];
export const VOCAB_SIZE = VOCABULARY.length + 1;
const TOKEN_ID = new Map(VOCABULARY.map((w, i) => [w, i + 1]));
/** Most numbers per text the ordinal feature distinguishes. */
export const MAX_NUMBERS = 3;

export interface TokenizerOptions {
  /** Sequence length T in tokens (texts are right-padded). */
  maxLength?: number;
  /** Longest number (its digits get places 1..maxDigits). */
  maxDigits?: number;
}

export interface Encoded {
  /** [n·T] token ids, places and ordinals (int32, row-major). */
  readonly tokens: Int32Array;
  readonly places: Int32Array;
  readonly ordinals: Int32Array;
  readonly n: number;
  readonly maxLength: number;
}

export class Tokenizer {
  readonly maxLength: number;
  readonly maxDigits: number;
  constructor(options: TokenizerOptions = {}) {
    this.maxLength = options.maxLength ?? 16;
    this.maxDigits = options.maxDigits ?? MAX_DIGITS;
  }
  get vocabSize(): number {
    return VOCAB_SIZE;
  }
  /** Number of distinct place ids (0 and 1..maxDigits). */
  get placeIds(): number {
    return this.maxDigits + 1;
  }
  get ordinalIds(): number {
    return MAX_NUMBERS + 1;
  }

  /** The token strings of a text (digits one by one, spaces dropped), or an error naming the bad piece. */
  split(text: string): string[] {
    const pieces = text.match(/\d|[A-Za-z]+|\S/g) ?? [];
    for (const p of pieces) {
      if (!TOKEN_ID.has(p)) {
        throw new ArithmeticInputError(
          `${JSON.stringify(text)}: '${p}' is not in the vocabulary (${VOCABULARY.slice(10).join(' ')} and digits).`,
        );
      }
    }
    return pieces;
  }

  /** Width of `oneHot`'s rows: token, place and ordinal one-hots side by side. */
  get featureSize(): number {
    return this.vocabSize + this.placeIds + this.ordinalIds;
  }

  /**
   * [n·T·featureSize] one-hot features of encoded texts: a Dense layer without bias on them is the
   * sum of a token, a place and an ordinal embedding (tfjs's wasm backend has no gradient for the
   * gather of an Embedding layer).
   */
  oneHot(e: Encoded): Float32Array {
    const F = this.featureSize;
    const out = new Float32Array(e.n * e.maxLength * F);
    const p0 = this.vocabSize;
    const o0 = p0 + this.placeIds;
    for (let i = 0; i < e.tokens.length; i++) {
      out[i * F + e.tokens[i]!] = 1;
      out[i * F + p0 + e.places[i]!] = 1;
      out[i * F + o0 + e.ordinals[i]!] = 1;
    }
    return out;
  }

  encode(texts: readonly string[]): Encoded {
    const T = this.maxLength;
    const tokens = new Int32Array(texts.length * T);
    const places = new Int32Array(texts.length * T);
    const ordinals = new Int32Array(texts.length * T);
    texts.forEach((text, row) => this.encodeInto(text, tokens, places, ordinals, row * T));
    return { tokens, places, ordinals, n: texts.length, maxLength: T };
  }

  private encodeInto(text: string, tokens: Int32Array, places: Int32Array, ordinals: Int32Array, o: number) {
    const pieces = this.split(text);
    if (pieces.length > this.maxLength) {
      throw new ArithmeticInputError(
        `${JSON.stringify(text)} has ${pieces.length} tokens; the tokenizer's maxLength is ${this.maxLength}.`,
      );
    }
    // Numbers are runs of digits in the text itself (a space ends a number).
    const runs = [...text.matchAll(/\d+/g)].map((m) => m[0]);
    for (const digits of runs) {
      if (digits.length > this.maxDigits) {
        throw new ArithmeticInputError(
          `${JSON.stringify(text)}: the number ${digits} has ${digits.length} digits; at most ${this.maxDigits} are supported.`,
        );
      }
    }
    if (runs.length > MAX_NUMBERS) {
      throw new ArithmeticInputError(
        `${JSON.stringify(text)} contains more than ${MAX_NUMBERS} numbers, which the tokenizer does not distinguish.`,
      );
    }
    let ordinal = 0;
    let prevDigitEnd = -2;
    let pos = 0;
    let place = 0;
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      tokens[o + i] = TOKEN_ID.get(p)!;
      const at = text.indexOf(p, pos);
      pos = at + p.length;
      if (p >= '0' && p <= '9' && p.length === 1) {
        if (at !== prevDigitEnd) {
          ordinal++;
          place = runs[ordinal - 1]!.length;
        }
        places[o + i] = place--;
        ordinals[o + i] = ordinal;
        prevDigitEnd = pos;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Labels.

/** Answer slots: `resultDigits` digits (least significant first), then the sign (0 = +, 1 = −). */
export function answerLabels(items: readonly Item[], resultDigits: number): Int32Array {
  const S = resultDigits + 1;
  const out = new Int32Array(items.length * S);
  items.forEach((it, i) => {
    const d = digitsOf(it.answer, resultDigits);
    for (let j = 0; j < resultDigits; j++) out[i * S + j] = d[j]!;
    out[i * S + resultDigits] = it.answer < 0n ? 1 : 0;
  });
  return out;
}

/** The answer of one row of answer-slot classes (the inverse of answerLabels). */
export function answerOf(slots: ArrayLike<number>, resultDigits: number): bigint {
  let v = 0n;
  for (let j = resultDigits - 1; j >= 0; j--) v = v * 10n + BigInt(slots[j]!);
  return slots[resultDigits] === 1 ? -v : v;
}
