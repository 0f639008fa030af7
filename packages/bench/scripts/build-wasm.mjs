#!/usr/bin/env node
// Compiles assembly/kernels.ts into wasm/kernels.wasm with the flags in wasm/asc-flags.json (the
// same flags test/wasm-kernels.test.ts uses to check that the committed binary is up to date).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const flags = JSON.parse(readFileSync(join(pkg, 'wasm', 'asc-flags.json'), 'utf8'));
execFileSync(
  join(pkg, 'node_modules', '.bin', 'asc'),
  ['assembly/kernels.ts', ...flags, '--outFile', 'wasm/kernels.wasm'],
  {
    cwd: pkg,
    stdio: 'inherit',
  },
);
console.log('wrote wasm/kernels.wasm');
