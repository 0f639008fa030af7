import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, configKey } from '../../bench/src/config.js';
import type { RunConfig } from '../../bench/src/config.js';
import type { RunRecord, StoreRecord } from '../../bench/src/record.js';
import { staticRecords } from '../../bench/src/record.js';
import { curveOutcome } from '../../bench/src/success.js';
import { defaultStaticTask } from '../../bench/src/tasks/static.js';
import {
  StoreError,
  canonicalRecord,
  mergeStores,
  openStore,
  pendingSeeds,
  readRecordsFile,
  recordLine,
} from '../src/store/index.js';

// A valid configuration (the store checks them on write and read); variants differ in input size.
function config(variant = 0): RunConfig {
  return {
    task: defaultStaticTask({ op: 'mul', inputSize: 10 + variant }),
    model: 'nmu',
    hidden: 2,
    batch: 64,
    lr: 1e-3,
    iterations: 100,
    evalEvery: 50,
    schedule: null,
    oobWeight: 0,
  };
}

/** A valid record; its outcome fields follow its curve and threshold unless `extra` sets them. */
function rec(seed: number, variant = 0, extra: Partial<RunRecord> = {}): RunRecord {
  const c = config(variant);
  const r = {
    v: 1,
    key: configKey(c),
    config: c,
    seed,
    threshold: 1e-4,
    curve: [
      { step: 0, interpolation: 1, extrapolation: 2, sparsityError: 0.5 },
      { step: 50, interpolation: 0.1 * (seed + 1), extrapolation: 1e-6, sparsityError: 0.01 },
      { step: 100, interpolation: 0.01, extrapolation: 1e-7, sparsityError: 0 },
    ],
    bestStep: 100,
    solved: true,
    solvedAt: 50,
    sparsityError: 0,
    diverged: null,
    iterations: 100,
    ...extra,
  };
  return { ...r, ...curveOutcome(r.curve, r.threshold), ...extra } as RunRecord;
}

const id = (r: StoreRecord) => `${r.key}:${r.seed}`;

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nalm-store-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Bytes of every file under `dir` (recursively), to check sources are left untouched. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) {
      const p = join(e.parentPath, e.name);
      out[p] = readFileSync(p).toString('base64');
    }
  }
  return out;
}

