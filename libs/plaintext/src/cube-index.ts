// The in-memory retrieval index of one cube: a dense HNSW graph and a BM25 inverted index
// over the same documents, the attributes filters and priors need, and the hybrid ranker.
// It is derived data: PostgreSQL holds the truth, the caller feeds rows in by their change
// sequence (upsert/remove) and may persist the HNSW graph with save()/loadDense().
import { loadSnapshot, LoadResult, saveSnapshot, SnapshotManifest, SnapshotMeta, SnapshotVectors } from './dense/hnsw-snapshot';
import { DenseHit, DEFAULT_HNSW_PARAMS, HnswParams, HnswVectorIndex } from './dense/hnsw-vector.index';
import { QuantizedVectorStore } from './dense/quantized-vector.store';
import { compileFilter, DocumentAttributes, filterRestricts, MemoryFilter, TimeInput, toEpochMs } from './filter/memory-filter';
import { Bm25Index, Bm25Options } from './lexical/bm25.index';
import { DEFAULT_RANKING, RankingOptions } from './ranking/ranking-options';
import { parseTimeIntent, TimeIntent } from './ranking/time-intent';
import { TopK } from './ranking/top-k';
import { analyze, analyzeQuery } from './text/analyzer';

export interface IndexDocument extends DocumentAttributes {
  /** The caller's integer key (the memory row sequence). */
  readonly label: number;
  readonly text: string;
  /** Unit vector from the cube's embedder; omit to keep the one already in the graph. */
  readonly vector?: ArrayLike<number>;
}

export interface CubeIndexOptions {
  readonly dimension: number;
  readonly hnsw?: Partial<HnswParams>;
  readonly bm25?: Bm25Options;
  readonly ranking?: Partial<RankingOptions>;
  readonly initialCapacity?: number;
}

export interface SearchOptions {
  readonly topK?: number;
  readonly filter?: MemoryFilter;
  /** "Now" for recency and relative time expressions; defaults to the newest observedAt. */
  readonly referenceTime?: TimeInput;
  readonly explain?: boolean;
  /** Per-search overrides of the ranking knobs (ablations, experiments). */
  readonly ranking?: Partial<RankingOptions>;
}

export interface ScoreExplanation {
  readonly dense: { readonly similarity: number; readonly rank: number | null } | null;
  readonly lexical: { readonly bm25: number; readonly rank: number | null } | null;
  /** Fused score of the document alone, then with its session context blended in. */
  readonly fusion: { readonly method: string; readonly document: number; readonly context: number; readonly combined: number };
  readonly priors: { readonly importance: number; readonly recency: number; readonly timeIntent: number };
  readonly timeIntent?: TimeIntent;
}

export interface SearchHit {
  readonly label: number;
  readonly score: number;
  readonly explain?: ScoreExplanation;
}

interface DocRecord {
  readonly label: number;
  readonly attrs: DocumentAttributes;
  readonly session: number;
}

interface Candidate {
  slot: number;
  denseRank: number | null;
  lexicalRank: number | null;
  dense: number;
  lexical: number;
  document: number;
  context: number;
  combined: number;
  importance: number;
  recency: number;
  time: number;
  score: number;
}

const DAY = 86_400_000;
/**
 * A filtered dense search scans the admitted documents exactly (int8 dot products) when
 * there are at most this many of them; above, the HNSW walk with the filter finds enough
 * admitted neighbours without exploring most of the graph.
 */
const EXACT_FILTER_MAX = 8192;
const SELECTIVITY_SAMPLE = 256;
const MIN_DENSE_SPAN = 0.2;

