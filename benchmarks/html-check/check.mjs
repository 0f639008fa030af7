#!/usr/bin/env node
// Checks an HTML report (`nalm report … --format html`) in headless Chromium, as a reader would
// open it:
//   - no console errors, uncaught exceptions or browser log errors (CSP violations, failed loads);
//   - no request other than the page itself (the report must be self-contained);
//   - every <svg> of the file is in the rendered DOM with a non-empty size, and the table is there;
//   - a full-page screenshot PNG (default: next to the report, <name>.png).
// Exits 0 when all is well, 1 on problems, 2 on usage errors (no chromium, no file).
//
//   node benchmarks/html-check/check.mjs REPORT.html [--screenshot OUT.png] [--width 1280]
//   node benchmarks/html-check/check.mjs --self-test   (a broken page must fail every check)
//
// Chromium is driven over the DevTools protocol by ../chromium/cdp.mjs (a pipe, no network port).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findChromium, launchChromium, pageComplaint } from '../chromium/cdp.mjs';

const TIMEOUT_MS = 90_000;

function usage(msg) {
  process.stderr.write(`html-check: ${msg}\n`);
  process.stderr.write(
    'usage: node benchmarks/html-check/check.mjs REPORT.html [--screenshot OUT.png] [--width PX] | --self-test\n',
  );
  process.exit(2);
}

/**
 * Opens `file` and returns { problems, info }: problems are strings, each a reason to fail.
 * `expectedSvgs` is how many <svg> elements the file's text has.
 */
