/**
 * Backend selection. The wasm backend (SIMD) is about 2× tfjs's pure-JS cpu backend for these small
 * models and runs in Node and browsers alike; tfjs-node is not used (its install downloads a native
 * binary). In Node the wasm module reads its .wasm file from node_modules; a bundled browser page
 * must say where the .wasm files are served (`wasmPaths`, passed to tfjs's `setWasmPaths`).
 */
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'wasm' | 'cpu';

/** Where tfjs-backend-wasm finds its binaries: a directory URL/path ending in '/', or one URL per file. */
export type WasmPaths = string | Record<WasmBinaryName, string>;
export type WasmBinaryName =
  'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm';

export interface InitBackendOptions {
  /**
   * Location of tfjs-backend-wasm's `.wasm` files (as tfjs's `setWasmPaths`): a prefix such as
   * `'/wasm/'` or `'https://cdn.jsdelivr.net/npm/@tensorflow/tfjs-backend-wasm@4.22.0/dist/'`, or a
   * map from each of the three file names to its URL. Needed when a bundler moved the JavaScript
   * away from those files (every bundled browser page); in Node the default finds them.
   */
  wasmPaths?: WasmPaths;
  /**
   * What to do when wasm cannot start: `'cpu'` (default) switches to the slower cpu backend and
   * warns with the reason; `'error'` throws a `BackendFallbackError` with the reason instead.
   */
  fallback?: 'cpu' | 'error';
  /** Receives the fallback warning (default `console.warn`). */
  warn?: (message: string) => void;
}

/** wasm could not start. `reason` says why (e.g. the URL that answered 404); `cause` is tfjs's error. */
export class BackendFallbackError extends Error {
  override readonly name = 'BackendFallbackError';
  constructor(
    message: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

let lastFallback: string | undefined;
/** The wasmPaths tfjs-backend-wasm was given (they stay in effect for the whole process). */
let wasmPathsInEffect: WasmPaths | undefined;

/**
 * Why the last `initBackend('wasm')` fell back to cpu, or undefined if it did not (for a page or a
 * log that wants to show it next to the results).
 */
export function backendFallbackReason(): string | undefined {
  return lastFallback;
}

/**
 * Select a backend (default wasm). If wasm cannot start, falls back to cpu with a warning that says
 * why, or throws a `BackendFallbackError` with `{ fallback: 'error' }` (tfjs then stays on the
 * backend it had before, cpu if none). Returns the backend in use.
 *
 * The second argument may also be a warn function (the signature before `options` existed).
 */
export async function initBackend(
  preferred: BackendName = 'wasm',
  options: InitBackendOptions | ((message: string) => void) = {},
): Promise<BackendName> {
  const opts: InitBackendOptions = typeof options === 'function' ? { warn: options } : options;
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const fallback = opts.fallback ?? 'cpu';
  if (preferred !== 'wasm' && preferred !== 'cpu') {
    throw new Error(`initBackend: unknown backend '${String(preferred)}'. Use 'wasm' or 'cpu'.`);
  }
  if (fallback !== 'cpu' && fallback !== 'error') {
    throw new Error(`initBackend: fallback must be 'cpu' or 'error', not '${String(fallback)}'.`);
  }
  if (tf.getBackend() === preferred) return preferred;
  if (preferred === 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new Error('initBackend: the tfjs cpu backend failed to start.');
    await tf.ready();
    return 'cpu';
  }

  // tfjs swallows the reason a backend failed (setBackend resolves false after console.warn-ing
  // it, and the wasm module prints the failing URL through console.warn/error). Collect those
  // messages while wasm starts, so the reason can go into our warning or error.
  const previous = tf.getBackend() as string | undefined;
  const messages: string[] = [];
  let ok = false;
  let thrown: unknown;
  const restore = captureConsole(messages);
  try {
    // Loaded on demand: importing @nalm/units must not register wasm as the preferred backend,
    // or the first tf call made before initBackend() would find it uninitialised.
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (opts.wasmPaths !== undefined) {
      wasm.setWasmPaths(opts.wasmPaths);
      wasmPathsInEffect = opts.wasmPaths;
    }
    ok = await tf.setBackend('wasm');
  } catch (e) {
    thrown = e;
    ok = false;
  } finally {
    restore();
  }
  if (ok) {
    lastFallback = undefined;
    await tf.ready();
    quietWasmExitHandlers();
    return 'wasm';
  }

  const reason = describeFailure(messages, thrown, wasmPathsInEffect);
  lastFallback = reason;
  if (fallback === 'error') {
    // tfjs leaves its engine naming the failed backend; put back the one in use before (or cpu).
    await tf.setBackend(previous && previous !== 'wasm' ? previous : 'cpu');
    throw new BackendFallbackError(
      `initBackend: the wasm backend could not start: ${reason}. ` +
        `(fallback: 'error' was given, so nalm does not switch to the slower cpu backend.)`,
      reason,
      { cause: thrown },
    );
  }
  warn(
    `nalm: the wasm backend could not start (${reason}); falling back to the (slower) cpu backend. ` +
      `Pass initBackend('wasm', { fallback: 'error' }) to make this an error.`,
  );
  await tf.setBackend('cpu');
  await tf.ready();
  quietWasmExitHandlers();
  return 'cpu';
}

/** Route console.warn/error into `into` until the returned function is called. */
function captureConsole(into: string[]): () => void {
  const original = { warn: console.warn, error: console.error };
  const wrappers = { warn: original.warn, error: original.error };
  let capturing = true;
  for (const level of ['warn', 'error'] as const) {
    wrappers[level] = (...args: unknown[]) => {
      if (capturing) into.push(args.map(messageText).join(' '));
      else original[level].apply(console, args);
    };
    console[level] = wrappers[level];
  }
  return () => {
    // The wasm glue keeps the console.warn it saw while starting (our wrapper): from now on the
    // wrapper passes everything through to the original.
    capturing = false;
    for (const level of ['warn', 'error'] as const) {
      if (console[level] === wrappers[level]) console[level] = original[level];
    }
  };
}

function messageText(a: unknown): string {
  if (a instanceof Error) return a.message;
  if (typeof a === 'object' && a !== null && 'message' in a) return String(a.message);
  return String(a);
}

/** The most specific reason among what tfjs and the wasm glue said. */
function describeFailure(messages: string[], thrown: unknown, wasmPaths: WasmPaths | undefined): string {
  const text = [...messages, ...(thrown === undefined ? [] : [messageText(thrown)])]
    .map((m) => m.trim())
    .filter((m) => m !== '' && !/^Initialization of backend wasm failed$/.test(m));
  if (text.some((m) => /WASM backend was already initialized/.test(m))) {
    return 'an earlier attempt to start wasm failed in this process, and tfjs cannot retry it with other wasmPaths';
  }
  const url = text.join('\n').match(/failed to load wasm binary file at '([^']+)'/);
  const where =
    wasmPaths === undefined
      ? 'no wasmPaths given: a bundled page must pass initBackend("wasm", { wasmPaths }) with the URL of the served .wasm files'
      : `wasmPaths: ${JSON.stringify(wasmPaths)}`;
  if (url) return `could not fetch ${url[1]} (${where})`;
  const file = text.join('\n').match(/ENOENT[^']*'([^']+\.wasm)'/);
  if (file) return `could not read ${file[1]} (${where})`;
  const first = text.find((m) => !/^Make sure the server can serve/.test(m)) ?? text[0];
  return `${first ?? 'tfjs gave no reason'} (${where})`;
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
