import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { NAU, initBackend } from '../src/index.js';

describe('backend selection', () => {
  it('importing @nalm/units leaves tfjs usable before initBackend, then switches to wasm', async () => {
    // No wasm registration at import time: the first tf call works on tfjs's default backend.
    const before = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0]);
    expect(before).toBe(3);
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend('wasm')).toBe('wasm');
    const layer = new NAU({ units: 1, seed: 3 });
    const y = tf.tidy(() => (layer.apply(tf.ones([2, 2])) as tf.Tensor).dataSync());
    expect(y).toHaveLength(2);
    expect(await initBackend('cpu')).toBe('cpu');
  });

  it('rejects an unknown backend by name', async () => {
    await expect(initBackend('webgpu' as 'cpu')).rejects.toThrow("unknown backend 'webgpu'");
  });
});
