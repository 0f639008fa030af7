#!/usr/bin/env node
// The `nalm` command: compiled JavaScript in dist/ (built by `pnpm build`; the npm package ships it).
try {
  await import('../dist/cli/main.js');
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('/dist/cli/main.js')) {
    process.stderr.write('nalm: dist/ is missing; in a clone of the repository run `pnpm build` first.\n');
    process.exit(2);
  }
  throw e;
}
