// The documents of one cube index by slot: what filters, session context and priors read
// (attributes, session, role), the attribute lists a filter starts from, and the per-session
// lengths the session-level BM25 needs. A document takes a new slot on every upsert; the old
// slot is dropped at once and its list entries are skipped until compaction.
//
// Columnar (ADR 0115): one typed array per attribute, indexed by slot, and every string,
// tag list and metadata object interned once per cube, instead of a JS object per
// document; attributes(slot) puts a document's attributes together when a filter needs them.
import { DocumentAttributes, MemoryFilter } from '../filter/memory-filter';
import { DocumentColumns, DocumentTables, NONE } from './document-columns';
import { decodeDocumentStore, DecodedDocuments, encodeDocumentStore } from './document-codec';
import { Interner } from './interner';

/** The documents a filter can only admit from: a slot list, a membership mask, and whether the lists decide it alone. */
export interface FilterBase {
  readonly slots: number[];
  readonly mask: Uint8Array;
  readonly exact: boolean;
}

const SELECTIVITY_SAMPLE = 256;
const MAX_INDEXED_METADATA_STRING = 256;
export class DocumentStore {
  readonly slotByLabel = new Map<number, number>();
  /** Slots handed out so far (live or dropped). */
  private slots = 0;
  columns = new DocumentColumns(1024);
  /** 1 for a live slot. */
  private live = new Uint8Array(1024);
  readonly tables: DocumentTables = { sessions: new Interner(), kinds: new Interner(), roles: new Interner(), states: new Interner(), tags: new Interner(), metadata: new Interner() };
  /** Live slots of each session, in insertion order. */
  readonly sessionSlots: number[][] = [];
  /**
   * Slots by kind, role and tag ("k:fact", "r:user", "t:travel"), so that a filter on them
   * starts from its matching documents instead of scanning the cube. Entries of removed or
   * replaced documents stay until compaction and are skipped (their slot is dead).
   * Null after decode() until the first filter needs them (built from the columns then):
   * a loaded cube that is searched without filters never builds them.
   */
  private attributeSlots: Map<string, number[]> | null = new Map<string, number[]>();
  private attributeEntries = 0;
  private staleAttributeEntries = 0;
  sessionOfSlot = new Int32Array(1024);
  /** Role of each slot as a small code (0 = none), so ranking reads a typed array, not the record. */
  roleOfSlot = new Uint8Array(1024);
  private readonly roleCodes = new Map<string, number>();
  readonly roleNames: string[] = [''];
  /** Per session: analysed terms of its live turns, and how many live turns it has. */
  sessionLength = new Float64Array(256);
  private sessionLive = new Int32Array(256);
  liveSessions = 0;
  totalSessionLength = 0;
  /** Documents whose state is not 'active' (a search must then test states). */
  nonActive = 0;
  newestObservedAt = -Infinity;

  get size(): number {
    return this.slotByLabel.size;
  }

  get slotCount(): number {
    return this.slots;
  }

  get sessionCount(): number {
    return this.tables.sessions.size;
  }

  /** The slot the next add() takes. */
  get nextSlot(): number {
    return this.slots;
  }

  isLive(slot: number): boolean {
    return slot < this.slots && this.live[slot] === 1;
  }

  /** The label of a slot (live or dropped; NaN past the slots handed out). */
  labelOf(slot: number): number {
    return slot < this.slots ? this.columns.label[slot] : NaN;
  }

  position(slot: number): number | undefined {
    const p = this.columns.position[slot];
    return Number.isNaN(p) ? undefined : p;
  }

  observedAt(slot: number): number | undefined {
    const t = this.columns.observedAt[slot];
    return Number.isNaN(t) ? undefined : t;
  }

  importance(slot: number): number | undefined {
    const v = this.columns.importance[slot];
    return Number.isNaN(v) ? undefined : v;
  }

