/**
 * Plots: the vega-lite specs and their SVG. The SVGs are parsed as XML and their marks counted, so
 * a plot that drops a group, a seed or its titles fails here.
 */
import { DOMParser } from '@xmldom/xmldom';
import type { Element as XmlElement } from '@xmldom/xmldom';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../src/config.js';
import { configKey } from '../src/config.js';
import type { EvalPoint, RunRecord } from '../src/record.js';
import {
  ITERATION_AXIS,
  MSE_AXIS,
  SOLVED_AT_AXIS,
  SUCCESS_AXIS,
  curvesSpec,
  downsampleCurve,
  renderSvg,
  reportPlots,
  solvedAtSpec,
  successSpec,
  sweepDimensions,
  sweepSpec,
} from '../src/report/plots.js';
import type { Report } from '../src/report/report.js';
import { reportFromRecords } from '../src/report/report.js';
import { curveOutcome } from '../src/success.js';
import type { Op, Range } from '../src/tasks/static.js';
import { defaultStaticTask } from '../src/tasks/static.js';

// ---- fixtures ----

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface GroupSpec {
  model: string;
  op: Op;
  /** Seeds that reach the threshold (the others plateau above it). */
  solved: readonly number[];
  seeds: number;
  iterations?: number;
  evalEvery?: number;
  /** Seeds whose training diverged: the curve ends early with a NaN / Infinity point. */
  diverged?: readonly number[];
  interpolation?: Range;
  extrapolation?: Range;
  inputSize?: number;
}

const THRESHOLD = 1e-5;

function config(g: GroupSpec): RunConfig {
  const iterations = g.iterations ?? 10_000;
  return {
    task: defaultStaticTask({
      op: g.op,
      ...(g.interpolation ? { interpolation: g.interpolation } : {}),
      ...(g.extrapolation ? { extrapolation: g.extrapolation } : {}),
      ...(g.inputSize ? { inputSize: g.inputSize } : {}),
    }),
    model: g.model,
    hidden: 2,
    batch: 128,
    lr: 1e-3,
    iterations,
    evalEvery: g.evalEvery ?? 1000,
    schedule: null,
    oobWeight: 1,
  };
}

/** Records whose curves decay below the threshold for `solved` seeds and plateau above it otherwise. */
function records(groups: readonly GroupSpec[]): RunRecord[] {
  return groups.flatMap((g) => {
    const c = config(g);
    const key = configKey(c);
    return Array.from({ length: g.seeds }, (_, seed) => {
      const r = rand(seed * 7919 + c.iterations + g.model.length);
      const solves = g.solved.includes(seed);
      const diverges = g.diverged?.includes(seed) ?? false;
      const n = Math.floor(c.iterations / c.evalEvery) + 1;
      const when = 0.2 + 0.6 * r();
      const floor = solves ? THRESHOLD * 1e-2 : THRESHOLD * (10 + 100 * r());
      let curve: EvalPoint[] = Array.from({ length: n }, (_, i) => {
        const t = i / (n - 1);
        const mse = t < when ? 10 ** (2 - (t / when) * (2 - Math.log10(floor))) : floor * (1 + 0.1 * r());
        return {
          step: i * c.evalEvery,
          interpolation: mse / 10,
          extrapolation: mse,
          sparsityError: 0.1 * r(),
        };
      });
      let diverged: RunRecord['diverged'] = null;
      if (diverges) {
        const stop = Math.max(2, Math.floor(n / 3));
        curve = curve.slice(0, stop + 1);
        curve[stop] = { ...curve[stop]!, extrapolation: NaN, interpolation: NaN };
        curve[stop - 1] = { ...curve[stop - 1]!, extrapolation: Infinity };
        diverged = { step: curve[stop]!.step, reason: 'non-finite loss' };
      }
      const o = curveOutcome(curve, THRESHOLD);
      return {
        v: 1,
        key,
        config: c,
        seed,
        threshold: THRESHOLD,
        curve,
        bestStep: o.bestStep,
        solved: diverges ? false : o.solved,
        solvedAt: diverges ? null : o.solvedAt,
        sparsityError: o.sparsityError,
        diverged,
        iterations: diverges ? curve[curve.length - 1]!.step : c.iterations,
      } satisfies RunRecord;
    });
  });
}