describe('openStore / append / read', () => {
  it('round-trips records, including non-finite measurements', () => {
    const dir = join(tmp, 'run');
    const store = openStore(dir, { create: true, nalmVersion: '0.1.0-test' });
    const meta = JSON.parse(readFileSync(join(dir, 'store.json'), 'utf8'));
    expect(meta).toMatchObject({ format: 'nalm-result-store', formatVersion: 1, nalmVersion: '0.1.0-test' });
    expect(Number.isNaN(Date.parse(meta.createdAt))).toBe(false);

    const diverged = rec(7, 0, {
      solved: false,
      solvedAt: null,
      bestStep: null,
      sparsityError: null,
      threshold: Infinity,
      curve: [{ step: 0, interpolation: NaN, extrapolation: Infinity, sparsityError: -Infinity }],
      diverged: { step: 3, reason: 'loss is NaN' },
    });
    const written = [rec(0), rec(1), rec(0, 1), diverged];
    store.append(written[0]!);
    store.appendMany(written.slice(1));

    const { records: all, problems, notes } = store.read();
    const records = staticRecords(all);
    expect(problems).toEqual([]);
    expect(notes).toEqual([]);
    expect(records).toEqual(written);
    expect(Number.isNaN(records[3]!.curve[0]!.interpolation)).toBe(true);
    expect(records[3]!.curve[0]!.sparsityError).toBe(-Infinity);
    // One line per record on disk.
    expect(readFileSync(join(dir, 'records.jsonl'), 'utf8').split('\n')).toHaveLength(5);

    // A fresh store object (another process) reads the same.
    const again = openStore(dir);
    expect(again.read().records).toEqual(written);
    expect(again.doneKeys()).toEqual(new Set(written.map(id)));
    expect(again.has(written[2]!.key, 0)).toBe(true);
    expect(again.has(written[2]!.key, 1)).toBe(false);
    expect(again.meta.nalmVersion).toBe('0.1.0-test');
  });

  it('round-trips arbitrary measured values (property)', () => {
    const real = fc.oneof(
      fc.double().map((x) => (Object.is(x, -0) ? 0 : x)),
      fc.constantFrom(NaN, Infinity, -Infinity),
    );
    const point = fc.record({
      step: fc.nat(),
      interpolation: real,
      extrapolation: real,
      sparsityError: real,
    });
    const dir = join(tmp, 'prop');
    const store = openStore(dir, { create: true });
    let seed = 0;
    fc.assert(
      fc.property(fc.array(point, { maxLength: 5 }), real, fc.string(), (curve, threshold, reason) => {
        const r = rec(seed++, 0, { curve, threshold, diverged: { step: 1, reason } });
        store.append(r);
        const back = store.read().records.at(-1);
        expect(back).toEqual(r);
      }),
      { numRuns: 60 },
    );
  });

  it('opening incrementally sees appends by other store objects and writers', () => {
    const dir = join(tmp, 'run');
    const reader = openStore(dir, { create: true });
    expect(reader.read().records).toEqual([]);
    const a = openStore(dir, { writerId: 'host1-1' });
    const b = openStore(dir, { writerId: 'host2.7' });
    a.append(rec(1));
    expect(reader.has(rec(1).key, 1)).toBe(true);
    b.append(rec(2));
    reader.append(rec(0));
    a.append(rec(3));
    expect(readdirSync(dir).sort()).toEqual([
      'records.host1-1.jsonl',
      'records.host2.7.jsonl',
      'records.jsonl',
      'store.json',
    ]);
    // records.jsonl first, then the writer files by name; line order within a file.
    expect(reader.read().records.map((r) => r.seed)).toEqual([0, 1, 3, 2]);
    expect(
      openStore(dir)
        .read()
        .records.map((r) => r.seed),
    ).toEqual([0, 1, 3, 2]);
    expect(reader.doneKeys()).toEqual(new Set([0, 1, 2, 3].map((s) => id(rec(s)))));
  });

  it('pendingSeeds skips done seeds, keeps order and drops repeats', () => {
    const store = openStore(join(tmp, 'run'), { create: true });
    store.appendMany([rec(2), rec(5), rec(3, 1)]);
    const key = rec(0).key;
    expect(pendingSeeds(store, key, [5, 4, 3, 2, 1, 4])).toEqual([4, 3, 1]);
    expect(pendingSeeds(store.doneKeys(), rec(0, 1).key, [3, 2])).toEqual([2]);
  });
});

