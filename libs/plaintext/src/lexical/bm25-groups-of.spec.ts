import { mulberry32 } from '@engram/inference';
import { Bm25Index, DocumentGroups } from './bm25.index';

/** Documents in groups (sessions) of 1–15 consecutive slots, Zipf words (some terms common), some removed. */
class GroupedCorpus {
  readonly index = new Bm25Index();
  readonly groupOf: Int32Array;
  readonly length: Float64Array;
  readonly members: number[][] = [];
  private readonly liveCount: number[] = [];
  private readonly lengthOf = new Map<number, number>();
  private nextSlot = 0;
  readonly random: () => number;

  constructor(seed: number, slots: number, private readonly vocabulary: number) {
    this.random = mulberry32(seed);
    this.groupOf = new Int32Array(slots).fill(-1);
    this.length = new Float64Array(slots);
  }

  word(): string {
    return `w${Math.floor(Math.exp(this.random() * Math.log(this.vocabulary + 1)) - 1)}`;
  }

  /** A new group of n documents (every tenth document belongs to no group). */
  addGroup(n: number): void {
    const group = this.members.length;
    this.members.push([]);
    this.liveCount.push(0);
    for (let i = 0; i < n; i++) {
      const slot = this.nextSlot++;
      const terms = Array.from({ length: 1 + Math.floor(this.random() * 25) }, () => this.word());
      this.index.add(slot, terms);
      this.lengthOf.set(slot, terms.length);
      if (this.random() < 0.1) continue;
      this.groupOf[slot] = group;
      this.members[group].push(slot);
      this.length[group] += terms.length;
      this.liveCount[group]++;
    }
  }

  remove(slot: number): void {
    if (!this.index.remove(slot)) return;
    const group = this.groupOf[slot];
    if (group < 0) return;
    this.length[group] -= this.lengthOf.get(slot)!;
    this.liveCount[group]--;
  }

  get slots(): number {
    return this.nextSlot;
  }

  groups(): DocumentGroups {
    const live = this.liveCount.filter((n) => n > 0).length;
    return { groupOf: this.groupOf, length: this.length, live, totalLength: this.length.reduce((a, b) => a + b, 0) };
  }
}

/** Every group's score as scoreGroups() gives it (0 for groups it does not return). */
function exhaustive(index: Bm25Index, terms: string[], groups: DocumentGroups, count: number, weights?: number[]): Float64Array {
  const hits = index.scoreGroups(terms, groups, weights);
  const out = new Float64Array(count);
  for (let i = 0; i < hits.count; i++) out[hits.groups[i]] = hits.scores[i];
  return out;
}

describe('Bm25Index.scoreGroupsOf', () => {
  it('gives every chosen group the float64 score scoreGroups() gives it, through removals, compactions and new documents', () => {
    let compared = 0;
    let nonZero = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const c = new GroupedCorpus(seed, 6000, 150 + seed * 50);
      while (c.slots < 2500) c.addGroup(1 + Math.floor(c.random() * 15));
      const check = (): void => {
        for (let q = 0; q < 15; q++) {
          const terms = Array.from({ length: 1 + Math.floor(c.random() * 6) }, () => c.word());
          const weights = q % 3 === 0 ? terms.map(() => 0.25 + c.random()) : undefined;
          const groups = c.groups();
          const all = exhaustive(c.index, terms, groups, c.members.length, weights);
          // A random half of the groups, in no particular order.
          // A random half of the groups (a term's postings are walked), or a random few (its
          // postings are much longer than the members: merged by galloping), in no particular order.
          const share = q % 2 === 0 ? 0.5 : 0.02;
          const chosen = c.members.map((_, g) => g).filter(() => c.random() < share).sort(() => c.random() - 0.5);
          const scores = c.index.scoreGroupsOf(terms, groups, chosen, (g) => c.members[g].filter((slot) => c.index.has(slot)), weights);
          chosen.forEach((g, i) => {
            expect(scores[i]).toBe(all[g]);
            compared++;
            if (all[g] > 0) nonZero++;
          });
        }
      };
      check();
      // Removals (half-dead lists are compacted), then more documents: cached group counts must not go stale.
      for (let slot = 0; slot < c.slots; slot++) if (c.random() < 0.3) c.remove(slot);
      check();
      while (c.slots < 4000) c.addGroup(1 + Math.floor(c.random() * 15));
      check();
      for (let slot = 0; slot < c.slots; slot++) if (c.random() < 0.6) c.remove(slot);
      check();
    }
    expect(nonZero).toBeGreaterThan(compared / 20);
  });

  it('notices a removal that leaves a term\'s postings uncompacted (its live count alone changes)', () => {
    // 40 groups of 10; "x" in the first document of each group only, "y" everywhere.
    const index = new Bm25Index();
    const groupOf = new Int32Array(400);
    const length = new Float64Array(40);
    for (let slot = 0; slot < 400; slot++) {
      const terms = slot % 10 === 0 ? ['x', 'y'] : ['y', 'y'];
      index.add(slot, terms);
      groupOf[slot] = Math.floor(slot / 10);
      length[groupOf[slot]] += 2;
    }
    const groups = (): DocumentGroups => ({ groupOf, length, live: 40, totalLength: length.reduce((a, b) => a + b, 0) });
    const members = (g: number) => Array.from({ length: 10 }, (_, i) => g * 10 + i).filter((slot) => index.has(slot));
    expect(index.scoreGroupsOf(['x'], groups(), [1], members)[0]).toBe(exhaustive(index, ['x'], groups(), 40)[1]);
    index.remove(0); // group 0 no longer holds "x": 39 groups do (the postings of "x" stay uncompacted)
    length[0] -= 2;
    const after = index.scoreGroupsOf(['x'], groups(), [1, 0], members);
    const expected = exhaustive(index, ['x'], groups(), 40);
    expect(after[0]).toBe(expected[1]);
    expect(after[1]).toBe(0);
  });

  it('scores a group listed twice the same, a group no term reaches 0, and follows both the walk and the search per member', () => {
    // "rare" in 3 documents (postings walked), "mid" in 600 of 2,000 (searched member by member for 2 groups); 200 groups of 10.
    const index = new Bm25Index({ commonShare: 0.5 });
    const groupOf = new Int32Array(2000);
    const length = new Float64Array(200);
    for (let slot = 0; slot < 2000; slot++) {
      const terms = [slot % 10 < 3 ? 'mid' : 'other', slot === 5 || slot === 15 || slot === 16 ? 'rare' : 'filler'];
      index.add(slot, terms);
      groupOf[slot] = Math.floor(slot / 10);
      length[groupOf[slot]] += 2;
    }
    const groups: DocumentGroups = { groupOf, length, live: 200, totalLength: 4000 };
    const members = (g: number) => Array.from({ length: 10 }, (_, i) => g * 10 + i);
    const all = exhaustive(index, ['rare', 'mid'], groups, 200);
    const scores = index.scoreGroupsOf(['rare', 'mid'], groups, [1, 0, 1, 7], members);
    expect([...scores]).toEqual([all[1], all[0], all[1], all[7]]);
    expect(all[1]).toBeGreaterThan(all[7]);
    expect(all[7]).toBeGreaterThan(0);
    expect([...index.scoreGroupsOf(['unknown'], groups, [3], members)]).toEqual([0]);
  });
});
