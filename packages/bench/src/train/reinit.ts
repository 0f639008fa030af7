/**
 * iNALU's re-initialisation on a stalled loss (benchmark.md §6, as the NALM benchmark runs it):
 * every iteration the replica's most recent validation MSE is appended to a buffer; every `every`
 * iterations (t > 0), once the buffer holds more than `minLosses` values, the replica is
 * re-initialised and the buffer cleared if
 *   mean(first half) ≤ mean(second half) + std(second half)  and  mean(second half) > lossThreshold
 * (halves split at ⌊n/2⌋, std with denominator n as numpy's). The reference stores the last
 * evaluated validation MSE, not the batch loss, so the buffer is piecewise constant; it is kept
 * run-length encoded, which makes a check O(number of evaluations) instead of O(iterations).
 */
import type { ReinitRule } from '../models/registry.js';

export class LossBuffer {
  private values: number[] = [];
  private counts: number[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  push(v: number): void {
    const last = this.values.length - 1;
    if (last >= 0 && Object.is(this.values[last], v)) this.counts[last]!++;
    else {
      this.values.push(v);
      this.counts.push(1);
    }
    this.n++;
  }

  clear(): void {
    this.values = [];
    this.counts = [];
    this.n = 0;
  }

  /** Mean and population std of the entries with index in [from, to). */
  stats(from: number, to: number): { mean: number; std: number } {
    let pos = 0;
    let count = 0;
    let sum = 0;
    for (let i = 0; i < this.values.length && pos < to; i++) {
      const c = this.counts[i]!;
      const k = Math.min(pos + c, to) - Math.max(pos, from);
      if (k > 0) {
        sum += k * this.values[i]!;
        count += k;
      }
      pos += c;
    }
    const mean = sum / count;
    pos = 0;
    let ss = 0;
    for (let i = 0; i < this.values.length && pos < to; i++) {
      const c = this.counts[i]!;
      const k = Math.min(pos + c, to) - Math.max(pos, from);
      if (k > 0) ss += k * (this.values[i]! - mean) ** 2;
      pos += c;
    }
    return { mean, std: Math.sqrt(ss / count) };
  }
}

/** Should the replica be re-initialised after iteration t? (Does not clear the buffer.) */
export function stalled(rule: ReinitRule, buffer: LossBuffer, t: number): boolean {
  if (t <= 0 || t % rule.every !== 0 || buffer.size <= rule.minLosses) return false;
  const half = Math.floor(buffer.size / 2);
  const first = buffer.stats(0, half);
  const second = buffer.stats(half, buffer.size);
  return first.mean <= second.mean + second.std && second.mean > rule.lossThreshold;
}
