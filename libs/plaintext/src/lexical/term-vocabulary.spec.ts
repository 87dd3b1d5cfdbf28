import { mulberry32 } from '@engram/inference';
import { TermVocabulary } from './term-vocabulary';

/** Distinct terms: ASCII words and words with letters outside ASCII (accents, Greek, CJK, an emoji's surrogate pair). */
function terms(n: number, seed: number): string[] {
  const random = mulberry32(seed);
  const alphabets = ['abcdefghijklmnopqrstuvwxyz0123456789', 'aeiouéèàçñøß', 'αβγδεζηθικλμ', '東京都市雪花', 'ab😀'];
  const out = new Set<string>();
  while (out.size < n) {
    const letters = [...alphabets[Math.floor(random() * alphabets.length)]];
    const length = 1 + Math.floor(random() * 12);
    out.add(Array.from({ length }, () => letters[Math.floor(random() * letters.length)]).join(''));
  }
  return [...out];
}

describe('TermVocabulary', () => {
  it('gives terms ids in the order they are added and finds each again, growing past its first capacity', () => {
    const words = terms(5000, 1);
    const vocabulary = new TermVocabulary();
    words.forEach((w, i) => {
      expect(vocabulary.idOf(w)).toBeUndefined();
      expect(vocabulary.add(w)).toBe(i);
    });
    expect(vocabulary.size).toBe(words.length);
    words.forEach((w, i) => {
      expect(vocabulary.idOf(w)).toBe(i);
      expect(vocabulary.nameOf(i)).toBe(w);
    });
  });

  it('does not find a term it never held, nor a prefix or extension of one', () => {
    const vocabulary = new TermVocabulary();
    for (const w of ['coffee', 'café', '東京']) vocabulary.add(w);
    for (const w of ['coffe', 'coffees', 'cafe', 'cafés', '東', '東京都', '']) expect(vocabulary.idOf(w)).toBeUndefined();
  });

  it('encodes as the terms joined by newlines in UTF-8, and decodes to the same ids', () => {
    const words = terms(3000, 2);
    const vocabulary = new TermVocabulary();
    for (const w of words) vocabulary.add(w);
    const bytes = vocabulary.encode();
    expect(bytes.toString('utf8')).toBe(words.join('\n'));
    const decoded = TermVocabulary.decode(bytes, words.length);
    words.forEach((w, i) => expect(decoded.idOf(w)).toBe(i));
    // A decoded vocabulary takes new terms after the old ones.
    expect(decoded.add('zzz-new')).toBe(words.length);
    expect(decoded.idOf('zzz-new')).toBe(words.length);
    expect(decoded.encode().toString('utf8')).toBe([...words, 'zzz-new'].join('\n'));
  });

  it('decodes an empty vocabulary, and one term that is the empty string only when bytes say so', () => {
    expect(TermVocabulary.decode(new Uint8Array(0), 0).size).toBe(0);
    expect(() => TermVocabulary.decode(new Uint8Array(0), 1)).toThrow(/term count/);
    const two = TermVocabulary.decode(Buffer.from('a\n', 'utf8'), 2);
    expect(two.idOf('a')).toBe(0);
    expect(two.idOf('')).toBe(1);
  });

  it('refuses bytes whose term count differs from the header, or that repeat a term', () => {
    const bytes = Buffer.from('alpha\nbeta\ngamma', 'utf8');
    expect(TermVocabulary.decode(bytes, 3).size).toBe(3);
    expect(() => TermVocabulary.decode(bytes, 2)).toThrow(/term count/);
    expect(() => TermVocabulary.decode(bytes, 4)).toThrow(/term count/);
    expect(() => TermVocabulary.decode(Buffer.from('alpha\nbeta\nalpha', 'utf8'), 3)).toThrow(/repeats/);
  });

  it('says how many bytes it holds, growing with its terms', () => {
    const vocabulary = new TermVocabulary();
    const before = vocabulary.byteLength;
    for (const w of terms(2000, 3)) vocabulary.add(w);
    expect(vocabulary.byteLength).toBeGreaterThan(before);
    expect(() => vocabulary.nameOf(2000)).toThrow(RangeError);
  });
});
