/**
 * One writer per store directory: the lock file, stale locks (a holder killed with -9), locks of
 * other hosts, and processes racing for one lock.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '@nalm/bench';
import { LOCK_FILE, lockStore } from '../src/store/lock.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const fixture = join(here, 'fixtures', 'lock-holder.mjs');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nalm-lock-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited (a stale holder). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

const writeLock = (holder: object) => writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify(holder)}\n`);

describe('lockStore', () => {
  it('holds the lock with pid and host; a second writer is refused, naming them; release frees it', () => {
    const lock = lockStore(dir, { command: 'nalm run --preset quick' });
    const held = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
    expect(held).toMatchObject({ pid: process.pid, host: hostname(), command: 'nalm run --preset quick' });
    let err: unknown;
    try {
      lockStore(dir, { command: 'second' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `locked by another nalm .*pid ${process.pid} on host ${hostname()}.*nalm run --preset quick`,
      ),
    );
    expect((err as Error).message).toMatch(/another --out/);
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lock.release(); // idempotent
    lockStore(dir, { command: 'third' }).release();
  });

  it('removes a stale lock (its process is gone) with a message, and takes it', () => {
    const pid = deadPid();
    writeLock({ pid, host: hostname(), startedAt: '2026-01-01T00:00:00Z', command: 'nalm run killed' });
    const said: string[] = [];
    const lock = lockStore(dir, { command: 'next', onStale: (m) => said.push(m) });
    expect(said).toEqual([expect.stringMatching(new RegExp(`stale lock of pid ${pid} .*no longer running`))]);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('refuses a lock held on another host (its process cannot be checked), saying how to remove it', () => {
    writeLock({ pid: 1, host: 'elsewhere', startedAt: 'then', command: 'nalm merge' });
    expect(() => lockStore(dir, { command: 'x', isAlive: () => false })).toThrow(
      new RegExp(
        `pid 1 on host elsewhere .*If that process is no longer running, delete ${join(dir, LOCK_FILE)}`,
      ),
    );
  });

  it('removes an unreadable lock only once it is old (a crash between create and write)', () => {
    writeFileSync(join(dir, LOCK_FILE), '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, LOCK_FILE), old, old);
    const said: string[] = [];
    lockStore(dir, { command: 'x', onStale: (m) => said.push(m) }).release();
    expect(said).toEqual([expect.stringMatching(/unreadable lock file/)]);
  });

  it('reports a directory it cannot write as an error naming the lock file', () => {
    expect(() => lockStore(join(dir, 'missing', 'deeper'), { command: 'x' })).toThrow(
      /nalm\.lock: cannot create the lock file .*ENOENT/,
    );
  });

  it('of four processes racing for a stale lock, exactly one gets it', async () => {
    writeLock({ pid: deadPid(), host: hostname(), startedAt: 'then', command: 'killed' });
    const children = Array.from({ length: 4 }, () => {
      const p = spawn(process.execPath, [fixture, dir], {
        cwd: repoRoot,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      const answered = new Promise<void>((res) =>
        p.stdout.setEncoding('utf8').on('data', (c: string) => {
          out += c;
          if (/locked|refused/.test(out)) res();
        }),
      );
      const exited = new Promise<void>((res) => p.on('exit', () => res()));
      return { p, answered, exited, out: () => out };
    });
    // Everyone has tried while the winner still holds the lock; then let the winner go.
    await Promise.all(children.map((c) => c.answered));
    for (const c of children) c.p.stdin.end();
    await Promise.all(children.map((c) => c.exited));
    const outputs = children.map((c) => c.out());
    const locked = outputs.filter((o) => o.includes('locked'));
    expect(locked, outputs.join(' | ')).toHaveLength(1);
    expect(outputs.filter((o) => o.includes('refused'))).toHaveLength(3);
    expect(locked[0]).toMatch(/released/);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  }, 120_000);
});
