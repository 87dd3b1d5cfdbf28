import { mulberry32 } from '@engram/inference';
import { DocTermLists } from './doc-term-lists';

describe('DocTermLists', () => {
  it('gives back each slot its ids in increasing order, whatever their size', () => {
    const lists = new DocTermLists();
    lists.set(0, Int32Array.from([5, 0, 127, 128, 16384, 2 ** 31 - 1, 300]));
    lists.set(3, Int32Array.from([]));
    expect([...lists.get(0)!]).toEqual([0, 5, 127, 128, 300, 16384, 2 ** 31 - 1]);
    expect([...lists.get(3)!]).toEqual([]);
    expect(lists.get(1)).toBeUndefined();
    expect(lists.has(3)).toBe(true);
    expect(lists.has(2)).toBe(false);
  });

  it('agrees with plain per-slot arrays through random sets, replacements and deletions (compaction included)', () => {
    const random = mulberry32(9);
    const lists = new DocTermLists();
    const model = new Map<number, number[]>();
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      if (r < 0.55 || model.size === 0) {
        const slot = random() < 0.9 ? next++ : Math.floor(random() * (next + 1));
        const ids = new Set<number>();
        const n = Math.floor(random() * 40);
        for (let i = 0; i < n; i++) ids.add(random() < 0.8 ? Math.floor(random() * 3000) : Math.floor(random() * 2 ** 30));
        lists.set(slot, Int32Array.from(ids));
        model.set(slot, [...ids].sort((a, b) => a - b));
        next = Math.max(next, slot + 1);
      } else {
        const slots = [...model.keys()];
        const slot = slots[Math.floor(random() * slots.length)];
        lists.delete(slot);
        model.delete(slot);
      }
    }
    for (let slot = 0; slot < next; slot++) {
      const want = model.get(slot);
      expect(lists.has(slot)).toBe(want !== undefined);
      if (want) expect([...lists.get(slot)!]).toEqual(want);
    }
  });
});
