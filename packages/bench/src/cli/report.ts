/** `nalm report`: summaries with confidence intervals from result stores or a stable-nalu CSV. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../record.js';
import { diskThresholdCache } from '../node/threshold-cache.js';
import type { InputFormat } from '../report/load.js';
import { detectFormat, loadRecords, loadStableNalu } from '../report/load.js';
import type { Report } from '../report/report.js';
import {
  formatJson,
  formatLatex,
  formatMarkdown,
  reportFromRecords,
  reportFromStableNalu,
} from '../report/report.js';
import { formatPerRunCsv, formatSummaryCsv } from '../report/stable-nalu.js';
import { parseNames } from './args.js';
import { UsageError } from './errors.js';

export const REPORT_FORMATS = ['md', 'csv', 'tex', 'json', 'runs'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

const FILE_NAMES: Record<ReportFormat, string> = {
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
}

/** The text of one format. `runs` (per-run CSV in stable-nalu's layout) needs nalm records. */
export function renderReport(
  report: Report,
  records: readonly RunRecord[] | null,
  format: ReportFormat,
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
  formats: readonly ReportFormat[],
): string[] {
  mkdirSync(outDir, { recursive: true });
  return formats.map((f) => {
    const path = join(outDir, FILE_NAMES[f]);
    writeFileSync(path, renderReport(report, records, f));
    return path;
  });
}

export async function reportCommand(args: ReportArgs): Promise<number> {
  if (args.inputs.length === 0) {
    throw new UsageError(
      'give at least one result store directory, records .jsonl file or stable-nalu .csv file.',
    );
  }
  const formats = parseNames<ReportFormat>(args.format ?? 'md', REPORT_FORMATS, '--format', 'format');
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
  if (from === 'stable-nalu') {
    report = reportFromStableNalu(loadStableNalu(args.inputs), { paperCompat });
  } else {
    const loaded = loadRecords(args.inputs);
    for (const p of loaded.problems)
      process.stderr.write(`nalm: warning: ${p.file}:${p.line}: ${p.reason} (skipped)\n`);
    if (loaded.records.length === 0) throw new UsageError(`no records found in ${args.inputs.join(', ')}.`);
    records = loaded.records;
    report = reportFromRecords(records, { paperCompat, thresholdCache: diskThresholdCache() });
  }
  if (args.out !== undefined) {
    const written = writeReportFiles(report, records, args.out, formats);
    process.stderr.write(`nalm: wrote ${written.join(', ')}\n`);
  } else {
    for (const f of formats) process.stdout.write(renderReport(report, records, f));
  }
  return 0;
}
