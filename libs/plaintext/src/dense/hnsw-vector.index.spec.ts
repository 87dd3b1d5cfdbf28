import { HashEmbedder } from '../embedding/hash.embedder';
import { HnswVectorIndex } from './hnsw-vector.index';

const embedder = new HashEmbedder({ dimension: 32 });

describe('HnswVectorIndex', () => {
  it('grows past its initial capacity', () => {
    const index = new HnswVectorIndex(32, { m: 8, efConstruction: 20, efSearch: 20, seed: 1 }, 16);
    for (let i = 0; i < 200; i++) index.add(i, embedder.embedOne(`memory number ${i} about topic ${i % 13}`));
    expect(index.size).toBe(200);
    const hits = index.search(embedder.embedOne('memory number 150 about topic 7'), 1);
    expect(hits[0].label).toBe(150);
  });

  it('hides a deleted label from search and revives it on re-add', () => {
    const index = new HnswVectorIndex(32, undefined, 16);
    index.add(1, embedder.embedOne('red apples'));
    index.add(2, embedder.embedOne('green pears'));
    expect(index.remove(1)).toBe(true);
    expect(index.search(embedder.embedOne('red apples'), 2).map((h) => h.label)).toEqual([2]);
    expect(index.deletedRatio).toBeCloseTo(0.5);
    index.add(1, embedder.embedOne('red apples'));
    expect(index.search(embedder.embedOne('red apples'), 1)[0].label).toBe(1);
    expect(index.deletedRatio).toBe(0);
  });

  it('replaces the vector of an existing label', () => {
    const index = new HnswVectorIndex(32, undefined, 16);
    index.add(1, embedder.embedOne('chess club'));
    index.add(2, embedder.embedOne('football match'));
    index.add(1, embedder.embedOne('football practice'));
    expect(index.size).toBe(2);
    const similarity = index.search(embedder.embedOne('football practice'), 2).find((h) => h.label === 1)!.similarity;
    expect(similarity).toBeCloseTo(1, 5);
  });

  it('rejects a vector of the wrong dimension', () => {
    expect(() => new HnswVectorIndex(32).add(1, new Float32Array(16))).toThrow(RangeError);
  });
});
