/**
 * The language model's tokenizer: one token per character of a fixed alphabet (newline and the 95
 * printable ASCII characters), plus a document-start token `<bos>` with id 0.
 *
 * Why characters: every digit is its own token by construction, so an answer can later be
 * generated digit by digit and a calculator's result written back one digit per position (a
 * byte-pair vocabulary merges digit runs such as "19" or "000" into single tokens unless digits are
 * split by hand first); the vocabulary is fixed, tiny (97 ids, so the embedding and the output layer
 * stay small) and needs no training; encode/decode is an exact round trip for every text it
 * accepts. A byte-level vocabulary would accept any Unicode text, but spend 256 ids on an English
 * corpus that uses fewer than 100 and split one character into several ids. The price of
 * characters is length: a context of 128 tokens holds about 25 English words, enough for
 * BIG-bench-style questions (`What is 48213 times 907?` is 24 tokens).
 *
 * `encode` is strict: a character outside the alphabet is an error that names it and its position
 * (never a silent replacement). `normalize` maps the typographic characters of real text (curly
 * quotes, dashes, ellipsis, non-breaking spaces, tabs, CR LF) to ASCII and drops what has no ASCII
 * form; the corpus goes through it before encoding.
 */

/** A mistake in the language model's input or configuration: says what is wrong and what to do. */
export class LanguageModelInputError extends Error {
  override readonly name = 'LanguageModelInputError';
}

/** Newline, then the printable ASCII characters ' ' … '~'. */
export const LM_ALPHABET: string =
  '\n' + Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

/** The document-start token: id 0, decodes to nothing. */
export const BOS_ID = 0;

const TOKENIZER_FORMAT = 'nalm-char-tokenizer';
const TOKENIZER_VERSION = 1;

/** The serialised tokenizer (`tokenizer.json`, and inside a saved model's metadata). */
export interface CharTokenizerJSON {
  format: typeof TOKENIZER_FORMAT;
  formatVersion: number;
  /** Token i + 1 is alphabet[i]; token 0 is `<bos>`. */
  alphabet: string;
}

/** Typographic characters and their ASCII spelling (everything else outside the alphabet is dropped). */
const ASCII_FORMS: ReadonlyMap<string, string> = new Map([
  ['\u2018', "'"], // ‘
  ['\u2019', "'"], // ’
  ['\u201a', "'"],
  ['\u2032', "'"], // ′
  ['\u201c', '"'], // “
  ['\u201d', '"'], // ”
  ['\u201e', '"'],
  ['\u2033', '"'], // ″
  ['\u2010', '-'], // hyphen
  ['\u2011', '-'], // non-breaking hyphen
  ['\u2012', '-'],
  ['\u2013', '-'], // –
  ['\u2014', '--'], // —
  ['\u2015', '--'],
  ['\u2212', '-'], // minus sign
  ['\u2026', '...'], // …
  ['\u00a0', ' '], // no-break space
  ['\u2009', ' '],
  ['\u202f', ' '],
  ['\t', ' '],
  ['\u2022', '*'], // •
  ['\u00b0', ' degrees'], // °
]);

function describeChar(c: string): string {
  const code = c.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code < 32 || code === 127 ? hex : `'${c}' (${hex})`;
}

export class CharTokenizer {
  readonly alphabet: string;
  private readonly ids: ReadonlyMap<string, number>;
  private readonly chars: readonly string[];

  constructor(alphabet: string = LM_ALPHABET) {
    const chars = [...alphabet];
    if (chars.length === 0) throw new LanguageModelInputError('CharTokenizer: the alphabet is empty.');
    const ids = new Map<string, number>();
    chars.forEach((c, i) => {
      if (ids.has(c)) {
        throw new LanguageModelInputError(`CharTokenizer: the alphabet lists ${describeChar(c)} twice.`);
      }
      ids.set(c, i + 1);
    });
    for (const d of '0123456789') {
      if (!ids.has(d)) {
        throw new LanguageModelInputError(
          `CharTokenizer: the alphabet has no digit '${d}'; every digit must be a token of its own.`,
        );
      }
    }
    this.alphabet = alphabet;
    this.ids = ids;
    this.chars = chars;
  }

