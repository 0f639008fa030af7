/**
 * Whole-file writes that never leave a partial file where a complete one was: the data goes to a
 * temporary file next to the target, is fsynced, and is renamed over the target. A failure (disk
 * full, read-only directory) leaves the previous file as it was and throws a `StoreError` naming
 * the file and the fix, which the CLI turns into exit code 2.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsError } from './fs-error.js';
import { fsyncDir } from './jsonl.js';

/** The write step, replaceable in tests to simulate a full disk. */
export type WriteFn = (fd: number, buf: Uint8Array, offset: number, length: number) => number;

/** Create `dir` (and parents) or throw a `StoreError` naming it. */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw fsError(dir, 'create the output directory', err);
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, write: WriteFn = writeSync): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    for (let off = 0; off < buf.length;) off += write(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
    throw fsError(path, 'write it', err, 'The previous version of the file, if any, is unchanged.');
  }
  fsyncDir(dir);
}
