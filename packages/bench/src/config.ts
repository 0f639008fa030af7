/**
 * Run configuration: what one (configuration, seed) grid cell trains. Validated once at the edge
 * (CLI, preset file, API, a worker's message) by the static kind's `parse` (kinds/static.ts), so
 * everything downstream can trust it: its task is the frozen value `validateStaticTask` returned,
 * which later calls give back without checking again.
 */
import type { StaticTaskConfig } from './tasks/static.js';

/** Regularisation schedule λ(t) = λ̂ · clip((t − start)/(end − start), 0, 1). */
export interface Schedule {
  lambda: number;
  start: number;
  end: number;
}

export interface RunConfig {
  task: StaticTaskConfig;
  /** Model name in the model registry ('nmu', 'nau', 'nac-mul', 'nac', 'nalu', 'gated', 'linear', 'relu', …). */
  model: string;
  hidden: number;
  batch: number;
  lr: number;
  iterations: number;
  evalEvery: number;
  /** Sparsity schedule; null means the model's default (paper) schedule. */
  schedule: Schedule | null;
  /** Weight of the out-of-bound regulariser (0 in clip mode, where it is identically 0 anyway). */
  oobWeight: number;
}

/** Canonical JSON (sorted keys) so the same configuration always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** 64-bit FNV-1a of the canonical JSON, as 16 hex digits: short, stable, collision-safe enough. */
export function configKey(config: RunConfig): string {
  const s = canonicalJson(config);
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * prime) & mask;
  }
  return h.toString(16).padStart(16, '0');
}
