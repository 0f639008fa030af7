// vitest setupFile: hand the fused trainer its wasm kernels (the core never reads files itself).
import { readFileSync } from 'node:fs';
import { useKernels } from '../packages/bench/src/fast/wasm.js';

useKernels(readFileSync(new URL('../packages/bench/wasm/kernels.wasm', import.meta.url)));
