/** The sweep progress line: share of the planned work, runs, and an ETA from the rate so far. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SweepProgress, formatDuration } from '../src/cli/progress.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('SweepProgress', () => {
  it('counts batches in flight with their partial work and projects the rest at the rate so far', () => {
    vi.useFakeTimers();
    const p = new SweepProgress();
    p.plan(1000, 4);
    expect(p.line('r', 't')).toMatch(/\[-{24}\] {3}0% {2}runs 0\/4 {2}r {2}ETA \? {2}t$/);
    vi.advanceTimersByTime(60_000);
    p.update(0, 100, 50); // two workers: 250 of 1000 done in 60 s → 180 s left
    p.update(1, 150, 150);
    expect(p.line('r', 't')).toMatch(/ 25% {2}runs 0\/4 {2}r {2}ETA 3m00s/);
    p.finish(0, 200, 100, 1); // the finished batch replaces its partial work
    expect(p.line('r', 't')).toMatch(/ 35% {2}runs 1\/4 .*ETA 1m51s/);
    p.finish(1, 800, 900, 3);
    expect(p.rate).toBeCloseTo(1000 / 60); // plain units per second, not the weighted work
    expect(p.line('r', 't')).toMatch(/\[#{24}\] 100% {2}runs 4\/4 {2}r {2}ETA 0s/);
  });

  it('formats durations as people read them', () => {
    expect([42, 61, 3725, 26_000, NaN].map(formatDuration)).toEqual(['42s', '1m01s', '1h02m', '7h13m', '?']);
  });
});
