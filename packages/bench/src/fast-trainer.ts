/** The fused trainer, if available, adapted to the sweep's interface. */
import type { FastTrainer } from './sweep.js';

export const fastTrainer: FastTrainer | undefined = undefined;