async function checkPage(chromium, file, screenshot, width) {
  const browser = launchChromium(chromium, 'html-check-profile-');
  const { cdp, child } = browser;
  const problems = [];
  const info = {};
  const warnings = [];
  const pageUrl = pathToFileURL(file).href;
  const killer = setTimeout(() => {
    problems.push(`chromium did not finish within ${TIMEOUT_MS / 1000} s`);
    child.kill('SIGKILL');
  }, TIMEOUT_MS);
  try {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const requests = [];
    cdp.on((m) => {
      if (m.sessionId !== sessionId || pageComplaint(m, problems, warnings)) return;
      const p = m.params ?? {};
      if (m.method === 'Network.requestWillBeSent') requests.push(p.request.url);
      else if (m.method === 'Network.loadingFailed' && !p.canceled)
        problems.push(`failed load: ${p.errorText} (${p.blockedReason ?? 'request ' + p.requestId})`);
    });
    for (const domain of ['Runtime', 'Log', 'Page', 'Network'])
      await cdp.send(`${domain}.enable`, {}, sessionId);
    await cdp.send(
      'Emulation.setDeviceMetricsOverride',
      { width, height: 900, deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    const loaded = cdp.waitFor(
      (m) => m.sessionId === sessionId && m.method === 'Page.loadEventFired',
      30_000,
      'the page to load',
    );
    const nav = await cdp.send('Page.navigate', { url: pageUrl }, sessionId);
    if (nav.errorText) problems.push(`navigation failed: ${nav.errorText}`);
    await loaded;
    await new Promise((ok) => setTimeout(ok, 500)); // late console messages and layout

    const external = requests.filter((u) => u !== pageUrl && !u.startsWith('data:'));
    for (const u of external) problems.push(`request to another resource: ${u}`);

    const { result } = await cdp.send(
      'Runtime.evaluate',
      {
        returnByValue: true,
        expression: `(() => {
          const svgs = [...document.querySelectorAll('svg')].filter((s) => !s.parentElement.closest('svg'));
          return {
            title: document.title,
            svgs: svgs.map((s) => {
              const r = s.getBoundingClientRect();
              return { id: s.closest('figure')?.id ?? null, width: r.width, height: r.height, marks: s.querySelectorAll('.role-mark').length };
            }),
            figures: document.querySelectorAll('figure').length,
            captions: document.querySelectorAll('figure figcaption').length,
            tableRows: document.querySelectorAll('table tbody tr').length,
            scripts: document.scripts.length,
            height: Math.ceil(document.documentElement.scrollHeight),
            overflowX: document.documentElement.scrollWidth > document.documentElement.clientWidth,
          };
        })()`,
      },
      sessionId,
    );
    const dom = result.value;
    Object.assign(info, dom);
    const source = readFileSync(file, 'utf8');
    const sourceSvgs = (source.match(/<svg[\s>]/g) ?? []).length;
    info.sourceSvgs = sourceSvgs;
    if (sourceSvgs === 0) problems.push('the file has no <svg> element');
    if (dom.svgs.length !== sourceSvgs)
      problems.push(`the file has ${sourceSvgs} <svg> element(s), the rendered DOM ${dom.svgs.length}`);
    for (const [i, s] of dom.svgs.entries()) {
      if (!(s.width > 0 && s.height > 0))
        problems.push(`svg #${i + 1} (${s.id}) is not visible: ${s.width}×${s.height}`);
      if (s.marks === 0) problems.push(`svg #${i + 1} (${s.id}) has no marks`);
    }
    if (dom.captions !== dom.svgs.length)
      problems.push(`${dom.svgs.length} plot(s) but ${dom.captions} caption(s)`);
    if (dom.tableRows === 0) problems.push('no summary table rows in the rendered page');
    if (dom.scripts > 0)
      problems.push(`${dom.scripts} <script> element(s): the report should need no JavaScript`);
    if (dom.overflowX) (info.notes ??= []).push(`the page is wider than ${width} px (horizontal scrolling)`);

    if (screenshot) {
      const height = Math.min(Math.max(dom.height, 300), 16_000);
      await cdp.send(
        'Emulation.setDeviceMetricsOverride',
        { width, height, deviceScaleFactor: 1, mobile: false },
        sessionId,
      );
      const shot = await cdp.send(
        'Page.captureScreenshot',
        { format: 'png', captureBeyondViewport: true },
        sessionId,
      );
      writeFileSync(screenshot, Buffer.from(shot.data, 'base64'));
      info.screenshot = `${screenshot} (${width}×${height})`;
    }
  } catch (e) {
    problems.push(`checker: ${e.message}`);
    const lastLines = browser.stderrTail();
    if (lastLines) problems.push(`chromium stderr (last lines):\n${lastLines}`);
    child.kill('SIGKILL');
  } finally {
    clearTimeout(killer);
    await browser.close();
  }
  if (warnings.length) info.consoleWarnings = warnings;
  return { problems, info };
}

function report(file, { problems, info }) {
  console.log(`html-check: ${file}`);
  console.log(`  title: ${info.title ?? '?'}`);
  console.log(
    `  svg: ${info.svgs?.length ?? 0} rendered of ${info.sourceSvgs ?? '?'} in the file; figures ${info.figures ?? '?'}, captions ${info.captions ?? '?'}; table rows ${info.tableRows ?? '?'}`,
  );
  for (const [i, s] of (info.svgs ?? []).entries())
    console.log(
      `    #${i + 1} ${s.id}: ${Math.round(s.width)}×${Math.round(s.height)} px, ${s.marks} mark group(s)`,
    );
  for (const w of info.consoleWarnings ?? []) console.log(`  console warning: ${w}`);
  for (const n of info.notes ?? []) console.log(`  note: ${n}`);
  if (info.screenshot) console.log(`  screenshot: ${info.screenshot}`);
  if (problems.length === 0) console.log('  OK: no console errors, no outside requests, every plot rendered');
  else {
    console.log(`  ${problems.length} problem(s):`);
    for (const p of problems) console.log(`  ✗ ${p}`);
  }
}

async function selfTest(chromium) {
  const dir = mkdtempSync(join(tmpdir(), 'html-check-self-'));
  const file = join(dir, 'broken.html');
  // Two <svg> in the text, one removed by script; an outside image; console.error; an exception.
  writeFileSync(
    file,
    `<!DOCTYPE html><html><head><title>broken</title></head><body>
<figure><svg width="10" height="10"><g class="role-mark"><rect width="5" height="5"/></g></svg><figcaption>a</figcaption></figure>
<figure id="gone"><svg width="10" height="10"></svg></figure>
<img src="http://127.0.0.1:9/x.png">
<script>console.error('boom'); document.getElementById('gone').remove(); null.x;</script>
</body></html>`,
  );
  const result = await checkPage(chromium, file, null, 800);
  rmSync(dir, { recursive: true, force: true });
  report(file, result);
  const expect = [
    [/console\.error: boom/, 'console.error'],
    [/uncaught exception/, 'uncaught exception'],
    [/request to another resource: http:\/\/127\.0\.0\.1:9/, 'outside request'],
    [/2 <svg> element\(s\), the rendered DOM 1/, 'missing svg'],
    [/no summary table/, 'missing table'],
    [/<script>/, 'script'],
  ];
  const missed = expect.filter(([re]) => !result.problems.some((p) => re.test(p))).map(([, what]) => what);
  if (missed.length > 0) {
    console.log(`self-test FAILED: not detected: ${missed.join(', ')}`);
    return 1;
  }
  console.log(`self-test OK: all ${expect.length} kinds of problem detected`);
  return 0;
}

async function main() {
  const args = process.argv.slice(2);
  const chromium = findChromium(usage);
  if (args.includes('--self-test')) return selfTest(chromium);
  const opt = (name) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) usage(`${name} needs a value`);
    args.splice(i, 2);
    return v;
  };
  const screenshotArg = opt('--screenshot');
  const width = Number(opt('--width') ?? 1280);
  if (!Number.isInteger(width) || width < 320) usage('--width: a whole number of pixels ≥ 320');
  if (args.length !== 1) usage('give exactly one HTML file');
  const file = resolve(args[0]);
  if (!existsSync(file)) usage(`no such file: ${file}`);
  const screenshot = resolve(
    screenshotArg ?? join(dirname(file), `${basename(file).replace(/\.html?$/i, '')}.png`),
  );
  console.log(`html-check: ${chromium.version}`);
  const result = await checkPage(chromium, file, screenshot, width);
  report(file, result);
  return result.problems.length === 0 ? 0 : 1;
}

process.exitCode = await main();
