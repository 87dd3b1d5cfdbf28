import { placeCaches } from './cache-placement';

describe('placeCaches', () => {
  const BOS = 1;
  it('finds caches in order, each after the previous one, skipping a leading BOS the prompt holds once', () => {
    const a = [BOS, 10, 11, 12];
    const b = [BOS, 20, 21];
    const prompt = [BOS, 10, 11, 12, 20, 21, 30, 31];
    expect(placeCaches(prompt, [a, b])).toEqual([
      { index: 0, start: 0, builtAt: 0, length: 4 },
      { index: 1, start: 4, builtAt: 1, length: 2 },
    ]);
  });

  it('leaves out a cache the prompt does not hold, or holds only before an earlier cache', () => {
    const prompt = [BOS, 20, 21, 10, 11, 30];
    expect(placeCaches(prompt, [[BOS, 10, 11], [BOS, 20, 21]])).toEqual([{ index: 0, start: 3, builtAt: 1, length: 2 }]);
    expect(placeCaches(prompt, [[7, 8, 9]])).toEqual([]);
    expect(placeCaches(prompt, [[5, 10, 11]], 0)).toEqual([]);
  });

  it('places the same text twice at its two places', () => {
    expect(placeCaches([BOS, 5, 6, 5, 6, 9], [[BOS, 5, 6], [BOS, 5, 6]]).map((p) => p.start)).toEqual([0, 3]);
  });
});
