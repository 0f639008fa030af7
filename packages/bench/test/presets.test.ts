import { describe, expect, it } from 'vitest';
import { configKey } from '../src/config.js';
import { PRESETS, expandPreset, getPreset, presetOps, presetSchedule, presetSize } from '../src/presets.js';

describe('presets', () => {
  it('quick: NMU, NAU × add/sub/mul, NAC• and NALU × only, on the simple task, published schedules', () => {
    const p = getPreset('quick');
    const configs = expandPreset(p);
    expect(configs).toHaveLength(8);
    expect(new Set(configs.map(configKey)).size).toBe(8);
    for (const m of ['nac-mul', 'nalu']) {
      expect(configs.filter((c) => c.model === m).map((c) => c.task.op)).toEqual(['mul']);
    }
    expect(presetOps(p, 'nmu')).toEqual(['add', 'sub', 'mul']);
    // --op narrows a model's own list too (empty when they share nothing).
    expect(presetOps({ ...p, ops: ['add'] }, 'nalu')).toEqual([]);
    expect(new Set(configs.map((c) => c.model))).toEqual(new Set(['nmu', 'nau', 'nac-mul', 'nalu']));
    expect(configs.every((c) => c.task.simple && c.task.inputSize === 4)).toBe(true);
    // As the simple-task table: the NMU model's regulariser (1M → 2M) never starts.
    expect(configs.find((c) => c.model === 'nmu')!.schedule).toEqual({
      lambda: 10,
      start: 1_000_000,
      end: 2_000_000,
    });
    expect(presetSize(p)).toEqual({
      configurations: 8,
      runs: 8 * p.seeds,
      seedIterations: 8 * p.seeds * p.iterations,
    });
  });

  it("'scaled' keeps a schedule that starts within the run and scales one that starts after it", () => {
    // NAU model: 5,000 → 50,000 starts within a 30k run: kept as published.
    expect(presetSchedule('nau', 'scaled', 30_000)).toEqual({ lambda: 0.01, start: 5_000, end: 50_000 });
    // NMU model: 1M → 2M starts after a 30k run ends: scaled by 30k / 5M.
    expect(presetSchedule('nmu', 'scaled', 30_000)).toEqual({ lambda: 10, start: 6_000, end: 12_000 });
    expect(presetSchedule('nmu', 'paper', 30_000)).toEqual({ lambda: 10, start: 1_000_000, end: 2_000_000 });
    expect(presetSchedule('linear', 'scaled', 30_000)).toBeNull();
  });

  it('iclr2020 uses the paper schedules and scale; simple is the I = 4 variant', () => {
    const iclr = expandPreset(getPreset('iclr2020'));
    expect(iclr).toHaveLength(8 * 6);
    expect(iclr.every((c) => c.iterations === 5_000_000)).toBe(true);
    expect(iclr.find((c) => c.model === 'nmu')!.schedule).toEqual({
      lambda: 10,
      start: 1_000_000,
      end: 2_000_000,
    });
    const simple = expandPreset(getPreset('simple'));
    expect(simple.every((c) => c.task.simple && c.task.inputSize === 4 && c.task.op === 'mul')).toBe(true);
  });

  it('unknown preset names say which exist', () => {
    expect(() => getPreset('quik')).toThrow(
      /unknown preset 'quik'.*quick, iclr2020, iclr2020-all, iclr2020-gate, simple, single-module, single-module-quick/,
    );
    expect(PRESETS.map((p) => p.name)).toEqual([
      'quick',
      'iclr2020',
      'iclr2020-all',
      'iclr2020-gate',
      'simple',
      'single-module',
      'single-module-quick',
      'primer-inalu-i10',
      'primer-nau-i10',
      'primer-nau-i100',
    ]);
  });
});

describe('nalm run flags → configurations', () => {
  it("--schedule none switches the regulariser off (λ̂ = 0), not back to the model's default", async () => {
    const { resolveRun } = await import('../../cli/src/cli/run.js');
    const { scheduleValue } = await import('../src/train/schedule.js');
    const none = resolveRun({ model: 'nau', op: 'add', schedule: 'none' }).configs[0]!;
    expect(none.schedule).not.toBeNull();
    expect(scheduleValue(none.schedule, 1_000_000)).toBe(0);
    const custom = resolveRun({ model: 'nmu', op: 'mul', schedule: '5,100,200' }).configs[0]!;
    expect(custom.schedule).toEqual({ lambda: 5, start: 100, end: 200 });
    const preset = resolveRun({ preset: 'single-module-quick', iterations: 20_000, seeds: '3..4' });
    expect(preset.seeds).toEqual([3, 4]);
    expect(preset.configs.every((c) => c.iterations === 20_000)).toBe(true);
    // The NMU schedule (20k → 35k of 50k) is rescaled to the overridden run length.
    expect(preset.configs.find((c) => c.model === 'single-nmu')!.schedule).toEqual({
      lambda: 10,
      start: 8_000,
      end: 14_000,
    });
  });
});
