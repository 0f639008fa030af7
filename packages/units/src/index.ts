/**
 * @nalm/units — neural arithmetic units as TensorFlow.js layers. Browser-safe: nothing here touches
 * Node's fs; disk save/load lives in '@nalm/units/node'.
 */
export { Rng, deriveSeed } from './rng.js';
export type { ForwardContext, ParamSpec, Params, UnitDef, UnitShape } from './unit.js';
export {
  checkInput,
  initParams,
  outputSize,
  resolveOptions,
  meanSparsityErrorOf,
  sparsityErrorOf,
  unitSparsityError,
  weightMax,
  weightMean,
} from './unit.js';
export type { RegularizationWeights, UnitLayerArgs, UnitLayerBaseArgs } from './layer.js';
export { ConstrainUnits, UnitLayer, applyUnitConstraints, modelSparsityError, unitLayers } from './layer.js';
export {
  BackendFallbackError,
  backendFallbackReason,
  initBackend,
  type BackendName,
  type InitBackendOptions,
  type WasmBinaryName,
  type WasmPaths,
} from './backend.js';

export { NAC, nacDef, nacInitRange, nacWeight, nacWeightVariance, type NacOptions } from './nac.js';
export { MulNAC, mulNacDef, logSpaceProduct, type MulNacOptions } from './mul-nac.js';
export { NALU, naluDef, xavierUniformRange, type NaluOptions } from './nalu.js';
export { NAU, nauDef, nauInitRange, type NauOptions, type OobMode, type RegularizerShape } from './nau.js';
export { NMU, nmuDef, nmuProduct, type NmuOptions } from './nmu.js';
export { NSR, nsrDef, statusBits, type NsrOptions } from './nsr.js';
export { NPU, RealNPU, npuDef, realNpuDef, npuLogAndPhase, type NpuOptions } from './npu.js';
export { NRU, nruDef, nruProduct, type NruOptions } from './nru.js';
export { INALU, inaluDef, inaluMagnitude, inaluSign, INALU_INIT, type InaluOptions } from './inalu.js';
export {
  GNALU,
  gnaluDef,
  gnaluAsNaluParams,
  LN_PHI,
  PHI,
  sigmoidPhi,
  tanhPhi,
  type GnaluOptions,
} from './gnalu.js';
export { NMRU, SignNMRU, nmruDef, signNmruDef, withReciprocals, type NmruOptions } from './nmru.js';
export { SNMU, snmuDef, snmuNoisyProduct, SNMU_NOISE, type SnmuOptions } from './snmu.js';

import { nacDef } from './nac.js';
import { mulNacDef } from './mul-nac.js';
import { naluDef } from './nalu.js';
import { nauDef } from './nau.js';
import { nmuDef } from './nmu.js';
import { nsrDef } from './nsr.js';
import { npuDef, realNpuDef } from './npu.js';
import { nruDef } from './nru.js';
import { inaluDef } from './inalu.js';
import { gnaluDef } from './gnalu.js';
import { nmruDef, signNmruDef } from './nmru.js';
import { snmuDef } from './snmu.js';
import type { UnitDef } from './unit.js';

/** Every built-in unit definition by registry name. */
export const builtinUnits: Readonly<Record<string, UnitDef<never>>> = Object.freeze({
  [nacDef.name]: nacDef as UnitDef<never>,
  [mulNacDef.name]: mulNacDef as UnitDef<never>,
  [naluDef.name]: naluDef as UnitDef<never>,
  [nauDef.name]: nauDef as UnitDef<never>,
  [nmuDef.name]: nmuDef as UnitDef<never>,
  [nsrDef.name]: nsrDef as UnitDef<never>,
  [npuDef.name]: npuDef as UnitDef<never>,
  [realNpuDef.name]: realNpuDef as UnitDef<never>,
  [nruDef.name]: nruDef as UnitDef<never>,
  [inaluDef.name]: inaluDef as UnitDef<never>,
  [gnaluDef.name]: gnaluDef as UnitDef<never>,
  [nmruDef.name]: nmruDef as UnitDef<never>,
  [signNmruDef.name]: signNmruDef as UnitDef<never>,
  [snmuDef.name]: snmuDef as UnitDef<never>,
});
