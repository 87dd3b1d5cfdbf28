// The documents of one cube index by slot: what filters, session context and priors read
// (attributes, session, role), the attribute lists a filter starts from, and the per-session
// lengths the session-level BM25 needs. A document takes a new slot on every upsert; the old
// slot is dropped at once and its list entries are skipped until compaction.
import { DocumentAttributes, MemoryFilter } from '../filter/memory-filter';

export interface DocRecord {
  readonly label: number;
  readonly attrs: DocumentAttributes;
  readonly session: number;
}

/** The documents a filter can only admit from: a slot list, a membership mask, and whether the lists decide it alone. */
export interface FilterBase {
  readonly slots: number[];
  readonly mask: Uint8Array;
  readonly exact: boolean;
}

const SELECTIVITY_SAMPLE = 256;
const DOCUMENTS_FORMAT = 'engram-documents/1';
const MAX_INDEXED_METADATA_STRING = 256;

export class DocumentStore {
  readonly slotByLabel = new Map<number, number>();
  readonly records: (DocRecord | undefined)[] = [];
  private readonly sessionIds = new Map<string, number>();
  /** Live slots of each session, in insertion order. */
  readonly sessionSlots: number[][] = [];
  /**
   * Slots by kind, role and tag ("k:fact", "r:user", "t:travel"), so that a filter on them
   * starts from its matching documents instead of scanning the cube. Entries of removed or
   * replaced documents stay until compaction and are skipped (their record is gone).
   * Null after decode() until the first filter needs them (built from the records then):
   * a loaded cube that is searched without filters never builds them.
   */
  private attributeSlots: Map<string, number[]> | null = new Map<string, number[]>();
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

  /** Slots handed out so far (live or dropped). */
  get slotCount(): number {
    return this.records.length;
  }

  get sessionCount(): number {
    return this.sessionIds.size;
  }

  /** The slot the next add() takes. */
  get nextSlot(): number {
    return this.records.length;
  }

