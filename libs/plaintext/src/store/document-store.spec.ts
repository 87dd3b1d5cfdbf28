import { DocumentAttributes } from '../filter/memory-filter';
import { Bm25Index } from '../lexical/bm25.index';
import { DocumentStore } from './document-store';

function attrsOf(i: number): DocumentAttributes {
  const attrs: { -readonly [K in keyof DocumentAttributes]: DocumentAttributes[K] } = {};
  if (i % 3 !== 0) attrs.kind = ['fact', 'event'][i % 2];
  if (i % 5 === 1) attrs.role = 'user';
  if (i % 4 !== 0) attrs.tags = i % 8 === 1 ? [] : ['travel', `t${i % 7}`];
  if (i % 2 === 0) attrs.metadata = { source: 'chat', priority: i % 3, nested: { deep: [i % 2, 'x\ny'] } };
  if (i % 6 !== 5) attrs.sessionId = `s${i % 11}`;
  if (i % 9 === 0) attrs.position = i % 13;
  if (i % 2 === 1) attrs.observedAt = 1_700_000_000_000 + i * 1000;
  if (i % 10 === 3) attrs.validFrom = 1_600_000_000_000 + i;
  if (i % 10 === 4) attrs.validTo = 1_800_000_000_000 - i;
  if (i % 3 === 1) attrs.importance = (i % 10) / 10;
  if (i % 17 === 2) attrs.state = 'archived';
  return attrs;
}

function build(n: number): DocumentStore {
  const store = new DocumentStore();
  for (let i = 0; i < n; i++) store.add(1000 + i, attrsOf(i), 3 + (i % 4));
  // Some dropped slots (removed documents) and one re-added label on a new slot.
  for (let i = 0; i < n; i += 37) {
    store.drop(store.slotByLabel.get(1000 + i)!, 3 + (i % 4));
    store.slotByLabel.delete(1000 + i);
  }
  store.drop(store.slotByLabel.get(1001)!, 4);
  store.add(1001, { kind: 'rewritten', tags: ['new'] }, 2);
  return store;
}

