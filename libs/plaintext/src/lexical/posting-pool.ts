// The postings of every term of a BM25 index in two shared columns (slots, term
// frequencies), each term a block [start, start + length) with room up to its capacity,
// described by four per-term integers, instead of an object and two typed arrays per term
// (ADR 0119). A full block moves to the end of the pool with twice the room (or grows in
// place when it is the last one); the blocks it leaves are holes, closed in place (blocks
// moved down, their room kept) when they would reach a third of the pool, so that the
// columns are only reallocated to grow. trim() closes the holes and the blocks' room and
// reallocates the columns at their size (after a snapshot). Within a block, postings stay
// in the order they were pushed (ascending slots).

const MIN_BLOCK = 2;

export class PostingPool {
  /** Slot of each posting; a term's are slots[start[id] … start[id] + length[id]). */
  slots: Int32Array;
  /** Term frequency of each posting (parallel to slots). */
  tfs: Uint16Array;
  start: Int32Array;
  length: Int32Array;
  /** Postings of live documents per term (length counts removed ones until compacted). */
  live: Int32Array;
  private capacity: Int32Array;
  private terms = 0;
  private used = 0;
  private holes = 0;

  constructor(postings = 4096, terms = 256) {
    this.slots = new Int32Array(postings);
    this.tfs = new Uint16Array(postings);
    this.start = new Int32Array(terms);
    this.length = new Int32Array(terms);
    this.live = new Int32Array(terms);
    this.capacity = new Int32Array(terms);
  }

  /**
   * A pool over postings already laid out term after term (a decoded snapshot): the arrays
   * are adopted, not copied, until the first block that must grow moves the pool into its own.
   */
  static adopt(counts: Uint32Array, slots: Int32Array, tfs: Uint16Array): PostingPool {
    const pool = new PostingPool(0, 0);
    const n = counts.length;
    pool.start = new Int32Array(Math.max(n, 16));
    pool.length = new Int32Array(pool.start.length);
    pool.live = new Int32Array(pool.start.length);
    pool.capacity = new Int32Array(pool.start.length);
    let at = 0;
    for (let id = 0; id < n; id++) {
      pool.start[id] = at;
      pool.length[id] = pool.live[id] = pool.capacity[id] = counts[id];
      at += counts[id];
    }
    if (at !== slots.length || at !== tfs.length) throw new Error('posting counts do not add up');
    pool.terms = n;
    pool.used = at;
    pool.slots = slots;
    pool.tfs = tfs;
    return pool;
  }

  get termCount(): number {
    return this.terms;
  }

  /** Postings held (live or not) and room reserved, over all terms. */
  get byteLength(): number {
    return this.slots.byteLength + this.tfs.byteLength + 16 * this.start.length;
  }

  /** A new term without postings; returns its id. */
  addTerm(): number {
    if (this.terms === this.start.length) {
      const cap = this.terms * 2;
      this.start = grown(this.start, new Int32Array(cap));
      this.length = grown(this.length, new Int32Array(cap));
      this.live = grown(this.live, new Int32Array(cap));
      this.capacity = grown(this.capacity, new Int32Array(cap));
    }
    const id = this.terms++;
    this.start[id] = this.used;
    return id;
  }

  push(id: number, slot: number, tf: number): void {
    if (this.length[id] === this.capacity[id]) this.makeRoom(id);
    const at = this.start[id] + this.length[id];
    this.slots[at] = slot;
    this.tfs[at] = Math.min(tf, 65535);
    this.length[id]++;
    this.live[id]++;
  }

  /** Drops a term's postings whose slot keep() refuses (its block keeps its room). */
  compactTerm(id: number, keep: (slot: number) => boolean): void {
    const from = this.start[id];
    const end = from + this.length[id];
    let j = from;
    for (let i = from; i < end; i++) {
      const s = this.slots[i];
      if (keep(s)) {
        this.slots[j] = s;
        this.tfs[j] = this.tfs[i];
        j++;
      }
    }
    this.length[id] = j - from;
    this.live[id] = j - from;
  }

  /** Rewrites the pool with every block exactly its length, in arrays of the size they need. */
  trim(): void {
    this.compact(true);
    if (this.slots.length > this.used) {
      this.slots = this.slots.slice(0, this.used);
      this.tfs = this.tfs.slice(0, this.used);
    }
  }

  /**
   * Room for this many postings in one allocation (a rebuild that can tell how many it will
   * hold), so that the pool is not regrown a quarter at a time.
   */
  reserveRoom(postings: number): void {
    if (postings <= this.slots.length) return;
    this.slots = grown(this.slots, new Int32Array(postings), this.used);
    this.tfs = grown(this.tfs, new Uint16Array(postings), this.used);
  }

  /** Postings held (live or not yet compacted), over all terms. */
  get held(): number {
    let held = 0;
    for (let id = 0; id < this.terms; id++) held += this.length[id];
    return held;
  }

  /** Share of the pool's postings room that holds no posting. */
  get slack(): number {
    return this.slots.length === 0 ? 0 : 1 - this.held / this.slots.length;
  }

  private makeRoom(id: number): void {
    const cap = this.capacity[id];
    const wanted = Math.max(MIN_BLOCK, cap * 2);
    // Moving the block would leave the holes at a third of the pool: close them first.
    if (this.start[id] + cap !== this.used && this.holes + cap > (this.used + wanted) / 3) this.compact(false);
    const start = this.start[id];
    if (start + cap === this.used) {
      // The last block grows in place.
      this.reserve(start + wanted);
      this.used = start + wanted;
      this.capacity[id] = wanted;
      return;
    }
    this.reserve(this.used + wanted);
    const to = this.used;
    this.slots.copyWithin(to, start, start + this.length[id]);
    this.tfs.copyWithin(to, start, start + this.length[id]);
    this.start[id] = to;
    this.capacity[id] = wanted;
    this.used += wanted;
    this.holes += cap;
  }

  /**
   * Moves every block down over the holes, in place (in the order the blocks lie), keeping
   * each block's room, or none when exact. No new arrays: the allocator is left no holes of its own.
   */
  private compact(exact: boolean): void {
    const start = this.start;
    const capacity = this.capacity;
    const order = Array.from({ length: this.terms }, (_, id) => id).sort((a, b) => start[a] - start[b] || capacity[a] - capacity[b]);
    let at = 0;
    for (const id of order) {
      const from = start[id];
      const n = this.length[id];
      if (from !== at) {
        this.slots.copyWithin(at, from, from + n);
        this.tfs.copyWithin(at, from, from + n);
      }
      start[id] = at;
      if (exact) capacity[id] = n;
      at += capacity[id];
    }
    this.used = at;
    this.holes = 0;
  }

  private reserve(n: number): void {
    if (n <= this.slots.length) return;
    const cap = Math.max(n, 4096, Math.ceil(this.slots.length * 1.25));
    this.slots = grown(this.slots, new Int32Array(cap), this.used);
    this.tfs = grown(this.tfs, new Uint16Array(cap), this.used);
  }
}

function grown<T extends Int32Array | Uint16Array>(from: T, to: T, n = from.length): T {
  to.set(from.subarray(0, n) as never);
  return to;
}
