// A bounded min-heap of (slot, score) over typed arrays: the best k of a stream in
// O(n log k) without allocating per item. Ties keep the smaller slot (older document).

export class TopK {
  private readonly slots: Int32Array;
  private readonly scores: Float64Array;
  private size = 0;

  constructor(readonly k: number) {
    this.slots = new Int32Array(Math.max(1, k));
    this.scores = new Float64Array(Math.max(1, k));
  }

  get length(): number {
    return this.size;
  }

  push(slot: number, score: number): void {
    if (this.k <= 0) return;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(score, slot, this.scores[parent], this.slots[parent])) break;
        this.slots[i] = this.slots[parent];
        this.scores[i] = this.scores[parent];
        i = parent;
      }
      this.slots[i] = slot;
      this.scores[i] = score;
      return;
    }
    if (!this.worse(this.scores[0], this.slots[0], score, slot)) return;
    // Replace the root (the worst kept) and sift down.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const c = r < this.size && this.worse(this.scores[r], this.slots[r], this.scores[l], this.slots[l]) ? r : l;
      if (!this.worse(this.scores[c], this.slots[c], score, slot)) break;
      this.slots[i] = this.slots[c];
      this.scores[i] = this.scores[c];
      i = c;
    }
    this.slots[i] = slot;
    this.scores[i] = score;
  }

  /** Slots, best first. */
  sorted(): number[] {
    const order = Array.from({ length: this.size }, (_, i) => i);
    order.sort((a, b) => (this.worse(this.scores[a], this.slots[a], this.scores[b], this.slots[b]) ? 1 : -1));
    return order.map((i) => this.slots[i]);
  }

  private worse(scoreA: number, slotA: number, scoreB: number, slotB: number): boolean {
    return scoreA < scoreB || (scoreA === scoreB && slotA > slotB);
  }
}
