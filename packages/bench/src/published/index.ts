/**
 * Published results shipped with the package (browser-safe data; `benchmarks/published/README.md`
 * documents them) and the validation of a user's own table in the same shape.
 */
import { OPS } from '../tasks/static.js';
import type { Op } from '../tasks/static.js';
import { ICLR2020_ALL, ICLR2020_GATE, ICLR2020_SIMPLE, ICLR2020_TABLE1 } from './iclr2020.js';
import type { PublishedCell, PublishedEstimate, PublishedTable } from './types.js';

export type { PublishedCell, PublishedEstimate, PublishedTable } from './types.js';

export const PUBLISHED: readonly PublishedTable[] = Object.freeze([
  ICLR2020_TABLE1,
  ICLR2020_ALL,
  ICLR2020_SIMPLE,
  ICLR2020_GATE,
]);

export class UnknownPublishedError extends Error {}

export function getPublished(name: string): PublishedTable {
  const t = PUBLISHED.find((p) => p.name === name);
  if (!t) {
    throw new UnknownPublishedError(
      `unknown published table '${name}'. Known: ${PUBLISHED.map((p) => p.name).join(', ')}; ` +
        'or give the path of a .json file in the same shape (see benchmarks/published/README.md).',
    );
  }
  return t;
}

/** A problem in a user's published-results JSON, naming the field and the fix. */
export class PublishedFormatError extends Error {}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkEstimate(v: unknown, where: string, median: boolean): PublishedEstimate | undefined {
  if (v === undefined) return undefined;
  const e = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || !isNum(e.mean)) {
    throw new PublishedFormatError(
      `${where}: must be an object with a finite 'mean' (and optional 'lower', 'upper').`,
    );
  }
  for (const k of ['lower', 'upper'] as const) {
    if (e[k] !== undefined && e[k] !== null && !isNum(e[k])) {
      throw new PublishedFormatError(
        `${where}.${k}: must be a finite number or null, got ${JSON.stringify(e[k])}.`,
      );
    }
  }
  if (median && !isNum(e.median)) {
    throw new PublishedFormatError(`${where}.median: must be a finite number (solved-at needs its median).`);
  }
  return e as unknown as PublishedEstimate;
}

/** Validate a parsed JSON value as a published table (errors name the field and what it must be). */
export function parsePublishedTable(value: unknown, origin = 'published table'): PublishedTable {
  const t = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PublishedFormatError(
      `${origin}: must be a JSON object with name, paper, source, iterations and cells.`,
    );
  }
  for (const k of ['name', 'paper', 'source'] as const) {
    if (typeof t[k] !== 'string' || t[k] === '') {
      throw new PublishedFormatError(`${origin}: '${k}' must be a non-empty string.`);
    }
  }
  if (!isNum(t.iterations) || (t.iterations as number) <= 0) {
    throw new PublishedFormatError(
      `${origin}: 'iterations' must be the published run length (a number > 0).`,
    );
  }
  if (!Array.isArray(t.cells) || t.cells.length === 0) {
    throw new PublishedFormatError(
      `${origin}: 'cells' must be a non-empty array of { model, op, n, solved, … }.`,
    );
  }
  const cells: PublishedCell[] = t.cells.map((raw: unknown, i: number) => {
    const where = `${origin}: cells[${i}]`;
    const c = raw as Record<string, unknown>;
    if (typeof raw !== 'object' || raw === null)
      throw new PublishedFormatError(`${where}: must be an object.`);
    if (typeof c.model !== 'string')
      throw new PublishedFormatError(`${where}.model: must be a model name, e.g. 'nmu'.`);
    if (!OPS.includes(c.op as Op)) {
      throw new PublishedFormatError(
        `${where}.op: must be one of ${OPS.join(', ')}, got ${JSON.stringify(c.op)}.`,
      );
    }
    if (
      !Number.isInteger(c.n) ||
      (c.n as number) < 1 ||
      !Number.isInteger(c.solved) ||
      (c.solved as number) < 0 ||
      (c.solved as number) > (c.n as number)
    ) {
      throw new PublishedFormatError(
        `${where}: 'n' (seeds, ≥ 1) and 'solved' (0…n) must be integers, got n ${JSON.stringify(c.n)}, solved ${JSON.stringify(c.solved)}.`,
      );
    }
    const solvedAt = checkEstimate(c.solvedAt, `${where}.solvedAt`, true) as PublishedCell['solvedAt'];
    const sparsityError = checkEstimate(c.sparsityError, `${where}.sparsityError`, false);
    return {
      model: c.model,
      op: c.op as Op,
      n: c.n as number,
      solved: c.solved as number,
      ...(solvedAt ? { solvedAt } : {}),
      ...(sparsityError ? { sparsityError } : {}),
      ...(typeof c.variant === 'string' ? { variant: c.variant } : {}),
    };
  });
  return {
    name: t.name as string,
    paper: t.paper as string,
    source: t.source as string,
    readFrom: typeof t.readFrom === 'string' ? t.readFrom : '(not given)',
    settings: typeof t.settings === 'string' ? t.settings : '(not given)',
    ...(t.task && typeof t.task === 'object' ? { task: t.task as Record<string, unknown> } : {}),
    iterations: t.iterations as number,
    analysis: t.analysis === 'correct' ? 'correct' : 'paper-compat',
    cells,
  };
}
