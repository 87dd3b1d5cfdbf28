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

  it('reuses the slots of deleted labels, so churn does not grow the graph', () => {
    const index = new HnswVectorIndex(8, undefined, 64);
    const unit = (i: number) => {
      const v = Array.from({ length: 8 }, (_, d) => Math.sin(i * 0.7 + d * 1.3));
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    for (let i = 0; i < 64; i++) index.add(i, unit(i));
    // Ten rounds of: delete 40 labels, add 40 new ones.
    let next = 64;
    let alive = Array.from({ length: 64 }, (_, i) => i);
    for (let round = 0; round < 10; round++) {
      const gone = alive.slice(0, 40);
      for (const label of gone) expect(index.remove(label)).toBe(true);
      alive = alive.slice(40);
      for (let j = 0; j < 40; j++) {
        index.add(next, unit(next));
        alive.push(next++);
      }
    }
    expect(index.size).toBe(64);
    expect(index.slotCapacity).toBe(64); // never grew
    expect(index.deletedRatio).toBe(0);
    expect(index.liveLabels().sort((a, b) => a - b)).toEqual([...alive].sort((a, b) => a - b));
    // Every live label is found by its own vector; a deleted one never is.
    for (const label of alive) expect(index.search(unit(label), 1)[0].label).toBe(label);
    expect(index.search(unit(0), 64).map((h) => h.label)).not.toContain(0);
    // A deleted label whose slot was taken comes back as a new element.
    index.add(0, unit(0));
    expect(index.search(unit(0), 1)[0].label).toBe(0);
    expect(index.size).toBe(65);
  });

  it('revives a deleted label that still holds its slot', () => {
    const index = new HnswVectorIndex(4, undefined, 16);
    index.add(1, [1, 0, 0, 0]);
    index.add(2, [0, 1, 0, 0]);
    index.remove(1);
    expect(index.deletedRatio).toBe(0.5);
    index.add(1, [1, 0, 0, 0]);
    expect(index.deletedRatio).toBe(0);
    expect(index.search([1, 0, 0, 0], 1)[0].label).toBe(1);
  });
});
