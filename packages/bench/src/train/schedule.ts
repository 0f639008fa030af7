import type { Schedule } from '../config.js';

/** λ(t) = λ̂ · clip((t − start) / (end − start), 0, 1), t the 0-based iteration. */
export function scheduleValue(s: Schedule | null, t: number): number {
  if (!s || s.lambda === 0) return 0;
  if (s.end <= s.start) return t >= s.start ? s.lambda : 0;
  return s.lambda * Math.min(1, Math.max(0, (t - s.start) / (s.end - s.start)));
}

/** A schedule scaled to a shorter (or longer) run: start and end move with the iteration count. */
export function scaleSchedule(s: Schedule, factor: number): Schedule {
  return { lambda: s.lambda, start: Math.round(s.start * factor), end: Math.round(s.end * factor) };
}

/** A geometric schedule: `start`, multiplied by `growth` every `every` iterations up to `end`. */
export interface BetaSchedule {
  start: number;
  end: number;
  growth: number;
  every: number;
}

/**
 * β(t) = start · growth^⌊t / every⌋, capped at `end` (the NPU's L1 weight, Heim et al.; the NALM
 * benchmark grows β at t = every, 2·every, … while it is below `end`).
 */
export function betaSchedule(s: BetaSchedule, t: number): number {
  const steps = Math.floor(Math.max(0, t) / s.every);
  let beta = s.start;
  for (let k = 0; k < steps && beta < s.end; k++) {
    // Rounded to 12 digits: the reference grows β in decimal arithmetic, so 1e−7·10·10 is 1e−5
    // exactly (in binary floating point it would end just below and never reach `end`).
    beta = Number((beta * s.growth).toPrecision(12));
  }
  return Math.min(beta, s.end);
}
