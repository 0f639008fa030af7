/**
 * `nalm --version` (the compiled bin, as installed) prints the package version, and NALM_VERSION
 * (written into result stores and reports) follows the package versions: after `pnpm version -r`
 * bumps them, update packages/bench/src/version.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { NALM_VERSION } from '@nalm/bench';

const versionOf = (pkg: string): string =>
  (
    JSON.parse(readFileSync(new URL(`../../${pkg}/package.json`, import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;

it('nalm --version prints the version of @nalm/cli, which NALM_VERSION and @nalm/bench share', () => {
  const bin = new URL('../bin/nalm.js', import.meta.url).pathname;
  const printed = execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim();
  expect(printed).toBe(versionOf('cli'));
  expect(NALM_VERSION).toBe(versionOf('cli'));
  expect(NALM_VERSION).toBe(versionOf('bench'));
});
