// A synthetic byte-level-BPE-like vocabulary of a given size, seeded: single characters
// (ASCII, and U+FFFD for the 128 bytes that decode alone to nothing printable), words with
// and without a leading space in three casings, numbers, runs of spaces and newlines,
// punctuation and code/JSON pieces, accented words and CJK characters, in the proportions a
// 32k–128k vocabulary of a chat model has. Only token texts: what a constrained decoding
// step reads (ADR 0205).
import { mulberry32 } from '@engram/inference';

const SYLLABLES = 'ba be bi bo bu ca ce co da de di do fa fe fi ga ge go ha he hi ho ka ke ki ko la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so su ta te ti to tu va ve vi wa we ya yo za th st ch sh tr pr str ing ed er es ly ion ent al ic ous'.split(' ');
const PIECES = ['":', '",', '{"', '"}', '"]', '":"', '","', '":[', '"},{"', '()', '))', ');', '==', '=>', '->', '::', '//', '/*', '*/', '<', '>', '</', '/>', '&&', '||', '...', '--', '++', '#', '@', '$', '%', '\\n', '\\"', '\\\\', "'s", "'t", "'re", '?', '!', '.', ',', ';', ':', '-', '_', '[', ']', '{', '}', '(', ')'];
const ACCENTED = 'éèêàâçôûüöäßñ';

export function syntheticVocabulary(size: number, seed = 1): string[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const seen = new Set<string>();
  const texts: string[] = [];
  const add = (t: string) => {
    if (texts.length >= size || seen.has(t)) return;
    seen.add(t);
    texts.push(t);
  };
  for (let c = 32; c < 127; c++) add(String.fromCharCode(c));
  for (let i = 0; i < 128 && texts.length < size; i++) texts.push('\ufffd'); // lone high bytes
  for (const p of PIECES) add(p);
  for (let n = 0; n < 1000; n++) add(String(n));
  for (let n = 2; n <= 16; n++) add(' '.repeat(n));
  for (const t of ['\n', '\n\n', '\t', '\r\n', '\n  ', '\n    ']) add(t);
  const word = () => {
    const parts = 1 + Math.floor(rand() * rand() * 4);
    let w = '';
    for (let i = 0; i < parts; i++) w += pick(SYLLABLES);
    return w;
  };
  while (texts.length < size) {
    const r = rand();
    if (r < 0.04) add(String.fromCodePoint(0x4e00 + Math.floor(rand() * 8000)));
    else if (r < 0.07) add((rand() < 0.5 ? ' ' : '') + word().slice(0, 3) + pick([...ACCENTED]) + word().slice(0, 2));
    else if (r < 0.09) add(pick(PIECES) + pick(PIECES));
    else {
      const w = word();
      const cased = rand() < 0.15 ? w[0].toUpperCase() + w.slice(1) : rand() < 0.03 ? w.toUpperCase() : w;
      add((rand() < 0.55 ? ' ' : '') + cased);
    }
  }
  return texts;
}
