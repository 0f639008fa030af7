// Type-checked by scripts/pack-test.mjs in the fresh npm project against the installed packages'
// .d.ts, with the strictest flags a consumer may use (tsconfig.consumer.json): every entry point.
import * as tf from '@tensorflow/tfjs';
import {
  BackendFallbackError,
  ConstrainUnits,
  NAU,
  NMU,
  initBackend,
  type BackendName,
  type InitBackendOptions,
} from '@nalm/units';
import { loadModel, saveModel } from '@nalm/units/node';
import { buildHostModel, parseQuestion, predict } from '@nalm/calculator';
import {
  defaultStaticTask,
  fastTrainer,
  formatMarkdown,
  reportFromRecords,
  runSweep,
  useKernels,
  wilson,
  type RunConfig,
  type RunRecord,
} from '@nalm/bench';
import { loadKernels, openStore } from '@nalm/cli';

const options: InitBackendOptions = { wasmPaths: '/wasm/', fallback: 'error' };
export async function layers(): Promise<number | undefined> {
  const backend: BackendName = await initBackend('wasm', options).catch((e: unknown) => {
    if (e instanceof BackendFallbackError) return initBackend('cpu');
    throw e;
  });
  const model = tf.sequential({
    layers: [new NAU({ units: 2, inputShape: [3], seed: 1 }), new NMU({ units: 1, seed: 2 })],
  });
  model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
  await model.fit(tf.ones([4, 3]), tf.ones([4, 1]), { epochs: 1, callbacks: [new ConstrainUnits()] });
  await saveModel(model, 'm');
  const loaded: tf.LayersModel = await loadModel('m');
  console.log(backend, loaded.layers.length);
  return (loaded.predict(tf.ones([1, 3])) as tf.Tensor).dataSync()[0];
}

export async function bench(bytes: Uint8Array): Promise<string> {
  useKernels(bytes);
  const records: RunRecord[] = [];
  const config: RunConfig = {
    task: defaultStaticTask({ op: 'add' }),
    model: 'nau',
    hidden: 2,
    batch: 128,
    lr: 1e-3,
    iterations: 100,
    evalEvery: 50,
    schedule: null,
    oobWeight: 1,
  };
  await runSweep({
    configs: [config],
    seeds: [0],
    store: { doneKeys: () => new Set<string>(), appendMany: (rs) => records.push(...rs) },
    fast: fastTrainer,
  });
  const { lower, upper } = wilson(1, 2);
  return `${formatMarkdown(reportFromRecords(records))} ${lower} ${upper}`;
}

export function cli(dir: string): number {
  loadKernels();
  return openStore(dir, { create: true }).read().records.length;
}

export function calculator(): string {
  const [p] = predict(buildHostModel({ withCalculator: true, seed: 0 }), ['What is 1 plus 2?']);
  return `${parseQuestion('What is 1 plus 2?').answer} ${p?.answer ?? ''}`;
}
