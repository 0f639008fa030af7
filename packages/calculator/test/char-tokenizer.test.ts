/**
 * The language model's character tokenizer: exact round trip, one token per digit, strict
 * encoding with errors that name the character, normalisation of typographic text, JSON.
 */
import { describe, expect, it } from 'vitest';
import { BOS_ID, CharTokenizer, LM_ALPHABET, LanguageModelInputError } from '../src/char-tokenizer.js';

const tok = new CharTokenizer();

describe('CharTokenizer', () => {
  it('has <bos>, newline and the 95 printable ASCII characters', () => {
    expect(tok.vocabSize).toBe(97);
    expect(LM_ALPHABET.length).toBe(96);
    expect(tok.idOf('\n')).toBe(1);
    expect(tok.idOf(' ')).toBe(2);
    expect(tok.idOf('~')).toBe(96);
  });

  it('round-trips text with digits, punctuation and newlines exactly', () => {
    const texts = [
      'What is 48213 times 907? 43729191',
      'In 1790 the debt was $75,463,476.52;\nnow -- "all of it" -- is paid (100%).',
      '',
      "~!@#$%^&*()_+{}|:<>?`-=[]\\;',./",
    ];
    for (const t of texts) {
      expect(tok.decode(tok.encode(t))).toBe(t);
      expect(tok.decode(tok.encode(t, { bos: true }))).toBe(t);
    }
    expect(tok.encode('ab', { bos: true })[0]).toBe(BOS_ID);
  });

  it('makes every digit a token of its own, in order', () => {
    const ids = tok.encode('0123456789');
    expect(ids.length).toBe(10);
    expect(new Set(ids).size).toBe(10);
    for (let d = 1; d < 10; d++) expect(ids[d]).toBe(ids[0]! + d);
    // A BIG-bench question is one token per character: the answer can be generated digit by digit.
    expect(tok.encode('What is 48213 times 907?').length).toBe(24);
    expect(Array.from(tok.encode('43729191'), (i) => tok.decode([i]))).toEqual([...'43729191']);
  });

  it('refuses a character outside the alphabet, naming it, its position and the fix', () => {
    const err = (() => {
      try {
        tok.encode('The café is open');
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(LanguageModelInputError);
    expect(err!.message).toMatch(/'é' \(U\+00E9\) at position 7/);
    expect(err!.message).toMatch(/normalize\(\)/);
    expect(() => tok.encode('tab\there')).toThrow(/U\+0009 at position 3/);
  });

  it('refuses ids outside the vocabulary when decoding', () => {
    expect(() => tok.decode([5, 97])).toThrow(/97 at position 1 is not a token id/);
    expect(() => tok.decode([-1])).toThrow(LanguageModelInputError);
    expect(() => tok.decode([1.5])).toThrow(LanguageModelInputError);
  });

  it('normalises typographic text to ASCII, idempotently, so that it always encodes', () => {
    const raw = 'It\u2019s \u201cfine\u201d \u2014 really\u2026\r\n30\u00b0\tok \u{1f600}caf\u00e9';
    const n = tok.normalize(raw);
    expect(n).toBe('It\'s "fine" -- really...\n30 degrees ok caf');
    expect(tok.normalize(n)).toBe(n);
    expect(tok.decode(tok.encode(n))).toBe(n);
  });

  it('saves to JSON and back; rejects what is not a tokenizer', () => {
    const back = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(back.alphabet).toBe(tok.alphabet);
    expect(Array.from(back.encode('abc 123'))).toEqual(Array.from(tok.encode('abc 123')));
    expect(() => CharTokenizer.fromJSON({ format: 'other' })).toThrow(/not a nalm character tokenizer/);
    expect(() => CharTokenizer.fromJSON({ ...tok.toJSON(), formatVersion: 9 })).toThrow(/version 9/);
    expect(() => CharTokenizer.fromJSON(null)).toThrow(LanguageModelInputError);
    expect(() => new CharTokenizer('abca0123456789')).toThrow(/twice/);
    expect(() => new CharTokenizer('abc012345678')).toThrow(/no digit '9'/);
  });
});
