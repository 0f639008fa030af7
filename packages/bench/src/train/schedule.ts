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