describe('bad lines', () => {
  const good = (s: number) => recordLine(rec(s));

  it('reports truncated, garbage and wrongly shaped lines with line numbers, and leaves them in place', () => {
    const dir = join(tmp, 'run');
    const store = openStore(dir, { create: true });
    const wrong = (patch: (o: Record<string, unknown>) => void) => {
      const o = JSON.parse(good(99)) as Record<string, unknown>;
      patch(o);
      return JSON.stringify(o);
    };
    const lines = [
      good(0), // 1
      'this is not json', // 2
      '{"v":1,"key":"abc"}', // 3: valid JSON, wrong shape (bad key, missing fields)
      wrong((o) => (o.seed = '3')), // 4: wrong type
      wrong((o) => (o.v = 2)), // 5: unknown record version
      wrong((o) => delete o.curve), // 6: missing field
      wrong((o) => ((o.curve as Array<Record<string, unknown>>)[1]!.extrapolation = 'small')), // 7
      '', // 8: blank, ignored
      good(1), // 9
      wrong((o) => (o.diverged = { reason: 'x' })), // 10
      '[1,2,3]', // 11
    ];
    const truncated = good(2).slice(0, 57);
    const bytes = `${lines.join('\n')}\n${truncated}`;
    writeFileSync(join(dir, 'records.jsonl'), bytes);

    const { records, problems, notes } = store.read();
    expect(records.map((r) => r.seed)).toEqual([0, 1]);
    expect(notes).toEqual([]);
    const file = join(dir, 'records.jsonl');
    expect(problems.map((p) => [p.file, p.line])).toEqual(
      [2, 3, 4, 5, 6, 7, 10, 11, 12].map((line) => [file, line]),
    );
    const reasons = problems.map((p) => p.reason);
    expect(reasons[0]).toMatch(/not valid JSON/);
    expect(reasons[1]).toMatch(/key: expected a 16-hex-digit configuration key/);
    expect(reasons[2]).toMatch(/seed: expected an integer, got the string "3"/);
    expect(reasons[3]).toMatch(/record version 2 is not supported/);
    expect(reasons[4]).toMatch(/curve: missing/);
    expect(reasons[5]).toMatch(/curve\[1\]\.extrapolation: expected a number/);
    expect(reasons[6]).toMatch(/diverged\.step: missing/);
    expect(reasons[7]).toMatch(/expected a JSON object, got an array/);
    expect(reasons[8]).toMatch(/incomplete last line/);
    expect(store.doneKeys()).toEqual(new Set([id(rec(0)), id(rec(1))]));
    // Reading never rewrites anything.
    expect(readFileSync(file, 'utf8')).toBe(bytes);
    expect(openStore(dir).read().problems).toEqual(problems);
  });

  it('terminates a truncated last line before appending, keeping the bad bytes as they were', () => {
    const dir = join(tmp, 'run');
    const store = openStore(dir, { create: true, writerId: 'w' });
    store.append(rec(0));
    const file = join(dir, 'records.w.jsonl');
    const truncated = good(1).slice(0, 40);
    appendFileSync(file, truncated); // what a kill mid-write leaves
    const before = readFileSync(file, 'utf8');
    expect(store.read().problems).toEqual([
      { file, line: 2, reason: expect.stringMatching(/incomplete last line/) },
    ]);

    const resumed = openStore(dir, { writerId: 'w' });
    expect(pendingSeeds(resumed, rec(0).key, [0, 1, 2])).toEqual([1, 2]);
    resumed.append(rec(1));
    resumed.append(rec(2));
    expect(readFileSync(file, 'utf8')).toBe(`${before}\n${good(1)}\n${good(2)}\n`);
    for (const s of [store, resumed]) {
      const { records, problems } = s.read();
      expect(records).toEqual([rec(0), rec(1), rec(2)]);
      expect(problems).toEqual([{ file, line: 2, reason: expect.stringMatching(/not valid JSON/) }]);
    }
  });

  it('reads a line that was incomplete at the last read once it is complete', () => {
    const dir = join(tmp, 'run');
    const store = openStore(dir, { create: true });
    const file = join(dir, 'records.jsonl');
    const line = good(4);
    writeFileSync(file, line.slice(0, 30));
    expect(store.read().records).toEqual([]);
    expect(store.has(rec(4).key, 4)).toBe(false);
    appendFileSync(file, `${line.slice(30)}\n`);
    expect(store.read()).toEqual({ records: [rec(4)], problems: [], notes: [] });
    expect(store.has(rec(4).key, 4)).toBe(true);
  });

  it('rereads a file that was replaced or shrank', () => {
    const dir = join(tmp, 'run');
    const store = openStore(dir, { create: true });
    store.appendMany([rec(0), rec(1)]);
    expect(store.read().records).toHaveLength(2);
    writeFileSync(join(dir, 'records.jsonl'), `${good(5)}\n`);
    expect(store.read().records).toEqual([rec(5)]);
    expect(store.has(rec(0).key, 0)).toBe(false);
  });

  it('refuses to append a record that would not read back, writing nothing', () => {
    const dir = join(tmp, 'run');
    const store = openStore(dir, { create: true });
    store.append(rec(0));
    const before = readFileSync(join(dir, 'records.jsonl'), 'utf8');
    expect(() => store.append({ ...rec(1), key: rec(1, 1).key })).toThrow(
      /is not the key of its configuration/,
    );
    expect(() => store.append({ ...rec(1), seed: 1.5 })).toThrow(StoreError);
    expect(() => store.appendMany([rec(2), { ...rec(3), solved: 'yes' as unknown as boolean }])).toThrow(
      /records\.jsonl: refusing to append record [0-9a-f]{16}:3: not a valid record: solved: expected a boolean/,
    );
    expect(readFileSync(join(dir, 'records.jsonl'), 'utf8')).toBe(before);
  });
});

