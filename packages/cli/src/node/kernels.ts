/**
 * Loads the fused trainer's wasm kernels from the installed @nalm/bench (the core never reads
 * files). Resolved through the package's exports, so it works from any working directory.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { kernelsLoaded, useKernels } from '@nalm/bench';

export function loadKernels(): void {
  if (kernelsLoaded()) return;
  const path = createRequire(import.meta.url).resolve('@nalm/bench/kernels.wasm');
  useKernels(readFileSync(path));
}
