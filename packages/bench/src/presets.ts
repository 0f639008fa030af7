/**
 * Presets: named sweeps. A preset expands to a grid of run configurations (model × operation ×
 * task variants) and a seed list; flags on the command line override its fields.
 */
import type { RunConfig, Schedule } from './config.js';
import { getModel } from './models/registry.js';
import type { Op, StaticTaskConfig } from './tasks/static.js';
import { defaultStaticTask } from './tasks/static.js';
import { scaleSchedule } from './train/schedule.js';

/** The iteration count the published schedules were written for. */
export const PAPER_ITERATIONS = 5_000_000;

export interface Preset {
  name: string;
  description: string;
  models: string[];
  ops: Op[];
  /** Number of seeds: seeds 0 … seeds − 1. */
  seeds: number;
  iterations: number;
  /** Task fields shared by every configuration (op is set per cell). */
  task: Partial<StaticTaskConfig>;
  /**
   * 'paper': each model's published schedule as is. 'scaled': a schedule that starts within the run
   * is kept as published (e.g. the NAU model's 5,000 → 50,000); one that would start after the run
   * ends (the NMU model's 1M → 2M) is scaled by iterations / 5,000,000, so it starts and ends at the
   * same fraction of the run as in the paper. Starting a regulariser earlier than published makes
   * it fight the fit (measured: NAU on − fell from 10/10 to 2/10 solved at 30k iterations).
   */
  schedules: 'paper' | 'scaled';
  hidden: number;
  batch: number;
  lr: number;
  evalEvery: number;
}

const BASE = { hidden: 2, batch: 128, lr: 1e-3, evalEvery: 1000, task: {} } as const;

export const PRESETS: readonly Preset[] = [
  {
    ...BASE,
    name: 'quick',
    description: 'A quick look (< 5 min on 2 cores): six models on +, −, ×, 10 seeds, schedules scaled',
    models: ['nmu', 'nau', 'nac-mul', 'nac', 'nalu', 'linear'],
    ops: ['add', 'sub', 'mul'],
    seeds: 10,
    // 20k: the NAU model solves + and − by then (measured 10/10 each); more does not fit 5 minutes.
    iterations: 20_000,
    schedules: 'scaled',
  },
  {
    ...BASE,
    name: 'iclr2020',
    description:
      'The NAU/NMU paper (ICLR 2020) Table 1: every model × six operations, 100 seeds, 5M iterations',
    models: ['nmu', 'nau', 'nac-mul', 'nac', 'nalu', 'gated', 'linear', 'relu'],
    ops: ['add', 'sub', 'mul', 'div', 'squared', 'root'],
    seeds: 100,
    iterations: PAPER_ITERATIONS,
    schedules: 'paper',
  },
  {
    ...BASE,
    name: 'simple',
    description:
      'The simple variant (I = 4) on ×: NAC•, NALU, NMU, gated NAU/NMU, 100 seeds, 200k iterations',
    models: ['nac-mul', 'nalu', 'nmu', 'gated'],
    ops: ['mul'],
    seeds: 100,
    iterations: 200_000,
    schedules: 'paper',
    task: { simple: true, inputSize: 4 },
  },
];

export class UnknownPresetError extends Error {}

export function getPreset(name: string): Preset {
  const p = PRESETS.find((x) => x.name === name);
  if (!p) {
    throw new UnknownPresetError(
      `unknown preset '${name}'. Known presets: ${PRESETS.map((x) => x.name).join(', ')} (see \`nalm presets\`).`,
    );
  }
  return p;
}

/** The schedule a model trains with under a preset's schedule policy. */
export function presetSchedule(
  model: string,
  policy: Preset['schedules'],
  iterations: number,
): Schedule | null {
  const s = getModel(model).schedule;
  if (!s) return null;
  if (policy === 'paper' || s.start < iterations) return { ...s };
  return scaleSchedule(s, iterations / PAPER_ITERATIONS);
}

/** Every run configuration of a preset (model-major, then operation). */
export function expandPreset(p: Preset): RunConfig[] {
  const out: RunConfig[] = [];
  for (const model of p.models) {
    for (const op of p.ops) {
      out.push({
        task: defaultStaticTask({ ...p.task, op }),
        model,
        hidden: p.hidden,
        batch: p.batch,
        lr: p.lr,
        iterations: p.iterations,
        evalEvery: p.evalEvery,
        schedule: presetSchedule(model, p.schedules, p.iterations),
        oobWeight: 1,
      });
    }
  }
  return out;
}

/** Size of a preset in runs and seed-iterations (what `nalm presets` prints). */
export function presetSize(p: Preset): { configurations: number; runs: number; seedIterations: number } {
  const configurations = p.models.length * p.ops.length;
  const runs = configurations * p.seeds;
  return { configurations, runs, seedIterations: runs * p.iterations };
}
