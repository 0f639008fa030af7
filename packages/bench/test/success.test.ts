import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { curveOutcome } from '../src/success.js';
import { scaleSchedule, scheduleValue } from '../src/train/schedule.js';
import type { EvalPoint } from '../src/record.js';

const pt = (step: number, interpolation: number, extrapolation: number, sparsityError = 0.1): EvalPoint => ({
  step,
  interpolation,
  extrapolation,
  sparsityError,
});

describe('curveOutcome (success criterion, spec §4)', () => {
  it('takes the best step by interpolation MSE, excluding step 0', () => {
    const curve = [
      pt(0, 1e-12, 1e-12, 0.4),
      pt(1000, 0.5, 0.9),
      pt(2000, 0.01, 1e-9, 0.02),
      pt(3000, 0.02, 1e-9),
    ];
    const o = curveOutcome(curve, 1e-5);
    expect(o.bestStep).toBe(2000);
    expect(o.solved).toBe(true);
    expect(o.sparsityError).toBe(0.02);
    // Step 0 is excluded from the best step but counts for "solved at" (first step below threshold).
    expect(o.solvedAt).toBe(0);
  });

  it('is not solved when the extrapolation MSE at the best step is above the threshold', () => {
    const curve = [pt(0, 9, 9), pt(1000, 0.001, 1e-9), pt(2000, 1e-6, 0.5)];
    const o = curveOutcome(curve, 1e-5);
    expect(o.bestStep).toBe(2000);
    expect(o.solved).toBe(false);
    expect(o.solvedAt).toBe(1000);
  });

  it('never picks a non-finite interpolation MSE and handles an empty or step-0-only curve', () => {
    expect(curveOutcome([pt(0, 1, 1), pt(1000, NaN, 0), pt(2000, 3, 3)], 1).bestStep).toBe(2000);
    expect(curveOutcome([], 1)).toEqual({
      bestStep: null,
      solved: false,
      solvedAt: null,
      sparsityError: null,
    });
    expect(curveOutcome([pt(0, 0, 0)], 1).bestStep).toBeNull();
  });

  it('solved implies solvedAt ≤ bestStep (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 10, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true })),
          { minLength: 1, maxLength: 30 },
        ),
        fc.double({ min: 0, max: 10, noNaN: true }),
        (pairs, th) => {
          const curve = pairs.map(([i, e], k) => pt(k * 1000, i, e));
          const o = curveOutcome(curve, th);
          if (o.solved) {
            expect(o.solvedAt).not.toBeNull();
            expect(o.solvedAt!).toBeLessThanOrEqual(o.bestStep!);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('regularisation schedule', () => {
  it('ramps linearly from start to end (units.md)', () => {
    const s = { lambda: 10, start: 1_000_000, end: 2_000_000 };
    expect(scheduleValue(s, 0)).toBe(0);
    expect(scheduleValue(s, 1_000_000)).toBe(0);
    expect(scheduleValue(s, 1_500_000)).toBeCloseTo(5, 12);
    expect(scheduleValue(s, 2_000_000)).toBe(10);
    expect(scheduleValue(s, 9_000_000)).toBe(10);
    expect(scheduleValue(null, 5)).toBe(0);
  });
  it('a step schedule (start = end) switches on at start', () => {
    expect(scheduleValue({ lambda: 2, start: 10, end: 10 }, 9)).toBe(0);
    expect(scheduleValue({ lambda: 2, start: 10, end: 10 }, 10)).toBe(2);
  });
  it('scales start and end with the run length', () => {
    expect(scaleSchedule({ lambda: 0.01, start: 5000, end: 50000 }, 0.01)).toEqual({
      lambda: 0.01,
      start: 50,
      end: 500,
    });
  });
});
