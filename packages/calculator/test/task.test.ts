/**
 * The arithmetic text task: question format, labels, the fixed-seed splits that never overlap, the
 * tokenizer's features, and bad input → a clear ArithmeticInputError.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARITH_SUBTASKS,
  ArithmeticInputError,
  Tokenizer,
  answerLabels,
  answerOf,
  arithmeticQuestion,
  createTask,
  numberLengthOf,
  parseQuestion,
} from '../src/task.js';

const task = createTask({ testPerSubtask: 100 });

describe('questions', () => {
  it('has the 20 BIG-bench subtasks', () => {
    expect(ARITH_SUBTASKS.map((s) => s.name)).toHaveLength(20);
    expect(ARITH_SUBTASKS[0]!.name).toBe('1_digit_addition');
    expect(ARITH_SUBTASKS.at(-1)!.name).toBe('5_digit_division');
  });

  it('formats and parses in the BIG-bench wording, with the exact answer', () => {
    expect(arithmeticQuestion(132n, 762n, 0)).toBe('What is 132 plus 762?');
    expect(parseQuestion('What is 132 plus 762?').answer).toBe(894n);
    expect(parseQuestion('What is 27 divided by 9?').answer).toBe(3n);
    expect(parseQuestion('What is 5 minus 123?').answer).toBe(-118n);
    expect(parseQuestion('What is 48213 times 907?').answer).toBe(43729191n);
    expect(parseQuestion('Repeat 4821.')).toMatchObject({ subtask: 'copy', answer: 4821n, operands: null });
    expect(parseQuestion('How many digits in 4821?')).toMatchObject({ subtask: 'count', answer: 4n });
  });

  it('every test item parses back to itself (text, answer, operands)', () => {
    for (const [name, items] of task.test) {
      for (const it of items) {
        const p = parseQuestion(it.text);
        expect(p.answer).toBe(it.answer);
        expect(p.operands).toEqual(it.operands);
        if (it.operands) expect(name).toMatch(/_digit_/);
      }
    }
  });

  const bad: [string, RegExp][] = [
    ['What is 123456 plus 1?', /123456 has 6 digits; at most 5/],
    ['What is 12 modulo 5?', /unknown operator 'modulo'.*plus, minus, times, divided by/],
    ['What is 12 divided by 0?', /division by zero/],
    ['What is 7 divided by 2?', /not divisible/],
    ['What is twelve plus 1?', /'twelve' is not a non-negative whole number/],
    ['what is 1 plus 1', /not a question of this task/],
    ['Repeat 123456.', /6 digits/],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      expect(() => parseQuestion(text)).toThrow(ArithmeticInputError);
      expect(() => parseQuestion(text)).toThrow(message);
    });
  }
});

describe('splits', () => {
  it('the same split seed gives the same test set; another seed a different one', () => {
    const again = createTask({ testPerSubtask: 100 });
    const other = createTask({ testPerSubtask: 100, splitSeed: 7 });
    const texts = (t: typeof task) => [...t.test.values()].flat().map((i) => i.text);
    expect(texts(again)).toEqual(texts(task));
    expect(texts(other)).not.toEqual(texts(task));
  });

  it('test items are distinct, and small subtasks keep at least half their problems for training', () => {
    for (const [name, items] of task.test) {
      expect(new Set(items.map((i) => i.text)).size, name).toBe(items.length);
    }
    expect(task.test.get('1_digit_addition')).toHaveLength(50); // 100 pairs
    expect(task.test.get('1_digit_division')).toHaveLength(16); // 32 divisible pairs
    expect(task.test.get('3_digit_multiplication')).toHaveLength(100);
  });

  it('asking for more test items than a subtask has problems gives half of them, and finishes', () => {
    const big = createTask({ testPerSubtask: 5000 });
    // 3-digit division: Σ_{b=1}^{999} (⌊999/b⌋ + 1) = 8,052 divisible pairs, so 4,026 test items.
    let pairs = 0;
    for (let b = 1; b <= 999; b++) pairs += Math.floor(999 / b) + 1;
    expect(big.test.get('3_digit_division')).toHaveLength(Math.floor(pairs / 2));
    expect(big.test.get('3_digit_addition')).toHaveLength(5000);
  });

  it('the training stream never yields a test item, covers every subtask, and mixes in non-arithmetic inputs', () => {
    const next = task.trainStream(3);
    const seen = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const it = next();
      expect(task.isTest(it.text)).toBe(false);
      seen.set(it.subtask, (seen.get(it.subtask) ?? 0) + 1);
    }
    expect(seen.size).toBe(22);
    const nonArith = (seen.get('copy') ?? 0) + (seen.get('count') ?? 0);
    expect(nonArith / 20_000).toBeGreaterThan(0.17);
    expect(nonArith / 20_000).toBeLessThan(0.23);
  });

  it('copy and count keep at least half the numbers of every length for training', () => {
    for (const name of ['copy', 'count']) {
      const perLength = new Map<number, number>();
      for (const it of task.test.get(name)!) {
        const len = numberLengthOf(it);
        perLength.set(len, (perLength.get(len) ?? 0) + 1);
      }
      expect(perLength.get(1), name).toBeLessThanOrEqual(5); // of the ten numbers 0..9
      expect(perLength.get(2), name).toBeLessThanOrEqual(45);
    }
    // So the training stream does yield 1-digit copy and count inputs.
    const next = task.trainStream(2);
    const oneDigit = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const it = next();
      if (it.operands === null && numberLengthOf(it) === 1) oneDigit.add(it.subtask);
    }
    expect([...oneDigit].sort()).toEqual(['copy', 'count']);
  });

  it('division problems have exact integer answers with operands of at most n digits', () => {
    const next = task.trainStream(1);
    for (let i = 0; i < 5000; i++) {
      const it = next();
      if (!it.operands || it.operands.op !== 3) continue;
      const n = Number(/^(\d)/.exec(it.subtask)![1]);
      expect(it.operands.b).toBeGreaterThan(0n);
      expect(it.operands.a % it.operands.b).toBe(0n);
      expect(String(it.operands.a).length).toBeLessThanOrEqual(n);
    }
  });
});

describe('tokenizer', () => {
  const tok = new Tokenizer();
  it('marks digits with their place from the end and the ordinal of their number', () => {
    const text = 'What is 132 plus 7?';
    expect(tok.split(text)).toEqual(['What', 'is', '1', '3', '2', 'plus', '7', '?']);
    const e = tok.encode([text]);
    expect(Array.from(e.places.slice(0, 8))).toEqual([0, 0, 3, 2, 1, 0, 1, 0]);
    expect(Array.from(e.ordinals.slice(0, 8))).toEqual([0, 0, 1, 1, 1, 0, 2, 0]);
    expect(e.tokens.slice(8).every((t) => t === 0)).toBe(true); // padding
    const twoNumbers = tok.encode(['Repeat 12 3.']);
    expect(Array.from(twoNumbers.places.slice(0, 5))).toEqual([0, 2, 1, 1, 0]);
    expect(Array.from(twoNumbers.ordinals.slice(0, 5))).toEqual([0, 1, 1, 2, 0]);
  });

  it('one-hot rows have exactly three ones on tokens', () => {
    const e = tok.encode(['Repeat 42.']);
    const f = tok.oneHot(e);
    const row = (t: number) =>
      f.slice(t * tok.featureSize, (t + 1) * tok.featureSize).reduce((a, b) => a + b, 0);
    expect(row(0)).toBe(3);
    expect(row(2)).toBe(3);
  });

  it('rejects unknown words and symbols, long texts and long numbers', () => {
    expect(() => tok.encode(['What is 1 + 2?'])).toThrow(/'\+' is not in the vocabulary/);
    expect(() => tok.encode(['What is 1 modulo 2?'])).toThrow(/'modulo' is not in the vocabulary/);
    expect(() => tok.encode(['What is '.repeat(9)])).toThrow(/18 tokens; the tokenizer's maxLength is 16/);
    expect(() => tok.encode(['Repeat 123456.'])).toThrow(/123456 has 6 digits/);
    expect(() => tok.encode(['1 2 3 4'])).toThrow(/more than 3 numbers/);
  });

  it('every test question fits', () => {
    for (const items of task.test.values()) expect(() => tok.encode(items.map((i) => i.text))).not.toThrow();
  });
});

describe('answer labels', () => {
  it('round-trip every answer in range', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 10n - 1n), max: 10n ** 10n - 1n }), (answer) => {
        const labels = answerLabels([{ subtask: 'x', text: '', answer, operands: null }], 10);
        expect(answerOf(labels, 10)).toBe(answer);
      }),
    );
  });
});
