import { CubeIndex, IndexDocument } from './cube-index';
import { HashEmbedder } from './embedding/hash.embedder';

const embedder = new HashEmbedder({ dimension: 64 });
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

function doc(label: number, text: string, attrs: Partial<IndexDocument> = {}): IndexDocument {
  return { label, text, vector: embedder.embedOne(text), ...attrs };
}

function search(index: CubeIndex, query: string, options: Parameters<CubeIndex['search']>[2] = {}) {
  return index.search(query, embedder.embedOne(query), options).map((h) => h.label);
}

describe('CubeIndex', () => {
  it('finds a document by its words and by its vector', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert(doc(1, 'My dog Rex loves the beach'));
    index.upsert(doc(2, 'The quarterly budget review is on Monday'));
    expect(search(index, 'dog beach', { topK: 1 })).toEqual([1]);
    expect(search(index, 'dog beach', { topK: 1, ranking: { mode: 'dense' } })).toEqual([1]);
    expect(search(index, 'budget review', { topK: 1, ranking: { mode: 'lexical' } })).toEqual([2]);
  });

  it('makes a removed document unfindable at once', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert(doc(1, 'allergic to peanuts'));
    index.upsert(doc(2, 'likes hiking'));
    expect(index.remove(1)).toBe(true);
    expect(search(index, 'peanuts allergy', { topK: 10 })).not.toContain(1);
    expect(search(index, 'peanuts allergy', { topK: 10, ranking: { mode: 'dense' } })).not.toContain(1);
    expect(index.has(1)).toBe(false);
    expect(index.remove(1)).toBe(false);
  });

  it('replaces text and attributes on upsert of an existing label', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert(doc(1, 'lives in Berlin', { kind: 'fact' }));
    index.upsert(doc(1, 'lives in Lisbon', { kind: 'fact' }));
    expect(index.size).toBe(1);
    expect(search(index, 'Berlin', { ranking: { mode: 'lexical' } })).toEqual([]);
    expect(search(index, 'Lisbon')).toEqual([1]);
  });

  it('keeps the stored vector when an upsert brings none', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert(doc(1, 'sailing lessons in Kiel'));
    index.upsert({ label: 1, text: 'sailing lessons in Kiel', tags: ['hobby'] });
    expect(search(index, 'sailing lessons', { ranking: { mode: 'dense' }, filter: { tagsAny: ['hobby'] } })).toEqual([1]);
  });

  it('rejects a query vector of the wrong dimension', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert(doc(1, 'x'));
    expect(() => index.search('x', new Float32Array(32))).toThrow(RangeError);
  });

  describe('filters', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsertMany([
      doc(1, 'trip to Japan in spring', { kind: 'episode', tags: ['travel', 'japan'], sessionId: 's1', observedAt: T0, metadata: { source: 'chat', lang: 'en' } }),
      doc(2, 'prefers window seats on trips', { kind: 'preference', tags: ['travel'], sessionId: 's1', observedAt: T0 + 10 * DAY, metadata: { source: 'import' } }),
      doc(3, 'trip budget is 3000 euros', { kind: 'fact', tags: ['money', 'travel'], sessionId: 's2', observedAt: T0 + 20 * DAY, validFrom: T0 + 20 * DAY, validTo: T0 + 40 * DAY, metadata: { source: 'chat', lang: 'de' } }),
      doc(4, 'trip budget is 4000 euros', { kind: 'fact', tags: ['money', 'travel'], sessionId: 's3', observedAt: T0 + 40 * DAY, validFrom: T0 + 40 * DAY }),
      doc(5, 'old trip notes', { kind: 'fact', tags: ['travel'], state: 'archived', observedAt: T0 }),
    ]);
    const labels = (filter: object, topK = 10) => search(index, 'trip', { topK, filter }).sort((a, b) => a - b);

    it('hides non-active states unless asked', () => {
      expect(labels({})).toEqual([1, 2, 3, 4]);
      expect(labels({ states: ['archived'] })).toEqual([5]);
      expect(labels({ states: [] })).toEqual([1, 2, 3, 4, 5]);
    });

    it('filters by kind', () => expect(labels({ kinds: ['fact'] })).toEqual([3, 4]));
    it('filters by any tag', () => expect(labels({ tagsAny: ['japan', 'money'] })).toEqual([1, 3, 4]));
    it('filters by all tags', () => expect(labels({ tagsAll: ['travel', 'japan'] })).toEqual([1]));
    it('filters by metadata equality', () => expect(labels({ metadata: { source: 'chat' } })).toEqual([1, 3]));
    it('filters by metadata membership', () => expect(labels({ metadata: { lang: { in: ['de', 'fr'] } } })).toEqual([3]));
    it('filters by session', () => expect(labels({ sessionIds: ['s1', 's3'] })).toEqual([1, 2, 4]));
    it('filters by validity at a time', () => {
      expect(labels({ kinds: ['fact'], validAt: T0 + 30 * DAY })).toEqual([3]);
      expect(labels({ kinds: ['fact'], validAt: new Date(T0 + 50 * DAY) })).toEqual([4]);
    });
    it('filters by observation time', () => {
      expect(labels({ observedAfter: T0 + 10 * DAY })).toEqual([2, 3, 4]);
      expect(labels({ observedBefore: new Date(T0 + 10 * DAY).toISOString() })).toEqual([1]);
      expect(labels({ observedAfter: T0 + 5 * DAY, observedBefore: T0 + 30 * DAY })).toEqual([2, 3]);
    });
    it('combines fields with AND', () => expect(labels({ kinds: ['fact'], metadata: { source: 'chat' } })).toEqual([3]));
  });

  it('returns topK results under a selective filter when enough documents match', () => {
    const index = new CubeIndex({ dimension: 64, ranking: { candidatePool: 20 } });
    const docs: IndexDocument[] = [];
    for (let i = 1; i <= 600; i++) {
      docs.push(doc(i, `note ${i} about ${i % 2 ? 'gardening tomatoes' : 'gardening roses'}`, { tags: i % 50 === 0 ? ['rare'] : ['common'] }));
    }
    index.upsertMany(docs);
    const hits = search(index, 'gardening tomatoes', { topK: 12, filter: { tagsAny: ['rare'] } });
    expect(hits.sort((a, b) => a - b)).toEqual([50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 550, 600]);
    const dense = search(index, 'gardening tomatoes', { topK: 12, filter: { tagsAny: ['rare'] }, ranking: { mode: 'dense' } });
    expect(dense).toHaveLength(12);
    const common = search(index, 'gardening tomatoes', { topK: 40, filter: { tagsAny: ['common'] } });
    expect(common).toHaveLength(40);
    expect(common.every((l) => l % 50 !== 0)).toBe(true);
  });

  it('admits exactly the documents a filter matches, whichever search path it takes', () => {
    // Deterministic pseudo-random attributes; the expected sets are computed by brute force.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const kinds = ['fact', 'episode', 'preference'];
    const tags = ['a', 'b', 'c', 'd', 'e'];
    const index = new CubeIndex({ dimension: 64 });
    const all: IndexDocument[] = [];
    for (let i = 1; i <= 3000; i++) {
      const d = doc(i, `memory note ${i} ${tags[i % 5]}`, {
        kind: kinds[Math.floor(next() * 3)],
        tags: [tags[Math.floor(next() * 5)], tags[Math.floor(next() * 5)]],
        sessionId: `s${i % 40}`,
        observedAt: T0 + Math.floor(next() * 100) * DAY,
        metadata: { n: i % 7 },
      });
      all.push(d);
    }
    index.upsertMany(all);
    for (let i = 1; i <= 3000; i += 97) index.remove(i);
    const live = all.filter((d) => index.has(d.label));
    const cases: [object, (d: IndexDocument) => boolean][] = [
      [{ kinds: ['fact'], tagsAny: ['a', 'b'] }, (d) => d.kind === 'fact' && d.tags!.some((t) => t === 'a' || t === 'b')],
      [{ tagsAll: ['c', 'd'] }, (d) => d.tags!.includes('c') && d.tags!.includes('d')],
      [{ sessionIds: ['s3', 's4'], kinds: ['episode', 'fact'] }, (d) => ['s3', 's4'].includes(d.sessionId!) && d.kind !== 'preference'],
      [{ metadata: { n: { in: [1, 2] } }, observedAfter: T0 + 50 * DAY }, (d) => [1, 2].includes(d.metadata!.n as number) && d.observedAt! >= T0 + 50 * DAY],
      [{ kinds: ['preference'] }, (d) => d.kind === 'preference'],
    ];
    for (const [filter, matches] of cases) {
      const expected = live.filter(matches).map((d) => d.label).sort((a, b) => a - b);
      for (const mode of ['hybrid', 'dense', 'lexical'] as const) {
        const got = search(index, 'memory note', { topK: 3000, filter, ranking: { mode } }).sort((a, b) => a - b);
        expect({ filter, mode, got }).toEqual({ filter, mode, got: expected });
      }
    }
  });

  it('prefers the latest memory when the query asks for the latest', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert(doc(1, 'my personal best 5k time is 25 minutes', { observedAt: T0 }));
    index.upsert(doc(2, 'my personal best 5k time is 23 minutes', { observedAt: T0 + 90 * DAY }));
    expect(search(index, 'what is my latest personal best 5k time', { topK: 1, referenceTime: T0 + 100 * DAY })[0]).toBe(2);
    expect(search(index, 'what was my first personal best 5k time', { topK: 1, referenceTime: T0 + 100 * DAY })[0]).toBe(1);
  });

  it('boosts memories inside a period the query names', () => {
    const index = new CubeIndex({ dimension: 64 });
    const ref = T0 + 60 * DAY;
    // Same words, so only the time can tell them apart (label 1 would win a tie).
    index.upsert(doc(1, 'went to a concert with a friend', { observedAt: ref - 30 * DAY }));
    index.upsert(doc(2, 'went to a concert with a friend', { observedAt: ref - 7 * DAY }));
    const hits = index.search('who did I go to a concert with a week ago', embedder.embedOne('concert a week ago'), {
      topK: 2,
      referenceTime: ref,
      explain: true,
    });
    expect(hits[0].label).toBe(2);
    expect(hits[0].explain!.priors.timeIntent).toBeGreaterThan(0);
    expect(hits[1].explain!.priors.timeIntent).toBe(0);
  });

  it('lifts a turn whose session matches the query as a whole', () => {
    const index = new CubeIndex({ dimension: 64, ranking: { denseWeight: 0 } });
    // Both sessions have one turn that says "paint"; only s1 is about painting the kitchen.
    index.upsertMany([
      doc(1, 'which paint should I use', { sessionId: 's1', role: 'user' }),
      doc(2, 'the kitchen walls are damp', { sessionId: 's1', role: 'user' }),
      doc(3, 'the kitchen gets morning sun', { sessionId: 's1', role: 'user' }),
      doc(4, 'which paint should I use', { sessionId: 's2', role: 'user' }),
      doc(5, 'my bike chain is rusty', { sessionId: 's2', role: 'user' }),
    ]);
    const hits = index.search('paint for the kitchen', null, { topK: 5, explain: true });
    expect(hits.findIndex((h) => h.label === 1)).toBeLessThan(hits.findIndex((h) => h.label === 4));
    expect(hits[0].explain!.fusion.context).toBeGreaterThan(0);
  });

  it('scores the same after updates and removals as an index built fresh from the final rows', () => {
    // Session lengths and BM25 statistics must follow every upsert and removal.
    const words = ['garden', 'tomato', 'violin', 'lesson', 'kitchen', 'paint', 'ferry', 'noon', 'bread', 'flour'];
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const text = () => Array.from({ length: 3 + Math.floor(next() * 6) }, () => words[Math.floor(next() * words.length)]).join(' ');
    const churned = new CubeIndex({ dimension: 64 });
    const final = new Map<number, IndexDocument>();
    for (let i = 1; i <= 300; i++) {
      const d = doc(i, text(), { sessionId: `s${i % 17}`, role: i % 2 ? 'user' : 'assistant' });
      churned.upsert(d);
      final.set(i, d);
    }
    for (let i = 1; i <= 300; i += 3) {
      const d = doc(i, text(), { sessionId: `s${(i * 7) % 17}`, role: 'user' }); // new text and session
      churned.upsert(d);
      final.set(i, d);
    }
    for (let i = 2; i <= 300; i += 5) {
      churned.remove(i);
      final.delete(i);
    }
    const fresh = new CubeIndex({ dimension: 64 });
    fresh.upsertMany([...final.values()]);
    for (const query of ['garden tomato', 'violin lesson kitchen', 'ferry at noon', 'bread']) {
      const scored = (index: CubeIndex) =>
        new Map(index.search(query, embedder.embedOne(query), { topK: 300 }).map((h) => [h.label, h.score]));
      const a = scored(churned);
      const b = scored(fresh);
      expect([...a.keys()].sort((x, y) => x - y)).toEqual([...b.keys()].sort((x, y) => x - y));
      for (const [label, score] of b) expect(a.get(label)).toBeCloseTo(score, 4);
    }
  });

  it('finds the same in an index sized up front for its documents, which holds less than one grown step by step', () => {
    const words = ['garden', 'tomato', 'violin', 'lesson', 'kitchen', 'paint', 'ferry', 'noon', 'bread', 'flour', 'Orla', 'Ivo'];
    const docs = Array.from({ length: 3000 }, (_, i) =>
      doc(i + 1, Array.from({ length: 3 + (i % 7) }, (_, j) => words[(i * 7 + j * 5) % words.length]).join(' '), { sessionId: `s${i % 40}`, tags: [`t${i % 3}`] }),
    );
    const grown = new CubeIndex({ dimension: 64, graphMinDocuments: 100_000 });
    const sized = new CubeIndex({ dimension: 64, graphMinDocuments: 100_000 });
    sized.reserve(docs.length);
    for (const d of docs) {
      grown.upsert(d);
      sized.upsert(d);
    }
    for (const query of ['garden tomato', 'Orla violin lesson', 'ferry at noon']) {
      const options = { topK: 50, filter: { tagsAny: ['t1'] } };
      expect(sized.search(query, embedder.embedOne(query), options)).toEqual(grown.search(query, embedder.embedOne(query), options));
    }
    expect(sized.approximateBytes()).toBeLessThan(grown.approximateBytes());
  });

  it('explains each part of the score', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert(doc(1, 'favourite colour is teal', { importance: 0.9 }));
    const [hit] = index.search('favourite colour', embedder.embedOne('favourite colour'), { explain: true });
    expect(hit.explain!.dense!.similarity).toBeGreaterThan(0);
    expect(hit.explain!.lexical!.bm25).toBeGreaterThan(0);
    expect(hit.explain!.priors.importance).toBeGreaterThan(0);
    expect(hit.explain!.fusion.method).toBe('weighted');
  });

  it('ranks more important memories higher when the match is equal', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert(doc(1, 'meeting with Dana', { importance: 0.1 }));
    index.upsert(doc(2, 'meeting with Dana', { importance: 0.9 }));
    expect(search(index, 'meeting Dana', { topK: 2 })).toEqual([2, 1]);
  });
});
