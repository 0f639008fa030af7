import { LANES } from '../src/tasks/lanes.js';
import { Rng } from '@nalm/units';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EVAL_SIZE,
  OPS,
  TaskConfigError,
  createStaticTask,
  defaultStaticTask,
  evaluationInputs,
  formatRange,
  parseRange,
  staticTaskWarnings,
  subsetLayout,
  validateStaticTask,
  type Op,
  type Range,
  type StaticTaskConfig,
} from '../src/tasks/static.js';

// ---------------------------------------------------------------------------------------------------
// Independent re-statements of the definition (benchmark.md §1), used as oracles.

function expectedSubset(c: StaticTaskConfig): number {
  return Math.floor(c.subsetRatio * c.inputSize);
}

/** Does a (non-simple) configuration's layout fit, by the spec's formulas? */
function layoutFits(c: StaticTaskConfig): boolean {
  const s = expectedSubset(c);
  const ov = Math.floor(c.overlapRatio * s);
  return s >= 1 && (c.numSubsets - 1) * (s - ov) + s <= c.inputSize;
}

/** Target of one row, in float64, straight from the definition. */
function referenceTarget(c: StaticTaskConfig, offset: number, row: ArrayLike<number>): number {
  const sum = (from: number, to: number): number => {
    let s = 0;
    for (let i = from; i < to; i++) s += row[i]!;
    return s;
  };
  let sums: number[];
  if (c.simple) {
    sums = [sum(0, 4), sum(0, 2)];
  } else {
    const s = expectedSubset(c);
    const ov = Math.floor(c.overlapRatio * s);
    sums = [];
    for (let k = 0; k < c.numSubsets; k++) {
      const start = offset + k * (s - ov);
      sums.push(sum(start, start + s));
    }
  }
  const [a, b] = sums as [number, number];
  switch (c.op) {
    case 'add':
      return sums.reduce((p, q) => p + q, 0);
    case 'mul':
      return sums.reduce((p, q) => p * q, 1);
    case 'sub':
      return a - b;
    case 'div':
      return a / b;
    case 'squared':
      return a * a;
    case 'root':
      return Math.sqrt(a);
  }
}

function expectClose(actual: number, expected: number, rel = 1e-12): void {
  if (Object.is(actual, expected)) return;
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
}