describe('validation on read (the rules of write)', () => {
  it('a parseable but altered line is reported with file:line, skipped, and not counted as done', () => {
    const dir = join(tmp, 'run');
    const store = openStore(dir, { create: true });
    store.appendMany([rec(0), rec(1)]);
    const file = join(dir, 'records.jsonl');
    const line = (r: unknown) => appendFileSync(file, `${JSON.stringify(r)}\n`);
    const good = JSON.parse(recordLine(rec(2)));
    line({ ...good, key: rec(2, 1).key }); // 3: key of another configuration
    line({ ...good, config: {}, key: configKey({} as RunConfig), solved: true }); // 4: empty config
    line({ ...JSON.parse(recordLine(rec(3, 0, { threshold: 1e-9 }))), solved: true }); // 5: flipped outcome
    line({ ...good, config: { ...good.config, lr: -1 }, key: configKey({ ...good.config, lr: -1 }) }); // 6
    line({ ...good, iterations: 1000 }); // 7: more iterations than configured
    const { records, problems } = store.read();
    expect(records).toEqual([rec(0), rec(1)]);
    expect(problems.map((p) => [p.file, p.line])).toEqual([3, 4, 5, 6, 7].map((n) => [file, n]));
    expect(problems.map((p) => p.reason)).toEqual([
      expect.stringMatching(/key [0-9a-f]{16} is not the key of its configuration/),
      expect.stringMatching(/config\.task: missing/),
      expect.stringMatching(/solved is true but its curve and threshold give false/),
      expect.stringMatching(/config\.lr: expected a number > 0/),
      expect.stringMatching(/iterations: expected at most config\.iterations = 100/),
    ]);
    expect(store.doneKeys()).toEqual(new Set([id(rec(0)), id(rec(1))]));
    // Skipped, not repaired: a valid record for the cell can still be appended and is then read.
    store.append(rec(2));
    expect(store.read().records).toEqual([rec(0), rec(1), rec(2)]);
  });
});

describe('duplicates', () => {
  it('keeps the first; identical duplicates are notes, conflicting ones problems', () => {
    const dir = join(tmp, 'run');
    const store = openStore(dir, { create: true });
    const conflicting = rec(1, 0, { threshold: 1e-9 }); // not solved
    // Key order differs but content is identical: still an identical duplicate.
    const reordered = JSON.stringify(JSON.parse(canonicalJson(JSON.parse(recordLine(rec(0))))));
    store.appendMany([rec(0), rec(1)]);
    appendFileSync(join(dir, 'records.jsonl'), `${reordered}\n`);
    store.appendMany([conflicting, rec(2)]);
    appendFileSync(join(dir, 'records.jsonl'), 'garbage\n');
    const file = join(dir, 'records.jsonl');
    const { records, problems, notes } = store.read();
    expect(records).toEqual([rec(0), rec(1), rec(2)]);
    expect(notes).toEqual([
      { file, line: 3, reason: expect.stringMatching(/identical duplicate .*first at .*records\.jsonl:1/) },
    ]);
    expect(problems).toEqual([
      {
        file,
        line: 4,
        reason: expect.stringMatching(/conflicting duplicate .*records\.jsonl:2, which is kept/),
      },
      { file, line: 6, reason: expect.stringMatching(/not valid JSON/) },
    ]);
    expect(store.doneKeys().size).toBe(3);
  });

  it('resolves duplicates across writer files by file order, whatever the order of reading', () => {
    const dir = join(tmp, 'run');
    const reader = openStore(dir, { create: true });
    const a = openStore(dir, { writerId: 'a' });
    const b = openStore(dir, { writerId: 'b' });
    b.append(rec(0, 0, { iterations: 99 }));
    expect(reader.read().records).toEqual([rec(0, 0, { iterations: 99 })]);
    a.append(rec(0)); // appended later, but records.a.jsonl comes before records.b.jsonl
    const fresh = openStore(dir).read();
    expect(reader.read()).toEqual(fresh);
    expect(fresh.records).toEqual([rec(0)]);
    expect(fresh.problems).toEqual([
      { file: join(dir, 'records.b.jsonl'), line: 1, reason: expect.stringMatching(/conflicting duplicate/) },
    ]);
  });
});

