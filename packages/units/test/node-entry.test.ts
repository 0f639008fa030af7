/**
 * '@nalm/units/node' on its own (no import of the main entry, in a process of its own: vitest
 * runs each file in a fresh fork) loads a model holding unit layers: importing it registers them.
 * The model is written by a child process so that this file never imports '../src/index.js'.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../src/node.js';

const dir = mkdtempSync(join(tmpdir(), 'nalm-node-entry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('loadModel from @nalm/units/node alone knows NAU and NMU', async () => {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const script = `
    import * as tf from '@tensorflow/tfjs';
    import { NAU, NMU } from '${new URL('../src/index.ts', import.meta.url).pathname}';
    import { saveModel } from '${new URL('../src/node.ts', import.meta.url).pathname}';
    await tf.setBackend('cpu');
    const m = tf.sequential({ layers: [new NAU({ units: 2, inputShape: [3], seed: 1 }), new NMU({ units: 1, seed: 2 })] });
    await saveModel(m, ${JSON.stringify(dir)});
    const y = m.predict(tf.tensor2d([[1, 2, 3], [4, 5, 6]]));
    process.stdout.write(JSON.stringify(Array.from(y.dataSync())));
  `;
  const out = execFileSync(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  const expected = JSON.parse(out) as number[];

  await tf.setBackend('cpu');
  const model = await loadModel(dir);
  expect(model.layers.map((l) => l.getClassName())).toEqual(['NAU', 'NMU']);
  const y = tf.tidy(() =>
    Array.from(
      (
        model.predict(
          tf.tensor2d([
            [1, 2, 3],
            [4, 5, 6],
          ]),
        ) as tf.Tensor
      ).dataSync(),
    ),
  );
  expect(y).toEqual(expected);
});
