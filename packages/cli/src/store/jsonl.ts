/**
 * JSON Lines I/O with the two guarantees the store is built on:
 *
 * - Appending writes all new lines (each with its `\n`) in one `write` on an `O_APPEND` descriptor,
 *   then `fsync`s, so when `appendLines` returns the lines are durable, and a kill -9 at any moment
 *   leaves at most one truncated last line. If the file does not end with `\n` (a previous writer was
 *   killed mid-line), the write starts with a `\n`, so the new lines are never glued to the garbage.
 * - Reading is incremental (`JsonlTail`): each poll returns only the complete lines appended since
 *   the last poll, plus the trailing incomplete line (if any) without consuming it, so a line that
 *   is being written right now is read once it is complete.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsError } from './fs-error.js';

const NEWLINE = 0x0a;
const CHUNK = 8 * 1024 * 1024;

/** Best-effort fsync of a directory, so a newly created file's entry survives a power cut. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not supported everywhere (Windows, some network filesystems); the data itself is fsynced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  // One write in practice; the loop only matters if the kernel returns a short write.
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Whether the open file is non-empty and its last byte is not `\n`. */
function endsMidLine(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  return readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== NEWLINE;
}

/**
 * Append `lines` (each without `\n`; none may contain one) to `path` in one write, then fsync.
 * Creates the file if needed. Throws a `StoreError` on I/O failure.
 */
export function appendLines(path: string, lines: readonly string[]): void {
  if (lines.length === 0) return;
  let text = '';
  for (const line of lines) {
    if (line.includes('\n')) throw new Error(`appendLines: a line contains a newline: ${line.slice(0, 80)}`);
    text += `${line}\n`;
  }
  let fd: number;
  let created = false;
  try {
    try {
      fd = openSync(path, 'ax+'); // O_CREAT | O_EXCL: tells us whether we created it
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      fd = openSync(path, 'a+');
    }
  } catch (err) {
    throw fsError(path, 'open the records file for appending', err);
  }
  try {
    if (!created && endsMidLine(fd)) text = `\n${text}`;
    writeAll(fd, Buffer.from(text, 'utf8'));
    fsyncSync(fd);
  } catch (err) {
    throw fsError(path, 'append to the records file', err);
  } finally {
    closeSync(fd);
  }
  if (created) fsyncDir(dirname(path));
}

export interface JsonlLine {
  /** 1-based line number. */
  line: number;
  text: string;
}

export interface JsonlPoll {
  /** The file was replaced or shrank since the last poll: line numbers restart at 1, drop what you derived. */
  reset: boolean;
  /** Complete lines appended since the last poll. */
  lines: JsonlLine[];
  /** The trailing bytes after the last `\n`, if any: truncated by a crash, or being written now. */
  partial: JsonlLine | null;
}

/** Incremental reader of one JSON Lines file. */
export class JsonlTail {
  /** Byte offset just after the last consumed `\n`. */
  private offset = 0;
  private lineCount = 0;
  private identity: string | null = null;

  constructor(readonly path: string) {}

  poll(): JsonlPoll {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw fsError(this.path, 'open the records file', err);
      const reset = this.identity !== null;
      this.forget();
      return { reset, lines: [], partial: null };
    }
    try {
      return this.pollOpen(fd);
    } catch (err) {
      throw fsError(this.path, 'read the records file', err);
    } finally {
      closeSync(fd);
    }
  }

  private forget(): void {
    this.offset = 0;
    this.lineCount = 0;
    this.identity = null;
  }

  private pollOpen(fd: number): JsonlPoll {
    const st = fstatSync(fd);
    const identity = `${st.dev}:${st.ino}`;
    let reset = false;
    if (this.identity !== null && (identity !== this.identity || st.size < this.offset)) {
      this.forget();
      reset = true;
    }
    this.identity = identity;
    const lines: JsonlLine[] = [];
    let carry = Buffer.alloc(0);
    let pos = this.offset;
    while (pos < st.size) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, st.size - pos));
      const got = readSync(fd, buf, 0, buf.length, pos);
      if (got === 0) break; // shrank under us; the next poll notices
      pos += got;
      const data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, got)]) : buf.subarray(0, got);
      let start = 0;
      for (let nl = data.indexOf(NEWLINE, start); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
        // A UTF-8 multi-byte sequence never contains 0x0A, so splitting bytes at \n is safe.
        lines.push({ line: ++this.lineCount, text: data.toString('utf8', start, nl) });
        start = nl + 1;
      }
      this.offset += start;
      carry = Buffer.from(data.subarray(start));
    }
    const partial = carry.length > 0 ? { line: this.lineCount + 1, text: carry.toString('utf8') } : null;
    return { reset, lines, partial };
  }
}
