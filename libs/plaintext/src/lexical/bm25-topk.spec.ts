import { mulberry32 } from '@engram/inference';
import { TopK } from '../ranking/top-k';
import { Bm25QueryPlan } from './bm25-topk';
import { Bm25Index, ScoreOptions } from './bm25.index';

/** A seeded PRNG, so that a failing corpus can be replayed. */
const rng = mulberry32;

interface Corpus {
  readonly index: Bm25Index;
  /** Slots ever added (live or removed). */
  readonly slots: number[];
  readonly word: () => string;
}

/**
 * Zipf words over a small vocabulary (so that some terms are in more than 5% of the
 * documents and count as common), documents of 1–30 words with repeats, some documents
 * copied (equal scores, so ties are decided by slot), slots with gaps, and some removed
 * (dead postings, compacted lists).
 */
function corpus(seed: number, documents: number, vocabulary: number): Corpus {
  const random = rng(seed);
  const word = (): string => `w${Math.floor(Math.exp(random() * Math.log(vocabulary + 1)) - 1)}`;
  const index = new Bm25Index();
  const slots: number[] = [];
  let slot = 0;
  let previous: string[] = [];
  for (let d = 0; d < documents; d++) {
    slot += random() < 0.1 ? 2 + Math.floor(random() * 3) : 1;
    const terms = random() < 0.05 && previous.length > 0 ? previous : Array.from({ length: 1 + Math.floor(random() * 30) }, word);
    index.add(slot, terms);
    slots.push(slot);
    previous = terms;
  }
  for (const s of slots) if (random() < 0.12) index.remove(s);
  return { index, slots, word };
}

/** What the lexical signal computed before the plan: every match scored, the best k kept. */
function exhaustive(index: Bm25Index, terms: string[], options: ScoreOptions, k: number, docWeight: (slot: number) => number) {
  const hits = index.score(terms, options);
  const scoreBySlot = new Map<number, number>();
  const best = new TopK(k);
  for (let i = 0; i < hits.count; i++) {
    const slot = hits.slots[i];
    scoreBySlot.set(slot, hits.scores[i]);
    if (options.admits && !options.admits(slot)) continue;
    best.push(slot, hits.scores[i] * docWeight(slot));
  }
  const slots = best.sorted();
  return { slots, scores: slots.map((s) => scoreBySlot.get(s)! * docWeight(s)), scoreBySlot };
}

describe('Bm25QueryPlan', () => {
  it('finds exactly the exhaustive scorer\'s top k, and scores any slot as it does, on random corpora', () => {
    let compared = 0;
    let withCommonTerms = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const { index, slots, word } = corpus(seed, 1200 + seed * 150, 200 + seed * 40);
      const random = rng(seed * 7919);
      for (let q = 0; q < 40; q++) {
        const terms = Array.from({ length: 1 + Math.floor(random() * 8) }, () => (random() < 0.05 ? 'unknown' : word()));
        const weights = random() < 0.3 ? terms.map(() => 0.05 + random()) : undefined;
        const filter = random();
        const admits = filter < 0.25 ? (s: number) => s % 3 !== 0 : filter < 0.35 ? (s: number) => s % 41 === 0 : undefined;
        const minMatches = [0, 5, 100, 1000][Math.floor(random() * 4)];
        const k = [1, 10, 100][Math.floor(random() * 3)];
        const docWeight = random() < 0.5 ? () => 1 : (s: number) => (s % 2 === 0 ? 0.5 : 1);
        const options: ScoreOptions = { minMatches, admits, weights };
        const expected = exhaustive(index, terms, options, k, docWeight);
        const plan = Bm25QueryPlan.create(index, terms, options)!;
        expect(plan).not.toBeNull();
        expect(plan.topK(k, docWeight)).toEqual(expected.slots);
        // Any slot's score, as complete() asks for the other signals' candidates.
        for (const s of slots.filter((_, i) => i % 7 === q % 7)) expect(plan.scoreOf(s)).toBe(expected.scoreBySlot.get(s) ?? 0);
        compared++;
        if (terms.some((t) => index.df(t) > index.commonLimit)) withCommonTerms++;
      }
    }
    expect(compared).toBe(480);
    // The corpora exercise score()'s common-term rule.
    expect(withCommonTerms).toBeGreaterThan(100);
  });

  it('lets a common word add to the rarer word\'s documents without opening its own', () => {
    // 5,000 documents hold a common word; 20 also hold a rare one, enough for a pool of 10:
    // the common word only adds to those 20.
    const index = new Bm25Index();
    for (let slot = 0; slot < 5000; slot++) index.add(slot, slot % 250 === 0 ? ['rare', 'common', 'filler'] : ['common', 'filler', `x${slot}`]);
    const plan = Bm25QueryPlan.create(index, ['rare', 'common'], { minMatches: 10 })!;
    expect(plan.topK(10, () => 1)).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2250]);
    expect(plan.scoreOf(0)).toBeGreaterThan(Bm25QueryPlan.create(index, ['rare'], { minMatches: 10 })!.scoreOf(0));
    expect(plan.scoreOf(1)).toBe(0); // matched by the common word only, which opens nothing here
  });

  it('declines weights that are not positive', () => {
    const index = new Bm25Index();
    index.add(0, ['a', 'b']);
    expect(Bm25QueryPlan.create(index, ['a', 'b'], { weights: [1, 0] })).toBeNull();
    expect(Bm25QueryPlan.create(index, ['a', 'b'], { weights: [1, 0.5] })).not.toBeNull();
  });
});

describe('Bm25Index slot order', () => {
  it('refuses a slot below one already added (postings stay sorted)', () => {
    const index = new Bm25Index();
    index.add(3, ['a']);
    expect(() => index.add(1, ['a'])).toThrow(/ascending/);
    const restored = Bm25Index.decode(index.encode());
    expect(() => restored.add(2, ['a'])).toThrow(/ascending/);
    restored.add(4, ['a']);
    expect(restored.size).toBe(2);
  });
});
