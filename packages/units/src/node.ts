/**
 * Node-only helpers: save and load tfjs models to a directory (`model.json` + `weights.bin`).
 * tfjs's own `file://` handler needs tfjs-node, which cannot be installed everywhere.
 */
import * as tf from '@tensorflow/tfjs';
// The unit layers register their classes with tfjs when their modules load: without this import,
// `loadModel` from '@nalm/units/node' alone fails with `Unknown layer: NAU`.
import './index.js';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

/** Write a file atomically (temp file + rename) so a crash never leaves a half-written model. */
function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** A tfjs IOHandler that saves to / loads from a directory on disk. */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  const root = resolve(dir);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('fileSystemHandler: binary model topologies are not supported; save a LayersModel.');
      }
      mkdirSync(root, { recursive: true });
      const weightData = artifacts.weightData
        ? tf.io.CompositeArrayBuffer.join(artifacts.weightData)
        : new ArrayBuffer(0);
      writeAtomic(join(root, WEIGHTS_BIN), new Uint8Array(weightData));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        trainingConfig: artifacts.trainingConfig,
        userDefinedMetadata: artifacts.userDefinedMetadata,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      writeAtomic(join(root, MODEL_JSON), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = join(root, MODEL_JSON);
      if (!existsSync(jsonPath)) {
        throw new Error(`loadModel: no ${MODEL_JSON} in ${root}. Pass the directory written by saveModel.`);
      }
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(readFileSync(jsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (e) {
        throw new Error(`loadModel: ${jsonPath} is not valid JSON (${(e as Error).message}).`);
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const file = resolve(root, p);
            if (!existsSync(file)) throw new Error(`loadModel: weights file ${file} is missing.`);
            const b = readFileSync(file);
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
          }
        }
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/** Save a model to `dir` (created if needed) as model.json + weights.bin. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<tf.io.SaveResult> {
  return model.save(fileSystemHandler(dir));
}

/**
 * Load a model saved by `saveModel`. Every @nalm/units layer is registered by this module; layers
 * from other packages (e.g. @nalm/calculator's) need their package imported first.
 */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileSystemHandler(dir));
}
