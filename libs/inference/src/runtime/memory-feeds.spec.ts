import { InferenceErrorCode } from '../inference.error';
import { concatMemoryBlocks, memoryFeeds, memoryInputName, memoryRank, type MemoryBlock } from './memory-feeds';

const L = 2;
const d = 3;
const block = (rank: number, seed: number): MemoryBlock => {
  const f = (o: number) => Float32Array.from({ length: L * rank * d }, (_, i) => seed * 100 + o * 10 + i);
  return { rank, gate: f(1), up: f(2), down: f(3) };
};

describe('memoryFeeds', () => {
  it('feeds each layer of each level as a view of the fetched block, without copying', () => {
    const a = block(2, 1);
    const b = block(1, 2);
    const feeds = memoryFeeds([a, b], 4, L, d);
    const gate = feeds[memoryInputName(0, 1, 'gate')];
    expect(gate.dims).toEqual([2, d]);
    expect(gate.data.buffer).toBe(a.gate.buffer);
    expect(Array.from(gate.data as Float32Array)).toEqual(Array.from(a.gate.subarray(2 * d, 4 * d)));
    expect(feeds[memoryInputName(1, 0, 'down')].dims).toEqual([d, 1]);
    expect(feeds[memoryInputName(1, 0, 'down')].data.buffer).toBe(b.down.buffer);
    // Unused slots are empty (R = 0).
    expect(feeds[memoryInputName(3, 1, 'up')].dims).toEqual([0, d]);
    expect(Object.keys(feeds)).toHaveLength(4 * L * 3);
  });

  it('skips zero-rank levels and gives a deeper path than the slots the last slot, concatenated', () => {
    const blocks = [block(1, 1), block(0, 2), block(2, 3), block(1, 4)];
    const feeds = memoryFeeds(blocks, 2, L, d);
    expect(feeds[memoryInputName(0, 0, 'gate')].data.buffer).toBe(blocks[0].gate.buffer);
    const last = concatMemoryBlocks([blocks[2], blocks[3]], d, L);
    expect(feeds[memoryInputName(1, 1, 'down')].dims).toEqual([d, 3]);
    expect(Array.from(feeds[memoryInputName(1, 1, 'down')].data as Float32Array)).toEqual(Array.from(last.down.subarray(3 * d, 6 * d)));
    expect(memoryRank(blocks)).toBe(4);
  });

  it('feeds empty slots one neuron of zeros where the provider needs it (WebGPU), blocks unchanged', () => {
    const a = block(2, 1);
    const feeds = memoryFeeds([a], 3, L, d, 1);
    expect(feeds[memoryInputName(0, 1, 'gate')].data.buffer).toBe(a.gate.buffer);
    for (const s of [1, 2]) {
      expect(feeds[memoryInputName(s, 0, 'gate')].dims).toEqual([1, d]);
      expect(feeds[memoryInputName(s, 1, 'down')].dims).toEqual([d, 1]);
      expect(Array.from(feeds[memoryInputName(s, 1, 'up')].data as Float32Array)).toEqual([0, 0, 0]);
    }
  });

  it('refuses a block that does not fit the model', () => {
    expect(() => memoryFeeds([block(2, 1)], 4, L, d + 1)).toThrow(expect.objectContaining({ code: InferenceErrorCode.InputMismatch }));
    expect(() => memoryFeeds([block(2, 1)], 0, L, d)).toThrow(expect.objectContaining({ code: InferenceErrorCode.InputMismatch }));
  });
});
