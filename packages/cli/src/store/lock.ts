/**
 * One writer per store directory: `nalm run`, `nalm merge` and `nalm calc train` hold DIR/nalm.lock
 * while they write. Two runs on one directory would both train every pending cell (and write each
 * record twice); the second one now stops at once, naming the holder.
 *
 * The lock file is created with O_EXCL and holds the holder's pid, host, start time and command.
 * A lock whose process is gone (same host, pid not running: a kill -9 or a crash) is stale: it is
 * removed with a message, and the run proceeds. A lock from another host cannot be checked from
 * here; the message says how to remove it by hand. Creating the lock is also the first write into
 * the directory, so a read-only store is reported before anything is trained.
 */
import { closeSync, fsyncSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '@nalm/bench';
import { fsError } from './fs-error.js';
import { fsyncDir } from './jsonl.js';

export const LOCK_FILE = 'nalm.lock';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

export interface StoreLock {
  readonly path: string;
  /** Remove the lock (only if it is still ours). Idempotent; also runs on process exit. */
  release(): void;
}

export interface LockOptions {
  /** What the holder is doing, shown to a second writer (e.g. 'nalm run --preset quick'). */
  command: string;
  /** Told when a stale lock is removed. */
  onStale?: (message: string) => void;
  /** Is a process with this pid running here? (Replaceable in tests.) */
  isAlive?: (pid: number) => boolean;
}

/** A lock file that exists but is empty or unreadable for this long was left by a crash mid-create. */
const UNREADABLE_STALE_MS = 10_000;

/** The command line as typed, for the lock file (who holds a store). */
export function commandLine(): string {
  return ['nalm', ...process.argv.slice(2)].join(' ').slice(0, 500);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function parseHolder(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && Number.isInteger(h.pid) && typeof h.host === 'string') {
      return {
        pid: h.pid,
        host: h.host,
        startedAt: typeof h.startedAt === 'string' ? h.startedAt : '?',
        command: typeof h.command === 'string' ? h.command : '?',
      };
    }
  } catch {
    // unreadable: handled by the caller
  }
  return null;
}

/** The lock file's text, or null if it does not exist (any more). */
function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fsError(path, 'read the lock file', err);
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Remove the stale lock whose text was `seen`, unless someone replaced it meanwhile. A second
 * O_EXCL file serialises the removers: two processes that both found the same stale lock must not
 * both remove it (the second would delete the first one's fresh lock).
 */
function removeStale(path: string, seen: string): boolean {
  const guard = `${path}.break`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(guard, 'create', err);
    if (ageMs(guard) > UNREADABLE_STALE_MS) {
      try {
        unlinkSync(guard); // left by a process killed while removing a stale lock
      } catch {
        // someone else did
      }
    }
    return false;
  }
  closeSync(fd);
  try {
    if (readText(path) !== seen) return false;
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err instanceof StoreError ? err : fsError(path, 'remove the stale lock file', err);
  } finally {
    try {
      unlinkSync(guard);
    } catch {
      // gone already
    }
  }
}

function describeHolder(h: LockHolder): string {
  return `pid ${h.pid} on host ${h.host} since ${h.startedAt} (${h.command})`;
}

/** Take the lock of store directory `dir` (which must exist), or throw a `StoreError` saying who holds it. */
export function lockStore(dir: string, options: LockOptions): StoreLock {
  const path = join(dir, LOCK_FILE);
  const isAlive = options.isAlive ?? pidAlive;
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    command: options.command,
  };
  const text = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; ; attempt++) {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'wx');
      writeSync(fd, text);
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      fsyncDir(dir);
      return ownLock(path, text);
    } catch (err) {
      if (fd !== undefined) {
        closeSync(fd);
        try {
          unlinkSync(path); // created but not written (disk full): leave no unreadable lock behind
        } catch {
          // already gone
        }
      }
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw fsError(path, 'create the lock file (the store must be writable)', err);
      }
    }
    if (attempt >= 50) {
      throw new StoreError(
        path,
        `${path}: could not take the lock after ${attempt} attempts (another writer keeps replacing it). Try again.`,
      );
    }
    const seen = readText(path);
    if (seen === null) continue; // released meanwhile
    const holder = parseHolder(seen);
    if (holder === null) {
      // Being written by its creator right now, or left empty by a crash: only the age tells.
      if (ageMs(path) < UNREADABLE_STALE_MS) {
        sleep(50);
        continue;
      }
      if (removeStale(path, seen))
        options.onStale?.(`${path}: removed an unreadable lock file left by an interrupted nalm.`);
      continue;
    }
    if (holder.host !== me.host) {
      throw new StoreError(
        path,
        `${dir}: locked by another nalm writing to it: ${describeHolder(holder)}. One writer per store: ` +
          'wait for it to finish, or write to another --out (and `nalm merge` the stores later). If that ' +
          `process is no longer running, delete ${path}.`,
      );
    }
    if (holder.pid === me.pid || isAlive(holder.pid)) {
      throw new StoreError(
        path,
        `${dir}: locked by another nalm writing to it: ${describeHolder(holder)}. One writer per store: ` +
          'wait for it to finish (or stop it), or write to another --out and `nalm merge` the stores later. ' +
          `If no nalm runs as pid ${holder.pid} (the id was reused), delete ${path}.`,
      );
    }
    if (removeStale(path, seen)) {
      options.onStale?.(
        `${dir}: removed a stale lock of ${describeHolder(holder)}: that process is no longer running ` +
          '(killed or crashed); its finished records are kept.',
      );
    } else sleep(20);
  }
}

function ownLock(path: string, text: string): StoreLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    try {
      if (readFileSync(path, 'utf8') === text) unlinkSync(path);
    } catch {
      // removed by hand, or the directory is gone: nothing to release
    }
  };
  // Also on process.exit (a second Ctrl-C exits at once) and uncaught errors.
  process.on('exit', release);
  return { path, release };
}