function bounds(x: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function row(x: Float32Array, I: number, r: number): Float32Array {
  return x.subarray(r * I, (r + 1) * I);
}

// ---------------------------------------------------------------------------------------------------
// Arbitraries

const arbRange = (nonNegative: boolean): fc.Arbitrary<Range> =>
  fc
    .record({
      lo: fc.double({ min: nonNegative ? 0 : -20, max: 20, noNaN: true }),
      w: fc.double({ min: 0.05, max: 8, noNaN: true }),
      gap: fc.double({ min: 0, max: 10, noNaN: true }),
      two: fc.boolean(),
    })
    .map(({ lo, w, gap, two }): Range =>
      two
        ? [
            [lo, lo + w],
            [lo + w + gap, lo + 2 * w + gap],
          ]
        : [[lo, lo + w]],
    );

/** Any configuration with in-range field values (the layout may or may not fit). */
const arbConfig: fc.Arbitrary<StaticTaskConfig> = fc
  .record({
    op: fc.constantFrom(...OPS),
    simple: fc.boolean(),
    inputSize: fc.integer({ min: 1, max: 160 }),
    subsetRatio: fc.double({ min: 0.001, max: 1, noNaN: true }),
    overlapRatio: fc.double({ min: 0, max: 1, noNaN: true }),
    numSubsets: fc.integer({ min: 1, max: 5 }),
    interpolation: arbRange(true),
    extrapolation: arbRange(true),
    mixed: fc.tuple(arbRange(false), arbRange(false)),
  })
  .map(({ mixed, ...r }): StaticTaskConfig => ({
    kind: 'static',
    ...r,
    inputSize: r.simple ? 4 : r.inputSize,
    numSubsets: r.simple ? 2 : (r.op === 'sub' || r.op === 'div') && r.numSubsets < 2 ? 2 : r.numSubsets,
    // Negative values are fine except under a square root.
    interpolation: r.op === 'root' ? r.interpolation : mixed[0],
    extrapolation: r.op === 'root' ? r.extrapolation : mixed[1],
  }));

const arbValidConfig = arbConfig.filter((c) => c.simple || layoutFits(c));

// ---------------------------------------------------------------------------------------------------

describe('subset layout', () => {
  it('defaults: subsets of 25 overlapping by 12 (a = x[o:o+25], b = x[o+13:o+38])', () => {
    const c = defaultStaticTask();
    expect(c.inputSize).toBe(100);
    const l = subsetLayout(c);
    expect(l).toEqual({ starts: [0, 13], length: 25, lastEnd: 38, lengths: [25, 25] });
  });

  it('paper-compatible one-longer layout: subsets of 26 overlapping by 13', () => {
    const l = subsetLayout(defaultStaticTask(), { oneLonger: true });
    expect(l).toEqual({ starts: [0, 13], length: 26, lastEnd: 39, lengths: [26, 26] });
    expect(l.starts[0]! + l.length - l.starts[1]!).toBe(13);
  });

  it('simple variant: a = x1..x4, b = x1..x2, I = 4', () => {
    const c = defaultStaticTask({ simple: true });
    expect(c.inputSize).toBe(4);
    expect(subsetLayout(c)).toEqual({ starts: [0, 0], length: 4, lastEnd: 4, lengths: [4, 2] });
  });

  it('more subsets: each starts subset − overlap after the previous one', () => {
    const l = subsetLayout(
      defaultStaticTask({ op: 'add', numSubsets: 4, subsetRatio: 0.2, overlapRatio: 0.25 }),
    );
    // subset 20, overlap 5, stride 15
    expect(l).toEqual({ starts: [0, 15, 30, 45], length: 20, lastEnd: 65, lengths: [20, 20, 20, 20] });
  });

  it('property: valid configurations always get a layout that fits in I', () => {
    fc.assert(
      fc.property(arbConfig, (c) => {
        if (c.simple) return;
        if (layoutFits(c)) {
          validateStaticTask(c);
          for (const oneLonger of [false, true]) {
            let l;
            try {
              l = subsetLayout(c, { oneLonger });
            } catch (e) {
              // The one-longer layout may overflow where the correct one fits; then it says so.
              expect(oneLonger).toBe(true);
              expect(e).toBeInstanceOf(TaskConfigError);
              continue;
            }
            const s = expectedSubset(c) + (oneLonger ? 1 : 0);
            expect(l.length).toBe(s);
            expect(l.starts).toHaveLength(c.numSubsets);
            expect(l.starts[0]).toBe(0);
            expect(l.lastEnd).toBeLessThanOrEqual(c.inputSize);
            for (let k = 0; k < c.numSubsets; k++) {
              expect(l.starts[k]! + l.lengths[k]!).toBeLessThanOrEqual(l.lastEnd);
              if (k > 0) {
                // overlap with the previous subset = floor(overlapRatio · subset) (+1 when one longer)
                const ov = l.starts[k - 1]! + l.length - l.starts[k]!;
                expect(ov).toBe(Math.floor(c.overlapRatio * expectedSubset(c)) + (oneLonger ? 1 : 0));
              }
            }
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: configurations whose subsets are empty or do not fit are rejected, naming the field', () => {
    fc.assert(
      fc.property(
        arbConfig.filter((c) => !c.simple && !layoutFits(c)),
        (c) => {
          let err: unknown;
          try {
            validateStaticTask(c);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(TaskConfigError);
          const e = err as TaskConfigError;
          const field = expectedSubset(c) < 1 ? 'subsetRatio' : 'numSubsets';
          expect(e.field).toBe(field);
          expect(e.message).toContain(field);
          expect(e.message).toMatch(/inputSize/);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('validation', () => {
  const base = defaultStaticTask();
  const cases: [string, Partial<StaticTaskConfig>, string, RegExp][] = [
    ['I < 1', { inputSize: 0 }, 'inputSize', /integer ≥ 1/],
    ['non-integer I', { inputSize: 2.5 }, 'inputSize', /integer/],
    ['subsetRatio 0', { subsetRatio: 0 }, 'subsetRatio', /\(0, 1\]/],
    ['subsetRatio > 1', { subsetRatio: 1.5 }, 'subsetRatio', /\(0, 1\]/],
    ['subsetRatio NaN', { subsetRatio: NaN }, 'subsetRatio', /\(0, 1\]/],
    ['overlapRatio < 0', { overlapRatio: -0.1 }, 'overlapRatio', /\[0, 1\]/],
    ['overlapRatio > 1', { overlapRatio: 1.1 }, 'overlapRatio', /\[0, 1\]/],
    ['empty subsets', { inputSize: 3, subsetRatio: 0.25 }, 'subsetRatio', /subsetRatio ≥ .*inputSize/],
    ['subsets do not fit', { numSubsets: 7 }, 'numSubsets', /lower numSubsets/],
    ['numSubsets 0', { op: 'add', numSubsets: 0 }, 'numSubsets', /integer ≥ 1/],
    ['sub with one subset', { op: 'sub', numSubsets: 1 }, 'numSubsets', /numSubsets ≥ 2/],
    ['unknown op', { op: 'pow' as Op }, 'op', /add, sub, mul, div, squared, root/],
    ['inverted interval', { interpolation: [[2, 1]] }, 'interpolation', /inverted.*lo < hi/],
    ['empty interval', { extrapolation: [[2, 2]] }, 'extrapolation', /empty.*lo < hi/],
    ['no interval', { extrapolation: [] }, 'extrapolation', /one or two intervals/],
    [
      'three intervals',
      {
        extrapolation: [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
      },
      'extrapolation',
      /one or two intervals/,
    ],
    ['infinite bound', { extrapolation: [[1, Infinity]] }, 'extrapolation', /finite/],
    [
      'unequal widths',
      {
        extrapolation: [
          [-6, -2],
          [2, 7],
        ],
      },
      'extrapolation',
      /unequal widths.*equal widths/,
    ],
    [
      'root of negatives (test)',
      {
        op: 'root',
        extrapolation: [
          [-6, -2],
          [2, 6],
        ],
      },
      'extrapolation',
      /non-negative/,
    ],
    ['root of negatives (train)', { op: 'root', interpolation: [[-2, -1]] }, 'interpolation', /non-negative/],
    ['simple with I ≠ 4', { simple: true, inputSize: 10 }, 'inputSize', /inputSize to 4/],
    ['simple with 3 subsets', { simple: true, inputSize: 4, numSubsets: 3 }, 'numSubsets', /numSubsets to 2/],
  ];
  for (const [name, override, field, fix] of cases) {
    it(`rejects ${name}, naming ${field} and the fix`, () => {
      let err: unknown;
      try {
        validateStaticTask({ ...base, ...override });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TaskConfigError);
      expect((err as TaskConfigError).field).toBe(field);
      expect((err as Error).message.startsWith(`${field}: `)).toBe(true);
      expect((err as Error).message).toMatch(fix);
    });
  }

  it('accepts the range pairs of the papers (root only where non-negative)', () => {
    const pairs: [string, string][] = [
      ['-2,-1', '-6,-2'],
      ['-2,2', '[-6,-2]u[2,6]'],
      ['0,1', '1,5'],
      ['0.1,0.2', '0.2,2'],
      ['1,2', '2,6'],
      ['1.1,1.2', '1.2,6'],
      ['10,20', '20,40'],
    ];
    for (const [i, e] of pairs) {
      for (const op of OPS) {
        const c = { ...base, op, interpolation: parseRange(i), extrapolation: parseRange(e) };
        if (op === 'root' && i.startsWith('-')) expect(() => validateStaticTask(c)).toThrow(TaskConfigError);
        else expect(validateStaticTask(c)).toEqual(c);
      }
    }
  });

  it('warns (does not throw) when a divisor can be 0 or subsets are ignored', () => {
    const w = staticTaskWarnings({ ...base, op: 'div', interpolation: [[-2, 2]] });
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^interpolation: .*'div'.*can be 0/);
    expect(staticTaskWarnings({ ...base, op: 'div' })).toEqual([]);
    expect(staticTaskWarnings({ ...base, op: 'sub', numSubsets: 3 })[0]).toMatch(/^numSubsets: .*first 2/);
    expect(staticTaskWarnings({ ...base, op: 'mul', numSubsets: 3 })).toEqual([]);
  });

  it('defaults are the spec defaults', () => {
    expect(defaultStaticTask()).toEqual({
      kind: 'static',
      op: 'mul',
      inputSize: 100,
      subsetRatio: 0.25,
      overlapRatio: 0.5,
      numSubsets: 2,
      interpolation: [[1, 2]],
      extrapolation: [[2, 6]],
      simple: false,
    });
  });
});

describe('parseRange / formatRange', () => {
  const ok: [string, Range][] = [
    ['1,2', [[1, 2]]],
    [' 1 , 2 ', [[1, 2]]],
    ['-2,-1', [[-2, -1]]],
    ['1e-1,2e-1', [[0.1, 0.2]]],
    ['[1,2]', [[1, 2]]],
    ['U[1,2]', [[1, 2]]],
    [
      '-6,-2,2,6',
      [
        [-6, -2],
        [2, 6],
      ],
    ],
    [
      '[-6,-2]u[2,6]',
      [
        [-6, -2],
        [2, 6],
      ],
    ],
    [
      '[-6, -2] U [2, 6]',
      [
        [-6, -2],
        [2, 6],
      ],
    ],
    [
      'U[-6,-2]∪U[2,6]',
      [
        [-6, -2],
        [2, 6],
      ],
    ],
    [
      '[-6,-2]∪[2,6]',
      [
        [-6, -2],
        [2, 6],
      ],
    ],
  ];
  for (const [text, range] of ok) {
    it(`accepts '${text}'`, () => expect(parseRange(text)).toEqual(range));
  }

  const bad: [string, RegExp][] = [
    ['', /empty range; accepted syntax/],
    ['1', /has 1 number, need 2 .* or 4 .*accepted syntax/],
    ['1,2,3', /has 3 numbers.*accepted syntax/],
    ['a,b', /cannot read 'a'.*accepted syntax/],
    ['1,', /cannot read ''.*accepted syntax/],
    ['[1,2]x[3,4]', /cannot parse.*accepted syntax/],
    ['[1,2', /cannot parse.*accepted syntax/],
    ['[1,2,3]', /needs exactly two numbers.*accepted syntax/],
    ['2,1', /inverted/],
    ['1,1', /empty/],
    ['-6,-2,2,7', /unequal widths/],
  ];
  for (const [text, msg] of bad) {
    it(`rejects '${text}' with a clear message`, () => {
      expect(() => parseRange(text)).toThrow(TaskConfigError);
      expect(() => parseRange(text)).toThrow(msg);
    });
  }

  it('names the field it is given', () => {
    expect(() => parseRange('x', 'extrapolation')).toThrow(/^extrapolation: /);
  });

  it('formats in the papers’ notation', () => {
    expect(formatRange([[1, 2]])).toBe('U[1,2]');
    expect(
      formatRange([
        [-6, -2],
        [2, 6],
      ]),
    ).toBe('U[-6,-2]∪U[2,6]');
  });

  it('property: parseRange(formatRange(r)) = r', () => {
    fc.assert(
      fc.property(arbRange(false), (r) => {
        expect(parseRange(formatRange(r))).toEqual(r.map(([lo, hi]) => [lo + 0, hi + 0])); // −0 reads back as 0
      }),
    );
  });
});

describe('targets', () => {
  it('default layout on x[i] = i: a = Σ x[o:o+25], b = Σ x[o+13:o+38], every op', () => {
    const x = Float32Array.from({ length: 100 }, (_, i) => i);
    const sumRange = (from: number, to: number) => ((from + to - 1) * (to - from)) / 2;
    for (const seed of [0, 1, 2, 3]) {
      for (const op of OPS) {
        const t = createStaticTask(defaultStaticTask({ op }), seed);
        const o = t.offset;
        const a = sumRange(o, o + 25);
        const b = sumRange(o + 13, o + 38);
        const expected = {
          add: a + b,
          sub: a - b,
          mul: a * b,
          div: a / b,
          squared: a * a,
          root: Math.sqrt(a),
        }[op];
        expect(t.targets(x, 1)[0]).toBe(expected);
      }
    }
  });

  it('simple variant: x = [1, 2, 3, 4] → a = 10, b = 3; x = [0.5, 0.25, 2, 8] → a = 10.75, b = 0.75', () => {
    const x = Float32Array.from([1, 2, 3, 4, 0.5, 0.25, 2, 8]);
    const want: Record<Op, [number, number]> = {
      add: [13, 11.5],
      sub: [7, 10],
      mul: [30, 10.75 * 0.75],
      div: [10 / 3, 10.75 / 0.75],
      squared: [100, 10.75 * 10.75],
      root: [Math.sqrt(10), Math.sqrt(10.75)],
    };
    for (const op of OPS) {
      const t = createStaticTask(defaultStaticTask({ op, simple: true }), 5);
      expect(t.offset).toBe(0);
      expect(Array.from(t.targets(x, 2))).toEqual(want[op]);
    }
  });

  it('more than two subsets: add/mul combine all, sub/div use the first two', () => {
    // I = 10, subset 4, overlap 2, 3 subsets: [0,4), [2,6), [4,8); offset ∈ [0, 2]
    const base = { inputSize: 10, subsetRatio: 0.4, overlapRatio: 0.5, numSubsets: 3 };
    const x = Float32Array.from({ length: 10 }, (_, i) => 2 ** i);
    for (const op of OPS) {
      const t = createStaticTask(defaultStaticTask({ ...base, op }), 7);
      const o = t.offset;
      const s = (k: number) => 15 * 2 ** (o + 2 * k); // Σ 2^i over 4 consecutive i from o + 2k
      const expected = {
        add: s(0) + s(1) + s(2),
        mul: s(0) * s(1) * s(2),
        sub: s(0) - s(1),
        div: s(0) / s(1),
        squared: s(0) ** 2,
        root: Math.sqrt(s(0)),
      }[op];
      expect(t.targets(x, 1)[0]).toBe(expected);
    }
  });

  it('property: batch targets equal a float64 recomputation from the definition (random configs, inputs, seeds)', () => {
    fc.assert(
      fc.property(
        arbValidConfig,
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 6 }),
        (c, seed, batch) => {
          const t = createStaticTask(c, seed);
          const I = c.inputSize;
          const x = new Float32Array(batch * I);
          const y = new Float64Array(batch);
          t.nextBatch(x, y, batch);
          for (let r = 0; r < batch; r++) expectClose(y[r]!, referenceTarget(c, t.offset, row(x, I, r)));
          // targets() of the same inputs gives the same values
          expect(Array.from(t.targets(x, batch))).toEqual(Array.from(y));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('property: targets() of arbitrary float32 inputs equal the definition', () => {
    fc.assert(
      fc.property(
        arbValidConfig.chain((c) =>
          fc.tuple(
            fc.constant(c),
            fc.integer({ min: 0, max: 1000 }),
            fc.float32Array({
              min: -100,
              max: 100,
              noNaN: true,
              minLength: c.inputSize * 3,
              maxLength: c.inputSize * 3,
            }),
          ),
        ),
        ([c, seed, x]) => {
          const t = createStaticTask(c, seed);
          const y = t.targets(x, 3);
          for (let r = 0; r < 3; r++)
            expectClose(y[r]!, referenceTarget(c, t.offset, row(x, c.inputSize, r)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('targets are computed from the float32 values the model sees (not from unrounded draws)', () => {
    // U[1.1, 1.2]: almost no draw is representable in float32, so the rounding is visible in the sum.
    const c = defaultStaticTask({ op: 'add', interpolation: [[1.1, 1.2]] });
    const t = createStaticTask(c, 3);
    const x = new Float32Array(100 * 64);
    const y = new Float64Array(64);
    t.nextBatch(x, y, 64);
    for (let r = 0; r < 64; r++) {
      let s = 0;
      for (let i = t.offset; i < t.offset + 25; i++) s += x[r * 100 + i]!;
      for (let i = t.offset + 13; i < t.offset + 38; i++) s += x[r * 100 + i]!;
      expect(y[r]).toBe(s);
    }
  });

  it('rejects buffers that are too small', () => {
    const t = createStaticTask(defaultStaticTask(), 0);
    expect(() => t.nextBatch(new Float32Array(99), new Float64Array(1), 1)).toThrow(/need batch·I = 100/);
    expect(() => t.nextBatch(new Float32Array(200), new Float64Array(1), 2)).toThrow(/need batch = 2/);
    expect(() => t.targets(new Float32Array(100), 2)).toThrow(/need n·I = 200/);
  });
});

describe('seeds and streams', () => {
  it('offset: drawn from the seed’s own stream, uniform over [0, I − lastEnd] inclusive', () => {
    const c = defaultStaticTask();
    const counts = new Array<number>(63).fill(0);
    for (let seed = 0; seed < 3000; seed++) {
      const t = createStaticTask(c, seed);
      expect(t.offset).toBe(new Rng(seed, 'offset').int(0, 62));
      counts[t.offset]!++;
    }
    // Both ends are reachable (P(a given value never appears in 3000 draws) ≈ e^−48).
    expect(counts.every((n) => n > 0)).toBe(true);
    // The offset depends on the seed only, not on the operation.
    expect(createStaticTask(defaultStaticTask({ op: 'sub' }), 42).offset).toBe(
      createStaticTask(c, 42).offset,
    );
  });

  it('one 32-bit draw per float from the eight lanes Rng(seed, "train", "lane", k), mapped as documented', () => {
    for (const [interpolation, two] of [
      [[[1, 2]], false],
      [
        [
          [-2, -1],
          [1, 2],
        ],
        true,
      ],
    ] as [Range, boolean][]) {
      const c = defaultStaticTask({ interpolation });
      const t = createStaticTask(c, 9);
      const x = new Float32Array(128 * 100);
      t.nextBatch(x, new Float64Array(128), 128);
      t.nextBatch(x, new Float64Array(128), 128); // the second batch continues the same stream
      const lanes = Array.from({ length: LANES }, (_, k) => new Rng(9, 'train', 'lane', k));
      for (let i = 0; i < 128 * 100; i++) lanes[i % LANES]!.nextU32();
      const f = Math.fround;
      for (let i = 0; i < 128 * 100; i++) {
        const u = lanes[i % LANES]!.nextU32();
        // float32 arithmetic: lo + width · (24 bits) · 2⁻²⁴, width 1 here
        const want = two
          ? f((u >>> 31 ? 1 : -2) + f(((u >>> 7) & 0xffffff) / 2 ** 24))
          : f(1 + f((u >>> 8) / 2 ** 24));
        expect(x[i]).toBe(want);
      }
    }
  });

  it('same seed → same offset and batches; different seeds → different streams', () => {
    const c = defaultStaticTask();
    const batches = (seed: number) => {
      const t = createStaticTask(c, seed);
      const out: number[][] = [];
      const x = new Float32Array(16 * 100);
      const y = new Float64Array(16);
      for (let i = 0; i < 3; i++) {
        t.nextBatch(x, y, 16);
        out.push([...x, ...y]);
      }
      return { offset: t.offset, out };
    };
    const a = batches(11);
    const b = batches(11);
    expect(b).toEqual(a);
    expect(a.out[1]).not.toEqual(a.out[0]); // fresh data every batch
    const other = batches(12);
    for (let i = 0; i < 3; i++) expect(other.out[i]).not.toEqual(a.out[i]);
  });

  it('evaluation inputs: fixed per configuration, identical across seeds, ops and calls; prefix-stable', () => {
    const c = defaultStaticTask();
    const ext = evaluationInputs(c, 'extrapolation');
    expect(ext).toHaveLength(EVAL_SIZE * 100);
    expect(evaluationInputs(c, 'extrapolation')).toBe(ext); // cached
    // Same inputs for another op (and recomputed here, since n differs): the first 500 items agree.
    const small = evaluationInputs(defaultStaticTask({ op: 'add' }), 'extrapolation', 500);
    expect(small).toEqual(ext.subarray(0, 500 * 100));
    const int = evaluationInputs(c, 'interpolation');
    const [intLo, intHi] = bounds(int);
    expect(intLo).toBeGreaterThanOrEqual(1);
    expect(intHi).toBeLessThanOrEqual(2);
    const [extLo, extHi] = bounds(ext);
    expect(extLo).toBeGreaterThanOrEqual(2);
    expect(extHi).toBeLessThanOrEqual(6);
    // Not the training stream of any seed, and targets differ per seed only through the offset.
    const t0 = createStaticTask(c, 0);
    const x = new Float32Array(100);
    t0.nextBatch(x, new Float64Array(1), 1);
    expect(Array.from(x)).not.toEqual(Array.from(int.subarray(0, 100)));
    const t1 = createStaticTask(c, 1);
    expect(t0.offset).not.toBe(t1.offset);
    expect(t0.targets(ext, 3)).not.toEqual(t1.targets(ext, 3));
  });

  it('a different range gives different evaluation inputs', () => {
    const a = evaluationInputs(defaultStaticTask(), 'extrapolation', 10);
    const b = evaluationInputs(defaultStaticTask({ extrapolation: [[1, 5]] }), 'extrapolation', 10);
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it('single interval: uniform inside [lo, hi] (mean and decile counts within 4 standard errors)', () => {
    const x = evaluationInputs(defaultStaticTask(), 'extrapolation'); // U[2, 6], 1e6 values
    const n = x.length;
    let sum = 0;
    const bins = new Array<number>(10).fill(0);
    for (const v of x) {
      sum += v;
      bins[Math.min(9, Math.floor((v - 2) / 0.4))]!++;
    }
    const sd = 4 / Math.sqrt(12);
    expect(Math.abs(sum / n - 4)).toBeLessThan((4 * sd) / Math.sqrt(n));
    for (const b of bins) expect(Math.abs(b - n / 10)).toBeLessThan(4 * Math.sqrt(n * 0.1 * 0.9));
  });

  it('two-interval range: each element picks an interval with probability ½ and stays inside it', () => {
    const c = defaultStaticTask({
      interpolation: [
        [-2, -1],
        [1, 2],
      ],
      extrapolation: [
        [-6, -2],
        [2, 6],
      ],
    });
    const check = (x: Float32Array, lo: number, hi: number) => {
      let neg = 0;
      let absSum = 0;
      let outside = 0;
      for (const v of x) {
        const a = Math.abs(v);
        if (!(a >= lo && a <= hi)) outside++;
        if (v < 0) neg++;
        absSum += a;
      }
      const n = x.length;
      expect(outside).toBe(0);
      expect(Math.abs(neg / n - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / n));
      // uniform inside each interval: mean |x| at the midpoint
      expect(Math.abs(absSum / n - (lo + hi) / 2)).toBeLessThan((4 * (hi - lo)) / Math.sqrt(12 * n));
    };
    check(evaluationInputs(c, 'extrapolation'), 2, 6);
    const t = createStaticTask(c, 4);
    const x = new Float32Array(128 * 100);
    const y = new Float64Array(128);
    for (let i = 0; i < 20; i++) {
      t.nextBatch(x, y, 128);
      check(x, 1, 2);
    }
    // Signs are independent across positions: neighbouring pairs agree about half of the time.
    const ext = evaluationInputs(c, 'extrapolation');
    let agree = 0;
    for (let i = 1; i < ext.length; i++) if (Math.sign(ext[i]!) === Math.sign(ext[i - 1]!)) agree++;
    expect(Math.abs(agree / (ext.length - 1) - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / ext.length));
  });
});