describe('errors', () => {
  it('names the path and says what to do', () => {
    const missing = join(tmp, 'nope');
    expect(() => openStore(missing)).toThrow(StoreError);
    expect(() => openStore(missing)).toThrow(`${missing}: no such result store`);
    expect(existsSync(missing)).toBe(false);

    const plain = join(tmp, 'plain');
    mkdirSync(plain);
    expect(() => openStore(plain)).toThrow(
      `${plain}: not a nalm result store (no store.json). Pass the directory written by \`nalm run --out DIR\`.`,
    );

    const file = join(tmp, 'records.jsonl');
    writeFileSync(file, '');
    expect(() => openStore(file)).toThrow(`${file}: not a nalm result store`);
    expect(() => openStore(join(file, 'sub'), { create: true })).toThrow(StoreError);

    const stray = join(tmp, 'stray');
    mkdirSync(stray);
    writeFileSync(join(stray, 'records.jsonl'), '');
    expect(() => openStore(stray, { create: true })).toThrow(/records\.jsonl but no store\.json/);
    expect(existsSync(join(stray, 'store.json'))).toBe(false);

    expect(() => openStore(join(tmp, 'x'), { create: true, writerId: '../evil' })).toThrow(
      /invalid writer id/,
    );
  });

  it('refuses an unknown format version or a corrupt store.json', () => {
    const dir = join(tmp, 'future');
    openStore(dir, { create: true });
    const metaFile = join(dir, 'store.json');
    writeFileSync(
      metaFile,
      JSON.stringify({ format: 'nalm-result-store', formatVersion: 2, nalmVersion: '9.0.0' }),
    );
    expect(() => openStore(dir)).toThrow(StoreError);
    expect(() => openStore(dir, { create: true })).toThrow(
      `${metaFile}: unknown result store format version 2 (written by nalm 9.0.0); this nalm reads version 1.`,
    );
    writeFileSync(metaFile, '{"format":');
    expect(() => openStore(dir)).toThrow(/store\.json: corrupt store metadata/);
    writeFileSync(metaFile, '{"format":"something-else","formatVersion":1}');
    expect(() => openStore(dir)).toThrow(/not a nalm result store/);
  });

  it('maps an unreadable records file to a StoreError (a directory named like one)', () => {
    // Works as root too: reading a directory as a file fails with EISDIR.
    const dir = join(tmp, 'run');
    const store = openStore(dir, { create: true });
    mkdirSync(join(dir, 'records.x.jsonl'));
    expect(() => store.read()).toThrow(StoreError);
    expect(() => store.read()).toThrow(/records\.x\.jsonl: cannot/);
  });

  it('two processes creating the same store agree on one store.json', () => {
    const dir = join(tmp, 'run');
    const first = openStore(dir, { create: true, nalmVersion: 'a' });
    const second = openStore(dir, { create: true, nalmVersion: 'b' });
    expect(second.meta).toEqual(first.meta);
    expect(readdirSync(dir)).toEqual(['store.json']); // no temporary files left behind
  });
});

