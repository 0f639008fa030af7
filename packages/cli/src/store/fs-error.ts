/** Maps fs failures to store errors that name the path and what to check (the CLI exits 2 on them). */
import { StoreError } from '@nalm/bench';

/** A `StoreError` for a failed fs call, naming the path and what to check. */
export function fsError(path: string, doing: string, err: unknown, note?: string): StoreError {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : 'error';
  // Node's messages start with the code already ('ENOSPC: no space left on device, write').
  const detail = (e instanceof Error ? e.message : String(err)).replace(new RegExp(`^${code}: `), '');
  const hint =
    code === 'EACCES' || code === 'EPERM'
      ? 'Check its permissions.'
      : code === 'ENOSPC' || code === 'EDQUOT'
        ? 'Free some disk space and run again; finished records are kept.'
        : code === 'ENOTDIR'
          ? 'A part of the path is a file, not a directory.'
          : code === 'EROFS'
            ? 'The file system is read-only; write somewhere else.'
            : 'Check the path.';
  return new StoreError(
    path,
    `${path}: cannot ${doing} (${code}: ${detail}). ${hint}${note ? ` ${note}` : ''}`,
    err,
  );
}
