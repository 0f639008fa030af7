/**
 * An incrementally refreshed, in-memory view of a set of records files: parsed records, bad lines,
 * and a done index. Shared by result stores (all `records*.jsonl` of a directory) and single-file
 * sources of a merge.
 *
 * Duplicate resolution does not depend on when lines were read: among records with the same
 * key and seed, the first in (file order, line order) wins, exactly as if everything were read
 * afresh.
 */
import type { StoreRecord } from '@nalm/bench';
import { canonicalRecord, parseRecordLine } from '@nalm/bench';
import type { StoreProblem } from '@nalm/bench';
import { JsonlTail } from './jsonl.js';

interface Entry {
  id: string;
  record: StoreRecord;
  line: number;
  canon?: string;
}

interface FileState {
  tail: JsonlTail;
  entries: Entry[];
  /** Bad complete lines (they never change once complete). */
  bad: StoreProblem[];
  /** The trailing incomplete line as of the last refresh. */
  partial: StoreProblem | null;
}

export interface StoreReadResult {
  /** Valid records, one per key and seed (the first of any duplicates), in file then line order. */
  records: StoreRecord[];
  /** Skipped lines: truncated, corrupt, wrong shape or version, conflicting duplicates. */
  problems: StoreProblem[];
  /** Identical duplicates (same key, seed and content as an earlier record); skipped, harmless. */
  notes: StoreProblem[];
}

function canonOf(e: Entry): string {
  e.canon ??= canonicalRecord(e.record);
  return e.canon;
}

export class RecordFiles {
  private readonly files = new Map<string, FileState>();
  /** How many valid entries (duplicates included) each `${key}:${seed}` has. */
  private readonly counts = new Map<string, number>();

  /** @param list the records files, in precedence order (first wins on duplicates) */
  constructor(private readonly list: () => string[]) {}

  private drop(state: FileState): void {
    for (const e of state.entries) {
      const n = (this.counts.get(e.id) ?? 1) - 1;
      if (n > 0) this.counts.set(e.id, n);
      else this.counts.delete(e.id);
    }
    state.entries = [];
    state.bad = [];
    state.partial = null;
  }

  /** Read what was appended since the last refresh; returns the current file list. */
  refresh(): string[] {
    const paths = this.list();
    const present = new Set(paths);
    for (const [path, state] of this.files) {
      if (!present.has(path)) {
        this.drop(state);
        this.files.delete(path);
      }
    }
    for (const path of paths) {
      let state = this.files.get(path);
      if (!state) {
        state = { tail: new JsonlTail(path), entries: [], bad: [], partial: null };
        this.files.set(path, state);
      }
      const polled = state.tail.poll();
      if (polled.reset) this.drop(state);
      for (const { line, text } of polled.lines) {
        if (text.trim() === '') continue; // blank lines carry nothing; not worth a report
        const parsed = parseRecordLine(text);
        if (parsed.ok) {
          state.entries.push({ id: parsed.id, record: parsed.record, line });
          this.counts.set(parsed.id, (this.counts.get(parsed.id) ?? 0) + 1);
        } else {
          state.bad.push({ file: path, line, reason: parsed.reason });
        }
      }
      state.partial = polled.partial
        ? {
            file: path,
            line: polled.partial.line,
            reason:
              'incomplete last line (no trailing newline): truncated by an interrupted run, or still being written; skipped',
          }
        : null;
    }
    return paths;
  }

  has(id: string): boolean {
    this.refresh();
    return this.counts.has(id);
  }

  doneKeys(): Set<string> {
    this.refresh();
    return new Set(this.counts.keys());
  }

  read(): StoreReadResult {
    const paths = this.refresh();
    const records: StoreRecord[] = [];
    const problems: StoreProblem[] = [];
    const notes: StoreProblem[] = [];
    const first = new Map<string, { entry: Entry; file: string }>();
    for (const file of paths) {
      const state = this.files.get(file);
      if (!state) continue;
      // Merge the bad lines and the entries of this file in line order.
      const out: Array<{ line: number; problem?: StoreProblem; note?: StoreProblem }> = [];
      for (const p of state.bad) out.push({ line: p.line, problem: p });
      for (const e of state.entries) {
        const winner = first.get(e.id);
        if (!winner) {
          first.set(e.id, { entry: e, file });
          records.push(e.record);
          continue;
        }
        const where = `${winner.file}:${winner.entry.line}`;
        if (canonOf(e) === canonOf(winner.entry)) {
          out.push({
            line: e.line,
            note: {
              file,
              line: e.line,
              reason: `identical duplicate of ${e.id} (first at ${where}); skipped`,
            },
          });
        } else {
          out.push({
            line: e.line,
            problem: {
              file,
              line: e.line,
              reason: `conflicting duplicate of ${e.id}: differs from the record at ${where}, which is kept; skipped`,
            },
          });
        }
      }
      out.sort((a, b) => a.line - b.line);
      for (const o of out) {
        if (o.problem) problems.push(o.problem);
        if (o.note) notes.push(o.note);
      }
      if (state.partial) problems.push(state.partial);
    }
    return { records, problems, notes };
  }
}