  /** A slot's attributes as one object (fields absent where the document had none). */
  attributes(slot: number): DocumentAttributes {
    const c = this.columns;
    const t = this.tables;
    const attrs: { -readonly [K in keyof DocumentAttributes]: DocumentAttributes[K] } = {};
    if (c.kind[slot] !== NONE) attrs.kind = t.kinds.values[c.kind[slot]];
    if (c.role[slot] !== NONE) attrs.role = t.roles.values[c.role[slot]];
    if (c.tags[slot] !== NONE) attrs.tags = t.tags.values[c.tags[slot]];
    if (c.metadata[slot] !== NONE) attrs.metadata = t.metadata.values[c.metadata[slot]];
    const session = this.sessionOfSlot[slot];
    if (session >= 0) attrs.sessionId = t.sessions.values[session];
    if (!Number.isNaN(c.position[slot])) attrs.position = c.position[slot];
    if (!Number.isNaN(c.observedAt[slot])) attrs.observedAt = c.observedAt[slot];
    if (!Number.isNaN(c.validFrom[slot])) attrs.validFrom = c.validFrom[slot];
    if (!Number.isNaN(c.validTo[slot])) attrs.validTo = c.validTo[slot];
    if (!Number.isNaN(c.importance[slot])) attrs.importance = c.importance[slot];
    if (c.state[slot] !== NONE) attrs.state = t.states.values[c.state[slot]];
    return attrs;
  }

  /** Records a document under the next slot (the caller dropped its previous slot first) and returns it. */
  add(label: number, attrs: DocumentAttributes, termCount: number): number {
    const slot = this.slots;
    const t = this.tables;
    this.ensureSlots(slot + 1);
    const c = this.columns;
    c.label[slot] = label;
    c.position[slot] = attrs.position ?? NaN;
    c.observedAt[slot] = attrs.observedAt ?? NaN;
    c.validFrom[slot] = attrs.validFrom ?? NaN;
    c.validTo[slot] = attrs.validTo ?? NaN;
    c.importance[slot] = attrs.importance ?? NaN;
    c.kind[slot] = attrs.kind === undefined ? NONE : t.kinds.intern(attrs.kind);
    c.role[slot] = attrs.role === undefined ? NONE : t.roles.intern(attrs.role);
    c.state[slot] = attrs.state === undefined ? NONE : t.states.intern(attrs.state);
    c.tags[slot] = attrs.tags === undefined ? NONE : t.tags.intern(Object.freeze([...attrs.tags]));
    c.metadata[slot] = attrs.metadata === undefined ? NONE : t.metadata.intern(attrs.metadata);
    const session = attrs.sessionId === undefined ? -1 : this.sessionNumber(attrs.sessionId);
    this.slots++;
    this.live[slot] = 1;
    this.sessionOfSlot[slot] = session;
    this.roleOfSlot[slot] = this.roleCode(attrs.role);
    if (session >= 0) this.sessionSlots[session].push(slot);
    if (this.attributeSlots) this.listAttributes(this.attributeSlots, slot);
    this.slotByLabel.set(label, slot);
    if (session >= 0) {
      if (this.sessionLive[session]++ === 0) this.liveSessions++;
      this.sessionLength[session] += termCount;
      this.totalSessionLength += termCount;
    }
    if ((attrs.state ?? 'active') !== 'active') this.nonActive++;
    if (attrs.observedAt !== undefined && attrs.observedAt > this.newestObservedAt) this.newestObservedAt = attrs.observedAt;
    return slot;
  }

  /** Forgets a slot (its label keeps pointing at it until the caller deletes or re-adds the label); returns its label, undefined when it was not live. */
  drop(slot: number, termCount: number): number | undefined {
    if (!this.isLive(slot)) return undefined;
    const session = this.sessionOfSlot[slot];
    if (session >= 0) {
      this.sessionLength[session] -= termCount;
      this.totalSessionLength -= termCount;
      if (--this.sessionLive[session] === 0) this.liveSessions--;
      const slots = this.sessionSlots[session];
      const i = slots.indexOf(slot);
      if (i >= 0) slots.splice(i, 1);
    }
    const state = this.columns.state[slot];
    if (state !== NONE && this.tables.states.values[state] !== 'active') this.nonActive--;
    this.live[slot] = 0;
    if (this.attributeSlots) {
      this.staleAttributeEntries += this.attributeKeys(slot).length;
      if (this.staleAttributeEntries > 1024 && this.staleAttributeEntries > this.size) this.compactAttributes();
    }
    return this.columns.label[slot];
  }

