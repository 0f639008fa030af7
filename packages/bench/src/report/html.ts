/**
 * The report as one self-contained HTML page: title, the summary table (the rows of the markdown
 * table), the notes and every plot as inline SVG with a caption. Inline CSS only; no scripts, no
 * fonts, images or styles from elsewhere (a Content-Security-Policy forbids any fetch), so the file
 * can be mailed, archived or opened offline. All text is escaped.
 */
import type { RunRecord } from '../record.js';
import { NALM_VERSION } from '../version.js';
import type { PlotOptions, RenderedPlot } from './plots.js';
import { renderPlots } from './plots.js';
import type { Report } from './report.js';
import { reportRows } from './report.js';

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * An SVG prepared for inlining into a page with other SVGs: the XML prolog and namespace
 * declarations go (HTML knows `<svg>`), and every `id` with its references gets `prefix` so the
 * clip paths of different plots (vega numbers them from 1 in every render) do not collide.
 */
export function inlineSvg(svg: string, prefix: string): string {
  // Only tags are rewritten (text content cannot contain '>': vega escapes it).
  const inTags = (text: string, fn: (tag: string) => string) => text.replace(/<[^>]*>/g, fn);
  const ids = new Set<string>();
  inTags(svg, (tag) => {
    for (const m of tag.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]!);
    return tag;
  });
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const alt = [...ids].map(esc).join('|');
  const idRe = new RegExp(`(\\sid=")(${alt})"`, 'g');
  const urlRe = new RegExp(`url\\(#(${alt})\\)`, 'g');
  const hrefRe = new RegExp(`(href=")#(${alt})"`, 'g');
  const body = svg.replace(/^\s*<\?xml[^>]*\?>\s*/, '');
  return inTags(body, (tag) => {
    let t = tag.replace(/\sxmlns(:[a-z]+)?="[^"]*"/g, '');
    if (ids.size > 0)
      t = t
        .replace(idRe, `$1${prefix}$2"`)
        .replace(urlRe, `url(#${prefix}$1)`)
        .replace(hrefRe, `$1#${prefix}$2"`);
    return t;
  });
}

export interface HtmlOptions {
  /** Page title and heading (default 'Extrapolation benchmark'). */
  title?: string;
  /** A line under the heading, e.g. the command that produced the report. */
  subtitle?: string;
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 Helvetica, Arial, sans-serif; color: #1b1b1b; background: #fff; }
main { max-width: 1320px; margin: 0 auto; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; margin: 0 0 8px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
th { background: #f4f5f7; text-align: left; font-weight: 600; }
td.num, th.num { text-align: right; }
tbody tr:hover { background: #f8f9fb; }
ul.notes { padding-left: 20px; color: #333; }
ul.notes li { margin: 4px 0; }
nav ul { padding-left: 20px; margin: 4px 0; }
figure { margin: 20px 0 28px; }
figure .plot { overflow-x: auto; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { color: #444; margin-top: 6px; max-width: 900px; }
figcaption strong { color: #1b1b1b; }
footer { margin-top: 40px; color: #777; font-size: 12px; }
@media print { body { padding: 0; } figure { break-inside: avoid; } }
`;

/** The table of the report: the same header and rows as the markdown table. */
export function htmlTable(report: Report): string {
  const [header, ...rows] = reportRows(report);
  const cls = (i: number) => (i < 2 || header![i] === 'variant' ? '' : ' class="num"');
  return [
    '<div class="table-wrap"><table>',
    `<thead><tr>${header!.map((h, i) => `<th scope="col"${cls(i)}>${escapeHtml(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${escapeHtml(c)}</td>`).join('')}</tr>`),
    '</tbody>',
    '</table></div>',
  ].join('\n');
}

/** The page, from a report and its rendered plots (see `renderPlots`). */
export function formatHtml(report: Report, plots: readonly RenderedPlot[], opts: HtmlOptions = {}): string {
  const title = opts.title ?? 'Extrapolation benchmark';
  const runs = report.groups.reduce((s, g) => s + g.runs, 0);
  const meta =
    `${report.groups.length} group(s), ${runs} run(s); ${report.mode === 'paper-compat' ? 'paper-compatible' : 'correct'} statistics; ` +
    `source: ${report.source === 'nalm' ? 'nalm result records' : 'stable-nalu per-run CSV'}.`;
  const figures = plots.map((p, i) => {
    const id = `plot-${p.id.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
    return [
      `<figure id="${escapeHtml(id)}">`,
      `<div class="plot">${inlineSvg(p.svg, `p${i}-`)}</div>`,
      `<figcaption><strong>Figure ${i + 1}. ${escapeHtml(p.title)}.</strong> ${escapeHtml(p.caption)}</figcaption>`,
      '</figure>',
    ].join('\n');
  });
  const toc = plots.map(
    (p, i) =>
      `<li><a href="#plot-${escapeHtml(p.id.replace(/[^a-zA-Z0-9_-]/g, '-'))}">Figure ${i + 1}. ${escapeHtml(p.title)}</a></li>`,
  );
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8" />',
    '<meta name="viewport" content="width=device-width, initial-scale=1" />',
    // Nothing may be fetched: inline styles and inline SVG only.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:" />`,
    `<meta name="generator" content="nalm ${escapeHtml(NALM_VERSION)}" />`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    '<header>',
    `<h1>${escapeHtml(title)}</h1>`,
    ...(opts.subtitle ? [`<p class="meta">${escapeHtml(opts.subtitle)}</p>`] : []),
    `<p class="meta">${escapeHtml(meta)}</p>`,
    '</header>',
    '<section id="summary">',
    '<h2>Summary</h2>',
    htmlTable(report),
    '</section>',
    '<section id="notes">',
    '<h2>Notes</h2>',
    '<ul class="notes">',
    ...report.notes.map((n) => `<li>${escapeHtml(n)}</li>`),
    '</ul>',
    '</section>',
    '<section id="plots">',
    '<h2>Plots</h2>',
    ...(plots.length > 0 ? ['<nav><ul>', ...toc, '</ul></nav>'] : ['<p>No plots.</p>']),
    ...figures,
    '</section>',
    `<footer>Generated by nalm ${escapeHtml(NALM_VERSION)}. Self-contained: no scripts, nothing loaded from elsewhere.</footer>`,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Builds and renders every plot of the report, then the page. */
export async function htmlReport(
  report: Report,
  records: readonly RunRecord[] | null,
  opts: HtmlOptions & PlotOptions = {},
): Promise<string> {
  return formatHtml(report, await renderPlots(report, records, opts), opts);
}
