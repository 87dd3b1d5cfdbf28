// A memory whose vector is not stored yet (use-lite embeds after the write commits, ADR 0106)
// is found by its words: ranked by the lexical signal alone, not as if its cosine were 0.
import { CubeIndex } from '../cube-index';
import { HashEmbedder } from '../embedding/hash.embedder';

const embedder = new HashEmbedder({ dimension: 64 });

describe('a document without a vector yet', () => {
  function indexWithPending(): CubeIndex {
    const index = new CubeIndex({ dimension: 64 });
    index.upsert({ label: 1, text: 'The quarterly budget review is on Monday', vector: embedder.embedOne('The quarterly budget review is on Monday') });
    index.upsert({ label: 2, text: 'My sister collects stamps', vector: embedder.embedOne('My sister collects stamps') });
    index.upsert({ label: 3, text: 'Carol adopted a greyhound named Zeppelin' }); // its vector is still being embedded
    return index;
  }

  it('ranks first for its own words, above the best cosine of an unrelated memory', () => {
    const index = indexWithPending();
    // The query's vector is closest to memory 1 (a sentence encoder's unrelated best match).
    const hits = index.search('Zeppelin greyhound', embedder.embedOne('The quarterly budget review is on Monday'), { explain: true, ranking: { denseWeight: 0.5 } });
    expect(hits[0].label).toBe(3);
    expect(hits[0].score).toBeGreaterThan(hits[1].score);
  });

  it('says in explain that its dense score is pending instead of reporting a cosine of 0', () => {
    const index = indexWithPending();
    const hits = index.search('Zeppelin greyhound', embedder.embedOne('Zeppelin greyhound'), { explain: true });
    const pending = hits.find((h) => h.label === 3)!;
    expect(pending.explain!.dense).toEqual({ similarity: null, rank: null, pending: true });
    expect(pending.explain!.lexical!.bm25).toBeGreaterThan(0);
    for (const other of hits.filter((h) => h.label !== 3)) expect(typeof other.explain!.dense!.similarity).toBe('number');
    // The others keep their own scale: min–max over the cosines that exist.
    expect(hits.every((h) => Number.isFinite(h.score))).toBe(true);
  });

  it('is ranked as before once its vector arrives', () => {
    const index = indexWithPending();
    index.upsert({ label: 3, text: 'Carol adopted a greyhound named Zeppelin', vector: embedder.embedOne('Carol adopted a greyhound named Zeppelin') });
    const hits = index.search('Zeppelin greyhound', embedder.embedOne('Zeppelin greyhound'), { explain: true });
    expect(hits[0].label).toBe(3);
    expect(hits[0].explain!.dense!.similarity).toBeGreaterThan(0);
    expect(hits[0].explain!.dense!.pending).toBeUndefined();
  });
});
