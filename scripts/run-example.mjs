#!/usr/bin/env node
// Runs the notebook-style examples with tsx, against the packages' sources (the `@nalm/source`
// export condition): `pnpm example 01-units` or, in CI, every example in
// short mode (`--all --short`). Each example reads `--short` itself and trains briefly.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const short = args.includes('--short');
const all = args.includes('--all');
const available = readdirSync(join(root, 'examples'))
  .filter((f) => /^\d\d-.*\.ts$/.test(f))
  .sort();
const names = all ? available : args.filter((a) => !a.startsWith('--'));
if (names.length === 0) {
  console.error(
    `usage: pnpm example NAME [--short]   (NAME one of: ${available.map((f) => f.replace(/\.ts$/, '')).join(', ')})`,
  );
  process.exit(2);
}
for (const name of names) {
  const file = available.find((f) => f === name || f === `${name}.ts` || f.startsWith(`${name}-`));
  if (!file) {
    console.error(`example '${name}' not found in examples/ (have: ${available.join(', ')})`);
    process.exit(2);
  }
  console.log(`\n=== examples/${file}${short ? ' (short mode)' : ''}`);
  const started = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      '--conditions=@nalm/source',
      '--import',
      'tsx',
      join(root, 'examples', file),
      ...(short ? ['--short'] : []),
    ],
    {
      stdio: 'inherit',
      cwd: root,
    },
  );
  if (r.status !== 0) {
    console.error(`examples/${file} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
  console.log(`=== examples/${file} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