describe('mergeStores', () => {
  function makeStore(name: string, records: RunRecord[], writerId?: string) {
    const dir = join(tmp, name);
    openStore(dir, { create: true, ...(writerId ? { writerId } : {}) }).appendMany(records);
    return dir;
  }

  it('merges overlapping stores, reports conflicts, first source wins, sources untouched', () => {
    const A = makeStore(
      'A',
      [0, 1, 2, 3].map((s) => rec(s)),
    );
    const B = makeStore('B', [
      rec(2),
      rec(3, 0, { iterations: 7 }), // conflicts with A
      rec(4),
      rec(0, 1),
    ]);
    // C: a store with two writers and a bad line, conflicting with both A and B on seed 3.
    const C = makeStore('C', [rec(3, 0, { iterations: 8 }), rec(5)], 'w1');
    openStore(C, { writerId: 'w2' }).appendMany([rec(4), rec(1, 1)]);
    appendFileSync(join(C, 'records.w2.jsonl'), 'garbage\n');
    // D: a single records file copied from somewhere, no store.json.
    mkdirSync(join(tmp, 'loose'));
    const D = join(tmp, 'loose', 'records.jsonl');
    writeFileSync(D, `${recordLine(rec(6))}\n${recordLine(rec(2))}\n`);

    const before = snapshot(tmp);
    const out = join(tmp, 'merged');
    const result = mergeStores([A, B, C, D], out, { nalmVersion: 'merge-test' });
    expect(snapshot(tmp)).toEqual({ ...before, ...snapshot(out) });
    expect(Object.keys(snapshot(out)).every((p) => p.startsWith(out))).toBe(true);

    expect(result.added).toBe(9); // seeds 0..6 of config 0, seeds 0, 1 of config 1
    expect(result.identicalDuplicates).toBe(3); // B:2, C:4, D:2
    expect(result.conflicts).toEqual([{ key: rec(3).key, seed: 3, sources: [A, B, C] }]);
    expect(result.problems).toEqual([
      { file: join(C, 'records.w2.jsonl'), line: 3, reason: expect.stringMatching(/not valid JSON/) },
    ]);

    // The merged store is the union, first source winning.
    const merged = openStore(out);
    expect(merged.meta.nalmVersion).toBe('merge-test');
    const { records, problems, notes } = merged.read();
    expect(problems).toEqual([]);
    expect(notes).toEqual([]);
    const union = new Map<string, StoreRecord>();
    for (const src of [openStore(A).read(), openStore(B).read(), openStore(C).read(), readRecordsFile(D)]) {
      for (const r of src.records) if (!union.has(id(r))) union.set(id(r), r);
    }
    expect(records.map(canonicalRecord).sort()).toEqual([...union.values()].map(canonicalRecord).sort());
    expect(records.find((r) => r.seed === 3 && r.key === rec(3).key)).toEqual(rec(3));

    // Merging again adds nothing (resumable, idempotent).
    const again = mergeStores([A, B, C, D], out);
    expect(again.added).toBe(0);
    expect(again.identicalDuplicates).toBe(12);
    expect(again.conflicts).toEqual([{ key: rec(3).key, seed: 3, sources: [out, B, C] }]);
    expect(openStore(out).read().records).toHaveLength(9);
  });

  it('refuses to merge into a source, and bad sources abort before anything is written', () => {
    const A = makeStore('A', [rec(0)]);
    const B = makeStore('B', [rec(1)]);
    const before = snapshot(tmp);
    expect(() => mergeStores([A, B], B)).toThrow(/is also the source/);
    expect(() => mergeStores([join(B, 'records.jsonl')], B)).toThrow(/is also the source/);
    const out = join(tmp, 'out');
    expect(() => mergeStores([A, join(tmp, 'missing')], out)).toThrow(StoreError);
    const notStore = join(tmp, 'plain');
    mkdirSync(notStore);
    expect(() => mergeStores([A, notStore], out)).toThrow(/no store\.json/);
    writeFileSync(join(tmp, 'notes.txt'), 'hello');
    expect(() => mergeStores([A, join(tmp, 'notes.txt')], out)).toThrow(
      /not a result store directory or a records \.jsonl file/,
    );
    expect(existsSync(out)).toBe(false);
    const { [join(tmp, 'notes.txt')]: _n, ...after } = snapshot(tmp);
    expect(after).toEqual(before);
  });
});