export class CubeIndex {
  readonly dimension: number;
  private readonly dense: HnswVectorIndex;
  private readonly vectors: QuantizedVectorStore;
  private readonly lexical: Bm25Index;
  private readonly ranking: RankingOptions;
  private readonly slotByLabel = new Map<number, number>();
  private readonly records: (DocRecord | undefined)[] = [];
  private readonly sessionIds = new Map<string, number>();
  private readonly sessionSlots: number[][] = [];
  /**
   * Slots by kind, role and tag ("k:fact", "r:user", "t:travel"), so that a filter on them
   * starts from its matching documents instead of scanning the cube. Entries of removed or
   * replaced documents stay until compaction and are skipped (their record is gone).
   */
  private readonly attributeSlots = new Map<string, number[]>();
  private staleAttributeEntries = 0;
  private sessionOfSlot = new Int32Array(1024);
  /** Role of each slot as a small code (0 = none), so ranking reads a typed array, not the record. */
  private roleOfSlot = new Uint8Array(1024);
  private readonly roleCodes = new Map<string, number>();
  private readonly roleNames: string[] = [''];
  private sessionLexical = new Float64Array(256);
  /** Per session: analysed terms of its live turns, and how many live turns it has. */
  private sessionLength = new Float64Array(256);
  private sessionLive = new Int32Array(256);
  private liveSessions = 0;
  private totalSessionLength = 0;
  private lexicalScratch = new Float64Array(1024);
  private nonActive = 0;
  /** The snapshot's int8 vectors while the rows are replayed after loadDense (dropped at the first search). */
  private loadedVectors: { readonly vectors: SnapshotVectors; readonly row: Map<number, number> } | null = null;
  private newestObservedAt = -Infinity;

  constructor(options: CubeIndexOptions) {
    this.dimension = options.dimension;
    this.dense = new HnswVectorIndex(
      options.dimension,
      { ...DEFAULT_HNSW_PARAMS, ...options.hnsw },
      options.initialCapacity ?? 1024,
    );
    this.vectors = new QuantizedVectorStore(options.dimension, options.initialCapacity ?? 1024);
    this.lexical = new Bm25Index(options.bm25);
    this.ranking = { ...DEFAULT_RANKING, ...options.ranking };
  }

  get size(): number {
    return this.slotByLabel.size;
  }

  get hnswParams(): HnswParams {
    return this.dense.params;
  }

  has(label: number): boolean {
    return this.slotByLabel.has(label);
  }

  /** Share of the HNSW graph taken by deleted vectors; rebuild the index when it is high. */
  get deletedRatio(): number {
    return this.dense.deletedRatio;
  }

  /**
   * Adds a document or replaces the one with the same label (text, attributes and vector).
   * Without a vector, the one already in the graph is kept (after loadDense, or an update
   * of text/attributes only); without either, the document is found by words alone.
   */
  upsert(doc: IndexDocument): void {
    const previous = this.slotByLabel.get(doc.label);
    const slot = this.records.length;
    // Without a vector, keep the one the index has: the previous slot's int8 copy, the
    // loaded snapshot's, or (slowest) the graph's own float vector.
    if (doc.vector === undefined && !(previous !== undefined && this.vectors.copy(previous, slot)) && !this.takeSnapshotVector(doc.label, slot)) {
      const kept = this.dense.vector(doc.label);
      if (kept) this.vectors.set(slot, kept);
    }
    if (previous !== undefined) this.dropSlot(previous, doc.vector === undefined);
    if (doc.vector !== undefined) {
      this.dense.add(doc.label, doc.vector);
      this.vectors.set(slot, doc.vector);
    }
    const session = doc.sessionId === undefined ? -1 : this.sessionNumber(doc.sessionId);
    const attrs = toAttributes(doc);
    this.records.push({ label: doc.label, attrs, session });
    this.ensureSlots(slot + 1);
    this.sessionOfSlot[slot] = session;
    this.roleOfSlot[slot] = this.roleCode(attrs.role);
    if (session >= 0) this.sessionSlots[session].push(slot);
    for (const key of attributeKeys(attrs)) {
      let list = this.attributeSlots.get(key);
      if (!list) this.attributeSlots.set(key, (list = []));
      list.push(slot);
    }
    this.slotByLabel.set(doc.label, slot);
    const terms = analyze(doc.text);
    this.lexical.add(slot, terms);
    if (session >= 0) {
      if (this.sessionLive[session]++ === 0) this.liveSessions++;
      this.sessionLength[session] += terms.length;
      this.totalSessionLength += terms.length;
    }
    if ((attrs.state ?? 'active') !== 'active') this.nonActive++;
    if (attrs.observedAt !== undefined && attrs.observedAt > this.newestObservedAt) this.newestObservedAt = attrs.observedAt;
  }