  /** Ids 0 … vocabSize − 1: `<bos>` and one per alphabet character. */
  get vocabSize(): number {
    return this.ids.size + 1;
  }

  /** The id of one character, or undefined if it is not in the alphabet. */
  idOf(char: string): number | undefined {
    return this.ids.get(char);
  }

  /**
   * Token ids of a text (with `<bos>` first if `bos`). A character outside the alphabet is an error
   * naming the character and its position.
   */
  encode(text: string, options: { bos?: boolean } = {}): Int32Array {
    const chars = [...text];
    const bos = options.bos === true ? 1 : 0;
    const out = new Int32Array(chars.length + bos);
    if (bos) out[0] = BOS_ID;
    for (let i = 0; i < chars.length; i++) {
      const id = this.ids.get(chars[i]!);
      if (id === undefined) {
        const at = chars.slice(Math.max(0, i - 12), i + 12).join('');
        throw new LanguageModelInputError(
          `The character ${describeChar(chars[i]!)} at position ${i} (in ${JSON.stringify(at)}) is not in the ` +
            `language model's alphabet (newline and printable ASCII). Pass the text through ` +
            `tokenizer.normalize() first, or write it in ASCII.`,
        );
      }
      out[i + bos] = id;
    }
    return out;
  }

  /** The text of token ids (`<bos>` decodes to nothing). An id outside the vocabulary is an error. */
  decode(ids: ArrayLike<number>): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === BOS_ID) continue;
      const c = Number.isInteger(id) && id > 0 ? this.chars[id - 1] : undefined;
      if (c === undefined) {
        throw new LanguageModelInputError(
          `decode: ${id} at position ${i} is not a token id of this tokenizer (0 … ${this.vocabSize - 1}).`,
        );
      }
      s += c;
    }
    return s;
  }

  /**
   * The text with typographic characters in ASCII (curly quotes → straight, dashes → '-' or '--',
   * '…' → '...', tabs and no-break spaces → ' ', CR LF → LF, control characters dropped) and every
   * other character outside the alphabet dropped. Idempotent; `encode(normalize(t))` never fails.
   */
  normalize(text: string): string {
    let out = '';
    for (const c of text.replace(/\r\n?/g, '\n')) {
      if (this.ids.has(c)) out += c;
      else {
        const ascii = ASCII_FORMS.get(c);
        if (ascii !== undefined && [...ascii].every((a) => this.ids.has(a))) out += ascii;
      }
    }
    return out;
  }

  toJSON(): CharTokenizerJSON {
    return { format: TOKENIZER_FORMAT, formatVersion: TOKENIZER_VERSION, alphabet: this.alphabet };
  }

  /** A tokenizer from its JSON (as `toJSON` wrote it); anything else is an error saying what is wrong. */
  static fromJSON(json: unknown): CharTokenizer {
    const j = json as Partial<CharTokenizerJSON> | null;
    if (j === null || typeof j !== 'object' || j.format !== TOKENIZER_FORMAT) {
      throw new LanguageModelInputError(
        `not a nalm character tokenizer (expected "format": "${TOKENIZER_FORMAT}").`,
      );
    }
    if (j.formatVersion !== TOKENIZER_VERSION) {
      throw new LanguageModelInputError(
        `character tokenizer format version ${String(j.formatVersion)} is not supported (this nalm reads version ${TOKENIZER_VERSION}).`,
      );
    }
    if (typeof j.alphabet !== 'string') {
      throw new LanguageModelInputError('character tokenizer: "alphabet" must be a string.');
    }
    return new CharTokenizer(j.alphabet);
  }
}
