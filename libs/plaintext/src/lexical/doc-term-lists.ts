// The distinct term ids of each document of a BM25 index, kept to undo a document on
// removal and for pseudo-relevance feedback (termsOf). Each document's ids are sorted and
// written as delta varints into one shared byte pool (about 2 bytes a term instead of 4,
// and no typed array, array buffer and backing store per document: ADR 0119). Removed
// documents' bytes stay until they are half the pool, then the pool is compacted.

/** Marks a slot without a list. */
const NONE = -1;

export class DocTermLists {
  private bytes = new Uint8Array(1 << 14);
  private used = 0;
  private stale = 0;
  /** Per slot: first byte of its list in the pool (NONE: no list), and its number of ids. */
  private start = new Int32Array(1024).fill(NONE);
  private count = new Int32Array(1024);

  /** Bytes held: the pool and the per-slot arrays. */
  get byteLength(): number {
    return this.bytes.byteLength + this.start.byteLength + this.count.byteLength;
  }

  has(slot: number): boolean {
    return slot < this.start.length && this.start[slot] !== NONE;
  }

  /** Records a slot's distinct term ids (sorted in place) in place of any list it had. */
  set(slot: number, ids: Int32Array): void {
    this.delete(slot);
    ids.sort();
    this.ensureSlots(slot + 1);
    // At most 5 bytes a varint of a non-negative int32.
    this.ensureBytes(this.used + 5 * ids.length);
    const bytes = this.bytes;
    let at = this.used;
    let previous = 0;
    for (let i = 0; i < ids.length; i++) {
      let v = ids[i] - previous;
      previous = ids[i];
      while (v >= 0x80) {
        bytes[at++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      bytes[at++] = v;
    }
    this.start[slot] = this.used;
    this.count[slot] = ids.length;
    this.used = at;
  }

  /** Calls fn with each term id of a slot, in increasing order (nothing for a slot without a list). */
  forEach(slot: number, fn: (id: number) => void): void {
    if (!this.has(slot)) return;
    const bytes = this.bytes;
    let at = this.start[slot];
    let id = 0;
    for (let n = this.count[slot]; n > 0; n--) {
      let v = 0;
      let shift = 0;
      let b: number;
      do {
        b = bytes[at++];
        v |= (b & 0x7f) << shift;
        shift += 7;
      } while (b & 0x80);
      id += v;
      fn(id);
    }
  }

  /** The term ids of a slot, in increasing order (undefined without a list). */
  get(slot: number): Int32Array | undefined {
    if (!this.has(slot)) return undefined;
    const ids = new Int32Array(this.count[slot]);
    let i = 0;
    this.forEach(slot, (id) => (ids[i++] = id));
    return ids;
  }

  delete(slot: number): void {
    if (!this.has(slot)) return;
    this.stale += this.listBytes(slot);
    this.start[slot] = NONE;
    this.count[slot] = 0;
    if (this.stale > 4096 && this.stale * 2 > this.used) this.compact();
  }

  /** Bytes of a slot's list (it has one). */
  private listBytes(slot: number): number {
    const bytes = this.bytes;
    let at = this.start[slot];
    for (let n = this.count[slot]; n > 0; n--) while (bytes[at++] & 0x80);
    return at - this.start[slot];
  }

  /** Rewrites the pool without removed lists, at the size the live ones need. */
  private compact(): void {
    const live = this.used - this.stale;
    const next = new Uint8Array(Math.max(1 << 14, live + (live >> 3)));
    let at = 0;
    for (let slot = 0; slot < this.start.length; slot++) {
      if (this.start[slot] === NONE) continue;
      const n = this.listBytes(slot);
      next.set(this.bytes.subarray(this.start[slot], this.start[slot] + n), at);
      this.start[slot] = at;
      at += n;
    }
    this.bytes = next;
    this.used = at;
    this.stale = 0;
  }

  private ensureBytes(n: number): void {
    if (n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(n, Math.ceil(this.bytes.length * 1.5)));
    next.set(this.bytes.subarray(0, this.used));
    this.bytes = next;
  }

  private ensureSlots(n: number): void {
    if (n <= this.start.length) return;
    let cap = this.start.length;
    while (cap < n) cap *= 2;
    const start = new Int32Array(cap).fill(NONE);
    start.set(this.start);
    const count = new Int32Array(cap);
    count.set(this.count);
    this.start = start;
    this.count = count;
  }
}