  upsertMany(docs: Iterable<IndexDocument>): void {
    for (const doc of docs) this.upsert(doc);
  }

  /** Makes a document unfindable at once. Returns false when the label was not indexed. */
  remove(label: number): boolean {
    const slot = this.slotByLabel.get(label);
    if (slot === undefined) return false;
    this.dropSlot(slot, false);
    this.slotByLabel.delete(label);
    return true;
  }

  /** Labels currently indexed. */
  labels(): number[] {
    return [...this.slotByLabel.keys()];
  }

  search(query: string, queryVector: ArrayLike<number> | null, options: SearchOptions = {}): SearchHit[] {
    this.loadedVectors = null; // the rows are in: the snapshot's vectors have served
    const topK = Math.max(0, Math.floor(options.topK ?? 10));
    if (topK === 0 || this.size === 0) return [];
    if (queryVector !== null && queryVector.length !== this.dimension) {
      throw new RangeError(`query vector has dimension ${queryVector.length}, index expects ${this.dimension}`);
    }
    const r: RankingOptions = options.ranking ? { ...this.ranking, ...options.ranking } : this.ranking;
    const predicate = compileFilter(options.filter);
    const restricts = filterRestricts(options.filter) || this.nonActive > 0;
    const records = this.records;
    const base = restricts ? this.filterBase(options.filter) : null;
    const mask = base?.mask;
    // When the attribute lists decide the filter and every document is active, the mask
    // is the whole test.
    const states = options.filter?.states;
    const maskDecides = base?.exact === true && this.nonActive === 0 && (states === undefined || (states.length === 1 && states[0] === 'active'));
    const admits = (slot: number): boolean => {
      if (mask !== undefined && mask[slot] !== 1) return false;
      const rec = records[slot];
      return rec !== undefined && (!restricts || maskDecides || predicate(rec.attrs));
    };
    const pool = Math.max(topK, r.candidatePool);
    const useLexical = r.mode !== 'dense';
    const useDense = r.mode !== 'lexical' && queryVector !== null;
    const roleWeights = asksAssistant(query) ? {} : r.roleWeights;
    const weightOfRole = new Float64Array(this.roleNames.length);
    this.roleNames.forEach((name, code) => (weightOfRole[code] = code === 0 ? 1 : roleWeights[name] ?? 1));
    const roleOfSlot = this.roleOfSlot;
    const roleWeight = (slot: number): number => weightOfRole[roleOfSlot[slot]];

    const candidates = new Map<number, Candidate>();
    const candidate = (slot: number): Candidate => {
      let c = candidates.get(slot);
      if (!c) {
        c = {
          slot, denseRank: null, lexicalRank: null, dense: 0, lexical: 0, document: 0, context: 0,
          combined: 0, importance: 0, recency: 0, time: 0, score: 0,
        };
        candidates.set(slot, c);
      }
      return c;
    };

    // Lexical: every matching document is scored (the session context needs them all);
    // the best `pool` become candidates.
    const lexicalScratch = this.lexicalScratch;
    const sessionLexical = this.sessionLexical;
    const touchedSlots: number[] = [];
    const touchedSessions: number[] = [];
    if (useLexical) {
      // Common query terms may only add to documents the rarer ones found, once those
      // admitted by the filter are at least a candidate pool.
      const queryTerms = analyzeQuery(query);
      const hits = this.lexical.score(queryTerms, { minMatches: pool, admits: restricts ? admits : undefined });
      const best = new TopK(pool);
      const power = r.contextPower;
      // Sessions as documents: BM25 over each session's turns taken together.
      const sessionBm25 = r.sessionScoring === 'bm25' && r.contextWeight > 0;
      if (sessionBm25) {
        const groups = this.lexical.scoreGroups(
          queryTerms,
          { groupOf: this.sessionOfSlot, length: this.sessionLength, live: this.liveSessions, totalLength: this.totalSessionLength },
        );
        for (let i = 0; i < groups.count; i++) {
          sessionLexical[groups.groups[i]] = groups.scores[i];
          touchedSessions.push(groups.groups[i]);
        }
      }
      for (let i = 0; i < hits.count; i++) {
        const slot = hits.slots[i];
        if (restricts && !admits(slot)) continue;
        const s = hits.scores[i] * roleWeight(slot);
        lexicalScratch[slot] = s;
        touchedSlots.push(slot);
        best.push(slot, s);
        const session = this.sessionOfSlot[slot];
        if (session >= 0 && !sessionBm25) {
          if (sessionLexical[session] === 0) touchedSessions.push(session);
          sessionLexical[session] += power === 1 ? s : Math.pow(s, power);
        }
      }
      best.sorted().forEach((slot, rank) => {
        candidate(slot).lexicalRank = rank + 1;
      });
    }

    if (useDense) {
      this.denseSearch(queryVector, pool, restricts ? admits : null, base?.slots ?? null).forEach((hit, rank) => {
        const c = candidate(hit.slot);
        c.denseRank = rank + 1;
      });
    }

    // Complete both scores of every candidate so that fusion never compares a score with
    // a missing value.
    const all = [...candidates.values()];
    for (const c of all) {
      c.lexical = lexicalScratch[c.slot];
      if (useDense) c.dense = this.vectors.dot(c.slot, queryVector);
    }
    for (const slot of touchedSlots) lexicalScratch[slot] = 0;

    // Document-level fusion.
    let maxLexical = 0;
    let maxDense = -Infinity;
    let minDense = Infinity;
    for (const c of all) {
      if (c.lexical > maxLexical) maxLexical = c.lexical;
      if (c.dense > maxDense) maxDense = c.dense;
      if (c.dense < minDense) minDense = c.dense;
    }
    // Min–max over the candidates, but never over a span narrower than MIN_DENSE_SPAN: with
    // few candidates a cosine gap of 0.01 must not turn into the whole 0..1 range.
    const denseSpan = Math.max(maxDense - minDense, MIN_DENSE_SPAN);
    const wd = r.mode === 'dense' ? 1 : r.mode === 'lexical' ? 0 : r.denseWeight;
    const rrf = r.fusion === 'rrf' && r.mode === 'hybrid';
    const lexicalRanks = rrf ? rankOf(all, (c) => c.lexical) : null;
    const denseRanks = rrf ? rankOf(all, (c) => c.dense) : null;
    for (const c of all) {
      if (rrf) {
        c.document = (r.rrfK + 1) * (0.5 / (r.rrfK + lexicalRanks!.get(c)!) + 0.5 / (r.rrfK + denseRanks!.get(c)!));
      } else {
        const lex = maxLexical > 0 ? c.lexical / maxLexical : 0;
        const den = useDense ? ((c.dense - minDense) / denseSpan) * roleWeight(c.slot) : 0;
        c.document = wd * den + (1 - wd) * lex;
      }
    }

    // Session context: how well the conversation around each candidate matches — the
    // session's lexical score (see sessionScoring) and, by contextDenseWeight, the best
    // fused candidate turn of the session.
    const sessionBest = new Map<number, number>();
    for (const c of all) {
      const session = this.sessionOfSlot[c.slot];
      if (session >= 0) sessionBest.set(session, Math.max(sessionBest.get(session) ?? 0, c.document));
    }
    let maxSessionLexical = 0;
    for (const session of touchedSessions) {
      if (r.contextPower !== 1 && r.sessionScoring === 'sum') sessionLexical[session] = Math.pow(sessionLexical[session], 1 / r.contextPower);
      if (sessionLexical[session] > maxSessionLexical) maxSessionLexical = sessionLexical[session];
    }
    for (const c of all) {
      const session = this.sessionOfSlot[c.slot];
      if (session < 0 || r.contextWeight === 0) {
        c.context = c.document;
      } else {
        const lex = maxSessionLexical > 0 ? sessionLexical[session] / maxSessionLexical : 0;
        const best = sessionBest.get(session) ?? 0;
        const cd = r.contextDenseWeight;
        c.context = r.mode === 'dense' ? best : r.mode === 'lexical' ? lex : cd * best + (1 - cd) * lex;
      }
      c.combined = (1 - r.contextWeight) * c.document + r.contextWeight * c.context;
    }
    for (const session of touchedSessions) sessionLexical[session] = 0;

    // Priors and time.
    const reference =
      toEpochMs(options.referenceTime) ?? (Number.isFinite(this.newestObservedAt) ? this.newestObservedAt : undefined);
    const intent = parseTimeIntent(query, reference);
    let tMin = Infinity;
    let tMax = -Infinity;
    if (intent.direction) {
      for (const c of all) {
        const t = records[c.slot]!.attrs.observedAt;
        if (t === undefined) continue;
        if (t < tMin) tMin = t;
        if (t > tMax) tMax = t;
      }
    }
    const halfLife = r.recencyHalfLifeDays * DAY;
    for (const c of all) {
      const attrs = records[c.slot]!.attrs;
      c.importance = r.importanceWeight * ((attrs.importance ?? 0.5) - 0.5);
      const t = attrs.observedAt;
      if (t !== undefined && reference !== undefined && r.recencyWeight > 0) {
        c.recency = r.recencyWeight * Math.pow(2, -Math.max(0, reference - t) / halfLife);
      }
      if (t !== undefined && r.timeIntentWeight > 0) {
        let time = 0;
        if (intent.window && t >= intent.window.start && t < intent.window.end) time += 1;
        if (intent.direction && tMax > tMin) {
          const position = (t - tMin) / (tMax - tMin);
          time += intent.direction === 'recent' ? position : 1 - position;
        }
        c.time = r.timeIntentWeight * time;
      }
      c.score = c.combined * (1 + c.importance + c.time) + c.recency;
    }

    all.sort((a, b) => b.score - a.score || a.slot - b.slot);
    return all.slice(0, topK).map((c) => {
      const label = records[c.slot]!.label;
      if (!options.explain) return { label, score: c.score };
      return {
        label,
        score: c.score,
        explain: {
          dense: useDense ? { similarity: c.dense, rank: c.denseRank } : null,
          lexical: useLexical ? { bm25: c.lexical, rank: c.lexicalRank } : null,
          fusion: {
            method: r.mode === 'hybrid' ? r.fusion : r.mode,
            document: c.document,
            context: c.context,
            combined: c.combined,
          },
          priors: { importance: c.importance, recency: c.recency, timeIntent: c.time },
          timeIntent: intent.direction || intent.window ? intent : undefined,
        },
      };
    });
  }

