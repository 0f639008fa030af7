// The same strict check of a consumer that imports only the third-party packages whose types
// @nalm/*'s .d.ts reference: errors in their own .d.ts are theirs, not introduced by nalm.
import * as tf from '@tensorflow/tfjs';
import type { TopLevelSpec } from 'vega-lite';

export const spec: TopLevelSpec = { mark: 'point', data: { values: [] } };
export const model: tf.LayersModel = tf.sequential();