  /**
   * The turns next to a document in its session: by position when the turns carry one
   * (position ± 1), otherwise the documents added just before and after it.
   */
  neighbours(slot: number): number[] {
    if (!this.isLive(slot)) return [];
    const session = this.sessionOfSlot[slot];
    if (session < 0) return [];
    const turns = this.sessionSlots[session];
    const position = this.columns.position[slot];
    if (!Number.isNaN(position)) {
      return turns.filter((other) => Math.abs(this.columns.position[other] - position) === 1);
    }
    const i = turns.indexOf(slot);
    return [turns[i - 1], turns[i + 1]].filter((s): s is number => s !== undefined);
  }

  /**
   * The store as bytes, in pieces (each bounded, so a caller writing them can yield to the
   * event loop in between): the tables, then every slot's columns (dropped ones included),
   * so that decode() gives each document its slot and session number back.
   */
  encodeChunks(): Iterable<Buffer> {
    return encodeDocumentStore(this.slots, this.columns, this.live, this.sessionOfSlot, this.tables);
  }

  encode(): Buffer {
    return Buffer.concat([...this.encodeChunks()]);
  }

  /** The store encode() wrote; termCount gives the analysed length of a slot (from the lexical index). */
  static decode(data: Buffer, termCount: (slot: number) => number): DocumentStore {
    const store = new DocumentStore();
    store.attributeSlots = null; // built by the first filter that needs them
    store.restore(decodeDocumentStore(data), termCount);
    return store;
  }

  /** Takes in a decoded store (on an empty one) and derives what is not saved: the label map, sessions' slots and lengths, role codes, counts. */
  private restore(decoded: DecodedDocuments, termCount: (slot: number) => number): void {
    const t = this.tables;
    (decoded.tables.sessions as string[]).forEach((id) => this.sessionNumber(String(id)));
    (decoded.tables.kinds as string[]).forEach((v) => t.kinds.intern(String(v)));
    (decoded.tables.roles as string[]).forEach((v) => t.roles.intern(String(v)));
    (decoded.tables.states as string[]).forEach((v) => t.states.intern(String(v)));
    (decoded.tables.tags as string[][]).forEach((v) => t.tags.intern(Object.freeze(v)));
    (decoded.tables.metadata as Record<string, unknown>[]).forEach((v) => t.metadata.intern(v));
    if (t.sessions.size + t.kinds.size + t.roles.size + t.states.size + t.tags.size + t.metadata.size !== Object.values(decoded.tables).reduce((n, v) => n + v.length, 0)) {
      throw new Error('document store tables repeat an entry');
    }
    const n = decoded.slots;
    this.columns = decoded.columns;
    this.live = decoded.live;
    this.sessionOfSlot = decoded.sessionOfSlot;
    this.roleOfSlot = new Uint8Array(decoded.columns.capacity);
    this.slots = n;
    const c = this.columns;
    const roleCodeOf = t.roles.values.map((role) => this.roleCode(role));
    for (let slot = 0; slot < n; slot++) {
      if (this.live[slot] !== 1) continue;
      const label = c.label[slot];
      if (this.slotByLabel.has(label)) throw new Error(`bad document at slot ${slot}`);
      this.slotByLabel.set(label, slot);
      if (c.role[slot] !== NONE) this.roleOfSlot[slot] = roleCodeOf[c.role[slot]];
      const session = this.sessionOfSlot[slot];
      if (session >= 0) {
        const terms = termCount(slot);
        this.sessionSlots[session].push(slot);
        if (this.sessionLive[session]++ === 0) this.liveSessions++;
        this.sessionLength[session] += terms;
        this.totalSessionLength += terms;
      }
      if (c.state[slot] !== NONE && t.states.values[c.state[slot]] !== 'active') this.nonActive++;
      if (c.observedAt[slot] > this.newestObservedAt) this.newestObservedAt = c.observedAt[slot];
    }
  }