  /**
   * Writes the HNSW graph and its manifest (checksum, change sequence, fingerprint) to dir.
   * Only the graph is saved: text and attributes come back from PostgreSQL on load.
   */
  save(dir: string, meta: SnapshotMeta): Promise<SnapshotManifest> {
    return saveSnapshot(this.dense, dir, meta, this.snapshotVectors());
  }

  /** The int8 copy of every indexed vector, by label, for the snapshot. */
  private snapshotVectors(): SnapshotVectors {
    const labels: number[] = [];
    const slots: number[] = [];
    for (const [label, slot] of this.slotByLabel) {
      if (this.vectors.has(slot)) {
        labels.push(label);
        slots.push(slot);
      }
    }
    const codes = new Int8Array(labels.length * this.dimension);
    const scales = new Float32Array(labels.length);
    slots.forEach((slot, i) => {
      const v = this.vectors.read(slot)!;
      codes.set(v.codes, i * this.dimension);
      scales[i] = v.scale;
    });
    return { labels: Float64Array.from(labels), scales, codes };
  }

  /** Fills a slot from the loaded snapshot's int8 vectors; false when it has none for the label. */
  private takeSnapshotVector(label: number, slot: number): boolean {
    const loaded = this.loadedVectors;
    if (loaded === null) return false;
    const i = loaded.row.get(label);
    if (i === undefined) return false;
    this.vectors.setCodes(slot, loaded.vectors.codes, i * this.dimension, loaded.vectors.scales[i]);
    return true;
  }

