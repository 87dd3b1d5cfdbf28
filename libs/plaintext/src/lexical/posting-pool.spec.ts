import { mulberry32 } from '@engram/inference';
import { PostingPool } from './posting-pool';

type Model = { slots: number[]; tfs: number[] }[];

function contents(pool: PostingPool, id: number): { slots: number[]; tfs: number[] } {
  const from = pool.start[id];
  const end = from + pool.length[id];
  return { slots: [...pool.slots.subarray(from, end)], tfs: [...pool.tfs.subarray(from, end)] };
}

/** Random pushes (ascending slots, Zipf-like terms), removals and compactions, mirrored on plain per-term arrays. */
function exercise(pool: PostingPool, model: Model, seed: number, steps: number, firstSlot: number): number {
  const random = mulberry32(seed);
  const dead = new Set<number>();
  let slot = firstSlot;
  for (let step = 0; step < steps; step++) {
    if (random() < 0.02 || model.length === 0) {
      pool.addTerm();
      model.push({ slots: [], tfs: [] });
      continue;
    }
    if (random() < 0.1) {
      dead.add(Math.floor(random() * slot));
      const id = Math.floor(random() * model.length);
      pool.compactTerm(id, (s) => !dead.has(s));
      const m = model[id];
      const keep = m.slots.map((s) => !dead.has(s));
      model[id] = { slots: m.slots.filter((_, i) => keep[i]), tfs: m.tfs.filter((_, i) => keep[i]) };
      continue;
    }
    const id = Math.floor(model.length * random() ** 3);
    const tf = random() < 0.001 ? 70_000 : 1 + Math.floor(random() * 4);
    pool.push(id, slot++, tf);
    model[id].slots.push(slot - 1);
    model[id].tfs.push(Math.min(tf, 65535));
  }
  return slot;
}

function expectSame(pool: PostingPool, model: Model): void {
  expect(pool.termCount).toBe(model.length);
  for (let id = 0; id < model.length; id++) {
    expect(contents(pool, id)).toEqual(model[id]);
    expect(pool.live[id]).toBe(model[id].slots.length);
  }
}

describe('PostingPool', () => {
  it('holds the same postings as one array per term through pushes, block moves, rewrites and compactions', () => {
    const pool = new PostingPool(16, 2);
    const model: Model = [];
    exercise(pool, model, 1, 50_000, 0);
    expectSame(pool, model);
    pool.trim();
    expect(pool.slack).toBe(0);
    expectSame(pool, model);
    // Blocks grow again after a trim, into room reserved at once.
    pool.reserveRoom(pool.held * 2);
    expect(pool.slack).toBeGreaterThan(0.4);
    exercise(pool, model, 2, 20_000, 1_000_000);
    expectSame(pool, model);
  });

  it('adopts postings laid out term after term and moves into its own arrays when a block grows', () => {
    const slots = Int32Array.from([1, 4, 2, 3, 5]);
    const tfs = Uint16Array.from([1, 2, 1, 1, 3]);
    const pool = PostingPool.adopt(Uint32Array.from([2, 0, 3]), slots, tfs);
    const model: Model = [
      { slots: [1, 4], tfs: [1, 2] },
      { slots: [], tfs: [] },
      { slots: [2, 3, 5], tfs: [1, 1, 3] },
    ];
    expectSame(pool, model);
    pool.push(0, 9, 1);
    model[0].slots.push(9);
    model[0].tfs.push(1);
    expectSame(pool, model);
    expect([...slots]).toEqual([1, 4, 2, 3, 5]); // the adopted arrays are left as they were
    exercise(pool, model, 3, 10_000, 10);
    expectSame(pool, model);
  });

  it('refuses counts that do not add up to the postings', () => {
    expect(() => PostingPool.adopt(Uint32Array.from([2]), new Int32Array(3), new Uint16Array(3))).toThrow(/do not add up/);
  });
});
