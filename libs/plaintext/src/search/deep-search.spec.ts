import { CubeIndex, IndexDocument } from '../cube-index';
import { HashEmbedder } from '../embedding/hash.embedder';

const embedder = new HashEmbedder({ dimension: 64 });

function doc(label: number, text: string, attrs: Partial<IndexDocument> = {}): IndexDocument {
  return { label, text, vector: embedder.embedOne(text), ...attrs };
}

/** A bridge question: the first hop names the film, the second hop only shares the actress's name with the first. */
function bridgeIndex(): CubeIndex {
  const index = new CubeIndex({ dimension: 64 });
  index.upsert(doc(1, 'Kiss and Tell is a 1945 comedy film starring Shirley Temple as Corliss Archer'));
  index.upsert(doc(2, 'Shirley Temple Black served as United States ambassador to Ghana and Czechoslovakia'));
  const fillers = [
    'The government published its annual budget in March',
    'A position paper on trade was held back by the ministry',
    'The film festival in Cannes takes place every May',
    'Comedy clubs in Chicago reopened after the winter',
    'The ambassador of Peru attended a state dinner',
    'Temple ruins in Cambodia attract millions of visitors',
    'Archer is an animated spy series on television',
  ];
  fillers.forEach((text, i) => index.upsert(doc(10 + i, text)));
  return index;
}

const QUESTION = 'Which government position was held by the actress who played Corliss Archer in the film Kiss and Tell?';

describe('deep search', () => {
  it('finds a second hop that shares no word with the question', () => {
    const index = bridgeIndex();
    const vector = embedder.embedOne(QUESTION);
    const plain = index.search(QUESTION, vector, { topK: 5 }).map((h) => h.label);
    const deep = index.search(QUESTION, vector, { topK: 5, deep: true }).map((h) => h.label);
    expect(plain[0]).toBe(1);
    expect(plain).not.toContain(2);
    expect(deep[0]).toBe(1);
    expect(deep).toContain(2);
  });

  it('explains which pass found a document and which terms were added', () => {
    const index = bridgeIndex();
    const hits = index.search(QUESTION, embedder.embedOne(QUESTION), { topK: 5, deep: true, explain: true });
    const second = hits.find((h) => h.label === 2)!;
    expect(second.explain?.deep?.expansion).toEqual(expect.arrayContaining(['shirley', 'templ']));
    expect(second.explain?.deep?.first).toBeLessThan(second.explain!.deep!.second);
  });

  it('takes expansion terms from the neighbouring turns of a hit', () => {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert(doc(1, 'I finally booked the trip we talked about', { sessionId: 's1', position: 0 }));
    index.upsert(doc(2, 'It is a week in Lisbon with my sister Ana', { sessionId: 's1', position: 1 }));
    index.upsert(doc(3, 'Ana sent me the Lisbon hotel confirmation', { sessionId: 's2', position: 0 }));
    index.upsert(doc(4, 'The weather was grey all week', { sessionId: 's3', position: 0 }));
    const query = 'where does the booked trip go?';
    const withNeighbours = index.search(query, null, { topK: 4, deep: { feedbackDocs: 1 }, explain: true });
    const without = index.search(query, null, { topK: 4, deep: { feedbackDocs: 1, neighbourWeight: 0 }, explain: true });
    expect(withNeighbours[0].explain?.deep?.expansion).toEqual(expect.arrayContaining(['lisbon', 'ana']));
    expect(without[0].explain?.deep?.expansion).toEqual([]);
  });

  it('leaves the default search as it is when deep is not asked for', () => {
    const index = bridgeIndex();
    const vector = embedder.embedOne(QUESTION);
    expect(index.search(QUESTION, vector, { topK: 5, deep: false })).toEqual(index.search(QUESTION, vector, { topK: 5 }));
  });

  it('respects the filter in both passes', () => {
    const index = bridgeIndex();
    index.upsert(doc(3, 'Shirley Temple Black was a diplomat', { tags: ['private'] }));
    const hits = index.search(QUESTION, embedder.embedOne(QUESTION), { topK: 10, deep: true, filter: { states: ['active'], tagsAny: ['private'] } });
    expect(hits.map((h) => h.label)).toEqual([3]);
  });
});