  /**
   * Replaces the graph with a saved one when it is intact and made by the same embedder.
   * Call it on an empty index, then upsert the rows (without vectors for labels the graph
   * already holds) and replay changes after the returned changeSeq; on any other status
   * than 'loaded' the index is untouched and the caller rebuilds with vectors.
   */
  async loadDense(dir: string, expected: { readonly fingerprint: string }): Promise<LoadResult> {
    if (this.size > 0) throw new Error('loadDense() needs an empty index');
    const result = await loadSnapshot(this.dense, dir, expected);
    if (result.vectors) {
      const row = new Map<number, number>();
      result.vectors.labels.forEach((label, i) => row.set(label, i));
      this.loadedVectors = { vectors: result.vectors, row };
    }
    return result;
  }

  /**
   * Nearest admitted documents by the dense vector. Unfiltered: the HNSW graph. Filtered:
   * exact over the documents of the named sessions/kinds/roles/tags when they are few, or
   * over everything when a sample says the filter admits few documents; otherwise the
   * graph walk with the filter (and exact when it comes short).
   */
  private denseSearch(
    vector: ArrayLike<number>,
    k: number,
    admits: ((slot: number) => boolean) | null,
    base: readonly number[] | null,
  ): { slot: number; similarity: number }[] {
    const toSlots = (hits: DenseHit[]) =>
      hits.flatMap((h) => {
        const slot = this.slotByLabel.get(h.label);
        return slot === undefined ? [] : [{ slot, similarity: h.similarity }];
      });
    if (admits === null) return toSlots(this.dense.search(vector, k));
    if (base !== null && base.length <= EXACT_FILTER_MAX) return this.exactDense(vector, k, base, admits);
    const share = this.admittedShare(admits);
    if (share * this.size <= EXACT_FILTER_MAX) return this.exactDense(vector, k, base ?? this.slotByLabel.values(), admits);
    const filterLabel = (label: number): boolean => {
      const slot = this.slotByLabel.get(label);
      return slot !== undefined && admits(slot);
    };
    const ef = Math.min(1000, Math.ceil(Math.max(this.dense.params.efSearch, k) / share));
    const hits = toSlots(this.dense.search(vector, k, filterLabel, ef));
    if (hits.length >= k) return hits;
    return this.exactDense(vector, k, this.slotByLabel.values(), admits);
  }

