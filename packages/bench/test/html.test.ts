/**
 * The HTML report: one self-contained page with the title, the table (the markdown table's rows),
 * the notes and every plot. The page is written as well-formed markup, so it is parsed as XML here
 * and checked element by element.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMParser } from '@xmldom/xmldom';
import type { Document as XmlDocument, Element as XmlElement } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../src/config.js';
import { configKey } from '../src/config.js';
import type { EvalPoint, RunRecord } from '../src/record.js';
import { escapeHtml, formatHtml, htmlReport, inlineSvg } from '../src/report/html.js';
import { renderPlots } from '../src/report/plots.js';
import type { Report } from '../src/report/report.js';
import { formatMarkdown, reportFromRecords, reportRows } from '../src/report/report.js';
import { openStore } from '../../cli/src/store/index.js';
import { curveOutcome } from '../src/success.js';
import type { Op } from '../src/tasks/static.js';
import { defaultStaticTask } from '../src/tasks/static.js';

const THRESHOLD = 1e-5;

/** Seeds in `solved` decay below the threshold; the others level off above it. */
function records(groups: { model: string; op: Op; seeds: number; solved: number[] }[]): RunRecord[] {
  return groups.flatMap((g) => {
    const config: RunConfig = {
      task: defaultStaticTask({ op: g.op }),
      model: g.model,
      hidden: 2,
      batch: 128,
      lr: 1e-3,
      iterations: 5000,
      evalEvery: 500,
      schedule: null,
      oobWeight: 1,
    };
    return Array.from({ length: g.seeds }, (_, seed) => {
      const floor = g.solved.includes(seed) ? 1e-8 : 1e-3 * (1 + seed);
      const curve: EvalPoint[] = Array.from({ length: 11 }, (_, i) => {
        const mse = Math.max(floor, 10 ** (2 - i * (1 + seed / 10)));
        return { step: i * 500, interpolation: mse / 2, extrapolation: mse, sparsityError: 0.01 * seed };
      });
      const o = curveOutcome(curve, THRESHOLD);
      return {
        v: 1,
        key: configKey(config),
        config,
        seed,
        threshold: THRESHOLD,
        curve,
        ...o,
        diverged: null,
        iterations: config.iterations,
      } satisfies RunRecord;
    });
  });
}

function parse(html: string): XmlDocument {
  const problems: string[] = [];
  let doc: XmlDocument | undefined;
  try {
    doc = new DOMParser({ onError: (level, msg) => problems.push(`${level}: ${msg}`) }).parseFromString(
      html,
      'text/xml',
    );
  } catch (e) {
    problems.push(`fatal: ${(e as Error).message}`);
  }
  if (!doc || problems.length > 0) throw new Error(`not well-formed: ${problems.join('; ')}`);
  return doc;
}

const all = (doc: XmlDocument, tag: string) => Array.from(doc.getElementsByTagName(tag)) as XmlElement[];
const text = (e: XmlElement) => e.textContent ?? '';

const recs = records([
  { model: 'nau', op: 'add', seeds: 4, solved: [0, 1, 3] },
  { model: 'nmu', op: 'add', seeds: 4, solved: [] },
  { model: 'nmu', op: 'mul', seeds: 4, solved: [2] },
]);
const report = reportFromRecords(recs);

