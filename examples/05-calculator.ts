// %%
// # 05 — A gated calculator inside a network
//
// Instead of teaching a network to *compute*, give it an exact calculator it can read into and
// write from within one forward pass (after IGC, Dietz & Klakow 2025). The `GatedCalculator` layer
// (from `@nalm/calculator`) reads the operands and the operator out of the host's hidden states
// with learned attention heads, computes the result exactly (BigInt), and adds an embedding of the
// result back into the hidden states through a learned gate that starts nearly closed.
//
// Here a small host (character + digit-place embeddings, one ReLU layer, a per-digit answer head)
// learns BIG-bench-style questions such as `What is 132 plus 762?`, then we ask it
// `What is 48213 times 907?`.
// Run: `pnpm example 05-calculator` (3 000 steps, 4–8 minutes) or `--short` (≈ 20 s of training: the
// operands are usually read right by then; the answer head is still learning to use long results).
import { initBackend } from '@nalm/units';
// (Relative import until the root package.json lists @nalm/calculator; then '@nalm/calculator'.)
import {
  ARITH_SUBTASKS,
  buildHostModel,
  calculatorOf,
  createTask,
  evaluateHost,
  parseQuestion,
  predict,
  trainHost,
} from '@nalm/calculator';

const short = process.argv.includes('--short');
const backend = await initBackend();
console.log(`backend: ${backend}${short ? ' (short mode: brief training)' : ''}`);

// %%
// # The task
//
// 20 subtasks (1–5 digit addition, subtraction, multiplication, division with exact answers) plus
// non-arithmetic inputs (`Repeat 4821.`, `How many digits in 4821?`) on which the gate should stay
// closed. The test split is fixed by a split seed and never overlaps the training stream.
const task = createTask({ testPerSubtask: short ? 50 : 200 });
console.log('examples:', [...task.test.values()].map((items) => items[0]!.text).slice(0, 4));

// %%
// # Host + calculator, and training
//
// The loss is the answer's cross-entropy plus an auxiliary cross-entropy of the calculator's
// operand heads against the true operands (the generator knows them) plus a gate target: open on
// the digits of arithmetic questions, closed everywhere else (so the answer head looks at digits
// for the result, as it does to copy a number). The gate learns from that target only (the host's
// `detachGate`): the task loss would open it on `Repeat 4821.` whenever the calculator happens to
// read 4821 + 0 there. For the first steps the calculator is fed the true operands (teacher
// forcing), so the output side learns to use exact results while the input side learns to read.
const model = buildHostModel({ withCalculator: true, seed: 0 });
const steps = short ? 400 : 3000;
const summary = await trainHost(model, {
  task,
  seed: 0,
  steps,
  teacherSteps: Math.round(steps / 4),
  timeBudgetMs: short ? 18_000 : 15 * 60_000,
  progressEvery: short ? 20 : 250,
  onProgress: (p) =>
    console.log(`step ${p.step}: loss ${p.loss.toFixed(4)} (${(p.elapsedMs / 1000).toFixed(0)} s)`),
});
console.log(`trained ${summary.steps} steps in ${(summary.wallMs / 1000).toFixed(1)} s`);

// %%
// # Ask it
//
// The decoded operands show what the input mapping read; the calculator's exact result is what the
// gate lets into the hidden states; the answer is what the host's answer head makes of it.
const question = 'What is 48213 times 907?';
const [p] = predict(model, [question]);
const calc = calculatorOf(model)!;
const truth = parseQuestion(question).answer;
console.log(question);
console.log(`  operands read: ${p!.operands!.a} ${'+-*/'[p!.operands!.op]} ${p!.operands!.b}`);
console.log(`  calculator result: ${calc.compute(p!.operands!).value} (exact: ${truth})`);
console.log(`  model answer: ${p!.answer} ${p!.answer === truth ? '✓' : '✗ (train longer: drop --short)'}`);
console.log(
  `  mean gate on its digits: ${p!.gateOnDigits!.toFixed(3)}; on 'Repeat 4821.': ${predict(model, ['Repeat 4821.'])[0]!.gate!.toFixed(3)}`,
);

// %%
// # Test accuracy per subtask
const results = evaluateHost(model, task);
for (const r of results) {
  const ops =
    r.operandsCorrect === null ? '' : `, operands read ${((100 * r.operandsCorrect) / r.n).toFixed(0)}%`;
  console.log(`${r.subtask.padEnd(24)} ${((100 * r.correct) / r.n).toFixed(1).padStart(5)}%${ops}`);
}
const worst = Math.min(...results.filter((r) => r.arithmetic).map((r) => r.correct / r.n));
console.log(`worst of the ${ARITH_SUBTASKS.length} arithmetic subtasks: ${(100 * worst).toFixed(1)}%`);
