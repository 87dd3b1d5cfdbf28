// How well a model reads a fact from its prompt (ADR 0404): the prompt is n shuffled facts of
// `who` (templates[0]) and then the first words of one of them; a hit is the greedy first
// answer token being that fact's value. A model that only copies a value of the asked
// attribute from its context scores about 1 / (facts of that attribute in the context); one
// that finds the named person's fact scores near 1. Shared by bench:memory-os and
// bench:anchor-reading, so that their `reading_{n}_facts` are the same measurement.
import { generate, type LanguageModel } from '@engram/inference';
import { ATTRIBUTES, type Person, type WordTokenizer } from './parametric-world';

export interface ReadingOptions {
  /** Questions asked (one context each). */
  questions: number;
  /** Draws the shuffles, the question and (values 'fresh') the values; shared across calls, in order. */
  rnd: () => number;
  /** 'own': each person's first value of each attribute; 'fresh': a value drawn per context. */
  values?: 'own' | 'fresh';
}

/** Exact match of the first answer token over `questions` contexts of `n` facts, rounded to 3 places. */
export async function readingAccuracy(lm: LanguageModel, tok: WordTokenizer, who: readonly Person[], n: number, o: ReadingOptions): Promise<number> {
  const words = (text: string): number[] => tok.encode(text).slice(1);
  let hit = 0;
  for (let i = 0; i < o.questions; i++) {
    const pool = who.flatMap((p) => ATTRIBUTES.map((a, attr) => ({ p, attr, value: o.values === 'fresh' ? a.values[Math.floor(o.rnd() * a.values.length)] : p.values[attr] })));
    for (let j = pool.length - 1; j > 0; j--) {
      const k = Math.floor(o.rnd() * (j + 1));
      [pool[j], pool[k]] = [pool[k], pool[j]];
    }
    const context = pool.slice(0, n);
    const q = context[Math.floor(o.rnd() * context.length)];
    const template = (attr: number, name: string) => ATTRIBUTES[attr].templates[0].replace('{n}', name);
    const prompt = [tok.bos, ...context.flatMap((f) => words(template(f.attr, f.p.name).replace('{v}', f.value))), ...words(template(q.attr, q.p.name).split(' {v}')[0])];
    const out = await generate(lm, prompt, { temperature: 0, maxTokens: 1, ignoreEos: true });
    hit += out.tokenIds[0] === tok.ids.get(q.value) ? 1 : 0;
  }
  return Math.round((hit / o.questions) * 1000) / 1000;
}
