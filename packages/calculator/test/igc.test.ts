/**
 * The calculator inserted into the frozen transformer host (igc.ts, igc-train.ts): training leaves
 * the host's weights alone; a closed gate gives the host's logits bit for bit; the read-out learns
 * to read operands from the hidden states of a tiny host; generation runs one token at a time and
 * stops at the newline; the trained module round-trips through its encoding; bad questions are
 * clear errors, a division by zero a defined "nothing written", never a crash or NaN. Tiny hosts
 * (untrained: the mechanics do not need a pretrained one), each test a few seconds at most.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import { CharTokenizer, LanguageModelInputError } from '../src/char-tokenizer.js';
import {
  ANSWER_MARKER,
  IgcCalculator,
  OUTPUT_CHARS,
  ResidualAdapter,
  adapterWidthFor,
  decodeInsertedModule,
  encodeInsertedModule,
  igcPrompt,
  markerEnd,
} from '../src/igc.js';
import type { InsertedModule } from '../src/igc.js';
import {
  DEFAULT_IGC_TRAIN,
  IgcTrainer,
  answerQuestions,
  evaluateIgc,
  igcBatch,
  parseAnswer,
  readOperands,
  slotPositions,
} from '../src/igc-train.js';
import type { ArithmeticTask, Item } from '../src/task.js';
import { ArithmeticInputError, createTask, parseQuestion } from '../src/task.js';
import { operandSlots } from '../src/layers.js';
import type { LanguageModel } from '../src/transformer.js';
import { buildLanguageModel } from '../src/transformer.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const tok = new CharTokenizer();
const host = (seed = 1, dim = 16, layers = 2): LanguageModel => {
  const lm = buildLanguageModel({ layers, dim, heads: 2, context: 64, seed }, tok);
  lm.freeze();
  return lm;
};
const text = tok.encode('The quick brown fox jumps over the lazy dog in 1790. '.repeat(40), { bos: true });
const task = createTask({ testPerSubtask: 4 });
const settings = { ...DEFAULT_IGC_TRAIN, steps: 6, batchSize: 8, seed: 0 };
const ids2d = (rows: Int32Array[]) => {
  const T = Math.max(...rows.map((r) => r.length));
  const flat = new Int32Array(rows.length * T);
  rows.forEach((r, i) => flat.set(r, i * T));
  return tf.tensor2d(flat, [rows.length, T], 'int32');
};
const weightsOf = (lm: LanguageModel) => lm.model.getWeights().map((w) => Array.from(w.dataSync()));

/** A task whose training stream has only 1-digit additions and multiplications (a quick read-out test). */
function oneDigitTask(): ArithmeticTask {
  return {
    ...task,
    trainStream(seed: number) {
      const next = task.trainStream(seed);
      return () => {
        for (;;) {
          const it = next();
          if (it.subtask === '1_digit_addition' || it.subtask === '1_digit_multiplication') return it;
        }
      };
    },
  };
}