describe('HTML report', () => {
  it('has the title, every plot with its caption, the table rows and the notes', async () => {
    const plots = await renderPlots(report, recs);
    expect(plots.map((p) => p.id)).toEqual(['success', 'solved-at', 'curves']);
    const html = formatHtml(report, plots, { title: 'My run' });
    const doc = parse(html);
    expect(text(all(doc, 'title')[0]!)).toBe('My run');
    expect(text(all(doc, 'h1')[0]!)).toBe('My run');

    // Every plot: a figure with its (top-level) svg and a caption naming it.
    const figures = all(doc, 'figure');
    expect(figures.map((f) => f.getAttribute('id'))).toEqual(plots.map((p) => `plot-${p.id}`));
    figures.forEach((f, i) => {
      const svgs = Array.from(f.getElementsByTagName('svg'));
      expect(svgs).toHaveLength(1);
      expect(text(f.getElementsByTagName('figcaption')[0] as unknown as XmlElement)).toContain(
        plots[i]!.title,
      );
    });
    // The plots' content made it: the marks of each plot are in the page.
    expect(html.match(/class="mark-line role-mark curves_marks"/g)).toHaveLength(recs.length);
    expect(html).toContain('success rate (%, 95% Wilson CI)');

    // The table: exactly the markdown table's header and rows.
    const [header, ...rows] = reportRows(report);
    const table = all(doc, 'table')[0]!;
    const ths = Array.from(table.getElementsByTagName('th')).map((e) => e.textContent);
    expect(ths).toEqual(header);
    const trs = Array.from(table.getElementsByTagName('tbody')[0]!.getElementsByTagName('tr'));
    expect(trs.map((tr) => Array.from(tr.getElementsByTagName('td')).map((td) => td.textContent))).toEqual(
      rows,
    );
    // …which are the markdown table's rows.
    const md = formatMarkdown(report);
    for (const r of rows) expect(md).toContain(`| ${r.join(' | ')} |`);

    const notes = all(doc, 'li').map(text);
    for (const n of report.notes) expect(notes).toContain(n);
  });

  it('is self-contained: no scripts, no external URLs, no fetches', async () => {
    const html = await htmlReport(report, recs);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|<object|<embed|@import/i);
    expect(html).not.toMatch(/https?:|ftp:|file:|\/\/[a-z0-9]/i);
    expect(html).not.toMatch(/\ssrc=/i);
    for (const m of html.matchAll(/url\(([^)]*)\)/g)) expect(m[1]).toMatch(/^#/);
    for (const m of html.matchAll(/href="([^"]*)"/g)) expect(m[1]).toMatch(/^#/);
    expect(html).toContain(`Content-Security-Policy" content="default-src 'none'`);
  });

  it('ids are unique across the inlined plots and every url(#…) / href="#…" resolves', async () => {
    const html = await htmlReport(report, recs);
    const doc = parse(html);
    const ids: string[] = [];
    const walk = (n: XmlElement) => {
      const id = n.getAttribute?.('id');
      if (id) ids.push(id);
      for (const c of Array.from(n.childNodes)) if (c.nodeType === 1) walk(c as unknown as XmlElement);
    };
    walk(doc.documentElement!);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.some((id) => /^p\d+-clip/.test(id))).toBe(true);
    for (const m of html.matchAll(/url\(#([^)]+)\)|href="#([^"]+)"/g)) expect(ids).toContain(m[1] ?? m[2]);
  });

  it('escapes titles, notes, labels and table cells with <&>"', async () => {
    const evil = records([{ model: '<b>&"x"</b>', op: 'add', seeds: 2, solved: [0] }]);
    const base = reportFromRecords(evil);
    const r: Report = { ...base, notes: [...base.notes, 'note with <script>alert(1)</script> & "quotes"'] };
    const html = await htmlReport(r, evil, { title: 'A <title> & "more"', subtitle: "it's <sub>" });
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<title> &');
    const doc = parse(html);
    expect(text(all(doc, 'h1')[0]!)).toBe('A <title> & "more"');
    expect(all(doc, 'li').map(text)).toContain('note with <script>alert(1)</script> & "quotes"');
    expect(all(doc, 'td').map(text)).toContain('<b>&"x"</b>');
    expect(all(doc, 'p').map(text)).toContain("it's <sub>");
    // In the plots too: the label is text in the SVG.
    expect(all(doc, 'text').map(text)).toContain('<b>&"x"</b>');
  });

  it('escapeHtml and inlineSvg', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><defs>' +
      '<clipPath id="clip1"/><clipPath id="clip10"/></defs><g clip-path="url(#clip1)"/><g clip-path="url(#clip10)"/>' +
      '<text>id="clip1" url(#clip1)</text></svg>';
    const out = inlineSvg(svg, 'p3-');
    expect(out).toBe(
      '<svg><defs><clipPath id="p3-clip1"/><clipPath id="p3-clip10"/></defs>' +
        '<g clip-path="url(#p3-clip1)"/><g clip-path="url(#p3-clip10)"/><text>id="clip1" url(#clip1)</text></svg>',
    );
  });
});

describe('nalm report --format html,svg', () => {
  const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../cli/bin/nalm.js');
  const env = { ...process.env, NALM_CACHE_DIR: join(tmpdir(), 'nalm-cli-cache') };
  const nalm = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
  const storeDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'nalm-html-'));
    openStore(dir, { create: true }).appendMany(recs);
    return dir;
  };

  it('writes report.html and one svg per plot', () => {
    const dir = storeDir();
    const out = join(dir, 'out');
    const r = nalm(['report', dir, '--format', 'html,svg,md', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'curves.svg',
      'report.html',
      'report.md',
      'solved-at.svg',
      'success.svg',
    ]);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/<svg[\s>]/g)).toHaveLength(3);
    parse(html);
    expect(readFileSync(join(out, 'success.svg'), 'utf8')).toMatch(
      /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );
  });

  it('prints the page without --out; svg without --out is a usage error naming --out', () => {
    const dir = storeDir();
    const page = nalm(['report', dir, '--format', 'html']);
    expect(page.status, page.stderr).toBe(0);
    expect(page.stdout).toMatch(/^<!DOCTYPE html>/);
    const svg = nalm(['report', dir, '--format', 'svg']);
    expect(svg.status).toBe(2);
    expect(svg.stderr).toMatch(/--format svg .*--out/);
  });
});
