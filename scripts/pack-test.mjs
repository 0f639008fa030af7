#!/usr/bin/env node
// `pnpm test:pack`: what a user gets from npm, tried outside the repository.
//   1. build, then `pnpm pack` every package (workspace:* ranges become versions);
//   2. a fresh npm project in the system's temp directory installs the tarballs, @tensorflow/tfjs
//      and @types/node (npm's cache makes reinstalls fast);
//   3. the installed packages hold .d.ts for every export, README, LICENSE, and no tests;
//   4. plain `node` (no loader): use.mjs builds NAU → NMU, trains, saves; load.mjs imports only
//      @nalm/units/node, loads it and predicts bit-identically; each package README's js example runs;
//   5. a consumer of every entry point type-checks with --strict --exactOptionalPropertyTypes
//      --noUncheckedIndexedAccess and skipLibCheck false: no error in consumer.ts or any @nalm .d.ts,
//      and none in third-party .d.ts that a consumer of those packages alone (baseline.ts) lacks;
//   6. `npx nalm --version` prints the version and a tiny `nalm run` with 2 workers succeeds.
// Exits 1 on the first failed step. `--keep` leaves the temp directory for inspection.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const here = join(root, 'scripts', 'pack-test');
const PACKAGES = ['units', 'calculator', 'bench', 'cli'];
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'nalm-pack-'));
const consumer = join(work, 'consumer');
const started = Date.now();

function fail(msg) {
  console.error(`pack-test: FAILED: ${msg}`);
  console.error(`pack-test: work directory kept: ${work}`);
  process.exit(1);
}

/** Run a command; returns its stdout. Fails the test on a non-zero exit unless `allowFail`. */
function run(cmd, args, { cwd = consumer, allowFail = false, quiet = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0 && !allowFail) {
    console.error(out);
    fail(`${cmd} ${args.join(' ')} (in ${cwd}) exited with ${r.status ?? r.signal}`);
  }
  if (!quiet) {
    const lines = out
      .split('\n')
      .filter((l) => l.trim() && !/^=+$|Hi, looks like you are running TensorFlow/.test(l));
    for (const l of lines) console.log(`    ${l}`);
  }
  return { status: r.status, out };
}

function step(name, fn) {
  const t = Date.now();
  console.log(`pack-test: ${name}`);
  fn();
  console.log(`pack-test:   ok (${((Date.now() - t) / 1000).toFixed(1)} s)`);
}

const pkgJson = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const tfjsVersion = pkgJson(join(root, 'packages/units')).devDependencies['@tensorflow/tfjs'];
const tarballs = join(work, 'tarballs');

step('build and pack every package', () => {
  run('pnpm', ['--silent', 'build'], { cwd: root, quiet: true });
  for (const p of PACKAGES)
    run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: join(root, 'packages', p), quiet: true });
  console.log(`    ${readdirSync(tarballs).join(', ')}`);
});

step(`npm install the tarballs, @tensorflow/tfjs@${tfjsVersion} and @types/node in ${consumer}`, () => {
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'nalm-consumer', private: true, type: 'module' }),
  );
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      ...files,
      `@tensorflow/tfjs@${tfjsVersion}`,
      '@types/node@20',
    ],
    { quiet: true },
  );
  for (const f of readdirSync(here)) cpSync(join(here, f), join(consumer, f));
});

step('installed packages: .d.ts for every export, README and LICENSE, no tests', () => {
  const listFiles = (dir) =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)));
  for (const p of PACKAGES) {
    const dir = join(consumer, 'node_modules', '@nalm', p);
    const files = listFiles(dir);
    const problems = [];
    for (const must of ['README.md', 'LICENSE', 'package.json'])
      if (!files.includes(must)) problems.push(`no ${must}`);
    const tests = files.filter((f) =>
      /(^|\/)(test|tests|__tests__)\/|\.(test|spec)\.[cm]?[jt]s$|tsbuildinfo$/.test(f),
    );
    if (tests.length) problems.push(`test or build files: ${tests.join(', ')}`);
    for (const [entry, target] of Object.entries(pkgJson(dir).exports)) {
      if (typeof target !== 'object') continue;
      for (const cond of ['types', 'default']) {
        if (!target[cond] || !existsSync(join(dir, target[cond])))
          problems.push(`exports['${entry}'].${cond} missing`);
      }
    }
    const dts = files.filter((f) => f.endsWith('.d.ts')).length;
    if (dts === 0) problems.push('no .d.ts');
    if (problems.length) fail(`@nalm/${p}: ${problems.join('; ')}`);
    console.log(`    @nalm/${p}: ${files.length} files, ${dts} .d.ts, no tests`);
  }
});

step(
  'plain node: use.mjs trains and saves, load.mjs (only @nalm/units/node) predicts bit-identically',
  () => {
    run(process.execPath, ['use.mjs']);
    run(process.execPath, ['load.mjs']);
  },
);

step("each package README's js example runs with plain node", () => {
  for (const p of PACKAGES) {
    const readme = readFileSync(join(consumer, 'node_modules', '@nalm', p, 'README.md'), 'utf8');
    const block = /```js\n([\s\S]*?)```/.exec(readme);
    if (!block) fail(`@nalm/${p}: README has no js example`);
    const file = `readme-${p}.mjs`;
    writeFileSync(join(consumer, file), block[1]);
    console.log(`    @nalm/${p} README example:`);
    run(process.execPath, [file]);
  }
});

step('strict consumer type-check (skipLibCheck false) against the installed .d.ts', () => {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  const errors = (project) => {
    const { out } = run(process.execPath, [tsc, '-p', project, '--pretty', 'false'], {
      allowFail: true,
      quiet: true,
    });
    return out
      .split('\n')
      .filter((l) => /error TS\d+/.test(l))
      .map((l) => l.trim());
  };
  const mine = errors('tsconfig.consumer.json');
  const baseline = new Set(errors('tsconfig.baseline.json'));
  const ours = mine.filter((e) => !baseline.has(e));
  const upstream = mine.filter((e) => baseline.has(e));
  for (const e of upstream)
    console.log(`    upstream (a consumer of tfjs/vega-lite alone gets it too): ${e}`);
  if (ours.length) fail(`type errors nalm brings in:\n${ours.join('\n')}`);
  console.log(
    `    consumer.ts and every @nalm/* .d.ts: 0 errors (${upstream.length} in third-party .d.ts, same as baseline.ts)`,
  );
});

step('npx nalm --version; a tiny nalm run with 2 workers', () => {
  const version = pkgJson(join(consumer, 'node_modules/@nalm/cli')).version;
  const { out } = run('npx', ['--no-install', 'nalm', '--version']);
  if (out.trim() !== version) fail(`nalm --version printed '${out.trim()}', expected ${version}`);
  run('npx', [
    '--no-install',
    'nalm',
    'run',
    '--model',
    'nau',
    '--op',
    'add',
    '--seeds',
    '0..1',
    '--iterations',
    '200',
    '--workers',
    '2',
    '--out',
    'results/tiny',
  ]);
  if (!existsSync(join(consumer, 'results/tiny/records.jsonl')))
    fail('nalm run wrote no results/tiny/records.jsonl');
});

if (!keep) rmSync(work, { recursive: true, force: true });
console.log(
  `pack-test: all steps passed in ${((Date.now() - started) / 1000).toFixed(0)} s${keep ? ` (kept ${work})` : ''}`,
);
