/**
 * initBackend when wasm cannot start (a wasmPaths directory without the .wasm files, as a bundled
 * page that does not serve them): the warning and the error say why and where it looked.
 * A file of its own: tfjs-backend-wasm cannot be started again in a process after a failed start.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BackendFallbackError, backendFallbackReason, initBackend } from '../src/index.js';

const empty = mkdtempSync(join(tmpdir(), 'nalm-no-wasm-')) + '/';
afterAll(() => rmSync(empty, { recursive: true, force: true }));

describe('initBackend falling back', () => {
  it("with fallback: 'error' throws, naming the missing file and the wasmPaths", async () => {
    const consoleWarn = vi.spyOn(console, 'warn');
    const consoleError = vi.spyOn(console, 'error');
    const err = await initBackend('wasm', { wasmPaths: empty, fallback: 'error' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendFallbackError);
    const message = (err as Error).message;
    expect(message).toMatch(/^initBackend: the wasm backend could not start: /);
    // The file it could not read (in a browser: the URL that failed) and the wasmPaths in effect.
    expect(message).toContain(`could not read ${empty}tfjs-backend-wasm-simd.wasm`);
    expect(message).toContain(`wasmPaths: ${JSON.stringify(empty)}`);
    expect(message).toContain("fallback: 'error'");
    expect((err as BackendFallbackError).reason).toBe(backendFallbackReason());
    // tfjs's and the wasm glue's own console noise went into the error instead.
    expect(consoleWarn).not.toHaveBeenCalled();
    expect(consoleError).not.toHaveBeenCalled();
    consoleWarn.mockRestore();
    consoleError.mockRestore();
  });

  it('by default warns with the reason and continues on cpu', async () => {
    const warnings: string[] = [];
    expect(await initBackend('wasm', { warn: (m) => warnings.push(m) })).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^nalm: the wasm backend could not start \(.+\); falling back to the \(slower\) cpu backend\./,
    );
    expect(warnings[0]).toContain("{ fallback: 'error' }");
    expect(warnings[0]).toContain(`could not read ${empty}`);
    // A warn function as the second argument (the older signature) still works.
    const old: string[] = [];
    await tf.setBackend('cpu');
    expect(await initBackend('cpu', (m) => old.push(m))).toBe('cpu');
    expect(old).toEqual([]);
  });

  it('rejects an unknown fallback mode', async () => {
    await expect(initBackend('wasm', { fallback: 'webgl' as 'cpu' })).rejects.toThrow(
      "fallback must be 'cpu' or 'error'",
    );
  });
});
