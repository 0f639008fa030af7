/**
 * The GatedCalculator layer: nearly-closed gate at init, exact stage inside the layer, teacher
 * forcing, operand decoding, serialisation, and save → load of a trained host with identical
 * answers, operands and gates.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@nalm/units';
import { loadModel, saveModel } from '@nalm/units/node';
import { calculate, resultFeatures } from '../src/arith.js';
import { buildHostModel, calculatorOf, gateTargetMasks, predict, trainHost } from '../src/host.js';
import { GatedCalculator, SlotReadout, decodeOperands, operandLabels, operandSlots } from '../src/layers.js';
import { Tokenizer, createTask } from '../src/task.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('GatedCalculator', () => {
  it('starts nearly closed: H′ − H = σ(−4)-sized, and the gate bias is the configured one', () => {
    const layer = new GatedCalculator({ seed: 1 });
    const h = tf.randomNormal([4, 7, 16], 0, 1, 'float32', 3);
    const [out, logits, gate] = layer.apply(h) as tf.Tensor[];
    expect(out!.shape).toEqual([4, 7, 16]);
    expect(logits!.shape).toEqual([4, operandSlots(5).count, 10]);
    const g = gate!.dataSync();
    for (const v of g) expect(Math.abs(v - 1 / (1 + Math.exp(4)))).toBeLessThan(0.005);
    const diff = tf.max(tf.abs(tf.sub(out!, h))).dataSync()[0]!;
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(0.2);
  });

  it('adds exactly gate · proj(exact result) of the teacher operands in training calls', () => {
    const layer = new GatedCalculator({ seed: 2, gateBias: 0 });
    const h = tf.randomNormal([3, 5, 8], 0, 1, 'float32', 4);
    layer.apply(h); // build
    const rows = [
      { a: 48213n, b: 907n, op: 2 },
      { a: 12n, b: 0n, op: 3 },
      { a: 5n, b: 99999n, op: 1 },
    ];
    layer.teacher = rows;
    const [out, , gate] = layer.apply(h, { training: true }) as tf.Tensor[];
    const [outW, outB] = [layer.getWeights()[4]!, layer.getWeights()[5]!];
    const F = layer.featureSize;
    const feats = new Float32Array(3 * F);
    rows.forEach((r, i) => resultFeatures(calculate(r.a, r.b, r.op, 5, 10), 10, feats, i * F));
    expect(feats[F + F - 1]).toBe(1); // the division by zero is flagged invalid
    const proj = tf.add(tf.matMul(tf.tensor2d(feats, [3, F]), outW), outB);
    const want = tf.add(h, tf.mul(gate!, tf.reshape(proj, [3, 1, 8])));
    expect(tf.max(tf.abs(tf.sub(out!, want))).dataSync()[0]).toBeLessThan(1e-5);
    // Outside training the teacher is ignored: the decoded operands are used.
    layer.apply(h, { training: false });
    expect(layer.lastDecoded).toHaveLength(3);
    layer.teacher = null;
  });

  it('decodes operands from logits: argmax per slot, units first', () => {
    const D = 5;
    const rows = [
      { a: 48213n, b: 907n, op: 2 },
      { a: -7n, b: 0n, op: 3 },
    ];
    const labels = operandLabels(rows, D);
    const S = operandSlots(D).count;
    const logits = new Float32Array(rows.length * S * 10);
    labels.forEach((c, k) => (logits[k * 10 + c] = 5));
    expect(decodeOperands(logits, rows.length, D, 4)).toEqual(rows);
  });

  it('rejects hidden states of the wrong rank and bad options', () => {
    expect(() => new GatedCalculator({ operandDigits: 0 })).toThrow(
      /'operandDigits' must be a positive integer/,
    );
    expect(() => new GatedCalculator().apply(tf.zeros([2, 3]))).toThrow(/\[batch, positions, features\]/);
    expect(() => new SlotReadout({ slots: 2, classes: 0 })).toThrow(/'classes'/);
  });

  it('serialises: getConfig → fromConfig gives the same options', () => {
    const layer = new GatedCalculator({
      operandDigits: 3,
      resultDigits: 7,
      keyDim: 8,
      gateBias: -3,
      detachGate: true,
      seed: 9,
    });
    const copy = GatedCalculator.fromConfig(GatedCalculator, layer.getConfig()) as GatedCalculator;
    expect([
      copy.operandDigits,
      copy.resultDigits,
      copy.keyDim,
      copy.gateBias,
      copy.detachGate,
      copy.seed,
    ]).toEqual([3, 7, 8, -3, true, 9]);
    expect(new GatedCalculator().detachGate).toBe(false);
    expect(() => new GatedCalculator({ detachGate: 1 as unknown as boolean })).toThrow(/'detachGate'/);
  });

  it('detachGate: a loss on H′ trains the output mapping but not the gate; a loss on the gate output does', () => {
    const h = tf.randomNormal([3, 5, 8], 0, 1, 'float32', 5);
    const gradsOf = (detachGate: boolean, output: 0 | 2) => {
      const layer = new GatedCalculator({ seed: 4, gateBias: 0, detachGate });
      layer.apply(h); // build
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.square((layer.apply(h) as tf.Tensor[])[output]!)) as tf.Scalar,
      );
      const norm = (part: string) => {
        const key = Object.keys(grads).find((k) => k.includes(part));
        return key === undefined ? 0 : tf.norm(grads[key]!).dataSync()[0]!;
      };
      return { gate: norm('gate_kernel') + norm('gate_bias'), out: norm('out_kernel') };
    };
    const detached = gradsOf(true, 0);
    expect(detached.gate).toBe(0);
    expect(detached.out).toBeGreaterThan(0);
    const attached = gradsOf(false, 0);
    expect(attached.gate).toBeGreaterThan(0);
    expect(attached.out).toBeGreaterThan(0);
    // The gate output keeps its gradient towards w_g and b_g, so a gate target can train it.
    expect(gradsOf(true, 2).gate).toBeGreaterThan(0);
  });
});

describe('host with the calculator', () => {
  it('the gate target opens on the digits of arithmetic questions only', () => {
    const tok = new Tokenizer({ maxLength: 12 });
    const texts = ['What is 12 plus 3?', 'Repeat 45.'];
    const e = tok.encode(texts);
    const { on, offInputs, offRest } = gateTargetMasks(
      e,
      texts.map((t) => ({ operands: t.startsWith('What') ? {} : null })),
    );
    // What is 1 2 plus 3 ? <pad>…: open at positions 2, 3 and 5.
    expect(Array.from(on.subarray(0, 12))).toEqual([0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(on.subarray(12))).toEqual(new Array(12).fill(0));
    // Repeat 4 5 . <pad>…: the tokens are closed as a set of their own, the padding with the words.
    expect(Array.from(offInputs.subarray(12))).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(offInputs.subarray(0, 12))).toEqual(new Array(12).fill(0));
    on.forEach((v, k) => expect(v + offInputs[k]! + offRest[k]!).toBe(1));
  });

  it('the same seed gives the same initial weights', () => {
    const w = (seed: number) =>
      buildHostModel({ withCalculator: true, seed, hidden: 16 })
        .getWeights()
        .map((t) => Array.from(t.dataSync()));
    expect(w(5)).toEqual(w(5));
    expect(w(5)).not.toEqual(w(6));
  });

  it('save → load gives identical answers, decoded operands and gate values', async () => {
    const task = createTask({ testPerSubtask: 20 });
    const model = buildHostModel({ withCalculator: true, seed: 0, hidden: 32 });
    await trainHost(model, { task, seed: 0, steps: 30, batchSize: 64, teacherSteps: 10 });
    const dir = mkdtempSync(join(tmpdir(), 'nalm-calc-'));
    await saveModel(model, dir);
    const loaded = await loadModel(dir);
    expect(calculatorOf(loaded)).toBeInstanceOf(GatedCalculator);
    const texts = [...task.test.values()].flat().map((i) => i.text);
    const before = predict(model, texts);
    const after = predict(loaded, texts);
    expect(after).toEqual(before);
    const a = tf.concat(
      (
        model.predict(tf.zeros([2, new Tokenizer().maxLength, new Tokenizer().featureSize])) as tf.Tensor[]
      ).map((t) => t.flatten()),
    );
    const b = tf.concat(
      (
        loaded.predict(tf.zeros([2, new Tokenizer().maxLength, new Tokenizer().featureSize])) as tf.Tensor[]
      ).map((t) => t.flatten()),
    );
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
  });
});
