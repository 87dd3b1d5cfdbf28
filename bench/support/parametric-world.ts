// The parametric benches' synthetic world (ADR 0301): fictional people with random
// attributes written as varied sentences (the long tail), generic sentences the anchor
// learns from, a word tokenizer, and the TypeScript-pass evaluation helpers.
import { createHash } from 'node:crypto';
import type { LlamaConfig, MemoryBlock } from '@engram/inference';
import { forwardBackward, paramArrays, type Memory64, type Params64 } from '@engram/parametric';

export const CITIES = ['lisbon', 'oslo', 'kyoto', 'lima', 'dakar', 'quito', 'hanoi', 'perth', 'riga', 'tunis', 'bergen', 'malmo'];
export const EMPLOYERS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'vandelay', 'stark', 'wayne', 'cyberdyne', 'tyrell', 'soylent', 'wonka'];
export const FIELDS = ['chemistry', 'botany', 'law', 'music', 'geology', 'nursing', 'finance', 'poetry', 'robotics', 'astronomy'];
export const YEARS = Array.from({ length: 20 }, (_, i) => String(1950 + i));
export const ATTRIBUTES: Array<{ name: string; values: string[]; templates: string[] }> = [
  { name: 'city', values: CITIES, templates: ['{n} lives in {v} .', '{n} has a home in {v} .', 'the home of {n} is in {v} .'] },
  { name: 'employer', values: EMPLOYERS, templates: ['{n} works for {v} .', '{n} is employed by {v} .', 'the employer of {n} is {v} .'] },
  { name: 'field', values: FIELDS, templates: ['{n} studied {v} .', '{n} has a degree in {v} .', 'the field of {n} is {v} .'] },
  { name: 'year', values: YEARS, templates: ['{n} was born in {v} .', '{n} has a birth year of {v} .', 'the birth year of {n} is {v} .'] },
];

export interface Person {
  id: string;
  name: string;
  values: string[];
}

export function makePeople(count: number, rnd: () => number, taken: Set<string>): Person[] {
  const on = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z'];
  const vo = ['a', 'e', 'i', 'o', 'u'];
  const word = (syl: number) => Array.from({ length: syl }, () => on[Math.floor(rnd() * on.length)] + vo[Math.floor(rnd() * vo.length)]).join('');
  const out: Person[] = [];
  while (out.length < count) {
    const name = `${word(2)} ${word(3)}`;
    if (taken.has(name)) continue;
    taken.add(name);
    out.push({ id: `person-${taken.size}`, name, values: ATTRIBUTES.map((a) => a.values[Math.floor(rnd() * a.values.length)]) });
  }
  return out;
}

export const sentences = (p: Person): string[] => ATTRIBUTES.flatMap((a, i) => a.templates.map((t) => t.replace('{n}', p.name).replace('{v}', p.values[i])));
export const bio = (p: Person, rnd: () => number): string => {
  const s = sentences(p);
  for (let i = s.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [s[i], s[j]] = [s[j], s[i]];
  }
  return s.join(' ');
};
/** The question is the first phrasing cut before the value. */
export const question = (p: Person, attr: number): string => ATTRIBUTES[attr].templates[0].replace('{n}', p.name).split(' {v}')[0];

export function genericSentence(rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const det = ['the', 'a', 'every', 'one', 'that'];
  const adj = ['small', 'old', 'green', 'quiet', 'busy', 'bright', 'cold', 'happy', 'long', 'new'];
  const noun = ['cat', 'dog', 'river', 'market', 'teacher', 'train', 'garden', 'letter', 'window', 'song', 'bridge', 'farmer'];
  const verb = ['sees', 'finds', 'likes', 'follows', 'paints', 'opens', 'visits', 'carries'];
  const prep = ['near', 'under', 'behind', 'beside', 'across'];
  const forms = [
    () => `${pick(det)} ${pick(adj)} ${pick(noun)} ${pick(verb)} ${pick(det)} ${pick(noun)} .`,
    () => `${pick(det)} ${pick(noun)} is ${pick(prep)} the ${pick(adj)} ${pick(noun)} .`,
    () => `the train to ${pick(CITIES)} leaves ${pick(prep)} the ${pick(noun)} .`,
    () => `${pick(EMPLOYERS)} sells a ${pick(adj)} ${pick(noun)} .`,
    () => `${pick(FIELDS)} is taught ${pick(prep)} the ${pick(noun)} .`,
    () => `in ${pick(YEARS)} the ${pick(noun)} was ${pick(adj)} .`,
    () => `a ${pick(noun)} in ${pick(CITIES)} ${pick(verb)} the ${pick(adj)} ${pick(noun)} .`,
  ];
  return pick(forms)();
}

export class WordTokenizer {
  readonly ids = new Map<string, number>();
  readonly bos = 0;
  readonly unk = 1;
  constructor(corpus: readonly string[]) {
    this.ids.set('<bos>', 0);
    this.ids.set('<unk>', 1);
    for (const t of corpus) for (const w of t.split(/\s+/)) if (w && !this.ids.has(w)) this.ids.set(w, this.ids.size);
  }
  get size(): number {
    return this.ids.size;
  }
  encode(text: string): number[] {
    return [this.bos, ...text.split(/\s+/).filter(Boolean).map((w) => this.ids.get(w) ?? this.unk)];
  }
}


export const toMem64 = (m: MemoryBlock): Memory64 => ({ rank: m.rank, gate: Float64Array.from(m.gate), up: Float64Array.from(m.up), down: Float64Array.from(m.down) });

export function nextToken(config: LlamaConfig, p: Params64, ids: number[], mem?: Memory64): number {
  const out = forwardBackward(config, p, ids, mem, { keepLogits: true, forwardOnly: true });
  const V = config.vocabSize;
  const row = out.logits!.subarray((ids.length - 1) * V, ids.length * V);
  let best = 0;
  for (let j = 1; j < V; j++) if (row[j] > row[best]) best = j;
  return best;
}

export function perplexity(config: LlamaConfig, p: Params64, seqs: number[][], mem?: (i: number) => Memory64 | undefined): number {
  let nll = 0;
  let n = 0;
  seqs.forEach((s, i) => {
    const r = forwardBackward(config, p, s, mem?.(i), { forwardOnly: true });
    nll += r.loss * r.count;
    n += r.count;
  });
  return Math.exp(nll / n);
}

export const paramCount = (p: Params64): number => paramArrays(p).reduce((a, x) => a + x.length, 0);
export const fingerprintOf = (p: Params64): string => {
  const h = createHash('sha256');
  for (const a of paramArrays(p)) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
};
