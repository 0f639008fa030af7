/** `nalm report`: summaries with confidence intervals from result stores or a stable-nalu CSV. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NsrRecord, RunRecord } from '@nalm/bench';
import {
  formatNsrHtml,
  formatNsrJson,
  formatNsrMarkdown,
  nsrRecords,
  nsrReport,
  renderNsrPlots,
} from '@nalm/bench';
import { staticRecords } from '@nalm/bench';
import { diskThresholdCache } from '../node/threshold-cache.js';
import type { InputFormat } from '../report/load.js';
import { ReportInputError, detectFormat, loadRecords, loadStableNalu } from '../report/load.js';
import type { Report } from '@nalm/bench';
import {
  formatJson,
  formatLatex,
  formatMarkdown,
  reportFromRecords,
  reportFromStableNalu,
} from '@nalm/bench';
import { formatPerRunCsv, formatSummaryCsv } from '@nalm/bench';
import type { ThresholdCache } from '@nalm/bench';
import { formatHtml } from '@nalm/bench';
import { renderPlots } from '@nalm/bench';
import { ensureDir, writeFileAtomic } from '../store/atomic.js';
import type { PublishedTable } from '@nalm/bench';
import {
  PublishedFormatError,
  UnknownPublishedError,
  compareWithPublished,
  formatComparisonJson,
  formatComparisonMarkdown,
  getPublished,
  parsePublishedTable,
} from '@nalm/bench';
import { parseNames } from './args.js';
import { UsageError, skippedLineWarning } from './errors.js';

/** Text formats (one file each, or stdout). */
export const TEXT_REPORT_FORMATS = ['md', 'csv', 'tex', 'json', 'runs'] as const;
export type TextReportFormat = (typeof TEXT_REPORT_FORMATS)[number];
/** Plot formats: `html` (one self-contained page, report.html) and `svg` (one file per plot; needs --out). */
export const PLOT_REPORT_FORMATS = ['html', 'svg'] as const;
export type PlotReportFormat = (typeof PLOT_REPORT_FORMATS)[number];
export const REPORT_FORMATS = [...TEXT_REPORT_FORMATS, ...PLOT_REPORT_FORMATS] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

const FILE_NAMES: Record<TextReportFormat, string> = {
  md: 'report.md',
  csv: 'summary.csv',
  tex: 'report.tex',
  json: 'report.json',
  runs: 'runs.csv',
};

export interface ReportArgs {
  inputs: string[];
  'paper-compat'?: boolean;
  format?: string;
  out?: string;
  from?: string;
  compare?: string;
}

/** `--compare NAME|FILE.json`: a shipped published table by name, or a user's file in the same shape. */
export function resolvePublished(spec: string): PublishedTable {
  try {
    if (!spec.endsWith('.json')) return getPublished(spec);
    if (!existsSync(spec)) throw new UsageError(`--compare: no such file '${spec}'.`);
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(spec, 'utf8'));
    } catch (e) {
      throw new UsageError(`--compare: ${spec} is not valid JSON (${(e as Error).message}).`);
    }
    return parsePublishedTable(value, spec);
  } catch (e) {
    if (e instanceof UnknownPublishedError || e instanceof PublishedFormatError)
      throw new UsageError(`--compare: ${e.message}`);
    throw e;
  }
}

/** The text of one format. `runs` (per-run CSV in stable-nalu's layout) needs nalm records. */
export function renderReport(
  report: Report,
  records: readonly RunRecord[] | null,
  format: TextReportFormat,
): string {
  switch (format) {
    case 'md':
      return formatMarkdown(report);
    case 'tex':
      return formatLatex(report);
    case 'json':
      return formatJson(report);
    case 'csv':
      return formatSummaryCsv(
        report.groups.map((g) => ({
          model: g.variant ? `${g.model} ${g.variant}` : g.model,
          operation: g.operation,
          summary: g.summary,
        })),
      );
    case 'runs':
      if (!records)
        throw new UsageError('--format runs: per-run CSV export needs nalm result stores as input.');
      return formatPerRunCsv(records);
  }
}

export function writeReportFiles(
  report: Report,
  records: readonly RunRecord[] | null,
  outDir: string,
  formats: readonly TextReportFormat[],
): string[] {
  ensureDir(outDir);
  return formats.map((f) => {
    const path = join(outDir, FILE_NAMES[f]);
    writeFileAtomic(path, renderReport(report, records, f));
    return path;
  });
}

/**
 * `html`: the self-contained page (report.html in `outDir`, or the page's text when `outDir` is null);
 * `svg`: one `<plot id>.svg` per plot in `outDir`. Returns the paths written, or the page.
 */
export async function writePlotFiles(
  report: Report,
  records: readonly RunRecord[] | null,
  outDir: string | null,
  formats: readonly PlotReportFormat[],
  thresholdCache?: ThresholdCache,
): Promise<{ written: string[]; page: string | null }> {
  if (formats.length === 0) return { written: [], page: null };
  const plots = await renderPlots(report, records, { thresholdCache });
  const written: string[] = [];
  let page: string | null = null;
  if (formats.includes('html')) {
    page = formatHtml(report, plots);
    if (outDir !== null) {
      ensureDir(outDir);
      const path = join(outDir, 'report.html');
      writeFileAtomic(path, page);
      written.push(path);
    }
  }
  if (formats.includes('svg') && outDir !== null) {
    ensureDir(outDir);
    for (const p of plots) {
      const path = join(outDir, `${p.id}.svg`);
      writeFileAtomic(path, p.svg);
      written.push(path);
    }
  }
  return { written, page };
}

