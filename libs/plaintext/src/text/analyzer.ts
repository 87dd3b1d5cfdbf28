// Text analysis shared by the lexical index and the hash embedder, so both see the same
// terms: lower-casing, a split on anything that is not a letter or a digit, English stop
// words dropped, and a light suffix stemmer (plural, -ing, -ed, -ly and a few derivations).
import { STOP_WORDS } from './stop-words';

const TOKEN = /[\p{L}\p{N}]+/gu;

export interface AnalyzeOptions {
  /** Keep stop words (the embedder wants them for bigrams such as "new york"). */
  readonly keepStopWords?: boolean;
}

/** Raw lower-cased tokens, apostrophes folded away ("don't" → "dont"). */
export function rawTokens(text: string): string[] {
  const folded = text.toLowerCase().replace(/['’‘`]/g, '');
  return folded.match(TOKEN) ?? [];
}

/** Terms for indexing and querying: stop words removed, stemmed. */
export function analyze(text: string, options: AnalyzeOptions = {}): string[] {
  const out: string[] = [];
  for (const token of rawTokens(text)) {
    if (!options.keepStopWords && STOP_WORDS.has(token)) continue;
    out.push(stem(token));
  }
  return out;
}

/**
 * Words that say what kind of help a query asks for, not what it is about ("can you
 * suggest some tips"). They are dropped from queries only: in memories they may be the
 * content. A chat memory is full of them, so they match everything a little.
 */
const REQUEST_WORDS: ReadonlySet<string> = new Set(
  (
    'suggest suggestion suggestions recommend recommendation recommendations tip tips advice idea ideas ' +
    'help helpful useful wondering want wanted need looking trying any some good great remind ' +
    'lately recently thinking thought sort kind type'
  ).split(' '),
);

/** Terms of a query: like analyze(), without the words that only frame the request. */
export function analyzeQuery(text: string): string[] {
  const out: string[] = [];
  for (const token of rawTokens(text)) {
    if (STOP_WORDS.has(token) || REQUEST_WORDS.has(token)) continue;
    out.push(stem(token));
  }
  return out.length > 0 ? out : analyze(text);
}

export function isStopWord(token: string): boolean {
  return STOP_WORDS.has(token);
}

const VOWEL = /[aeiouy]/;

/**
 * A light English stemmer: strong enough to join "recipes/recipe", "baking/bake",
 * "played/play", "quickly/quick", cheap enough for ingest at thousands of texts a second.
 * Queries go through the same function, so an over-stemmed word still meets itself; the
 * harm is two different words meeting on one stem, which PROTECTED prevents for the
 * common cases.
 */
export function stem(word: string): string {
  return PROTECTED.get(word) ?? suffixStem(word);
}

/**
 * The suffix rules alone, without the protected forms: the hash embedder (v2) hashes these
 * stems, and its vectors, stored per memory, must not change under a fingerprint.
 */
export function suffixStem(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  let w = word;
  if (w.endsWith('ies') && w.length > 4) w = w.slice(0, -3) + 'y';
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us') && !w.endsWith('is')) w = w.slice(0, -1);

  if (w.endsWith('ing') && w.length >= 5 && VOWEL.test(w.slice(0, -3))) w = undouble(w.slice(0, -3));
  else if (w.endsWith('edly') && w.length > 6) w = undouble(w.slice(0, -4));
  else if (w.endsWith('ed') && w.length > 4 && VOWEL.test(w.slice(0, -2))) w = undouble(w.slice(0, -2));
  else if (w.endsWith('ly') && w.length > 5) w = w.slice(0, -2);

  for (const [suffix, replacement] of DERIVATIONS) {
    if (w.endsWith(suffix) && w.length - suffix.length >= 3) {
      w = w.slice(0, -suffix.length) + replacement;
      break;
    }
  }
  // "bake"/"bak" (from "baking") and "make"/"mak" meet on the stem without a final e.
  if (w.endsWith('e') && w.length > 3) w = w.slice(0, -1);
  return w;
}

/**
 * Forms the suffix rules would turn into a different, common word ("evening" → "even",
 * "news" → "new", "goods" → "good", "being" → "be"), mapped to their own stem instead.
 */
const PROTECTED: ReadonlyMap<string, string> = new Map([
  ['evening', 'evening'],
  ['evenings', 'evening'],
  ['news', 'news'],
  ['goods', 'goods'],
  ['being', 'being'],
  ['beings', 'being'],
  ['during', 'during'],
]);

function undouble(w: string): string {
  const n = w.length;
  if (n >= 2 && w[n - 1] === w[n - 2] && !'lsz'.includes(w[n - 1])) return w.slice(0, -1);
  return w;
}

const DERIVATIONS: ReadonlyArray<readonly [string, string]> = [
  ['ational', 'ate'],
  ['ization', 'ize'],
  ['fulness', 'ful'],
  ['ousness', 'ous'],
  ['iveness', 'ive'],
  ['tional', 'tion'],
  ['ements', 'e'],
  ['ement', 'e'],
  ['ments', ''],
  ['ment', ''],
  ['ness', ''],
  ['ation', 'ate'],
  ['ities', ''],
  ['ity', ''],
  ['izer', 'ize'],
  ['ator', 'ate'],
];
