// Per-cube entity links: entity key → the slots whose text names it (search/entities.ts),
// and slot → its entities, so that deep search can go from its first hits to the other
// memories naming the same people, places, titles and years (the bridge of a multi-hop
// question). Keys are interned to ids; a slot's ids sit in one growing Int32Array (slots
// are handed out in increasing order), postings are per-entity slot lists whose removed
// slots are skipped and dropped on compaction. Saved with the snapshot as its own file.
import { extractEntities } from './entities';

const MAGIC = 'engram-entities/2\n';

export class EntityIndex {
  private readonly ids = new Map<string, number>();
  private readonly keys: string[] = [];
  private postings: number[][] = [];
  /** Live slots naming each entity. */
  private df: number[] = [];
  private flat = new Int32Array(4096);
  private used = 0;
  /** Per slot: start of its ids in flat, and their count (−1: no entry or removed). */
  private start = new Int32Array(1024);
  private count = new Int32Array(1024).fill(-1);
  private liveSlots = 0;
  private stale = 0;

  get size(): number {
    return this.liveSlots;
  }

  /** Records the entities of a new slot's text (slots come in increasing order). */
  add(slot: number, text: string): void {
    this.addIds(slot, extractEntities(text).map((key) => this.idOf(key)));
  }

  remove(slot: number): void {
    if (slot >= this.count.length || this.count[slot] < 0) return;
    for (const id of this.idsOf(slot)) this.df[id]--;
    this.stale += this.count[slot];
    this.count[slot] = -1;
    this.liveSlots--;
    if (this.stale > 4096 && this.stale > this.used / 2) this.compact();
  }

  /** Entity ids of a live slot. */
  idsOf(slot: number): Int32Array {
    const n = slot < this.count.length ? this.count[slot] : -1;
    return n <= 0 ? new Int32Array(0) : this.flat.subarray(this.start[slot], this.start[slot] + n);
  }

  /** Live slots naming an entity (as many as df; stale entries skipped). */
  slotsOf(id: number): number[] {
    return (this.postings[id] ?? []).filter((slot) => this.count[slot] >= 0 && this.has(slot, id));
  }

  dfOf(id: number): number {
    return this.df[id] ?? 0;
  }

  keyOf(id: number): string {
    return this.keys[id];
  }

  /**
   * The vocabulary (JSON) and, per slot, its id count (−1: none) and ids, as little-endian
   * int32 runs; postings and df are rebuilt on decode. Binary, so a large cube's file is
   * copied, not stringified.
   */
  encode(): Buffer {
    const keys = Buffer.from(JSON.stringify(this.keys), 'utf8');
    const slots = this.count.length;
    let live = 0;
    for (let slot = 0; slot < slots; slot++) if (this.count[slot] > 0) live += this.count[slot];
    const out = Buffer.alloc(MAGIC.length + 4 + keys.length + 4 + 4 * slots + 4 + 4 * live);
    let at = out.write(MAGIC, 0, 'latin1');
    at = out.writeUInt32LE(keys.length, at);
    at += keys.copy(out, at);
    at = out.writeUInt32LE(slots, at);
    // Typed arrays are copied in as bytes (the keys leave the offset unaligned; the platforms run little-endian).
    at += Buffer.from(this.count.buffer, this.count.byteOffset, 4 * slots).copy(out, at);
    at = out.writeUInt32LE(live, at);
    const ids = new Int32Array(live);
    let used = 0;
    for (let slot = 0; slot < slots; slot++) {
      if (this.count[slot] <= 0) continue;
      ids.set(this.idsOf(slot), used);
      used += this.count[slot];
    }
    Buffer.from(ids.buffer).copy(out, at);
    return out;
  }

  static decode(data: Buffer): EntityIndex {
    if (data.length < MAGIC.length + 12 || data.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error('not an entity index');
    let at = MAGIC.length;
    const keyBytes = data.readUInt32LE(at);
    at += 4;
    const keys = JSON.parse(data.toString('utf8', at, at + keyBytes)) as unknown;
    at += keyBytes;
    if (!Array.isArray(keys)) throw new Error('not an entity index');
    const slots = data.readUInt32LE(at);
    at += 4;
    if (at + 4 * slots + 4 > data.length) throw new Error('entity index truncated');
    // Copied out: the buffer's offset need not be 4-aligned.
    const counts = new Int32Array(Uint8Array.prototype.slice.call(data, at, at + 4 * slots).buffer);
    at += 4 * slots;
    const live = data.readUInt32LE(at);
    at += 4;
    if (at + 4 * live !== data.length) throw new Error('entity index truncated');
    const ids = new Int32Array(Uint8Array.prototype.slice.call(data, at, at + 4 * live).buffer);
    const index = new EntityIndex();
    for (const key of keys) index.idOf(String(key));
    let used = 0;
    for (let slot = 0; slot < slots; slot++) {
      const n = counts[slot];
      if (n < 0) continue;
      const own = ids.subarray(used, used + n);
      used += n;
      if (own.length !== n || own.some((id) => !(id >= 0 && id < index.keys.length))) throw new Error(`bad entities at slot ${slot}`);
      index.addIds(slot, own);
    }
    return index;
  }

  approximateBytes(): number {
    return this.flat.byteLength + this.start.byteLength + this.count.byteLength + this.used * 8 + this.keys.length * 64;
  }

  private has(slot: number, id: number): boolean {
    const ids = this.idsOf(slot);
    for (let i = 0; i < ids.length; i++) if (ids[i] === id) return true;
    return false;
  }

  private idOf(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.keys.length;
      this.ids.set(key, id);
      this.keys.push(key);
      this.postings.push([]);
      this.df.push(0);
    }
    return id;
  }

  /** Room for this many slots in one allocation (a rebuild that knows its size). */
  reserve(slots: number): void {
    if (slots > this.count.length) this.growSlots(slots);
  }

  private growSlots(cap: number): void {
    const start = new Int32Array(cap);
    start.set(this.start);
    const count = new Int32Array(cap).fill(-1);
    count.set(this.count);
    this.start = start;
    this.count = count;
  }

  private addIds(slot: number, ids: ArrayLike<number>): void {
    if (slot >= this.count.length) {
      let cap = this.count.length;
      while (cap <= slot) cap *= 2;
      this.growSlots(cap);
    }
    if (this.count[slot] >= 0) this.remove(slot);
    if (this.used + ids.length > this.flat.length) {
      const flat = new Int32Array(Math.max(this.flat.length * 2, this.used + ids.length));
      flat.set(this.flat.subarray(0, this.used));
      this.flat = flat;
    }
    this.start[slot] = this.used;
    this.count[slot] = ids.length;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.flat[this.used + i] = id;
      this.postings[id].push(slot);
      this.df[id]++;
    }
    this.used += ids.length;
    this.liveSlots++;
  }

  /** Drops removed slots' ids from flat and postings. */
  private compact(): void {
    const flat = new Int32Array(Math.max(4096, this.used - this.stale));
    let used = 0;
    this.postings = this.postings.map(() => []);
    for (let slot = 0; slot < this.count.length; slot++) {
      const n = this.count[slot];
      if (n < 0) continue;
      const ids = this.flat.subarray(this.start[slot], this.start[slot] + n);
      flat.set(ids, used);
      this.start[slot] = used;
      used += n;
      for (const id of ids) this.postings[id].push(slot);
    }
    this.flat = flat;
    this.used = used;
    this.stale = 0;
  }
}
