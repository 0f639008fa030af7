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
// Other flags go to the example with their values (`pnpm example 05-calculator --host DIR`).
const forward = [];
const given = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--short' || a === '--all') continue;
  if (a.startsWith('--')) {
    forward.push(a);
    if (args[i + 1] !== undefined && !args[i + 1].startsWith('--')) forward.push(args[++i]);
  } else given.push(a);
}
const names = all ? available : given;
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
      ...forward,
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
