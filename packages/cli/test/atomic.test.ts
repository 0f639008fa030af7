/**
 * Whole-file writes: a failure (disk full) leaves the previous file as it was and no temporary
 * file behind, and is a StoreError naming the file and the fix (the CLI exits 2 on it).
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreError } from '@nalm/bench';
import { writeFileAtomic } from '../src/store/atomic.js';

describe('writeFileAtomic', () => {
  it('replaces the file whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nalm-atomic-'));
    const path = join(dir, 'report.html');
    writeFileAtomic(path, 'first');
    writeFileAtomic(path, 'second, longer');
    expect(readFileSync(path, 'utf8')).toBe('second, longer');
    expect(readdirSync(dir)).toEqual(['report.html']);
  });

  it('on ENOSPC mid-write keeps the previous file intact, removes the temporary one, names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nalm-atomic-'));
    const path = join(dir, 'report.html');
    writeFileSync(path, '<html>the previous report</html>');
    let calls = 0;
    // The disk fills after the first 1000 bytes.
    const fullDisk = (fd: number, buf: Uint8Array, off: number, len: number): number => {
      if (calls++ > 0)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return writeSync(fd, buf, off, Math.min(len, 1000));
    };
    let err: unknown;
    try {
      writeFileAtomic(path, 'x'.repeat(100_000), fullDisk);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot write it \\(ENOSPC: .*Free some disk space.*previous version of the file, if any, is unchanged`,
      ),
    );
    expect(readFileSync(path, 'utf8')).toBe('<html>the previous report</html>');
    expect(readdirSync(dir)).toEqual(['report.html']);
  });

  it('a missing directory is a StoreError naming the file', () => {
    expect(() => writeFileAtomic(join(tmpdir(), 'nalm-no-such-dir-x', 'a.md'), 'x')).toThrow(
      /nalm-no-such-dir-x[/\\]a\.md: cannot write it \(ENOENT/,
    );
  });
});