describe('inserting the calculator into the frozen host', () => {
  it('finds the answer marker, and its prompt is BIG-bench few-shot style', () => {
    const p = igcPrompt('What is 3 plus 4?');
    expect(p).toBe('Q: What is 3 plus 4?\nA: ');
    const ids = tok.encode(p, { bos: true });
    expect(markerEnd(ids, tok.encode(ANSWER_MARKER))).toBe(ids.length - 1);
    expect(markerEnd(tok.encode('no marker here'), tok.encode(ANSWER_MARKER))).toBe(-1);
  });

  it('training steps change the module and leave every host weight unchanged (calculator and adapter)', () => {
    const lm = host();
    const before = weightsOf(lm);
    const calc = new IgcCalculator({ dim: 16, seed: 0 }, tok);
    const adapter = new ResidualAdapter({
      dim: 16,
      width: adapterWidthFor(calc.parameterCount, 16),
      seed: 0,
    });
    for (const m of [calc, adapter] as InsertedModule[]) {
      const start = m.variables.map((v) => Array.from(v.dataSync()));
      const tr = new IgcTrainer(lm, m, 1, task, text, settings);
      for (let s = 0; s < 3; s++) {
        const p = tr.trainStep();
        expect(Number.isFinite(p.total)).toBe(true);
      }
      tr.dispose();
      expect(m.variables.map((v) => Array.from(v.dataSync()))).not.toEqual(start);
    }
    expect(weightsOf(lm)).toEqual(before);
    // The baseline gets about the calculator's trainable parameter count.
    expect(Math.abs(adapter.parameterCount - calc.parameterCount) / calc.parameterCount).toBeLessThan(0.05);
    // An unfrozen host is refused: only the module may train.
    lm.unfreeze();
    expect(() => new IgcTrainer(lm, calc, 1, task, text, settings)).toThrow(/not frozen/);
    lm.dispose();
  });

  it('with the gate forced to 0 the logits are exactly the host’s; without a marker they are whatever the gate', () => {
    const lm = host();
    const calc = new IgcCalculator({ dim: 16, seed: 0, gateBias: 3 }, tok); // a wide-open gate
    const q = ids2d([lm.encode(`${igcPrompt('What is 12 times 5?')}60`)]);
    const plain = lm.forward(q).dataSync();
    const open = lm.forward(q, { insertAfter: 1, insert: calc.insert }).dataSync();
    expect(Array.from(open)).not.toEqual(Array.from(plain)); // it writes after the marker
    calc.forceGate = 0;
    expect(Array.from(lm.forward(q, { insertAfter: 1, insert: calc.insert }).dataSync())).toEqual(
      Array.from(plain),
    );
    calc.forceGate = null;
    const t = ids2d([lm.encode('Four score and seven years ago, 1863.')]);
    expect(Array.from(lm.forward(t, { insertAfter: 1, insert: calc.insert }).dataSync())).toEqual(
      Array.from(lm.forward(t).dataSync()),
    );
    tf.dispose([q, t]);
    lm.dispose();
  });

  it('the read-out learns to read operands and operator from a tiny host’s hidden states', () => {
    const lm = host(1, 16, 2);
    const calc = new IgcCalculator({ dim: 16, seed: 0, operandDigits: 1, keyDim: 16 }, tok);
    const t1 = oneDigitTask();
    const tr = new IgcTrainer(lm, calc, 1, t1, text, {
      ...settings,
      steps: 120,
      batchSize: 16,
      textShare: 0,
      learningRate: 2e-2,
      warmupSteps: 5,
    });
    for (let s = 0; s < 120; s++) tr.trainStep();
    tr.dispose();
    const items: Item[] = [];
    for (let a = 0; a < 10; a += 3)
      for (let b = 0; b < 10; b += 4) items.push(parseQuestion(`What is ${a} times ${b}?`));
    items.push(parseQuestion('What is 7 plus 2?'), parseQuestion('What is 0 plus 9?'));
    const read = readOperands(
      lm,
      calc,
      1,
      items.map((i) => i.text),
    );
    const right = read.filter(
      (r, i) =>
        r.decoded.a === items[i]!.operands!.a &&
        r.decoded.b === items[i]!.operands!.b &&
        r.decoded.op === items[i]!.operands!.op,
    ).length;
    expect(right / items.length).toBeGreaterThanOrEqual(0.9);
    lm.dispose();
  });

  it("slotPositions: each slot's target is its digit, the character before the number, or the operator word", () => {
    const q = 'What is 48213 times 907?';
    const pos = slotPositions(q, 5)!;
    const ids = tok.encode(igcPrompt(q), { bos: true });
    const at = (p: number) => tok.decode(ids.subarray(p, p + 1));
    const L = operandSlots(5);
    expect([0, 1, 2, 3, 4].map((k) => at(pos[L.aDigits + k]!)).join('')).toBe('31284');
    expect([0, 1, 2, 3, 4].map((k) => at(pos[L.bDigits + k]!)).join('')).toBe('709  ');
    expect(pos[L.bDigits + 3]).toBe(pos[L.bSign]); // absent digits and the sign: the space before 907
    expect(at(pos[L.aSign]!)).toBe(' ');
    expect(at(pos[L.op]!)).toBe('t');
    expect(slotPositions('Repeat 4821.', 5)).toBeNull();
  });

  it('the gate sees what the operator slot read, but its loss does not move the read-out', () => {
    const lm = host(1, 16, 1);
    const calc = new IgcCalculator({ dim: 16, seed: 0, operandDigits: 2 }, tok);
    const x = ids2d([lm.encode(igcPrompt('What is 12 plus 34?')), lm.encode(igcPrompt('Repeat 4821.'))]);
    const h = lm.hiddenStates(x, 1);
    const gateSum = () => tf.sum(calc.apply(h, x, false).gate) as tf.Scalar;
    const { grads } = tf.variableGrads(gateSum, calc.variables);
    const norm = (v: tf.Variable) => (grads[v.name] ? tf.norm(grads[v.name]!).dataSync()[0]! : 0);
    // The gate's own weights learn from it, the operator view included …
    expect(norm(calc.gateW)).toBeGreaterThan(0);
    expect(norm(calc.gateU)).toBeGreaterThan(0);
    expect(norm(calc.gateB)).toBeGreaterThan(0);
    // … the read-out's do not (stopGradient on the pooled operator value).
    for (const v of [calc.keyW, calc.queries, calc.headW, calc.headB]) expect(norm(v)).toBe(0);
    // And the operator view changes the gate: u_g moves it, a row at a time.
    const before = calc.apply(h, x, false).gate.dataSync().slice();
    calc.gateU.assign(tf.mul(calc.gateU, 50));
    const after = calc.apply(h, x, false).gate.dataSync();
    expect(Array.from(after)).not.toEqual(Array.from(before));
    tf.dispose([x, h, ...Object.values(grads)]);
    calc.dispose();
    lm.dispose();
  });

  it('generates one token per step and stops at the newline: the frozen head emits what the module writes', () => {
    const lm = host(2, 64, 2);
    const calc = new IgcCalculator({ dim: 64, seed: 0 }, tok);
    // A constructed output mapping: inserted after the last block, E[c] is a large multiple of the
    // head's output column of c (LayerNorm then makes it dominate; at width 64 the random columns
    // are nearly orthogonal, so c's logit is the largest), gate forced open.
    const head = lm.head.getWeights()[2]!; // kernel [d, V]
    const cols = tf.tidy(() => {
      const ids = tf.tensor1d(
        Array.from(OUTPUT_CHARS, (c) => tok.idOf(c)!),
        'int32',
      );
      const w = tf.transpose(tf.gather(tf.transpose(head), ids)); // [d, 12]
      const centred = tf.sub(w, tf.mean(w, 0, true));
      return tf.mul(tf.transpose(centred), 1e4);
    });
    calc.embedding.assign(cols);
    calc.forceGate = 1;
    const lengths: number[] = [];
    const spy = (h: tf.Tensor3D, ids: tf.Tensor2D, training: boolean) => {
      lengths.push(ids.shape[1]);
      return calc.insert(h, ids, training);
    };
    const prompt = igcPrompt('What is 34 times 7?');
    const [out] = lm.generate([prompt], { insertAfter: 2, insert: spy, maxNewTokens: 12 });
    const written = calc.lastRows[0]!.written; // the result of what the (untrained) read-out read
    expect(written.endsWith('\n')).toBe(true);
    expect(out).toBe(written.slice(0, -1));
    const start = lm.encode(prompt).length;
    expect(lengths).toEqual(Array.from({ length: written.length }, (_, i) => start + i));
    tf.dispose(cols);
    lm.dispose();
  });

  it('save → load gives the same module: identical logits, read-out and parameters (both kinds)', async () => {
    const lm = host();
    const calc = new IgcCalculator({ dim: 16, seed: 5, operandDigits: 3 }, tok);
    const adapter = new ResidualAdapter({ dim: 16, width: 7, seed: 2 });
    const tr = new IgcTrainer(lm, adapter, 1, task, text, settings);
    tr.trainStep();
    tr.dispose();
    const q = ids2d([lm.encode(`${igcPrompt('What is 312 minus 45?')}267`)]);
    for (const m of [calc, adapter] as InsertedModule[]) {
      const enc = await encodeInsertedModule(m);
      const back = decodeInsertedModule(
        { json: JSON.parse(JSON.stringify(enc.json)) as typeof enc.json, data: enc.data.slice(0) },
        tok,
      );
      expect(back.kind).toBe(m.kind);
      expect(back.config()).toEqual(m.config());
      expect(back.parameterCount).toBe(m.parameterCount);
      const a = lm.forward(q, { insertAfter: 1, insert: m.insert }).dataSync();
      const b = lm.forward(q, { insertAfter: 1, insert: back.insert }).dataSync();
      expect(Array.from(b)).toEqual(Array.from(a));
      back.dispose();
    }
    // A damaged encoding is a clear error, not a crash.
    const enc = await encodeInsertedModule(calc);
    expect(() =>
      decodeInsertedModule({ json: { ...enc.json, format: 'x' as never }, data: enc.data }, tok),
    ).toThrow(LanguageModelInputError);
    // A module of the previous layout says so and what to do, instead of a shape error.
    expect(() =>
      decodeInsertedModule({ json: { ...enc.json, formatVersion: 1 }, data: enc.data }, tok),
    ).toThrow(/older nalm \(format version 1.*train it again with 'nalm calc igc-train'/);
    const wrong = new IgcCalculator({ dim: 16, seed: 5, operandDigits: 2 }, tok);
    const encWrong = await encodeInsertedModule(wrong);
    expect(() =>
      decodeInsertedModule({ json: { ...encWrong.json, config: calc.config() }, data: encWrong.data }, tok),
    ).toThrow(/shape/);
    tf.dispose(q);
    lm.dispose();
  });

  it('bad questions: clear errors from answerQuestions; a division by zero in a raw prompt writes nothing, no NaN', () => {
    const lm = host();
    const calc = new IgcCalculator({ dim: 16, seed: 0, operandDigits: 3 }, tok);
    expect(() => answerQuestions(lm, calc, 1, ['What is 3 plux 4?'])).toThrow(ArithmeticInputError);
    expect(() => answerQuestions(lm, calc, 1, ['How are you?'])).toThrow(/not a question of this task/);
    expect(() => answerQuestions(lm, calc, 1, ['What is 1234 plus 5?'])).toThrow(/at most 3/);
    expect(() => answerQuestions(lm, calc, 1, ['What is 12 divided by 0?'])).toThrow(/division by zero/);
    expect(() => answerQuestions(lm, calc, 1, ['What is 5 plus 3? é'])).toThrow(ArithmeticInputError);
    // Straight to the model: whatever the read-out reads as a division by zero is "invalid", and the
    // module then writes nothing at all (the host's own logits).
    const zero = calc.compute({ a: 12n, b: 0n, op: 3 });
    expect(zero.invalid).toBe(true);
    const q = ids2d([lm.encode(igcPrompt('What is 12 divided by 0?'))]);
    const o = calc.apply(lm.hiddenStates(q, 1), q);
    expect(o.rows[0]!.marker).toBeGreaterThan(0);
    const [g] = lm.generate([igcPrompt('What is 12 divided by 0?')], {
      insertAfter: 1,
      insert: calc.insert,
      maxNewTokens: 6,
    });
    expect(typeof g).toBe('string');
    expect(Array.from(o.out.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([q, o.out, o.logits, o.gate]);
    // A continuation that is not an integer is a defined null answer.
    expect(parseAnswer('12a')).toBeNull();
    expect(parseAnswer('-42')).toBe(-42n);
    expect(parseAnswer('')).toBeNull();
    // A prompt beyond the context is a LanguageModelInputError before anything runs.
    expect(() =>
      lm.generate(['x'.repeat(60)], { insertAfter: 1, insert: calc.insert, maxNewTokens: 12 }),
    ).toThrow(LanguageModelInputError);
    lm.dispose();
  });

  it('a step’s batch is a function of (seed, step); evaluation reports every subtask, gates and a finite perplexity', () => {
    const lm = host();
    const a = igcBatch(lm, task, text, settings, 3);
    const b = igcBatch(lm, task, text, settings, 3);
    const c = igcBatch(lm, task, text, settings, 4);
    expect(Array.from(a.inputs)).toEqual(Array.from(b.inputs));
    expect(Array.from(a.inputs)).not.toEqual(Array.from(c.inputs));
    expect(a.items.filter((i) => i === null)).toHaveLength(
      Math.round(settings.batchSize * settings.textShare),
    );
    const calc = new IgcCalculator({ dim: 16, seed: 0 }, tok);
    const ev = evaluateIgc(lm, calc, {
      insertAfter: 1,
      task,
      heldOut: text,
      evalTokens: 256,
      itemsPerSubtask: 1,
    });
    expect(ev.subtasks).toHaveLength(22);
    expect(ev.subtasks.every((s) => s.n === 1 && s.correct >= 0)).toBe(true);
    expect(ev.gate && Object.values(ev.gate).every((v) => v > 0 && v < 1)).toBe(true);
    const host0 = evaluateIgc(lm, null, {
      insertAfter: 1,
      task,
      heldOut: text,
      evalTokens: 256,
      itemsPerSubtask: 1,
    });
    // The calculator writes nothing into text without the marker: the perplexity is the host's.
    expect(ev.perplexity.perplexity).toBe(host0.perplexity.perplexity);
    expect(Number.isFinite(ev.perplexity.perplexity)).toBe(true);
    lm.dispose();
  });
});
