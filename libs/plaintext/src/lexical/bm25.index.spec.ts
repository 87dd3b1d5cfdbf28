import { mulberry32 } from '@engram/inference';
import { analyze } from '../text/analyzer';
import { Bm25Index } from './bm25.index';

function scores(index: Bm25Index, query: string): Map<number, number> {
  const hits = index.score(analyze(query));
  const out = new Map<number, number>();
  for (let i = 0; i < hits.count; i++) out.set(hits.slots[i], hits.scores[i]);
  return out;
}

describe('Bm25Index', () => {
  it('scores only documents that share a term with the query', () => {
    const index = new Bm25Index();
    index.add(0, analyze('my sister plays the violin'));
    index.add(1, analyze('the weather is cold'));
    const s = scores(index, 'violin lessons');
    expect([...s.keys()]).toEqual([0]);
    expect(s.get(0)).toBeGreaterThan(0);
  });

  it('weights a rare term above a common one', () => {
    const index = new Bm25Index();
    index.add(0, analyze('coffee in the morning'));
    index.add(1, analyze('coffee with milk'));
    index.add(2, analyze('coffee and a croissant'));
    index.add(3, analyze('croissant'));
    expect(index.idf('croissant')).toBeGreaterThan(index.idf('coffee'));
  });

  it('saturates term frequency and normalises by length', () => {
    const index = new Bm25Index({ k1: 1.2, b: 0.75 });
    index.add(0, analyze('garden'));
    index.add(1, analyze('garden garden garden garden garden garden garden garden'));
    index.add(2, analyze('garden ' + 'filler words about other topics entirely '.repeat(5)));
    index.add(3, analyze('unrelated text'));
    const s = scores(index, 'garden');
    expect(s.get(1)!).toBeGreaterThan(s.get(0)!);
    expect(s.get(1)! / s.get(0)!).toBeLessThan(2.2); // k1 + 1 bounds the tf gain
    expect(s.get(0)!).toBeGreaterThan(s.get(2)!);
  });

  it('forgets a removed document at once and keeps statistics right', () => {
    const index = new Bm25Index();
    index.add(0, analyze('passport renewal appointment'));
    index.add(1, analyze('passport photo'));
    expect(index.remove(0)).toBe(true);
    expect(index.size).toBe(1);
    const s = scores(index, 'passport renewal');
    expect([...s.keys()]).toEqual([1]);
    expect(index.remove(0)).toBe(false);
  });

  it('refuses to reuse a slot', () => {
    const index = new Bm25Index();
    index.add(0, ['a']);
    index.remove(0);
    expect(() => index.add(0, ['b'])).toThrow(/already used/);
  });

  it('stays correct after many removals compact the postings', () => {
    const index = new Bm25Index();
    for (let i = 0; i < 100; i++) index.add(i, analyze(`note number ${i} about tennis`));
    for (let i = 0; i < 90; i++) index.remove(i);
    const s = scores(index, 'tennis');
    expect([...s.keys()].sort((a, b) => a - b)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
  });

  it('keeps the terms of each document through removals, in a built and in a decoded index alike', () => {
    const random = mulberry32(4);
    const words = Array.from({ length: 400 }, (_, i) => `w${i}`);
    const docs = new Map<number, string[]>();
    const built = new Bm25Index();
    for (let slot = 0; slot < 3000; slot++) {
      const terms = Array.from({ length: 1 + Math.floor(random() * 30) }, () => words[Math.floor(words.length * random() ** 2)]);
      built.add(slot, terms);
      docs.set(slot, terms);
    }
    const removeSome = (index: Bm25Index, from: number) => {
      for (let slot = from; slot < 3000; slot += 3) index.remove(slot);
    };
    removeSome(built, 0);
    const decoded = Bm25Index.decode(built.encode());
    for (let slot = 0; slot < 3000; slot += 3) docs.delete(slot);
    // Removals after the decode undo documents from lists the decoded index derives from its postings.
    for (const index of [built, decoded]) removeSome(index, 1);
    for (let slot = 1; slot < 3000; slot += 3) docs.delete(slot);
    for (const index of [built, decoded]) {
      for (let slot = 0; slot < 3000; slot++) {
        const want = docs.get(slot);
        const got = index.termsOf(slot);
        expect(got.map((t) => t.term).sort()).toEqual(want ? [...new Set(want)].sort() : []);
        for (const { term, df } of got) expect(df).toBe([...docs.values()].filter((d) => d.includes(term)).length);
      }
    }
    const query = words.slice(0, 40).filter((_, i) => i % 3 === 0);
    const a = built.score(query);
    const b = decoded.score(query);
    const asMap = (h: typeof a) => new Map(Array.from({ length: h.count }, (_, i) => [h.slots[i], h.scores[i]]));
    expect(asMap(b)).toEqual(asMap(a));
  });

  it('a decoded index encodes, takes writes and removals, and scores as the index it came from', () => {
    const random = mulberry32(9);
    const words = Array.from({ length: 300 }, (_, i) => `t${i}`);
    const doc = () => Array.from({ length: 1 + Math.floor(random() * 20) }, () => words[Math.floor(words.length * random() ** 2)]);
    const built = new Bm25Index();
    for (let slot = 0; slot < 1500; slot++) built.add(slot, doc());
    const decoded = Bm25Index.decode(built.encode());
    const asMap = (h: ReturnType<Bm25Index['score']>) => new Map(Array.from({ length: h.count }, (_, i) => [h.slots[i], h.scores[i]]));
    // After a search (some terms read, the rest untouched) the bytes are the same.
    const query = ['t1', 't7', 't42', 't299', 'absent'];
    expect(asMap(decoded.score(query))).toEqual(asMap(built.score(query)));
    expect(decoded.df('t3')).toBe(built.df('t3'));
    expect(decoded.encode().equals(built.encode())).toBe(true);
    // Writes to used and unused terms, new terms, removals: both answer and encode alike.
    for (let slot = 1500; slot < 1700; slot++) {
      const terms = [...doc(), `new${slot % 17}`];
      built.add(slot, terms);
      decoded.add(slot, terms);
    }
    for (let slot = 0; slot < 1700; slot += 4) {
      built.remove(slot);
      decoded.remove(slot);
    }
    for (const q of [query, ['t0', 'new3', 't150'], words.slice(100, 140)]) expect(asMap(decoded.score(q))).toEqual(asMap(built.score(q)));
    expect(decoded.termsOf(1701 - 2)).toEqual(built.termsOf(1701 - 2));
    expect(decoded.encode().equals(built.encode())).toBe(true);
  });

  it('scores the same when sized up front for its documents (postings room extrapolated from the first ones)', () => {
    const random = mulberry32(5);
    const words = Array.from({ length: 3000 }, (_, i) => `w${i}`);
    const grown = new Bm25Index();
    const sized = new Bm25Index();
    sized.reserve(6000);
    for (let slot = 0; slot < 6000; slot++) {
      const terms = Array.from({ length: 1 + Math.floor(random() * 25) }, () => words[Math.floor(words.length * random() ** 3)]);
      grown.add(slot, terms);
      sized.add(slot, terms);
      if (slot % 7 === 3) {
        grown.remove(slot - 3);
        sized.remove(slot - 3);
      }
    }
    const query = words.filter((_, i) => i % 97 === 0);
    const asMap = (h: ReturnType<Bm25Index['score']>) => new Map(Array.from({ length: h.count }, (_, i) => [h.slots[i], h.scores[i]]));
    expect(asMap(sized.score(query))).toEqual(asMap(grown.score(query)));
    for (const word of words) expect(sized.df(word)).toBe(grown.df(word));
    for (let slot = 0; slot < 6000; slot += 11) expect(sized.termsOf(slot)).toEqual(grown.termsOf(slot));
  });

  describe('common terms', () => {
    // 2,000 documents: "common" in every other one (50% > the 5% cutoff), "rare" in 150,
    // "scarce" in 20.
    function corpus(): Bm25Index {
      const index = new Bm25Index();
      for (let i = 0; i < 2000; i++) {
        const words = ['filler', `w${i}`];
        if (i % 2 === 0) words.push('common');
        if (i % 13 === 0 && i < 1950) words.push('rare');
        if (i % 100 === 0) words.push('scarce');
        index.add(i, words);
      }
      return index;
    }
    const toMap = (hits: ReturnType<Bm25Index['score']>) => new Map(Array.from({ length: hits.count }, (_, i) => [hits.slots[i], hits.scores[i]]));

    it('adds a common term only to documents the rarer terms matched, with the plain BM25 score', () => {
      const index = corpus();
      const plain = toMap(index.score(['rare', 'common']));
      const limited = toMap(index.score(['rare', 'common'], { minMatches: 100 }));
      expect(plain.size).toBe(150 + 1000 - 75);
      expect(limited.size).toBe(150);
      for (const [slot, score] of limited) expect(score).toBeCloseTo(plain.get(slot)!, 5);
      // Documents with both terms still rank above those with the rare term alone.
      expect(limited.get(26)!).toBeGreaterThan(limited.get(13)!);
    });

    it('lets a common term open documents while the rarer terms matched fewer than asked', () => {
      const index = corpus();
      const plain = toMap(index.score(['scarce', 'common']));
      const limited = toMap(index.score(['scarce', 'common'], { minMatches: 100 }));
      expect(limited.size).toBe(plain.size);
      for (const [slot, score] of limited) expect(score).toBe(plain.get(slot));
    });

    it('counts only the documents the caller admits towards the pool', () => {
      const index = corpus();
      const plain = toMap(index.score(['rare', 'common']));
      // 77 of the 150 "rare" documents are below 1,000: fewer than asked, common opens too.
      const few = toMap(index.score(['rare', 'common'], { minMatches: 100, admits: (slot) => slot < 1000 }));
      expect(few.size).toBe(plain.size);
      const enough = toMap(index.score(['rare', 'common'], { minMatches: 50, admits: (slot) => slot < 1000 }));
      expect(enough.size).toBe(150);
    });

    it('lets the rarest term of an all-common query open documents', () => {
      const index = corpus();
      const plain = toMap(index.score(['common', 'filler']));
      const limited = toMap(index.score(['common', 'filler'], { minMatches: 100 }));
      expect(plain.size).toBe(2000);
      expect(limited.size).toBe(1000);
      for (const [slot, score] of limited) expect(score).toBeCloseTo(plain.get(slot)!, 5);
    });

    it('does not limit small indexes', () => {
      const index = new Bm25Index();
      for (let i = 0; i < 200; i++) index.add(i, i % 2 === 0 ? ['common', `w${i}`] : ['rare', 'common']);
      expect(index.score(['rare', 'common'], { minMatches: 10 }).count).toBe(200);
    });
  });

  describe('groups', () => {
    const sessions = [
      ['my violin teacher moved', 'violin lessons on monday', 'the weather is cold'],
      ['we talked about violin strings for an hour and then about violin cases'],
      ['a recipe for bread', 'bread needs flour'],
      ['monday meeting notes'],
    ];

    it('scores a group exactly like one document made of its members', () => {
      const turns = new Bm25Index();
      const groupOf = new Int32Array(16).fill(-1);
      const length = new Float64Array(sessions.length);
      let slot = 0;
      let total = 0;
      sessions.forEach((turnsOfSession, g) => {
        for (const text of turnsOfSession) {
          const terms = analyze(text);
          turns.add(slot, terms);
          groupOf[slot++] = g;
          length[g] += terms.length;
          total += terms.length;
        }
      });
      const whole = new Bm25Index();
      sessions.forEach((turnsOfSession, g) => whole.add(g, analyze(turnsOfSession.join(' '))));
      for (const query of ['violin lessons', 'monday', 'bread flour violin', 'nothing matches']) {
        const hits = turns.scoreGroups(analyze(query), { groupOf, length, live: sessions.length, totalLength: total });
        const got = new Map(Array.from({ length: hits.count }, (_, i) => [hits.groups[i], hits.scores[i]]));
        const expected = scores(whole, query);
        expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [g, score] of expected) expect(got.get(g)!).toBeCloseTo(score, 5);
      }
    });

    it('saturates a term repeated over many members', () => {
      const index = new Bm25Index();
      const groupOf = Int32Array.from([0, 0, 0, 0, 1]);
      const texts = ['violin', 'violin', 'violin', 'violin', 'violin'];
      texts.forEach((t, i) => index.add(i, analyze(t)));
      const hits = index.scoreGroups(['violin'], { groupOf, length: Float64Array.from([4, 1]), live: 2, totalLength: 5 });
      const byGroup = new Map(Array.from({ length: hits.count }, (_, i) => [hits.groups[i], hits.scores[i]]));
      expect(byGroup.get(0)! / byGroup.get(1)!).toBeLessThan(2.2); // k1 + 1 bounds the gain of 4 mentions
    });
  });
});