describe('DocumentStore (columnar, ADR 0115)', () => {
  it('gives back each document its attributes as they were added, absent fields absent', () => {
    const store = new DocumentStore();
    for (let i = 0; i < 200; i++) store.add(i, attrsOf(i), 3);
    for (let i = 0; i < 200; i++) expect(store.attributes(store.slotByLabel.get(i)!)).toEqual(attrsOf(i));
    expect(store.nonActive).toBe(Array.from({ length: 200 }, (_, i) => attrsOf(i)).filter((a) => a.state === 'archived').length);
  });

  it('shares one copy of equal tag lists, metadata and strings', () => {
    const store = new DocumentStore();
    for (let i = 0; i < 1000; i++) store.add(i, { kind: 'fact', tags: ['a', 'b'], metadata: { source: 'chat' }, sessionId: `s${i % 10}` }, 1);
    expect(store.tables.tags.size).toBe(1);
    expect(store.tables.metadata.size).toBe(1);
    expect(store.tables.kinds.size).toBe(1);
    expect(store.tables.sessions.size).toBe(10);
    expect(store.attributes(5).tags).toBe(store.attributes(6).tags);
  });

  it('decodes what it encoded in pieces: slots, sessions, attributes, filters and neighbours the same', () => {
    // More slots than one column piece holds (65,536), so every column spans pieces.
    const n = 70_000;
    const store = build(n);
    const pieces = [...store.encodeChunks()];
    expect(pieces.length).toBeGreaterThan(2 * 13);
    const lengths = new Map<number, number>();
    for (let slot = 0; slot < store.slotCount; slot++) lengths.set(slot, store.isLive(slot) ? 3 + ((store.labelOf(slot) - 1000) % 4) : 0);
    lengths.set(store.slotByLabel.get(1001)!, 2);
    const restored = DocumentStore.decode(Buffer.concat(pieces), (slot) => lengths.get(slot) ?? 0);
    expect(restored.size).toBe(store.size);
    expect(restored.slotCount).toBe(store.slotCount);
    expect(restored.slotByLabel).toEqual(store.slotByLabel);
    for (let slot = 0; slot < store.slotCount; slot += 97) {
      expect(restored.isLive(slot)).toBe(store.isLive(slot));
      if (store.isLive(slot)) expect(restored.attributes(slot)).toEqual(store.attributes(slot));
    }
    expect(restored.attributes(restored.slotByLabel.get(1001)!)).toEqual({ kind: 'rewritten', tags: ['new'] });
    expect(restored.sessionCount).toBe(store.sessionCount);
    expect(restored.liveSessions).toBe(store.liveSessions);
    expect(restored.totalSessionLength).toBe(store.totalSessionLength);
    expect(Array.from(restored.sessionLength.subarray(0, 11))).toEqual(Array.from(store.sessionLength.subarray(0, 11)));
    expect(restored.nonActive).toBe(store.nonActive);
    expect(restored.newestObservedAt).toBe(store.newestObservedAt);
    const liveRoles = (s: DocumentStore) => [...s.slotByLabel].sort((a, b) => a[0] - b[0]).map(([, slot]) => s.roleOfSlot[slot]);
    expect(liveRoles(restored)).toEqual(liveRoles(store));
    const filter = { kinds: ['event'], tagsAny: ['t3'], metadata: { priority: 1 } };
    expect(restored.filterBase(filter)!.slots).toEqual(store.filterBase(filter)!.slots);
    expect(restored.filterBase({ sessionIds: ['s4'] })!.slots).toEqual(store.filterBase({ sessionIds: ['s4'] })!.slots);
    for (const slot of [0, 9, 18, 900, 901]) expect(restored.neighbours(slot)).toEqual(store.neighbours(slot));
    // The restored store keeps growing as a built one does.
    restored.add(5_000_000, { kind: 'fact', sessionId: 's4' }, 1);
    expect(restored.attributes(restored.slotByLabel.get(5_000_000)!)).toEqual({ kind: 'fact', sessionId: 's4' });
  });

  it('refuses bytes that are not a document store, truncated ones and ids out of range', () => {
    const store = build(300);
    const data = store.encode();
    expect(() => DocumentStore.decode(Buffer.from('{"format":"engram-documents/1"}'), () => 0)).toThrow();
    expect(() => DocumentStore.decode(data.subarray(0, data.length - 40), () => 0)).toThrow();
    const bad = Buffer.from(data);
    // The kind id of slot 1 (after the header, six float columns), pointed past the kinds table.
    bad.writeInt32LE(99, 4 * 8 + 6 * 8 * store.slotCount + 4);
    expect(() => DocumentStore.decode(bad, () => 0)).toThrow(/slot 1/);
  });
});

describe('Bm25Index.encodeChunks', () => {
  it('writes in pieces what decode() reads back with the same scores', () => {
    const index = new Bm25Index();
    // About 300k postings: more than one piece of each postings column.
    for (let slot = 0; slot < 30_000; slot++) {
      index.add(slot, Array.from({ length: 10 }, (_, j) => `w${(slot * 7 + j * 13) % 5000}`));
    }
    for (let slot = 0; slot < 30_000; slot += 11) index.remove(slot);
    const pieces = [...index.encodeChunks()];
    expect(pieces.length).toBeGreaterThan(6);
    const restored = Bm25Index.decode(Buffer.concat(pieces));
    const query = ['w17', 'w4000', 'w230'];
    const a = index.score(query);
    const b = restored.score(query);
    const scores = (h: typeof a) => new Map(Array.from(h.slots.subarray(0, h.count), (s, i) => [s, h.scores[i]]));
    expect(scores(b)).toEqual(scores(a));
    expect(restored.size).toBe(index.size);
  });
});