// ---- SVG helpers ----

/** Parses SVG text as XML; any warning or error fails. */
function parseSvg(svg: string) {
  const problems: string[] = [];
  let doc;
  try {
    doc = new DOMParser({ onError: (level, msg) => problems.push(`${level}: ${msg}`) }).parseFromString(
      svg,
      'image/svg+xml',
    );
  } catch (e) {
    problems.push(`fatal: ${(e as Error).message}`);
  }
  if (!doc || problems.length > 0) throw new Error(`invalid SVG: ${problems.join('; ')}`);
  const root = doc.documentElement!;
  expect(root.nodeName).toBe('svg');
  expect(root.namespaceURI).toBe('http://www.w3.org/2000/svg');
  return doc;
}

function elements(doc: ReturnType<typeof parseSvg>, tag: string): XmlElement[] {
  return Array.from(doc.getElementsByTagName(tag)) as XmlElement[];
}

/** The mark groups of a named vega-lite layer ('ci' → class "… ci_marks"). */
function markGroups(doc: ReturnType<typeof parseSvg>, layer: string): XmlElement[] {
  return elements(doc, 'g').filter((g) =>
    (g.getAttribute('class') ?? '').split(' ').includes(`${layer}_marks`),
  );
}

/** The drawn items (children) of every mark group of a layer. */
function items(doc: ReturnType<typeof parseSvg>, layer: string, tag: string): XmlElement[] {
  return markGroups(doc, layer).flatMap(
    (g) => Array.from(g.childNodes).filter((n) => n.nodeName === tag) as unknown as XmlElement[],
  );
}

const texts = (doc: ReturnType<typeof parseSvg>) => elements(doc, 'text').map((t) => t.textContent ?? '');

async function render(spec: Parameters<typeof renderSvg>[0]) {
  const svg = await renderSvg(spec);
  return { svg, doc: parseSvg(svg) };
}

// ---- tests ----

const basic: GroupSpec[] = [
  { model: 'nau', op: 'add', seeds: 5, solved: [0, 2, 3] },
  { model: 'nmu', op: 'add', seeds: 5, solved: [] },
  { model: 'nau', op: 'mul', seeds: 5, solved: [1], diverged: [4] },
  { model: 'nmu', op: 'mul', seeds: 5, solved: [0, 1, 2, 3, 4] },
];
const basicRecords = records(basic);
const basicReport = reportFromRecords(basicRecords);

describe('the XML check itself', () => {
  it('rejects malformed SVG', () => {
    expect(() => parseSvg('<svg xmlns="http://www.w3.org/2000/svg"><g></svg>')).toThrow(/invalid SVG/);
    expect(() => parseSvg('<svg xmlns="http://www.w3.org/2000/svg"><text>a < b</text></svg>')).toThrow(
      /invalid SVG/,
    );
  });
});

