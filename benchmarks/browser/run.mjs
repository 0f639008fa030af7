#!/usr/bin/env node
// `pnpm test:browser`: the layers as a browser page uses them. Builds the packages, bundles
// page.mjs with esbuild against their dist/ (what npm users get), serves this folder and
// tfjs-backend-wasm's .wasm files (under /wasm/) on 127.0.0.1, opens the page in headless Chromium
// (../chromium/cdp.mjs) and fails unless
//   - the page trained on the wasm backend (initBackend('wasm', { wasmPaths, fallback: 'error' })),
//   - the final training loss is below LOSS_BOUND,
//   - the console has no error, no exception was thrown and no load failed.
// Saves a screenshot to results/browser/screenshot.png (git-ignored, so a test run leaves the tree
// clean); --update-screenshot writes the committed benchmarks/browser/screenshot.png instead.
// Exits 0 / 1, or 2 without Chromium.
//
//   node benchmarks/browser/run.mjs                       the test
//   node benchmarks/browser/run.mjs --update-screenshot   the test, refreshing the committed screenshot
//   node benchmarks/browser/run.mjs --serve               build and serve only, to open the page yourself
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findChromium, launchChromium, pageComplaint } from '../chromium/cdp.mjs';

/** The loss (MSE + sparsity regulariser) at the last epoch must be below this. */
export const LOSS_BOUND = 1e-3;
const TIMEOUT_MS = 300_000;

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(join(root, 'packages/units/package.json'));
const screenshotPath = process.argv.includes('--update-screenshot')
  ? join(here, 'screenshot.png')
  : join(root, 'results', 'browser', 'screenshot.png');
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
};

function bundle() {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  const esbuild = createRequire(join(root, 'package.json'))('esbuild');
  const result = esbuild.buildSync({
    entryPoints: [join(here, 'page.mjs')],
    outfile: join(here, 'dist/page.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  // The packages must come from their build, not from src/ (the workspace's @nalm/source condition).
  const inputs = Object.keys(result.metafile.inputs).filter((f) => f.includes('packages/units/'));
  if (inputs.length === 0 || inputs.some((f) => !f.includes('packages/units/dist/'))) {
    throw new Error(`the bundle did not take @nalm/units from dist/: ${inputs.join(', ')}`);
  }
  const bytes =
    result.metafile.outputs[Object.keys(result.metafile.outputs).find((f) => f.endsWith('page.js'))].bytes;
  console.log(
    `browser: bundled page.mjs → dist/page.js (${(bytes / 1024).toFixed(0)} KiB, @nalm/units from dist/)`,
  );
}

function serve() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file =
      path === '/'
        ? join(here, 'index.html')
        : path.startsWith('/wasm/')
          ? join(wasmDir, normalize(path.slice('/wasm/'.length)).replace(/^(\.\.[/\\])+/, ''))
          : path.startsWith('/dist/')
            ? join(here, normalize(path).replace(/^(\.\.[/\\])+/, ''))
            : null;
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function test(url) {
  const chromium = findChromium((msg) => {
    console.error(`browser: ${msg}`);
    process.exit(2);
  });
  console.log(`browser: ${chromium.version}, ${url}`);
  const browser = launchChromium(chromium, 'nalm-browser-profile-');
  const { cdp } = browser;
  const problems = [];
  const warnings = [];
  const wasmLoads = [];
  let result;
  const killer = setTimeout(() => {
    problems.push(`no result within ${TIMEOUT_MS / 1000} s`);
    browser.child.kill('SIGKILL');
  }, TIMEOUT_MS);
  try {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    cdp.on((m) => {
      if (m.sessionId !== sessionId || pageComplaint(m, problems, warnings)) return;
      const p = m.params ?? {};
      if (m.method === 'Network.responseReceived' && p.response.url.endsWith('.wasm'))
        wasmLoads.push(`${p.response.status} ${new URL(p.response.url).pathname}`);
      else if (m.method === 'Network.loadingFailed' && !p.canceled)
        problems.push(`failed load: ${p.errorText}`);
    });
    for (const domain of ['Runtime', 'Log', 'Page', 'Network'])
      await cdp.send(`${domain}.enable`, {}, sessionId);
    await cdp.send(
      'Emulation.setDeviceMetricsOverride',
      { width: 1100, height: 900, deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    const nav = await cdp.send('Page.navigate', { url }, sessionId);
    if (nav.errorText) throw new Error(`navigation failed: ${nav.errorText}`);
    const started = Date.now();
    while (result === undefined && problems.length === 0) {
      await new Promise((ok) => setTimeout(ok, 500));
      const { result: r } = await cdp.send(
        'Runtime.evaluate',
        { expression: 'window.nalmResult', returnByValue: true },
        sessionId,
      );
      result = r.value;
    }
    if (result) console.log(`browser: page finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await new Promise((ok) => setTimeout(ok, 300)); // late console messages
    const { result: h } = await cdp.send(
      'Runtime.evaluate',
      { expression: 'document.documentElement.scrollHeight', returnByValue: true },
      sessionId,
    );
    await cdp.send(
      'Emulation.setDeviceMetricsOverride',
      { width: 1100, height: Math.min(h.value, 4000), deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    const shot = await cdp.send(
      'Page.captureScreenshot',
      { format: 'png', captureBeyondViewport: true },
      sessionId,
    );
    mkdirSync(dirname(screenshotPath), { recursive: true });
    writeFileSync(screenshotPath, Buffer.from(shot.data, 'base64'));
  } catch (e) {
    problems.push(`driver: ${e.message}`);
    const tail = browser.stderrTail();
    if (tail) problems.push(`chromium stderr (last lines):\n${tail}`);
  } finally {
    clearTimeout(killer);
    await browser.close();
  }

  if (result?.error) problems.push(`the page failed: ${result.error}`);
  if (result && !result.error) {
    if (result.backend !== 'wasm') problems.push(`backend ${result.backend}, not wasm`);
    if (!(result.loss < LOSS_BOUND)) problems.push(`final loss ${result.loss} is not below ${LOSS_BOUND}`);
    const r3 = (rows) => JSON.stringify(rows.map((row) => row.map((v) => Number(v.toFixed(3)))));
    console.log(`browser: backend ${result.backend}; .wasm fetched: ${wasmLoads.join(', ') || 'none'}`);
    console.log(
      `browser: ${result.epochs} epochs in ${result.seconds.toFixed(1)} s; final loss ${result.loss.toExponential(3)} (bound ${LOSS_BOUND}); ` +
        `MSE extrapolation U[2, 6] ${result.mseExtrapolation.toExponential(3)}; sparsity error ${result.sparsityError.toFixed(4)}`,
    );
    console.log(`browser: NAU weights ${r3(result.weights.nau)}, NMU weights ${r3(result.weights.nmu)}`);
  }
  for (const w of warnings) console.log(`browser: console warning: ${w}`);
  console.log(`browser: screenshot ${relative(root, screenshotPath)}`);
  if (problems.length === 0) {
    console.log('browser: OK: wasm backend, loss below the bound, no console errors');
    return 0;
  }
  for (const p of problems) console.log(`browser: ✗ ${p}`);
  return 1;
}

bundle();
const server = await serve();
const url = `http://127.0.0.1:${server.address().port}/`;
if (process.argv.includes('--serve')) {
  console.log(`browser: serving ${url} (Ctrl-C to stop)`);
} else {
  process.exitCode = await test(url);
  server.close();
}
