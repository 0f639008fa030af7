/** The fused trainer for built-in units, adapted to the sweep's interface (see fast/). */
import { fastTrainer as fused } from './fast/index.js';
import type { FastTrainer } from './sweep.js';

export const fastTrainer: FastTrainer | undefined = fused;
