/**
 * Backend selection. The wasm backend (SIMD) is about 2× tfjs's pure-JS cpu backend for these small
 * models and runs in Node and browsers alike; tfjs-node is not used (its install downloads a native
 * binary). The wasm module loads its .wasm file from node_modules in Node.
 */
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'wasm' | 'cpu';

/**
 * Select a backend (default wasm), falling back to cpu with a warning if wasm cannot start.
 * Returns the backend actually in use.
 */
export async function initBackend(
  preferred: BackendName = 'wasm',
  warn = console.warn,
): Promise<BackendName> {
  if (preferred !== 'wasm' && preferred !== 'cpu') {
    throw new Error(`initBackend: unknown backend '${String(preferred)}'. Use 'wasm' or 'cpu'.`);
  }
  if (tf.getBackend() === preferred) return preferred;
  let ok = false;
  try {
    // Loaded on demand: importing @nalm/units must not register wasm as the preferred backend,
    // or the first tf call made before initBackend() would find it uninitialised.
    if (preferred === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    ok = await tf.setBackend(preferred);
  } catch {
    ok = false;
  }
  if (!ok) {
    if (preferred === 'cpu') throw new Error('initBackend: the tfjs cpu backend failed to start.');
    warn(`nalm: the ${preferred} backend could not start; falling back to the (slower) cpu backend.`);
    await tf.setBackend('cpu');
  }
  await tf.ready();
  quietWasmExitHandlers();
  return tf.getBackend() as BackendName;
}

/**
 * The wasm backend's Emscripten glue installs process-wide handlers that rethrow any uncaught error
 * from inside its minified bundle, so Node prints a screenful of minified source instead of the
 * user's error. Remove just those handlers (recognised by their body); Node's defaults remain.
 */
function quietWasmExitHandlers(): void {
  // Only Node has `process`; this file is browser-safe, so reach it through globalThis.
  const proc = (globalThis as { process?: ListenerHost }).process;
  if (!proc || typeof proc.listeners !== 'function') return;
  for (const event of ['uncaughtException', 'unhandledRejection']) {
    for (const l of proc.listeners(event)) {
      const src = String(l);
      if (src.includes('ExitStatus') || /^function\s*\(reason\)\s*\{\s*throw reason\s*\}$/.test(src)) {
        proc.removeListener(event, l);
      }
    }
  }
}

interface ListenerHost {
  listeners(event: string): ((...args: unknown[]) => void)[];
  removeListener(event: string, listener: (...args: unknown[]) => void): void;
}