  private exactDense(
    vector: ArrayLike<number>,
    k: number,
    slots: Iterable<number>,
    admits: (slot: number) => boolean,
  ): { slot: number; similarity: number }[] {
    const best = new TopK(k);
    for (const slot of slots) {
      if (!this.vectors.has(slot) || !admits(slot)) continue;
      best.push(slot, this.vectors.dot(slot, vector));
    }
    return best.sorted().map((slot) => ({ slot, similarity: this.vectors.dot(slot, vector) }));
  }

  /** Share of live documents a filter admits, estimated on an even sample of slots. */
  private admittedShare(admits: (slot: number) => boolean): number {
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

  private dropSlot(slot: number, keepVector: boolean): void {
    const rec = this.records[slot];
    if (!rec) return;
    if (rec.session >= 0) {
      const length = this.lexical.lengthOf(slot);
      this.sessionLength[rec.session] -= length;
      this.totalSessionLength -= length;
      if (--this.sessionLive[rec.session] === 0) this.liveSessions--;
    }
    this.lexical.remove(slot);
    this.vectors.clear(slot);
    if (!keepVector) this.dense.remove(rec.label);
    if ((rec.attrs.state ?? 'active') !== 'active') this.nonActive--;
    if (rec.session >= 0) {
      const slots = this.sessionSlots[rec.session];
      const i = slots.indexOf(slot);
      if (i >= 0) slots.splice(i, 1);
    }
    this.records[slot] = undefined;
    this.staleAttributeEntries += attributeKeys(rec.attrs).length;
    if (this.staleAttributeEntries > 1024 && this.staleAttributeEntries > this.size) this.compactAttributes();
  }

  private compactAttributes(): void {
    for (const [key, list] of this.attributeSlots) {
      const live = list.filter((slot) => this.records[slot] !== undefined);
      if (live.length === 0) this.attributeSlots.delete(key);
      else this.attributeSlots.set(key, live);
    }
    this.staleAttributeEntries = 0;
  }

  /**
   * The documents a filter can only admit from, when it names sessions, kinds, roles, metadata or
   * tags: the intersection of those fields (each field the union of its lists), as a list
   * and a membership mask over slots. Null when the filter names none of these fields.
   */
  private filterBase(filter: MemoryFilter | undefined): { slots: number[]; mask: Uint8Array; exact: boolean } | null {
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
      const lists = [...new Set(values)].map((v) => this.attributeSlots.get(prefix + v) ?? []);
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

  private sessionNumber(id: string): number {
    let n = this.sessionIds.get(id);
    if (n === undefined) {
      n = this.sessionIds.size;
      this.sessionIds.set(id, n);
      this.sessionSlots.push([]);
      if (n >= this.sessionLexical.length) {
        const cap = this.sessionLexical.length * 2;
        const grow = <T extends Float64Array | Int32Array>(a: T, next: T): T => {
          next.set(a);
          return next;
        };
        this.sessionLexical = grow(this.sessionLexical, new Float64Array(cap));
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
    const scratch = new Float64Array(cap);
    scratch.set(this.lexicalScratch);
    this.lexicalScratch = scratch;
  }
}

const ASKS_ASSISTANT =
  /\b(you|assistant)\s+(said|told|suggested|recommended|mentioned|gave|provided|listed|shared|explained|wrote|described|answered|replied)\b|\byour (suggestion|recommendation|answer|response|reply|list|advice)s?\b/i;

function asksAssistant(query: string): boolean {
  return ASKS_ASSISTANT.test(query);
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

const MAX_INDEXED_METADATA_STRING = 256;

function indexableMetadataValue(value: unknown): boolean {
  return value === null || typeof value === 'number' || typeof value === 'boolean' || (typeof value === 'string' && value.length <= MAX_INDEXED_METADATA_STRING);
}

function metadataKey(key: string, value: unknown): string {
  return `m:${key}\u0000${JSON.stringify(value)}`;
}

function toAttributes(doc: IndexDocument): DocumentAttributes {
  const { label: _label, text: _text, vector: _vector, ...attrs } = doc;
  return attrs;
}

function rankOf<T>(items: readonly T[], score: (item: T) => number): Map<T, number> {
  const sorted = [...items].sort((a, b) => score(b) - score(a));
  const ranks = new Map<T, number>();
  sorted.forEach((item, i) => ranks.set(item, i + 1));
  return ranks;
}
