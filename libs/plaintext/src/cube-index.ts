// The in-memory retrieval index of one cube: a dense HNSW graph and a BM25 inverted index
// over the same documents, the attributes filters and priors need, and the hybrid ranker.
// It is derived data: PostgreSQL holds the truth, the caller feeds rows in by their change
// sequence (upsert/remove) and may persist the HNSW graph with save()/loadDense().
import { loadSnapshot, LoadResult, saveSnapshot, SnapshotManifest, SnapshotMeta } from './dense/hnsw-snapshot';
import { DenseHit, DEFAULT_HNSW_PARAMS, HnswParams, HnswVectorIndex } from './dense/hnsw-vector.index';
import { compileFilter, DocumentAttributes, filterRestricts, MemoryFilter, TimeInput, toEpochMs } from './filter/memory-filter';
import { Bm25Index, Bm25Options } from './lexical/bm25.index';
import { DEFAULT_RANKING, RankingOptions } from './ranking/ranking-options';
import { parseTimeIntent, TimeIntent } from './ranking/time-intent';
import { analyze } from './text/analyzer';

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
  readonly hasVector: boolean;
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

export class CubeIndex {
  readonly dimension: number;
  private readonly dense: HnswVectorIndex;
  private readonly lexical: Bm25Index;
  private readonly ranking: RankingOptions;
  private readonly slotByLabel = new Map<number, number>();
  private readonly records: (DocRecord | undefined)[] = [];
  private readonly sessionIds = new Map<string, number>();
  private sessionOfSlot = new Int32Array(1024);
  private sessionLexical = new Float32Array(256);
  private nonActive = 0;
  private newestObservedAt = -Infinity;

