// Headless Chromium over the DevTools protocol, shared by benchmarks/html-check (reports) and
// benchmarks/browser (the in-browser training page). It talks to Chromium on a pipe
// (--remote-debugging-pipe: fds 3 and 4, NUL-separated JSON), so it needs neither a WebSocket
// library nor a debugging port. Debian's chromium: `apt-get update && apt-get install -y chromium`
// (or set $CHROMIUM to a binary).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--hide-scrollbars',
  '--mute-audio',
  '--remote-debugging-pipe',
];

/** The first Chromium that runs: $CHROMIUM, chromium, chromium-browser, google-chrome. */
export function findChromium(usage) {
  const candidates = [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].filter(Boolean);
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { bin: c, version: r.stdout.trim() };
  }
  usage(
    'no Chromium found. Install it with `apt-get update && apt-get install -y chromium` or set $CHROMIUM.',
  );
}

/** A DevTools-protocol connection over Chromium's pipe. */
export class Cdp {
  constructor(child) {
    this.child = child;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    this.buffer = '';
    child.stdio[4].on('data', (chunk) => {
      this.buffer += chunk.toString('utf8');
      let i;
      while ((i = this.buffer.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 1);
        if (msg.id !== undefined && this.pending.has(msg.id)) {
          const { resolve: ok, reject, method } = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
          else ok(msg.result);
        } else if (msg.method) {
          for (const l of this.listeners) l(msg);
        }
      }
    });
  }
  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    const msg = { id, method, params, ...(sessionId ? { sessionId } : {}) };
    return new Promise((ok, reject) => {
      this.pending.set(id, { resolve: ok, reject, method });
      this.child.stdio[3].write(`${JSON.stringify(msg)}\0`);
    });
  }
  on(fn) {
    this.listeners.push(fn);
  }
  waitFor(pred, ms, what) {
    return new Promise((ok, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      this.on((m) => {
        if (pred(m)) {
          clearTimeout(t);
          ok(m);
        }
      });
    });
  }
}

/**
 * Files a page's own complaints from a CDP event: console errors and assertions, uncaught
 * exceptions and browser log errors into `problems`, console warnings into `warnings`. Returns
 * whether the event was one of those (the caller handles the rest, e.g. network events).
 */
export function pageComplaint(m, problems, warnings) {
  const p = m.params ?? {};
  if (m.method === 'Runtime.consoleAPICalled' && ['error', 'assert'].includes(p.type))
    problems.push(`console.${p.type}: ${remoteText(p.args)}`);
  else if (m.method === 'Runtime.consoleAPICalled' && p.type === 'warning') warnings.push(remoteText(p.args));
  else if (m.method === 'Runtime.exceptionThrown')
    problems.push(
      `uncaught exception: ${p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text}`,
    );
  else if (m.method === 'Log.entryAdded' && p.entry?.level === 'error')
    problems.push(
      `browser log (${p.entry.source}): ${p.entry.text}${p.entry.url ? ` [${p.entry.url}]` : ''}`,
    );
  else return false;
  return true;
}

export const remoteText = (args = []) =>
  args
    .map((a) =>
      a.value !== undefined ? String(a.value) : (a.description ?? a.unserializableValue ?? a.type),
    )
    .join(' ');

/**
 * Starts headless Chromium with a fresh profile directory and a CDP connection on its pipe.
 * `close()` asks it to quit, kills it if it has not within 5 s, and removes the profile.
 */
export function launchChromium(chromium, profilePrefix) {
  const profile = mkdtempSync(join(tmpdir(), profilePrefix));
  const child = spawn(chromium.bin, [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString('utf8')));
  const exited = new Promise((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
  const cdp = new Cdp(child);
  return {
    child,
    cdp,
    stderrTail: (n = 5) => stderr.trim().split('\n').slice(-n).join('\n'),
    async close() {
      await cdp.send('Browser.close').catch(() => {});
      await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
