import { dot } from './embedder';
import { HashEmbedder } from './hash.embedder';

describe('HashEmbedder', () => {
  const embedder = new HashEmbedder({ dimension: 128 });

  it('gives the same vector for the same text, across instances', async () => {
    const [a] = await embedder.embed(['I adopted a cat named Luna']);
    const [b] = await new HashEmbedder({ dimension: 128 }).embed(['I adopted a cat named Luna']);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('returns unit vectors of the configured dimension', async () => {
    const vectors = await embedder.embed(['hello world', 'a much longer text about hiking in the Alps in July']);
    for (const v of vectors) {
      expect(v).toHaveLength(128);
      expect(dot(v, v)).toBeCloseTo(1, 5);
    }
  });

  it('returns a zero vector for text without content words', async () => {
    const [v] = await embedder.embed(['the and of']);
    expect(dot(v, v)).toBe(0);
  });

  it('places texts sharing words and word forms closer than unrelated texts', async () => {
    const [query, related, unrelated] = await embedder.embed([
      'baking sourdough bread',
      'I baked a sourdough loaf of bread yesterday',
      'my car needs new tyres before winter',
    ]);
    expect(dot(query, related)).toBeGreaterThan(dot(query, unrelated) + 0.2);
  });

  it('names its dimension and parameters in the fingerprint', () => {
    expect(new HashEmbedder({ dimension: 64 }).fingerprint).not.toEqual(embedder.fingerprint);
    expect(new HashEmbedder({ dimension: 128, charWeight: 0 }).fingerprint).not.toEqual(embedder.fingerprint);
    expect(embedder.fingerprint).toMatch(/^hash:128:v\d+:/);
  });

  it('rejects a nonsensical dimension', () => {
    expect(() => new HashEmbedder({ dimension: 0 })).toThrow(RangeError);
  });
});