  /** Estimated memory: the columns and per-slot arrays exactly, the tables by their keys, map and list entries. */
  approximateBytes(): number {
    let bytes = this.columns.capacity * DocumentColumns.BYTES_PER_SLOT + this.live.byteLength + this.sessionOfSlot.byteLength + this.roleOfSlot.byteLength;
    bytes += this.sessionLength.byteLength + this.sessionLive.byteLength + 40 * this.slotByLabel.size;
    for (const table of Object.values(this.tables) as Interner<unknown>[]) bytes += table.approximateBytes();
    bytes += 40 * this.sessionSlots.length + 8 * this.size + (this.attributeSlots ? 8 * this.attributeEntries + 64 * this.attributeSlots.size : 0);
    return bytes;
  }

  /** Share of live documents a filter admits, estimated on an even sample of slots. */
  admittedShare(admits: (slot: number) => boolean): number {
    const n = this.slots;
    if (n === 0) return 0;
    const step = Math.max(1, Math.floor(n / SELECTIVITY_SAMPLE));
    let seen = 0;
    let admitted = 0;
    for (let slot = 0; slot < n; slot += step) {
      if (this.live[slot] !== 1) continue;
      seen++;
      if (admits(slot)) admitted++;
    }
    return seen === 0 ? 0 : admitted / seen;
  }

  /**
   * The documents a filter can only admit from, when it names sessions, kinds, roles, metadata or
   * tags: the intersection of those fields (each field the union of its lists), as a list
   * and a membership mask over slots. Null when the filter names none of these fields.
   */
  filterBase(filter: MemoryFilter | undefined): FilterBase | null {
    if (!filter) return null;
    const fields: (readonly number[])[] = [];
    // Exact: the lists decide the filter alone (no time bounds, every metadata value indexed).
    let exact = filter.validAt === undefined && filter.observedAfter === undefined && filter.observedBefore === undefined;
    if (filter.sessionIds) {
      fields.push(filter.sessionIds.flatMap((id) => {
        const n = this.tables.sessions.find(id);
        return n === undefined ? [] : this.sessionSlots[n];
      }));
    }
    const union = (prefix: string, values: readonly string[]): readonly number[] => {
      const lists = [...new Set(values)].map((v) => this.attributeLists().get(prefix + v) ?? []);
      if (lists.length === 1) return lists[0]; // the common case: no copy
      const out: number[] = [];
      for (const list of lists) for (const slot of list) out.push(slot);
      return out;
    };
    if (filter.kinds) fields.push(union('k:', filter.kinds));
    if (filter.roles) fields.push(union('r:', filter.roles));
    if (filter.tagsAny && filter.tagsAny.length > 0) fields.push(union('t:', filter.tagsAny));
    if (filter.tagsAll) for (const tag of new Set(filter.tagsAll)) fields.push(union('t:', [tag]));
    for (const [key, condition] of Object.entries(filter.metadata ?? {})) {
      const values = condition !== null && typeof condition === 'object' && 'in' in condition ? condition.in : [condition];
      // Only when every wanted value is indexed is the list a superset of the matches.
      if (values.every(indexableMetadataValue)) fields.push(union('', values.map((v) => metadataKey(key, v))));
      else exact = false;
    }
    if (fields.length === 0) return null;
    fields.sort((a, b) => a.length - b.length);
    // mask[slot] = number of fields (so far) the slot is in, counting each field once: a
    // document in two lists of one field (e.g. tagsAny ['a', 'b']) is counted once per
    // field because the mask only advances from i to i + 1 within field i.
    const mask = new Uint8Array(this.slots);
    fields.forEach((field, i) => {
      for (const slot of field) if (mask[slot] === i) mask[slot] = i + 1;
    });
    const n = fields.length;
    const slots: number[] = [];
    for (const slot of fields[0]) {
      if (mask[slot] === n) {
        slots.push(slot);
        mask[slot] = 255; // listed once even if the first field named it twice
      }
    }
    for (let i = 0; i < mask.length; i++) mask[i] = mask[i] === 255 ? 1 : 0;
    return { slots, mask, exact };
  }