  /** Records a document under the next slot (the caller dropped its previous slot first) and returns it. */
  add(label: number, attrs: DocumentAttributes, termCount: number): number {
    const slot = this.records.length;
    const session = attrs.sessionId === undefined ? -1 : this.sessionNumber(attrs.sessionId);
    this.records.push({ label, attrs, session });
    this.ensureSlots(slot + 1);
    this.sessionOfSlot[slot] = session;
    this.roleOfSlot[slot] = this.roleCode(attrs.role);
    if (session >= 0) this.sessionSlots[session].push(slot);
    if (this.attributeSlots) this.listAttributes(this.attributeSlots, slot, attrs);
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

  /** Forgets a slot (its label keeps pointing at it until the caller deletes or re-adds the label). */
  drop(slot: number, termCount: number): DocRecord | undefined {
    const rec = this.records[slot];
    if (!rec) return undefined;
    if (rec.session >= 0) {
      this.sessionLength[rec.session] -= termCount;
      this.totalSessionLength -= termCount;
      if (--this.sessionLive[rec.session] === 0) this.liveSessions--;
    }
    if ((rec.attrs.state ?? 'active') !== 'active') this.nonActive--;
    if (rec.session >= 0) {
      const slots = this.sessionSlots[rec.session];
      const i = slots.indexOf(slot);
      if (i >= 0) slots.splice(i, 1);
    }
    this.records[slot] = undefined;
    if (this.attributeSlots) {
      this.staleAttributeEntries += attributeKeys(rec.attrs).length;
      if (this.staleAttributeEntries > 1024 && this.staleAttributeEntries > this.size) this.compactAttributes();
    }
    return rec;
  }

  /**
   * The turns next to a document in its session: by position when the turns carry one
   * (position ± 1), otherwise the documents added just before and after it.
   */
  neighbours(slot: number): number[] {
    const rec = this.records[slot];
    if (!rec || rec.session < 0) return [];
    const turns = this.sessionSlots[rec.session];
    const position = rec.attrs.position;
    if (position !== undefined) {
      const out: number[] = [];
      for (const other of turns) {
        const p = this.records[other]?.attrs.position;
        if (p !== undefined && Math.abs(p - position) === 1) out.push(other);
      }
      return out;
    }
    const i = turns.indexOf(slot);
    return [turns[i - 1], turns[i + 1]].filter((s): s is number => s !== undefined);
  }

  /**
   * The documents as JSON bytes: sessions in number order and every slot (null for a
   * dropped one), so that decode() gives each document its slot and session number back.
   */
  encode(): Buffer {
    const sessions = [...this.sessionIds.keys()];
    const slots = this.records.map((rec) => (rec ? [rec.label, rec.attrs] : null));
    return Buffer.from(JSON.stringify({ format: DOCUMENTS_FORMAT, sessions, slots }), 'utf8');
  }

  /** The store encode() wrote; termCount gives the analysed length of a slot (from the lexical index). */
  static decode(data: Buffer, termCount: (slot: number) => number): DocumentStore {
    const parsed = JSON.parse(data.toString('utf8')) as { format?: string; sessions?: unknown; slots?: unknown };
    if (parsed.format !== DOCUMENTS_FORMAT || !Array.isArray(parsed.sessions) || !Array.isArray(parsed.slots)) throw new Error('not a document store');
    const store = new DocumentStore();
    store.attributeSlots = null; // built by the first filter that needs them
    for (const id of parsed.sessions) store.sessionNumber(String(id));
    (parsed.slots as ([number, DocumentAttributes] | null)[]).forEach((entry, slot) => {
      if (entry === null) {
        store.records.push(undefined);
        return;
      }
      const [label, attrs] = entry;
      if (typeof label !== 'number' || typeof attrs !== 'object' || attrs === null) throw new Error(`bad document at slot ${slot}`);
      store.add(label, attrs, termCount(slot));
    });
    return store;
  }

  /**
   * Estimated memory, O(attribute lists): about 260 bytes per slot (its record and
   * attributes object; tags and metadata vary), list entries, per-slot arrays.
   */
  approximateBytes(): number {
    let bytes = this.sessionOfSlot.byteLength + this.roleOfSlot.byteLength + this.sessionLength.byteLength + this.sessionLive.byteLength;
    bytes += 260 * this.records.length + 24 * this.slotByLabel.size + 64 * this.sessionIds.size;
    for (const list of this.attributeSlots?.values() ?? []) bytes += 64 + 8 * list.length;
    return bytes;
  }

  /** Share of live documents a filter admits, estimated on an even sample of slots. */
  admittedShare(admits: (slot: number) => boolean): number {
    const n = this.records.length;
    if (n === 0) return 0;
    const step = Math.max(1, Math.floor(n / SELECTIVITY_SAMPLE));
    let seen = 0;
    let admitted = 0;
    for (let slot = 0; slot < n; slot += step) {
      if (this.records[slot] === undefined) continue;
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
        const n = this.sessionIds.get(id);
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
    // A document in two lists of one field (e.g. tagsAny ['a', 'b']) is counted once per
    // field because the mask only advances from i to i + 1 within field i.
    // mask[slot] = number of fields (so far) the slot is in, counting each field once.
    const mask = new Uint8Array(this.records.length);
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

  private listAttributes(lists: Map<string, number[]>, slot: number, attrs: DocumentAttributes): void {
    for (const key of attributeKeys(attrs)) {
      let list = lists.get(key);
      if (!list) lists.set(key, (list = []));
      list.push(slot);
    }
  }

  /** The attribute lists, built from the live records the first time a decoded store needs them (in slot order, as adds make them). */
  private attributeLists(): Map<string, number[]> {
    if (this.attributeSlots) return this.attributeSlots;
    const lists = new Map<string, number[]>();
    this.records.forEach((rec, slot) => {
      if (rec) this.listAttributes(lists, slot, rec.attrs);
    });
    this.staleAttributeEntries = 0;
    return (this.attributeSlots = lists);
  }

  private compactAttributes(): void {
    const lists = this.attributeLists();
    for (const [key, list] of lists) {
      const live = list.filter((slot) => this.records[slot] !== undefined);
      if (live.length === 0) lists.delete(key);
      else lists.set(key, live);
    }
    this.staleAttributeEntries = 0;
  }

  private sessionNumber(id: string): number {
    let n = this.sessionIds.get(id);
    if (n === undefined) {
      n = this.sessionIds.size;
      this.sessionIds.set(id, n);
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

  private ensureSlots(n: number): void {
    if (n <= this.sessionOfSlot.length) return;
    let cap = this.sessionOfSlot.length;
    while (cap < n) cap *= 2;
    const sessions = new Int32Array(cap);
    sessions.set(this.sessionOfSlot);
    this.sessionOfSlot = sessions;
    const roles = new Uint8Array(cap);
    roles.set(this.roleOfSlot);
    this.roleOfSlot = roles;
  }
}

function attributeKeys(attrs: DocumentAttributes): string[] {
  const keys: string[] = [];
  if (attrs.kind !== undefined) keys.push('k:' + attrs.kind);
  if (attrs.role !== undefined) keys.push('r:' + attrs.role);
  if (attrs.tags) for (const tag of new Set(attrs.tags)) keys.push('t:' + tag);
  // Top-level scalar metadata values, so metadata filters start from a list, not a scan.
  if (attrs.metadata) {
    for (const [key, value] of Object.entries(attrs.metadata)) {
      if (indexableMetadataValue(value)) keys.push(metadataKey(key, value));
    }
  }
  return keys;
}

function indexableMetadataValue(value: unknown): boolean {
  return value === null || typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && value.length <= MAX_INDEXED_METADATA_STRING);
}

function metadataKey(key: string, value: unknown): string {
  return `m:${key}\u0000${JSON.stringify(value)}`;
}
