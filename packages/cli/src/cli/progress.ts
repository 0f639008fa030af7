/**
 * Progress of a sweep for people, shared by the static and the NSR runs: done work over planned work
 * (each kind weights its cells by cost, so a slow model trained first does not skew the ETA), a bar,
 * and an ETA from the rate so far. Batches in flight (one per worker) count with their partial work.
 */
export class SweepProgress {
  private total = 0;
  private finished = 0;
  private finishedUnits = 0;
  /** Per batch in flight: its cost-weighted work and its plain units (seed-iterations, seed-epochs). */
  private readonly inFlight = new Map<number, { work: number; units: number }>();
  private readonly started = Date.now();
  runsDone = 0;
  runsTotal = 0;

  plan(work: number, runs: number): void {
    this.total = work;
    this.runsTotal = runs;
  }

  /** Work (cost-weighted) and plain units done so far by the batch in flight. */
  update(batch: number, work: number, units: number): void {
    this.inFlight.set(batch, { work, units });
  }

  finish(batch: number, work: number, units: number, runs: number): void {
    this.inFlight.delete(batch);
    this.finished += work;
    this.finishedUnits += units;
    this.runsDone += runs;
  }

  /** Plain units per second so far (what the line shows as the rate). */
  get rate(): number {
    let units = this.finishedUnits;
    for (const b of this.inFlight.values()) units += b.units;
    return this.elapsedSeconds > 0 ? units / this.elapsedSeconds : 0;
  }

  get elapsedSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }

  /** `[####----]  12%  runs 3/60  {rate}  ETA 6h12m  {tail}` */
  line(rate: string, tail: string): string {
    let work = this.finished;
    for (const b of this.inFlight.values()) work += b.work;
    const frac = this.total > 0 ? Math.min(1, work / this.total) : 1;
    const eta = work > 0 ? (this.elapsedSeconds * (this.total - work)) / work : NaN;
    const width = 24;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '-');
    return (
      `[${bar}] ${(100 * frac).toFixed(0).padStart(3)}%  runs ${this.runsDone}/${this.runsTotal}  ` +
      `${rate}  ETA ${formatDuration(eta)}  ${tail}`
    );
  }
}

/** 42s, 3m07s, 2h05m; '?' when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m${String(r).padStart(2, '0')}s`
      : `${r}s`;
}

/**
 * Where progress goes: on a terminal one line rewritten in place, in logs (not a TTY) a plain line
 * every ~10 s. Always stderr, so stdout (a report) stays clean when piped.
 */
export function progressSink(): { line(text: string): void; print(text: string): void } {
  const tty = process.stderr.isTTY === true;
  let lastPlain = 0;
  return {
    line(text) {
      if (tty) process.stderr.write(`\r\x1b[K${text}`);
      else if (Date.now() - lastPlain > 10_000) {
        lastPlain = Date.now();
        process.stderr.write(`${text}\n`);
      }
    },
    print(text) {
      if (tty) process.stderr.write('\r\x1b[K');
      process.stderr.write(`${text}\n`);
    },
  };
}