  private attributeKeys(slot: number): string[] {
    const c = this.columns;
    const t = this.tables;
    const keys: string[] = [];
    if (c.kind[slot] !== NONE) keys.push('k:' + t.kinds.values[c.kind[slot]]);
    if (c.role[slot] !== NONE) keys.push('r:' + t.roles.values[c.role[slot]]);
    if (c.tags[slot] !== NONE) for (const tag of new Set(t.tags.values[c.tags[slot]])) keys.push('t:' + tag);
    // Top-level scalar metadata values, so metadata filters start from a list, not a scan.
    if (c.metadata[slot] !== NONE) {
      for (const [key, value] of Object.entries(t.metadata.values[c.metadata[slot]])) {
        if (indexableMetadataValue(value)) keys.push(metadataKey(key, value));
      }
    }
    return keys;
  }

  private listAttributes(lists: Map<string, number[]>, slot: number): void {
    for (const key of this.attributeKeys(slot)) {
      let list = lists.get(key);
      if (!list) lists.set(key, (list = []));
      list.push(slot);
      this.attributeEntries++;
    }
  }

  /** The attribute lists, built from the live slots the first time a decoded store needs them (in slot order, as adds make them). */
  private attributeLists(): Map<string, number[]> {
    if (this.attributeSlots) return this.attributeSlots;
    const lists = new Map<string, number[]>();
    this.attributeEntries = 0;
    for (let slot = 0; slot < this.slots; slot++) if (this.live[slot] === 1) this.listAttributes(lists, slot);
    this.staleAttributeEntries = 0;
    return (this.attributeSlots = lists);
  }

  private compactAttributes(): void {
    const lists = this.attributeLists();
    this.attributeEntries = 0;
    for (const [key, list] of lists) {
      const live = list.filter((slot) => this.live[slot] === 1);
      if (live.length === 0) lists.delete(key);
      else lists.set(key, live);
      this.attributeEntries += live.length;
    }
    this.staleAttributeEntries = 0;
  }

  /** The session number of an id, added on first sight. */
  sessionNumber(id: string): number {
    const sessions = this.tables.sessions;
    const known = sessions.find(id);
    if (known !== undefined) return known;
    const n = sessions.intern(id);
    this.sessionSlots.push([]);
    if (n >= this.sessionLength.length) {
      const cap = this.sessionLength.length * 2;
      const grow = <T extends Float64Array | Int32Array>(a: T, next: T): T => {
        next.set(a);
        return next;
      };
      this.sessionLength = grow(this.sessionLength, new Float64Array(cap));
      this.sessionLive = grow(this.sessionLive, new Int32Array(cap));
    }
    return n;
  }

  private roleCode(role: string | undefined): number {
    if (role === undefined) return 0;
    let code = this.roleCodes.get(role);
    if (code === undefined) {
      // Past 255 distinct roles, further ones share "no role" (weight 1).
      if (this.roleNames.length > 255) return 0;
      code = this.roleNames.length;
      this.roleNames.push(role);
      this.roleCodes.set(role, code);
    }
    return code;
  }

  /** Room for this many slots in one allocation (a rebuild that knows its size). */
  reserve(slots: number): void {
    this.ensureSlots(slots, true);
  }

  private ensureSlots(n: number, exact = false): void {
    if (n <= this.sessionOfSlot.length) return;
    let cap = this.sessionOfSlot.length;
    // By a quarter once large (ADR 0112), so a big cube does not hold twice its columns.
    while (cap < n) cap = cap < 1 << 16 ? cap * 2 : Math.ceil(cap * 1.25);
    if (exact) cap = n;
    const grow = <T extends Int32Array | Uint8Array>(a: T, next: T): T => {
      next.set(a);
      return next;
    };
    this.sessionOfSlot = grow(this.sessionOfSlot, new Int32Array(cap));
    this.roleOfSlot = grow(this.roleOfSlot, new Uint8Array(cap));
    this.live = grow(this.live, new Uint8Array(cap));
    this.columns.grow(cap);
  }
}

function indexableMetadataValue(value: unknown): boolean {
  return value === null || typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && value.length <= MAX_INDEXED_METADATA_STRING);
}

function metadataKey(key: string, value: unknown): string {
  return `m:${key}\u0000${JSON.stringify(value)}`;
}