describe('success plot', () => {
  it('one Wilson bar and one dot per group, with the success values in the data', async () => {
    const { doc } = await render(successSpec(basicReport));
    const bars = items(doc, 'ci', 'line');
    const dots = items(doc, 'rate', 'path');
    expect(bars).toHaveLength(basicReport.groups.length);
    expect(dots).toHaveLength(basicReport.groups.length);
    const labels = dots.map((d) => d.getAttribute('aria-label') ?? '');
    for (const g of basicReport.groups) {
      const s = g.summary.success;
      const label = labels.find(
        (l) => l.includes(`model: ${g.model};`) && l.includes(`${g.summary.solved}/5`),
      );
      expect(label, `${g.operation} ${g.model}`).toBeDefined();
      expect(label).toContain(`success (%): ${(100 * s.mean).toFixed(1)}`);
      expect(label).toContain(`lower (%): ${(100 * s.lower!).toFixed(1)}`);
      expect(label).toContain(`upper (%): ${(100 * s.upper!).toFixed(1)}`);
    }
    // 3/5 solved: 60%, Wilson [23.1, 88.2].
    expect(labels.some((l) => /success \(%\): 60\.0; lower \(%\): 23\.1; upper \(%\): 88\.2/.test(l))).toBe(
      true,
    );
    const t = texts(doc);
    expect(t).toContain(SUCCESS_AXIS);
    expect(t).toContain('Success rate per model and operation');
    expect(t).toEqual(expect.arrayContaining(['3/5', '0/5', '1/5', '5/5']));
    // One panel per operation.
    expect(t).toEqual(expect.arrayContaining(['+', '×']));
  });

  it('bars span exactly the interval: the bar of 0/5 starts at x = 0', async () => {
    const { doc } = await render(successSpec(basicReport));
    const bar = items(doc, 'ci', 'line').find((l) => (l.getAttribute('aria-label') ?? '').includes('0/5'))!;
    expect(bar.getAttribute('transform')).toMatch(/^translate\(0,/);
    expect(Number(bar.getAttribute('x2'))).toBeGreaterThan(0);
  });
});

describe('solved-at plot', () => {
  it('one tick per solved seed, the median per group, and "no solved seeds" for empty groups', async () => {
    const { doc } = await render(solvedAtSpec(basicReport, basicRecords));
    const solvedSeeds = basicReport.groups.reduce((s, g) => s + g.summary.solved, 0);
    expect(solvedSeeds).toBe(3 + 0 + 1 + 5);
    expect(items(doc, 'seeds', 'path')).toHaveLength(solvedSeeds);
    expect(items(doc, 'median', 'path')).toHaveLength(3);
    const t = texts(doc);
    expect(t).toContain('no solved seeds (0/5)');
    expect(t.some((s) => s.startsWith(SOLVED_AT_AXIS.replace(')', '')))).toBe(true);
    // The ticks carry each seed's solved-at value.
    const labels = items(doc, 'seeds', 'path').map((p) => p.getAttribute('aria-label') ?? '');
    for (const r of basicRecords.filter((x) => x.solved))
      expect(labels.some((l) => l.includes(`solved at: ${r.solvedAt!.toLocaleString('en')}`))).toBe(true);
  });

  it('says so when no group solved anything, and renders without records (summaries only)', async () => {
    const recs = records([{ model: 'nmu', op: 'div', seeds: 3, solved: [] }]);
    const report = reportFromRecords(recs);
    for (const input of [recs, null]) {
      const { doc, svg } = await render(solvedAtSpec(report, input));
      expect(texts(doc)).toContain('no solved seeds (0/3)');
      expect(svg).not.toMatch(/NaN|Infinity/);
    }
  });
});

describe('curves plot', () => {
  it('one path per seed, the threshold per group, log-scale MSE over iterations', async () => {
    const spec = curvesSpec(basicReport, basicRecords)!;
    const { doc, svg } = await render(spec);
    const paths = items(doc, 'curves', 'path');
    expect(paths).toHaveLength(basicRecords.length);
    expect(items(doc, 'threshold', 'line')).toHaveLength(basicReport.groups.length);
    expect(svg).not.toMatch(/NaN|Infinity/);
    const t = texts(doc).join('\n');
    expect(t).toContain(ITERATION_AXIS);
    for (const line of MSE_AXIS) expect(t).toContain(line);
    expect(t).toContain('Extrapolation error during training');
    expect(t).toContain('no seed solved (0/5)');
    expect(t).toContain('1/5 solved, 1 diverged');
    // Solved seeds are drawn differently from the others.
    const strokes = new Set(paths.map((p) => p.getAttribute('stroke')));
    expect(strokes.size).toBe(3);
  });

  it('drops non-finite points and keeps shorter (diverged) curves', () => {
    const spec = curvesSpec(basicReport, basicRecords)!;
    const values = (spec as { data: { values: Record<string, unknown>[] } }).data.values;
    const mses = values.filter((v) => v.kind === 'curve').map((v) => v.mse as number);
    expect(mses.every((m) => Number.isFinite(m) && m > 0)).toBe(true);
    const diverged = basicRecords.find((r) => r.diverged)!;
    const pts = values.filter((v) => v.kind === 'curve' && v.panel === '×  NAU' && v.seed === diverged.seed);
    expect(pts).toHaveLength(diverged.curve.length - 2);
  });

  it('downsamples 5,001-point curves and still draws one path per seed', async () => {
    const recs = records([{ model: 'nmu', op: 'mul', seeds: 3, solved: [1], iterations: 5_000_000 }]);
    expect(recs[0]!.curve).toHaveLength(5001);
    const spec = curvesSpec(reportFromRecords(recs), recs)!;
    const values = (spec as { data: { values: Record<string, unknown>[] } }).data.values;
    const perSeed = [0, 1, 2].map((s) => values.filter((v) => v.kind === 'curve' && v.seed === s).length);
    for (const n of perSeed) expect(n).toBeLessThanOrEqual(400);
    const { doc } = await render(spec);
    expect(items(doc, 'curves', 'path')).toHaveLength(3);
    expect(texts(doc).join(' ')).toMatch(/downsampled/);
  });

  it('is absent without records', () => {
    expect(curvesSpec(basicReport, null)).toBeNull();
  });
});

describe('downsampleCurve', () => {
  const point = fc.record({
    extrapolation: fc.oneof(
      fc.double({ min: 1e-12, max: 1e12, noNaN: true }),
      fc.constantFrom(NaN, Infinity, -Infinity, 0),
    ),
  });
  it('keeps order, first, last, the extremes, at most maxPoints, only finite positive values', () => {
    fc.assert(
      fc.property(fc.array(point, { maxLength: 3000 }), fc.integer({ min: 4, max: 500 }), (raw, max) => {
        const curve = raw.map((p, i) => ({ step: i * 1000, interpolation: 1, sparsityError: 0, ...p }));
        const finite = curve.filter((p) => Number.isFinite(p.extrapolation) && p.extrapolation > 0);
        const out = downsampleCurve(curve, max);
        expect(out.length).toBeLessThanOrEqual(Math.max(max, 4));
        expect(out.every((p) => Number.isFinite(p.extrapolation) && p.extrapolation > 0)).toBe(true);
        for (let i = 1; i < out.length; i++) expect(out[i]!.step).toBeGreaterThan(out[i - 1]!.step);
        if (finite.length <= max) expect(out).toEqual(finite);
        if (finite.length > 0) {
          expect(out[0]).toBe(finite[0]);
          expect(out[out.length - 1]).toBe(finite[finite.length - 1]);
          const values = finite.map((p) => p.extrapolation);
          const kept = out.map((p) => p.extrapolation);
          expect(Math.min(...kept)).toBe(Math.min(...values));
          expect(Math.max(...kept)).toBe(Math.max(...values));
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('sweeps', () => {
  const ranges: [Range, Range][] = [
    [[[1, 2]], [[2, 6]]],
    [[[0.1, 0.2]], [[0.2, 2]]],
    [[[10, 20]], [[20, 40]]],
  ];
  const sweep = ranges.flatMap(([interpolation, extrapolation], i) =>
    (['nau', 'nmu'] as const).map((model) => ({
      model,
      op: 'add' as const,
      seeds: 4,
      solved: model === 'nau' ? [0, 1, 2, 3].slice(0, 4 - i) : [0].slice(0, i % 2),
      interpolation,
      extrapolation,
    })),
  );

  it('finds the swept range (interpolation and extrapolation together) and plots success against it', async () => {
    const recs = records(sweep);
    const report = reportFromRecords(recs);
    const dims = sweepDimensions(report);
    expect(dims.map((d) => d.key)).toEqual(['range']);
    const { doc } = await render(sweepSpec(report, dims[0]!));
    expect(items(doc, 'ci', 'line')).toHaveLength(report.groups.length);
    expect(items(doc, 'rate', 'path')).toHaveLength(report.groups.length);
    const t = texts(doc);
    expect(t).toContain('range (interpolation → extrapolation)');
    expect(t).toContain(SUCCESS_AXIS);
    expect(t).toEqual(
      expect.arrayContaining(['U[1,2] → U[2,6]', 'U[0.1,0.2] → U[0.2,2]', 'U[10,20] → U[20,40]']),
    );
    const labels = items(doc, 'rate', 'path').map((p) => p.getAttribute('aria-label') ?? '');
    expect(labels.some((l) => /model: NAU.*success \(%\): 50\.0/.test(l))).toBe(true);
    expect(reportPlots(report, recs).map((p) => p.id)).toEqual([
      'success',
      'solved-at',
      'curves',
      'sweep-range',
    ]);
  });

  it('orders a numeric field numerically', async () => {
    const recs = records(
      [100, 10, 30].map((inputSize) => ({
        model: 'nau',
        op: 'add' as const,
        seeds: 2,
        solved: [0],
        inputSize,
      })),
    );
    const report = reportFromRecords(recs);
    const dims = sweepDimensions(report);
    expect(dims).toEqual([{ key: 'inputSize', title: 'input size I' }]);
    const spec = sweepSpec(report, dims[0]!) as unknown as {
      spec: { layer: { encoding: { x: { sort: string[] } } }[] };
    };
    expect(spec.spec.layer[0]!.encoding.x.sort).toEqual(['10', '30', '100']);
    const { doc } = await render(sweepSpec(report, dims[0]!));
    expect(texts(doc)).toContain('input size I');
  });

  it('has no sweep plot when only model and operation differ', () => {
    expect(sweepDimensions(basicReport)).toEqual([]);
  });
});

describe('scale', () => {
  it('48 groups × 100 seeds: wrapped facets, every group and every seed drawn, bounded size', async () => {
    const models = ['nau', 'nmu', 'nac', 'nac-mul', 'nalu', 'gated', 'linear', 'relu'];
    const ops: Op[] = ['add', 'sub', 'mul', 'div', 'squared', 'root'];
    const groups = models.flatMap((model, i) =>
      ops.map((op, j) => ({
        model,
        op,
        seeds: 100,
        solved: Array.from({ length: (i * 13 + j * 17) % 101 }, (_, k) => k),
        iterations: 50_000,
      })),
    );
    const recs = records(groups);
    const report = reportFromRecords(recs);
    expect(report.groups).toHaveLength(48);
    const plots = reportPlots(report, recs);
    const started = Date.now();
    const svgs = await Promise.all(plots.map((p) => renderSvg(p.spec)));
    expect(Date.now() - started).toBeLessThan(60_000);
    const [success, solvedAt, curves] = svgs.map(parseSvg);
    expect(items(success!, 'ci', 'line')).toHaveLength(48);
    expect(items(solvedAt!, 'seeds', 'path')).toHaveLength(recs.filter((r) => r.solved).length);
    expect(items(curves!, 'curves', 'path')).toHaveLength(4800);
    expect(items(curves!, 'threshold', 'line')).toHaveLength(48);
    // Wrapped: the curves plot is not one 48-panel row.
    const width = Number(curves!.documentElement!.getAttribute('width'));
    const height = Number(curves!.documentElement!.getAttribute('height'));
    expect(width).toBeLessThan(1600);
    expect(height).toBeGreaterThan(1000);
    for (const svg of svgs) expect(svg.length).toBeLessThan(8_000_000);
  });
});

describe('escaping and rendering', () => {
  it('labels with <&>" stay text in a well-formed SVG', async () => {
    const recs = records([{ model: 'my<unit>&"co"', op: 'add', seeds: 3, solved: [0] }]);
    const report = reportFromRecords(recs);
    expect(report.groups[0]!.model).toBe('my<unit>&"co"');
    for (const p of reportPlots(report, recs)) {
      const { doc, svg } = await render(p.spec);
      expect(svg).not.toContain('my<unit>');
      expect(texts(doc).join('\n')).toContain('my<unit>&"co"');
    }
  });

  it('renderSvg never fetches: a spec with a data URL fails', async () => {
    await expect(
      renderSvg({
        data: { url: 'http://127.0.0.1:9/data.json' },
        mark: 'point',
        encoding: { x: { field: 'a', type: 'quantitative' } },
      }),
    ).rejects.toThrow(/inline/);
  });

  it('a custom vega-lite spec renders', async () => {
    const { doc } = await render({
      title: 'custom <&>',
      data: { values: [{ a: 1, b: 2 }] },
      mark: 'point',
      encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
    });
    expect(texts(doc)).toContain('custom <&>');
  });

  it('stable-nalu reports (no records, no configurations) get the success and solved-at plots', async () => {
    const report: Report = {
      ...basicReport,
      source: 'stable-nalu',
      groups: basicReport.groups.map(({ config: _c, ...g }) => g),
    };
    const plots = reportPlots(report, null);
    expect(plots.map((p) => p.id)).toEqual(['success', 'solved-at']);
    for (const p of plots) parseSvg(await renderSvg(p.spec));
  });
});
