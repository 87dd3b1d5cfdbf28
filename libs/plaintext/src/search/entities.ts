// Entities of a memory's text, as keys for linking memories that speak of the same thing
// across sessions (deep search's bridge signal, ADR 0116): capitalised spans ("Pete
// Sampras", "Bank of America", and each of their words: "sampras"), numbers of three or
// more digits (years, amounts), and quoted titles ("Pistol Pete"). Keys are lower-cased and
// possessives folded ("Sampras's" → "sampras"). Rule-based and cheap (no tagger): a
// sentence's first word counts only when it is not a stop word or a common opener, and words
// that link everything (a speaker's name in every turn) are left to the index's df limit.
import { isStopWord } from '../text/analyzer';

/** A run of capitalised words, joined by spaces or by a joiner ("Bank of America"). */
const SPAN = /\p{Lu}[\p{L}\p{N}'’&.-]*(?:[ \t]+(?:(?:of|the|de|la|van|von|du|del|da|&)[ \t]+)?\p{Lu}[\p{L}\p{N}'’&.-]*)*/gu;
const NUMBERS = /(?<![\p{L}\p{N}])\d{3,}(?![\p{L}\p{N}])/gu;
const JOINERS: ReadonlySet<string> = new Set(['of', 'the', 'de', 'la', 'van', 'von', 'du', 'del', 'da', '&']);
const QUOTED = /["“]([^"”\n]{2,80})["”]/g;
/** Sentence openers that are capitalised only because they open the sentence. */
const OPENERS: ReadonlySet<string> = new Set(
  (
    'yes yeah yep no nope oh ok okay hey hi hello wow thanks thank sure well so also just maybe really great good nice ' +
    'cool awesome totally definitely absolutely actually honestly anyway btw lol haha sounds glad sorry please right ' +
    'yesterday today tomorrow last next recently lately sometimes usually always never'
  ).split(' '),
);
const MAX_ENTITIES = 32;
const TRAILING = /[.'’-]+$/;

/** Entity keys of a text, each once. */
export function extractEntities(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(SPAN)) {
    if (out.size >= MAX_ENTITIES) break;
    const run = m[0];
    if (run.length === 1) continue; // "I", "A"
    if (run.indexOf(' ') < 0 && run.indexOf('\t') < 0) {
      // One word, the common case (a name, or any sentence's first word).
      const word = fold(run.replace(TRAILING, ''));
      if (word.length >= 2 && !isStopWord(word) && !(OPENERS.has(word) && opensSentence(text, m.index!))) out.add(word);
      continue;
    }
    let opens = opensSentence(text, m.index!);
    for (const group of groups(run)) {
      const parts = group.words.map(fold);
      if (parts.length > 1) {
        out.add(parts.join(' '));
        for (const part of parts) if (part.length >= 3 && !isStopWord(part) && !JOINERS.has(part)) out.add(part);
      } else if (parts[0].length >= 2 && !isStopWord(parts[0]) && !(opens && group.first && OPENERS.has(parts[0]))) {
        out.add(parts[0]);
      }
      opens = group.endsSentence;
    }
  }
  for (const m of text.matchAll(NUMBERS)) out.add(m[0]);
  for (const m of text.matchAll(QUOTED)) {
    const quoted = m[1].trim();
    if (quoted.split(/\s+/).length <= 8) out.add(fold(quoted));
  }
  return [...out].slice(0, MAX_ENTITIES);
}

/**
 * A matched run split where it is not one name: after a word that ends a sentence ("Rome.",
 * not "J." or "U.S."), and at "I" or a lone capital letter.
 */
function groups(run: string): { words: string[]; first: boolean; endsSentence: boolean }[] {
  const out: { words: string[]; first: boolean; endsSentence: boolean }[] = [];
  let words: string[] = [];
  let first = true;
  const close = (endsSentence: boolean): void => {
    while (words.length > 0 && JOINERS.has(words[words.length - 1].toLowerCase())) words.pop();
    if (words.length > 0) out.push({ words, first, endsSentence });
    words = [];
    first = endsSentence;
  };
  for (const raw of run.split(/[ \t]+/)) {
    if (raw.length === 1) {
      close(false);
      continue;
    }
    const endsSentence = /[^.\s]{2,}\.$/.test(raw) && !/\..*\./.test(raw);
    words.push(raw.replace(TRAILING, ''));
    if (endsSentence) close(true);
  }
  close(false);
  return out;
}

function fold(word: string): string {
  const lower = word.toLowerCase();
  return lower.indexOf("'") < 0 && lower.indexOf('’') < 0 ? lower : lower.replace(/['’]s$/, '').replace(/['’]/g, '');
}

function opensSentence(text: string, at: number): boolean {
  const before = text.slice(Math.max(0, at - 4), at);
  return at === 0 || /(^|[.!?:;\n"“(]\s*)$/.test(before) || /^\s*$/.test(text.slice(0, at));
}
