#!/usr/bin/env node
// Record-level checks of result stores for the Slurm test (test-slurm.sh). Reads the stores'
// records*.jsonl lines directly, with no nalm import, so it checks the files nalm wrote rather than
// nalm's own reading of them.
//
//   node compare-stores.mjs count DIR          → "DIR: N records (L lines, D duplicate(s), B unreadable)"
//                                                exit 1 on a duplicate or unreadable line
//   node compare-stores.mjs compare A B        → "N records, K differ from the single-machine run"
//                                                exit 1 if any record differs or is missing on one side
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** JSON with object keys sorted, so two records compare equal iff their content is equal. */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

function readStore(dir) {
  const files = readdirSync(dir).filter((f) => /^records(\..+)?\.jsonl$/.test(f));
  const records = new Map();
  let lines = 0;
  let duplicates = 0;
  let unreadable = 0;
  for (const f of files) {
    for (const text of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (text === '') continue;
      lines++;
      let r;
      try {
        r = JSON.parse(text);
      } catch {
        unreadable++; // a line cut by a kill mid-write (nalm skips it and leaves it in place)
        continue;
      }
      const id = `${r.key}:${r.seed}`;
      if (records.has(id)) duplicates++;
      else records.set(id, canonical(r));
    }
  }
  return { records, lines, duplicates, unreadable };
}

const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'count' && a) {
  const s = readStore(a);
  console.log(
    `${a}: ${s.records.size} records (${s.lines} lines, ${s.duplicates} duplicate(s), ${s.unreadable} unreadable)`,
  );
  process.exit(s.duplicates + s.unreadable > 0 ? 1 : 0);
} else if (cmd === 'compare' && a && b) {
  const x = readStore(a).records;
  const y = readStore(b).records;
  let differ = 0;
  let onlyA = 0;
  for (const [id, text] of x) {
    if (!y.has(id)) onlyA++;
    else if (y.get(id) !== text) differ++;
  }
  const onlyB = [...y.keys()].filter((id) => !x.has(id)).length;
  console.log(`${x.size} records, ${differ} differ from the single-machine run`);
  if (onlyA || onlyB)
    console.log(`${onlyA} record(s) only in ${a}, ${onlyB} record(s) only in ${b}: the grids differ`);
  process.exit(differ + onlyA + onlyB > 0 ? 1 : 0);
} else {
  console.error('usage: compare-stores.mjs count DIR | compare DIR_A DIR_B');
  process.exit(2);
}
