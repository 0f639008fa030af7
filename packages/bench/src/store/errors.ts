/**
 * Errors and problem reports of the result store.
 *
 * A `StoreError` is fatal: the store cannot be opened, read or written as asked (missing or foreign
 * directory, unknown format version, I/O failure, a record that would not read back). The CLI maps it
 * to exit code 2. A `StoreProblem` is not fatal: one line of a records file that could not be used
 * (truncated by a crash, corrupt, a conflicting duplicate); it is reported and skipped, and the line
 * is left in place byte for byte.
 */

export class StoreError extends Error {
  override readonly name = 'StoreError';
  /** The file or directory the error is about. */
  readonly path: string;
  /** The underlying error (an fs error), if any. */
  override readonly cause: unknown;

  constructor(path: string, message: string, cause?: unknown) {
    super(message);
    this.path = path;
    this.cause = cause;
  }
}

/** One line of a records file that was skipped (a problem) or worth knowing about (a note). */
export interface StoreProblem {
  /** Path of the records file (the store directory joined with the file name, as passed in). */
  file: string;
  /** 1-based line number in that file. */
  line: number;
  reason: string;
}