export async function reportCommand(args: ReportArgs): Promise<number> {
  if (args.inputs.length === 0) {
    throw new UsageError(
      'give at least one result store directory, records .jsonl file or stable-nalu .csv file.',
    );
  }
  const formats = parseNames<ReportFormat>(args.format ?? 'md', REPORT_FORMATS, '--format', 'format');
  if (formats.includes('svg') && args.out === undefined)
    throw new UsageError('--format svg writes one file per plot: give an output directory with --out DIR.');
  const textFormats = formats.filter((f): f is TextReportFormat =>
    (TEXT_REPORT_FORMATS as readonly string[]).includes(f),
  );
  const plotFormats = formats.filter((f): f is PlotReportFormat =>
    (PLOT_REPORT_FORMATS as readonly string[]).includes(f),
  );
  let from: InputFormat;
  if (args.from === undefined) {
    const kinds = new Set(args.inputs.map(detectFormat));
    if (kinds.size > 1)
      throw new UsageError('inputs mix nalm stores and CSV files; report them separately or pass --from.');
    from = [...kinds][0]!;
  } else if (args.from === 'nalm' || args.from === 'stable-nalu') from = args.from;
  else throw new UsageError(`--from: use nalm or stable-nalu, got '${args.from}'.`);

  const paperCompat = args['paper-compat'] === true;
  let report: Report;
  let records: RunRecord[] | null = null;
  const thresholdCache = from === 'nalm' ? diskThresholdCache() : undefined;
  if (from === 'stable-nalu') {
    report = reportFromStableNalu(loadStableNalu(args.inputs), { paperCompat });
  } else {
    const loaded = loadRecords(args.inputs);
    for (const p of loaded.problems) process.stderr.write(skippedLineWarning('nalm', p));
    if (loaded.conflicts.length > 0) {
      const c = loaded.conflicts;
      throw new ReportInputError(
        `${c.length} (configuration, seed) cell(s) have different records in different inputs, e.g. ` +
          `configuration ${c[0]!.key} seed ${c[0]!.seed} in ${c[0]!.sources.join(' and ')}. ` +
          'They were trained with other settings or nalm versions, or altered; counting both would ' +
          'count the seed twice. Report the inputs separately, or `nalm merge` them (it keeps the first and lists every conflict).',
      );
    }
    if (loaded.records.length === 0) throw new UsageError(`no records found in ${args.inputs.join(', ')}.`);
    if (loaded.duplicates > 0)
      process.stderr.write(
        `nalm report: ${loaded.duplicates} duplicate record(s) dropped (the same configuration and seed in several inputs; each counted once).\n`,
      );
    const nsr = nsrRecords(loaded.records);
    records = staticRecords(loaded.records);
    if (records.length === 0) return nsrReportCommand(nsr, formats, args.out);
    if (nsr.length > 0)
      process.stderr.write(
        `nalm report: ${nsr.length} NSR-task record(s) left out (report them on their own: nalm report with only those inputs).\n`,
      );
    report = reportFromRecords(records, { paperCompat, thresholdCache });
  }
  const published = args.compare === undefined ? null : resolvePublished(args.compare);
  const comparison = published ? compareWithPublished(report, published) : null;
  if (args.out !== undefined) {
    const written = writeReportFiles(report, records, args.out, textFormats);
    if (comparison) {
      ensureDir(args.out);
      for (const [name, text] of [
        ['comparison.md', formatComparisonMarkdown(comparison)],
        ['comparison.json', formatComparisonJson(comparison)],
      ] as const) {
        writeFileAtomic(join(args.out, name), text);
        written.push(join(args.out, name));
      }
    }
    written.push(...(await writePlotFiles(report, records, args.out, plotFormats, thresholdCache)).written);
    process.stderr.write(`nalm: wrote ${written.join(', ')}\n`);
  } else {
    for (const f of formats) {
      if (f === 'html') {
        const { page } = await writePlotFiles(report, records, null, ['html'], thresholdCache);
        process.stdout.write(page!);
      } else if (f !== 'svg') process.stdout.write(renderReport(report, records, f));
    }
    if (comparison) process.stdout.write(`\n${formatComparisonMarkdown(comparison)}`);
  }
  return 0;
}

/** `nalm report` of NSR-task records (nsr/report.ts): md, json and html. */
async function nsrReportCommand(
  records: readonly NsrRecord[],
  formats: readonly ReportFormat[],
  out: string | undefined,
): Promise<number> {
  const supported: readonly ReportFormat[] = ['md', 'json', 'html'];
  const bad = formats.filter((f) => !supported.includes(f));
  if (bad.length > 0)
    throw new UsageError(`--format ${bad.join(',')}: NSR-task records report as ${supported.join(', ')}.`);
  const report = nsrReport(records);
  const text = async (f: ReportFormat): Promise<string> =>
    f === 'md'
      ? formatNsrMarkdown(report)
      : f === 'json'
        ? formatNsrJson(report)
        : formatNsrHtml(report, await renderNsrPlots(report));
  if (out === undefined) {
    for (const f of formats) process.stdout.write(await text(f));
    return 0;
  }
  ensureDir(out);
  const written: string[] = [];
  for (const f of formats) {
    const path = join(out, `report.${f}`);
    writeFileAtomic(path, await text(f));
    written.push(path);
  }
  process.stderr.write(`nalm: wrote ${written.join(', ')}\n`);
  return 0;
}