  constructor(options: CubeIndexOptions) {
    this.dimension = options.dimension;
    this.dense = new HnswVectorIndex(
      options.dimension,
      { ...DEFAULT_HNSW_PARAMS, ...options.hnsw },
      options.initialCapacity ?? 1024,
    );
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

  /** Adds a document or replaces the one with the same label (text, attributes and vector). */
  upsert(doc: IndexDocument): void {
    const previous = this.slotByLabel.get(doc.label);
    if (previous !== undefined) this.dropSlot(previous, doc.vector === undefined);
    if (doc.vector !== undefined) this.dense.add(doc.label, doc.vector);
    const slot = this.records.length;
    const session = doc.sessionId === undefined ? -1 : this.sessionNumber(doc.sessionId);
    const attrs = toAttributes(doc);
    this.records.push({ label: doc.label, attrs, session, hasVector: this.dense.has(doc.label) });
    this.ensureSlots(slot + 1);
    this.sessionOfSlot[slot] = session;
    this.slotByLabel.set(doc.label, slot);
    this.lexical.add(slot, analyze(doc.text));
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
    const topK = Math.max(0, Math.floor(options.topK ?? 10));
    if (topK === 0 || this.size === 0) return [];
    const r: RankingOptions = options.ranking ? { ...this.ranking, ...options.ranking } : this.ranking;
    const predicate = compileFilter(options.filter);
    const restricts = filterRestricts(options.filter) || this.nonActive > 0;
    const admits = (slot: number): boolean => {
      const rec = this.records[slot];
      return rec !== undefined && (!restricts || predicate(rec.attrs));
    };
    const pool = Math.max(topK, r.candidatePool);
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

    // Lexical: every matching document is scored (needed for the session context), the
    // best `pool` become candidates.
    const useLexical = r.mode !== 'dense';
    const useDense = r.mode !== 'lexical' && queryVector !== null;
    const roleWeights = asksAssistant(query) ? {} : r.roleWeights;
    const roleWeight = (slot: number): number => {
      const role = this.records[slot]!.attrs.role;
      return role === undefined ? 1 : roleWeights[role] ?? 1;
    };
    const lexicalBySlot = new Map<number, number>();
    const sessionLexical = this.sessionLexical;
    const touchedSessions: number[] = [];
    if (useLexical) {
      const hits = this.lexical.score(analyze(query));
      const slots: number[] = [];
      for (let i = 0; i < hits.count; i++) {
        const slot = hits.slots[i];
        if (!admits(slot)) continue;
        const s = hits.scores[i] * roleWeight(slot);
        lexicalBySlot.set(slot, s);
        slots.push(slot);
        const session = this.sessionOfSlot[slot];
        if (session >= 0) {
          if (sessionLexical[session] === 0) touchedSessions.push(session);
          sessionLexical[session] += r.contextPower === 1 ? s : Math.pow(s, r.contextPower);
        }
      }
      const best = topByScore(slots, (slot) => lexicalBySlot.get(slot) ?? 0, pool);
      best.forEach((slot, rank) => {
        const c = candidate(slot);
        c.lexicalRank = rank + 1;
      });
    }

    let denseHits: DenseHit[] = [];
    if (useDense) {
      denseHits = this.denseSearch(queryVector, pool, restricts ? admits : null);
      denseHits.forEach((hit, rank) => {
        const slot = this.slotByLabel.get(hit.label);
        if (slot === undefined) return;
        const c = candidate(slot);
        c.denseRank = rank + 1;
        c.dense = hit.similarity;
      });
    }

    // Complete both scores of every candidate so the fusion never compares a score with a
    // missing value.
    const all = [...candidates.values()];
    for (const c of all) {
      c.lexical = lexicalBySlot.get(c.slot) ?? 0;
      if (useDense && c.denseRank === null) c.dense = this.exactSimilarity(c.slot, queryVector);
    }

    // Document-level fusion.
    let maxLexical = 0;
    let maxDense = -Infinity;
    let minDense = Infinity;
    for (const c of all) {
      if (c.lexical > maxLexical) maxLexical = c.lexical;
      if (c.dense > maxDense) maxDense = c.dense;
      if (c.dense < minDense) minDense = c.dense;
    }
    const denseSpan = maxDense - minDense > 1e-9 ? maxDense - minDense : 1;
    const wd = r.mode === 'dense' ? 1 : r.mode === 'lexical' ? 0 : r.denseWeight;
    const lexicalRanks = rankOf(all, (c) => c.lexical);
    const denseRanks = rankOf(all, (c) => c.dense);
    for (const c of all) {
      if (r.fusion === 'rrf' && r.mode === 'hybrid') {
        c.document = (r.rrfK + 1) * (0.5 / (r.rrfK + lexicalRanks.get(c)!) + 0.5 / (r.rrfK + denseRanks.get(c)!));
      } else {
        const lex = maxLexical > 0 ? c.lexical / maxLexical : 0;
        const den = useDense ? ((c.dense - minDense) / denseSpan) * roleWeight(c.slot) : 0;
        c.document = wd * den + (1 - wd) * lex;
      }
    }

    // Session context: how well the conversation around each candidate matches. Lexical
    // evidence is summed over every matching turn of the session, dense evidence is the
    // best candidate turn of the session.
    const sessionDense = new Map<number, number>();
    for (const c of all) {
      const session = this.sessionOfSlot[c.slot];
      if (session < 0) continue;
      sessionDense.set(session, Math.max(sessionDense.get(session) ?? 0, c.document));
    }
    let maxSessionLexical = 0;
    for (const session of touchedSessions) {
      if (r.contextPower !== 1) sessionLexical[session] = Math.pow(sessionLexical[session], 1 / r.contextPower);
      maxSessionLexical = Math.max(maxSessionLexical, sessionLexical[session]);
    }
    for (const c of all) {
      const session = this.sessionOfSlot[c.slot];
      if (session < 0 || r.contextWeight === 0) {
        c.context = c.document;
      } else {
        const lex = maxSessionLexical > 0 ? sessionLexical[session] / maxSessionLexical : 0;
        const best = sessionDense.get(session) ?? 0;
        c.context = r.mode === 'dense' ? best : r.mode === 'lexical' ? lex : wd * best + (1 - wd) * lex;
      }
      c.combined = (1 - r.contextWeight) * c.document + r.contextWeight * c.context;
    }
    for (const session of touchedSessions) sessionLexical[session] = 0;

    // Priors and time.
    const reference = toEpochMs(options.referenceTime) ?? (Number.isFinite(this.newestObservedAt) ? this.newestObservedAt : undefined);
    const intent = parseTimeIntent(query, reference);
    let tMin = Infinity;
    let tMax = -Infinity;
    if (intent.direction) {
      for (const c of all) {
        const t = this.records[c.slot]!.attrs.observedAt;
        if (t === undefined) continue;
        if (t < tMin) tMin = t;
        if (t > tMax) tMax = t;
      }
    }
    const halfLife = r.recencyHalfLifeDays * DAY;
    for (const c of all) {
      const attrs = this.records[c.slot]!.attrs;
      c.importance = r.importanceWeight * ((attrs.importance ?? 0.5) - 0.5);
      const t = attrs.observedAt;
      if (t !== undefined && reference !== undefined && r.recencyWeight > 0) {
        c.recency = r.recencyWeight * Math.pow(2, -Math.max(0, reference - t) / halfLife);
      }
      if (t !== undefined && r.timeIntentWeight > 0) {
        let time = 0;
        if (intent.window) {
          time += t >= intent.window.start && t < intent.window.end ? 1 : 0;
        }
        if (intent.direction && tMax > tMin) {
          const position = (t - tMin) / (tMax - tMin);
          time += 0.5 * (intent.direction === 'recent' ? position : 1 - position);
        }
        c.time = r.timeIntentWeight * time;
      }
      c.score = c.combined * (1 + c.importance + c.time) + c.recency;
    }

    all.sort((a, b) => b.score - a.score || this.records[a.slot]!.label - this.records[b.slot]!.label);
    return all.slice(0, topK).map((c) => {
      const label = this.records[c.slot]!.label;
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
    return saveSnapshot(this.dense, dir, meta);
  }

  /**
   * Replaces the graph with a saved one when it is intact and made by the same embedder.
   * Call it on an empty index, then upsert the rows (without vectors for labels the graph
   * already holds) and replay changes after the returned changeSeq; on any other status
   * than 'loaded' the index is untouched and the caller rebuilds with vectors.
   */
  async loadDense(dir: string, expected: { readonly fingerprint: string }): Promise<LoadResult> {
    if (this.size > 0) throw new Error('loadDense() needs an empty index');
    return loadSnapshot(this.dense, dir, expected);
  }

  private denseSearch(vector: ArrayLike<number>, k: number, admits: ((slot: number) => boolean) | null): DenseHit[] {
    if (admits === null) return this.dense.search(vector, k);
    const filter = (label: number): boolean => {
      const slot = this.slotByLabel.get(label);
      return slot !== undefined && admits(slot);
    };
    const hits = this.dense.search(vector, k, filter);
    if (hits.length >= k) return hits;
    // The graph walk can strand a very selective filter; score the admitted set exactly.
    const exact: DenseHit[] = [];
    for (const [label, slot] of this.slotByLabel) {
      if (!admits(slot) || !this.records[slot]!.hasVector) continue;
      exact.push({ label, similarity: this.exactSimilarity(slot, vector) });
    }
    exact.sort((a, b) => b.similarity - a.similarity || a.label - b.label);
    return exact.slice(0, k);
  }

  private exactSimilarity(slot: number, vector: ArrayLike<number>): number {
    const rec = this.records[slot]!;
    if (!rec.hasVector) return 0;
    const stored = this.dense.vector(rec.label);
    if (!stored) return 0;
    let s = 0;
    for (let i = 0; i < stored.length; i++) s += stored[i] * vector[i];
    return s;
  }

  private dropSlot(slot: number, keepVector: boolean): void {
    const rec = this.records[slot];
    if (!rec) return;
    this.lexical.remove(slot);
    if (!keepVector) this.dense.remove(rec.label);
    if ((rec.attrs.state ?? 'active') !== 'active') this.nonActive--;
    this.records[slot] = undefined;
  }

  private sessionNumber(id: string): number {
    let n = this.sessionIds.get(id);
    if (n === undefined) {
      n = this.sessionIds.size;
      this.sessionIds.set(id, n);
      if (n >= this.sessionLexical.length) {
        const next = new Float32Array(this.sessionLexical.length * 2);
        next.set(this.sessionLexical);
        this.sessionLexical = next;
      }
    }
    return n;
  }

  private ensureSlots(n: number): void {
    if (n <= this.sessionOfSlot.length) return;
    let cap = this.sessionOfSlot.length;
    while (cap < n) cap *= 2;
    const next = new Int32Array(cap);
    next.set(this.sessionOfSlot);
    this.sessionOfSlot = next;
  }
}

const ASKS_ASSISTANT =
  /\b(you|assistant)\s+(said|told|suggested|recommended|mentioned|gave|provided|listed|shared|explained|wrote|described|answered|replied)\b|\byour (suggestion|recommendation|answer|response|reply|list|advice)s?\b/i;

function asksAssistant(query: string): boolean {
  return ASKS_ASSISTANT.test(query);
}

function toAttributes(doc: IndexDocument): DocumentAttributes {
  const { label: _label, text: _text, vector: _vector, ...attrs } = doc;
  return attrs;
}

/** The `k` items with the highest score, best first (ties by item order). */
function topByScore<T>(items: readonly T[], score: (item: T) => number, k: number): T[] {
  if (items.length <= k) return [...items].sort((a, b) => score(b) - score(a));
  // Partial selection: keep a sorted window of k; cheap because k ≪ items in practice.
  const scored = items.map((item) => ({ item, s: score(item) }));
  let threshold = -Infinity;
  const window: { item: T; s: number }[] = [];
  for (const e of scored) {
    if (window.length === k && e.s <= threshold) continue;
    let i = window.length;
    window.push(e);
    while (i > 0 && window[i - 1].s < e.s) {
      window[i] = window[i - 1];
      i--;
    }
    window[i] = e;
    if (window.length > k) window.pop();
    if (window.length === k) threshold = window[k - 1].s;
  }
  return window.map((e) => e.item);
}

function rankOf<T>(items: readonly T[], score: (item: T) => number): Map<T, number> {
  const sorted = [...items].sort((a, b) => score(b) - score(a));
  const ranks = new Map<T, number>();
  sorted.forEach((item, i) => ranks.set(item, i + 1));
  return ranks;
}
