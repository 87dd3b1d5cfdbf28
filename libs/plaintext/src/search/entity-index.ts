// Per-cube entity links: entity key → the slots whose text names it (search/entities.ts),
// and slot → its entities, so that deep search can go from its first hits to the other
// memories naming the same people, places, titles and years (the bridge of a multi-hop
// question). Keys are interned to ids; a slot's ids sit in one growing Int32Array (slots
// are handed out in increasing order), postings are per-entity slot lists whose removed
// slots are skipped and dropped on compaction. Saved with the snapshot as its own file.
import { extractEntities } from './entities';

const FORMAT = 'engram-entities/1';

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

  /** Slots, their entity ids and the vocabulary; postings and df are rebuilt on decode. */
  encode(): Buffer {
    const slots: [number, number[]][] = [];
    for (let slot = 0; slot < this.count.length; slot++) if (this.count[slot] >= 0) slots.push([slot, [...this.idsOf(slot)]]);
    return Buffer.from(JSON.stringify({ format: FORMAT, keys: this.keys, slots }), 'utf8');
  }

  static decode(data: Buffer): EntityIndex {
    const parsed = JSON.parse(data.toString('utf8')) as { format?: string; keys?: unknown; slots?: unknown };
    if (parsed.format !== FORMAT || !Array.isArray(parsed.keys) || !Array.isArray(parsed.slots)) throw new Error('not an entity index');
    const index = new EntityIndex();
    for (const key of parsed.keys) index.idOf(String(key));
    for (const [slot, ids] of parsed.slots as [number, number[]][]) {
      if (!Number.isInteger(slot) || !Array.isArray(ids) || ids.some((id) => !(id >= 0 && id < index.keys.length))) throw new Error(`bad entities at slot ${slot}`);
      index.addIds(slot, ids);
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

  private addIds(slot: number, ids: readonly number[]): void {
    if (slot >= this.count.length) {
      let cap = this.count.length;
      while (cap <= slot) cap *= 2;
      const start = new Int32Array(cap);
      start.set(this.start);
      const count = new Int32Array(cap).fill(-1);
      count.set(this.count);
      this.start = start;
      this.count = count;
    }
    if (this.count[slot] >= 0) this.remove(slot);
    if (this.used + ids.length > this.flat.length) {
      const flat = new Int32Array(Math.max(this.flat.length * 2, this.used + ids.length));
      flat.set(this.flat.subarray(0, this.used));
      this.flat = flat;
    }
    this.start[slot] = this.used;
    this.count[slot] = ids.length;
    ids.forEach((id, i) => {
      this.flat[this.used + i] = id;
      this.postings[id].push(slot);
      this.df[id]++;
    });
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
