/**
 * The model registry for the static task: two layers, L1: I → hidden, L2: hidden → 1 (spec §2).
 * Open by design: `registerModel` adds a user's model (built from any UnitDef, including their
 * own) and the same runner, success criterion and report apply to it.
 */
import type { UnitDef, UnitShape } from '@nalm/units';
import { mulNacDef, nacDef, naluDef, nauDef, nmuDef } from '@nalm/units';
import type { Schedule } from '../config.js';
import { denseDef } from './dense.js';
import { gatedNauNmuDef } from './gated.js';

export interface ModelLayer {
  // `never` lets layers of different option types share one array; options are checked by the def.
  def: UnitDef<never>;
  options: object;
  shape: UnitShape;
}

export interface ModelDef {
  /** Registry name used on the command line, e.g. 'nmu'. */
  name: string;
  /** Human label for tables, e.g. 'NMU'. */
  label: string;
  /** The label stable-nalu's analysis uses (for its per-run CSV layout). */
  paperLabel?: string;
  description: string;
  /** The layers for a given input size and hidden width. */
  layers(inputSize: number, hidden: number): ModelLayer[];
  /** The paper's sparsity schedule for this model, or null when it has no sparsity regulariser. */
  schedule: Schedule | null;
  /**
   * Relative training cost per seed-iteration (default 1, the NAU/NMU models). Only used to start
   * expensive batches first so parallel workers finish together.
   */
  cost?: number;
}

const layer = <O extends object>(
  def: UnitDef<O>,
  inputSize: number,
  units: number,
  options: Partial<O> = {},
) => ({
  def: def as unknown as UnitDef<never>,
  options: { ...def.defaults, ...options },
  shape: { inputSize, units },
});

const twoLayer =
  <A extends object, B extends object>(
    l1: UnitDef<A>,
    l2: UnitDef<B>,
    o1: Partial<A> = {},
    o2: Partial<B> = {},
  ) =>
  (inputSize: number, hidden: number): ModelLayer[] => [
    layer(l1, inputSize, hidden, o1),
    layer(l2, hidden, 1, o2),
  ];

const NMU_SCHEDULE: Schedule = { lambda: 10, start: 1_000_000, end: 2_000_000 };
const NAU_SCHEDULE: Schedule = { lambda: 0.01, start: 5_000, end: 50_000 };

const builtins: ModelDef[] = [
  {
    name: 'nmu',
    label: 'NMU',
    paperLabel: 'NMU',
    description: 'NAU → NMU (the NMU paper model)',
    layers: twoLayer(nauDef, nmuDef),
    schedule: NMU_SCHEDULE,
  },
  {
    name: 'nau',
    label: 'NAU',
    paperLabel: 'NAU',
    description: 'NAU → NAU',
    layers: twoLayer(nauDef, nauDef),
    schedule: NAU_SCHEDULE,
  },
  {
    name: 'nac-mul',
    label: 'NAC•',
    paperLabel: '$\\mathrm{NAC}_{\\bullet}$',
    description: 'NAC+ → NAC• (exp(NAC+(log(|h| + ε))))',
    layers: twoLayer(nacDef, mulNacDef),
    schedule: null,
  },
  {
    name: 'nac',
    label: 'NAC+',
    paperLabel: '$\\mathrm{NAC}_{+}$',
    description: 'NAC+ → NAC+',
    layers: twoLayer(nacDef, nacDef),
    schedule: null,
  },
  {
    name: 'nalu',
    label: 'NALU',
    paperLabel: 'NALU',
    description: 'NALU → NALU (shared weights)',
    layers: twoLayer(naluDef, naluDef),
    schedule: null,
    cost: 3.5, // 100 logarithms per row (measured ~3.5x the NAU model's time)
  },
  {
    name: 'gated',
    label: 'Gated NAU/NMU',
    description: 'gated NAU/NMU → gated NAU/NMU, g = σ(x·G), separate weights',
    layers: twoLayer(gatedNauNmuDef, gatedNauNmuDef),
    schedule: NMU_SCHEDULE,
  },
  {
    name: 'linear',
    label: 'Linear',
    paperLabel: 'Linear',
    description: 'dense with bias → dense with bias',
    layers: twoLayer(denseDef, denseDef),
    schedule: null,
  },
  {
    name: 'relu',
    label: 'ReLU',
    paperLabel: 'ReLU',
    description: 'dense + ReLU → dense (linear)',
    layers: twoLayer(denseDef, denseDef, { activation: 'relu' }, { activation: 'linear' }),
    schedule: null,
  },
];

const registry = new Map<string, ModelDef>(builtins.map((m) => [m.name, m]));

export class UnknownModelError extends Error {}

/** Add (or, with `replace`, override) a model. Names are lowercase identifiers. */
export function registerModel(model: ModelDef, { replace = false } = {}): void {
  if (!/^[a-z][a-z0-9-]*$/.test(model.name)) {
    throw new Error(`registerModel: name '${model.name}' must be lowercase letters, digits and '-'.`);
  }
  if (registry.has(model.name) && !replace) {
    throw new Error(
      `registerModel: a model named '${model.name}' exists; pass { replace: true } to override it.`,
    );
  }
  registry.set(model.name, model);
}

export function getModel(name: string): ModelDef {
  const m = registry.get(name);
  if (!m) {
    throw new UnknownModelError(`unknown model '${name}'. Known models: ${[...registry.keys()].join(', ')}.`);
  }
  return m;
}

export function listModels(): ModelDef[] {
  return [...registry.values()];
}
