/**
 * Rules-mode duplicate detection (no LLM). Two texts are duplicates when they hold the same
 * content words after normalisation (case, punctuation, word order, filler), or when one's
 * words contain the other's and their overlap is at least the threshold. Never when they
 * differ in a number, a date, a name or a negation: "moved to Lisbon in 2021" and "moved to
 * Berlin in 2021" are two facts.
 */

const FILLER_PHRASES = [
  'just so you know',
  'just to let you know',
  'for what it\'s worth',
  'for the record',
  'by the way',
  'to be honest',
  'as i mentioned',
  'as i said',
  'as mentioned',
  'fyi',
  'btw',
];
const FILLER_PATTERN = new RegExp(`\\b(?:${FILLER_PHRASES.map((p) => p.replace(/[.*+?^${}()|[\]\\']/g, (c) => (c === "'" ? "['’]" : `\\${c}`))).join('|')})\\b`, 'giu');

/** Words whose presence or absence never changes what a sentence states. */
const IGNORED = new Set(['a', 'an', 'the', 'actually', 'basically', 'honestly', 'um', 'uh', 'oh', 'okay', 'ok', 'well', 'just', 'so', 'also', 'indeed']);

const NEGATIONS = new Set(['not', 'no', 'never', 'none', 'nobody', 'nothing', 'neither', 'nor', 'nowhere', 'without', 'cannot']);
const DATE_WORDS = new Set([
  'january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
  'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday',
  'yesterday', 'today', 'tomorrow', 'tonight', 'morning', 'afternoon', 'evening', 'night',
  'spring', 'summer', 'autumn', 'fall', 'winter', 'last', 'next', 'ago', 'before', 'after', 'since', 'until',
]);
const NUMBER_WORDS = new Set([
  'zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen',
  'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty', 'thirty', 'forty', 'fifty', 'sixty',
  'seventy', 'eighty', 'ninety', 'hundred', 'thousand', 'million', 'billion', 'first', 'second', 'third', 'fourth',
  'fifth', 'half', 'dozen', 'once', 'twice', 'single', 'double', 'both', 'all', 'few', 'several', 'many', 'more', 'less',
  'most', 'least', 'only',
]);

export interface AnalysedText {
  /** Content words in order (lower case, contractions expanded, filler dropped). */
  words: string[];
  /** Lower-cased words written with a capital (names, places, and sentence starts). */
  capitalised: Set<string>;
}

function expandContractions(text: string): string {
  return text
    .replace(/\b(can)['’]t\b/giu, '$1 not')
    .replace(/\bwon['’]t\b/giu, 'will not')
    .replace(/\bshan['’]t\b/giu, 'shall not')
    .replace(/n['’]t\b/giu, ' not')
    .replace(/['’](s|re|ve|ll|d|m)\b/giu, ' $1');
}

export function analyseText(text: string): AnalysedText {
  const stripped = expandContractions(text.normalize('NFKC').replace(FILLER_PATTERN, ' '));
  const capitalised = new Set<string>();
  const words: string[] = [];
  for (const match of stripped.matchAll(/[\p{L}\p{N}]+/gu)) {
    const raw = match[0];
    const word = raw.toLowerCase();
    if (/^\p{Lu}/u.test(raw)) capitalised.add(word);
    words.push(word);
  }
  return { words, capitalised };
}

function counts(words: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const w of words) out.set(w, (out.get(w) ?? 0) + 1);
  return out;
}

function isProtected(word: string, names: Set<string>): boolean {
  if (IGNORED.has(word)) return false;
  return /\p{N}/u.test(word) || NEGATIONS.has(word) || DATE_WORDS.has(word) || NUMBER_WORDS.has(word) || names.has(word);
}

export type DuplicateVerdict =
  | { duplicate: true; rule: 'same-content' | 'containment'; similarity: number; /** 'a' or 'b': the text whose words contain the other's. */ container: 'a' | 'b' | null }
  | { duplicate: false; reason: string; similarity: number };

/** Decides whether two texts say the same thing (see the file header). */
export function compareTexts(a: AnalysedText, b: AnalysedText, threshold: number): DuplicateVerdict {
  const ca = counts(a.words);
  const cb = counts(b.words);
  // Names are words either text capitalises; a name written in lower case still counts.
  const names = new Set([...a.capitalised, ...b.capitalised]);
  for (const word of new Set([...ca.keys(), ...cb.keys()])) {
    if (isProtected(word, names) && (ca.get(word) ?? 0) !== (cb.get(word) ?? 0)) {
      return { duplicate: false, reason: `differs in "${word}"`, similarity: 0 };
    }
  }
  const content = (c: Map<string, number>) => new Map([...c].filter(([w]) => !IGNORED.has(w)));
  const xa = content(ca);
  const xb = content(cb);
  if (xa.size === 0 || xb.size === 0) return { duplicate: false, reason: 'no content words', similarity: 0 };
  let intersection = 0;
  for (const w of xa.keys()) if (xb.has(w)) intersection++;
  const union = xa.size + xb.size - intersection;
  const similarity = intersection / union;
  const sameMultiset = xa.size === xb.size && [...xa].every(([w, n]) => xb.get(w) === n);
  if (sameMultiset) return { duplicate: true, rule: 'same-content', similarity: 1, container: null };
  const aInB = intersection === xa.size;
  const bInA = intersection === xb.size;
  if ((aInB || bInA) && similarity >= threshold) return { duplicate: true, rule: 'containment', similarity, container: aInB ? 'b' : 'a' };
  return { duplicate: false, reason: aInB || bInA ? 'containment below the threshold' : 'different content', similarity };
}
