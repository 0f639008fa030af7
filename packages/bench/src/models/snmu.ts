/**
 * The sNMU for the benchmark trainer: the unit's formula (`snmuNoisyProduct`, `nmuProduct`) with
 * the training noise n ~ U[1, 5] supplied by the trainer instead of drawn inside the unit.
 *
 * The layer's own draw (`tf.randomUniform` over the whole [R, B, I] input) is unseeded, and even
 * seeded it would depend on which replicas share a batch; a record must depend only on its
 * configuration and seed. So a model layer declares `noise`, and the trainer fills it from each
 * replica's own stream (`Rng(seed, 'noise', layer)`) and passes it in the forward context.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ForwardContext, Params, UnitDef } from '@nalm/units';
import { checkInput, nmuProduct, snmuDef, snmuNoisyProduct, SNMU_NOISE } from '@nalm/units';
import type { SnmuOptions } from '@nalm/units';

/** A forward context that may carry trainer-supplied noise, shaped like the layer's input. */
export interface NoiseContext extends ForwardContext {
  noise?: tf.Tensor;
}

/** The multiplicative training-noise range of the sNMU (the unit's constant). */
export const SNMU_TRAINING_NOISE = SNMU_NOISE;

export const seededSnmuDef: UnitDef<SnmuOptions> = {
  ...snmuDef,
  forward(p: Params, x: tf.Tensor, _opts, ctx?: NoiseContext) {
    checkInput('SNMU', x, p.W!);
    if (ctx?.training !== true) return nmuProduct(x, p.W!);
    if (!ctx.noise) {
      throw new Error(
        "SNMU (benchmark): training needs trainer-supplied noise; declare `noise` on the model layer (see models/registry.ts) or use the unit's own SNMU layer.",
      );
    }
    return snmuNoisyProduct(x, p.W!, ctx.noise);
  },
};
