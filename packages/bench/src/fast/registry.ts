/**
 * Which unit definitions have a fused kernel. Keyed by the definition object itself, so a model
 * registered by a user that reuses a built-in unit (say NAU → NAU → NMU) gets the fast path too,
 * while a user's own unit (or a replaced definition) falls back to the generic tfjs trainer.
 */
import type { UnitDef } from '@nalm/units';
import { mulNacDef, nacDef, naluDef, nauDef, nmuDef } from '@nalm/units';
import { denseDef } from '../models/dense.js';
import { gatedNauNmuDef } from '../models/gated.js';
import { DenseKernel } from './dense.js';
import { GatedKernel } from './gated.js';
import type { FastLayer, KernelArgs } from './kernel.js';
import { MulNacKernel } from './mul-nac.js';
import { NacKernel } from './nac.js';
import { NaluKernel } from './nalu.js';
import { NauKernel } from './nau.js';
import { NmuKernel } from './nmu.js';

export type KernelFactory = (args: KernelArgs<never>) => FastLayer;

const kernels = new Map<UnitDef<never>, KernelFactory>([
  [nauDef as UnitDef<never>, (a) => new NauKernel(a)],
  [nmuDef as UnitDef<never>, (a) => new NmuKernel(a)],
  [nacDef as UnitDef<never>, (a) => new NacKernel(a)],
  [mulNacDef as UnitDef<never>, (a) => new MulNacKernel(a)],
  [naluDef as UnitDef<never>, (a) => new NaluKernel(a)],
  [denseDef as UnitDef<never>, (a) => new DenseKernel(a)],
  [gatedNauNmuDef as UnitDef<never>, (a) => new GatedKernel(a)],
]);

/** The fused kernel of a unit definition, or undefined when it has none. */
export function kernelFor(def: UnitDef<never>): KernelFactory | undefined {
  return kernels.get(def);
}
