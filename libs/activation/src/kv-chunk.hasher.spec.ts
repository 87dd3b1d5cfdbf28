import { chunkKeys } from './kv-chunk.hasher';

describe('chunkKeys', () => {
  const tokens = Array.from({ length: 20 }, (_, i) => i + 1);

  it('cuts tokens into chunks, the last one partial', () => {
    const keys = chunkKeys('fp', tokens, 8);
    expect(keys.map((k) => [k.start, k.end])).toEqual([[0, 8], [8, 16], [16, 20]]);
  });

  it('chains each key over every token before it', () => {
    const a = chunkKeys('fp', tokens, 8);
    const changedFirst = chunkKeys('fp', [99, ...tokens.slice(1)], 8);
    expect(changedFirst[1].hash).not.toBe(a[1].hash); // same chunk tokens, different prefix
    const sharedPrefix = chunkKeys('fp', [...tokens.slice(0, 16), 7, 7], 8);
    expect(sharedPrefix.slice(0, 2)).toEqual(a.slice(0, 2));
    expect(sharedPrefix[2].hash).not.toBe(a[2].hash);
  });

  it('depends on the model fingerprint and the chunk size', () => {
    expect(chunkKeys('other', tokens, 8)[0].hash).not.toBe(chunkKeys('fp', tokens, 8)[0].hash);
    expect(chunkKeys('fp', tokens.slice(0, 8), 16)[0].hash).not.toBe(chunkKeys('fp', tokens.slice(0, 8), 8)[0].hash);
  });
});
