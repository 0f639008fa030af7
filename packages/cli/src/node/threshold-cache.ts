/**
 * A disk cache for success thresholds: a Monte Carlo estimate costs about a second, the same for
 * every run of a configuration. `$NALM_CACHE_DIR` or `$XDG_CACHE_HOME/nalm` or `~/.cache/nalm`.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ThresholdCache } from '@nalm/bench';

export function cacheDir(): string {
  if (process.env.NALM_CACHE_DIR) return process.env.NALM_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'nalm');
}

/** Thresholds kept in memory and mirrored to `thresholds.json`; a broken cache file is ignored. */
export function diskThresholdCache(dir = cacheDir()): ThresholdCache {
  const file = join(dir, 'thresholds.json');
  let entries: Record<string, number> = {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (parsed && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed))
        if (typeof v === 'number' && Number.isFinite(v)) entries[k] = v;
    }
  } catch {
    entries = {}; // missing or unreadable: it is only a cache
  }
  return {
    get: (key) => entries[key],
    set(key, v) {
      entries[key] = v;
      try {
        mkdirSync(dir, { recursive: true });
        const tmp = `${file}.tmp-${process.pid}`;
        writeFileSync(tmp, JSON.stringify(entries, null, 1));
        renameSync(tmp, file);
      } catch {
        // A read-only home must not stop a benchmark; the value stays cached in memory.
      }
    },
  };
}