/**
 * A conversation: the first hop names the composer; the second hop, in another session,
 * shares only the composer's name with it and no word with the question.
 */
function conversation(): CubeIndex {
  const index = new CubeIndex({ dimension: 64 });
  index.upsert(doc(1, 'About that war song, Vladimir Shainsky said it seemed to have turned back the clock', { sessionId: 's1', position: 0 }));
  index.upsert(doc(2, 'We should watch the parade together next spring', { sessionId: 's1', position: 1 }));
  index.upsert(doc(3, 'My uncle told me Shainsky grew up in Kyiv in 1925', { sessionId: 's2', position: 0 }));
  index.upsert(doc(4, 'I baked bread with my uncle on Sunday', { sessionId: 's2', position: 1 }));
  const fillers = ['The neighbours adopted a beagle', 'Work has been busy all month', 'We tried a new pasta recipe', 'The garden needs more water'];
  fillers.forEach((text, i) => index.upsert(doc(10 + i, text, { sessionId: `s${3 + i}`, position: 0 })));
  return index;
}

describe('deep search: the bridge signal', () => {
  const question = 'Where did the composer who said the war song turned back the clock grow up?';

  it('reaches a turn of another session through an entity of the first hit', () => {
    const index = conversation();
    const vector = embedder.embedOne(question);
    const withBridge = index.search(question, vector, { topK: 3, deep: { expansionTerms: 0, neighbourWeight: 0, keepFirst: 1 } }).map((h) => h.label);
    const without = index.search(question, vector, { topK: 3, deep: { expansionTerms: 0, neighbourWeight: 0, keepFirst: 1, bridgeWeight: 0 } }).map((h) => h.label);
    expect(withBridge[0]).toBe(1);
    expect(withBridge).toContain(3);
    expect(without).not.toContain(3);
  });

  it('keeps the first pass\'s best on top with keepFirst', () => {
    const index = conversation();
    const vector = embedder.embedOne(question);
    const plain = index.search(question, vector, { topK: 2 }).map((h) => h.label);
    const deep = index.search(question, vector, { topK: 8, deep: { keepFirst: 2, bridgeWeight: 5 } });
    expect(deep.slice(0, 2).map((h) => h.label)).toEqual(plain);
    for (let i = 1; i < deep.length; i++) expect(deep[i].score).toBeLessThanOrEqual(deep[i - 1].score);
  });

  it('brings nothing the filter rejects', () => {
    const index = conversation();
    const hits = index.search(question, embedder.embedOne(question), { topK: 10, deep: true, filter: { sessionIds: ['s1'] } });
    expect(hits.map((h) => h.label).sort()).toEqual([1, 2]);
  });

  it('forgets a removed turn', () => {
    const index = conversation();
    index.remove(3);
    const hits = index.search(question, embedder.embedOne(question), { topK: 10, deep: true });
    expect(hits.map((h) => h.label)).not.toContain(3);
  });
});

describe('deep search without dense feedback', () => {
  it('ranks as if the second pass had searched the graph again with the same vector', () => {
    const index = new CubeIndex({ dimension: 64 });
    const words = ['trip', 'Lisbon', 'sister', 'hotel', 'booked', 'weather', 'grey', 'week', 'camera', 'flash', 'beagle', 'garden', 'tomatoes', 'basil', 'concert'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let label = 1; label <= 300; label++) {
      const text = Array.from({ length: 8 }, () => words[Math.floor(next() * words.length)]).join(' ');
      index.upsert(doc(label, text, { sessionId: `s${label % 20}`, position: Math.floor(label / 20) }));
    }
    const query = 'which hotel did my sister book in Lisbon';
    const vector = embedder.embedOne(query);
    const reused = index.search(query, vector, { topK: 50, deep: { denseFeedback: 0 } });
    // A feedback too small to move any score: the second pass searches the graph itself.
    const searchedAgain = index.search(query, vector, { topK: 50, deep: { denseFeedback: 1e-9 } });
    expect(reused.map((h) => h.label)).toEqual(searchedAgain.map((h) => h.label));
    reused.forEach((h, i) => expect(h.score).toBeCloseTo(searchedAgain[i].score, 6));
  });
});
