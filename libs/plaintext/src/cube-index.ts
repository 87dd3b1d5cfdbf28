// The in-memory retrieval index of one cube: int8 vectors with an HNSW graph over them
// (dense/dense-graph.ts, ADR 0114) and a BM25 inverted index over the same documents, the
// document store filters and priors read, and the hybrid search over them. It is derived
// data: PostgreSQL holds the truth, the caller feeds rows in by their change sequence
// (upsert/remove) and may persist the index with save()/load().
//
// A search runs the candidate signals (search/*.signal.ts: each proposes candidates and
// scores them all), fuses their scores (search/document-fusion.ts), blends in the session
// context (search/session-context.ts), applies priors and time (search/priors.ts) and
// explains (search/explain.ts).
import { DenseGraph } from './dense/dense-graph';
import { loadSnapshot, LoadResult, saveSnapshot, SnapshotExtra, SnapshotManifest, SnapshotMeta, SnapshotVectors } from './dense/hnsw-snapshot';
import { DEFAULT_HNSW_PARAMS, HnswParams } from './dense/int8-hnsw';
import { QuantizedVectorStore } from './dense/quantized-vector.store';
import { DocumentAttributes, MemoryFilter, TimeInput } from './filter/memory-filter';
import { Bm25Index, Bm25Options } from './lexical/bm25.index';
import { DEFAULT_RANKING, RankingOptions } from './ranking/ranking-options';
import { Candidate, CandidatePool } from './search/candidate';
import { CandidateSignal } from './search/candidate-signal';
import { DenseSignal } from './search/dense.signal';
import { addAfterContext, fuseDocuments } from './search/document-fusion';
import { BridgeSignal, bridgeFrom } from './search/bridge.signal';
import { DEFAULT_DEEP, DeepOptions, expandQuery, fusePasses, sessionNeighbours } from './search/deep-expansion';
import { EntityIndex } from './search/entity-index';
import { explainCandidate, ScoreExplanation, SearchHit } from './search/explain';
import { LexicalSignal } from './search/lexical.signal';
import { applyPriors } from './search/priors';
import { buildQuery, QueryInput, SearchQuery } from './search/search-query';
import { blendSessionContext } from './search/session-context';
import { DocumentStore } from './store/document-store';
import { analyze } from './text/analyzer';

export type { ScoreExplanation, SearchHit } from './search/explain';

const DOCUMENTS_FILE = 'documents.bin';
const LEXICAL_FILE = 'lexical.bin';
const ENTITIES_FILE = 'entities.bin';
/** Vectors gathered for a snapshot between two yields to the event loop. */
const VECTORS_PER_SLICE = 16384;

export interface IndexDocument extends DocumentAttributes {
  /** The caller's integer key (the memory row sequence). */
  readonly label: number;
  readonly text: string;
  /** Unit vector from the cube's embedder; omit to keep the one the index already has. */
  readonly vector?: ArrayLike<number>;
}

export interface CubeIndexOptions {
  readonly dimension: number;
  readonly hnsw?: Partial<HnswParams>;
  readonly bm25?: Bm25Options;
  readonly ranking?: Partial<RankingOptions>;
  readonly initialCapacity?: number;
  /**
   * Up to this many documents the index keeps no HNSW graph: dense search scans the int8
   * vectors exactly (ADR 0112). The graph is built, from those vectors, when the index
   * grows past it; 0 keeps a graph from the start.
   */
  readonly graphMinDocuments?: number;
}

/** A 256-d exact int8 scan of this many documents costs about what a graph walk does; below it a graph is only memory. */
export const DEFAULT_GRAPH_MIN_DOCUMENTS = 2048;

export interface SearchOptions {
  readonly topK?: number;
  readonly filter?: MemoryFilter;
  /** "Now" for recency and relative time expressions; defaults to the newest observedAt. */
  readonly referenceTime?: TimeInput;
  readonly explain?: boolean;
  /** Per-search overrides of the ranking knobs (ablations, experiments). */
  readonly ranking?: Partial<RankingOptions>;
  /** Deep (multi-hop) search: expand the query from the first hits and search again (true: default knobs). */
  readonly deep?: boolean | Partial<DeepOptions>;
}

export class CubeIndex {
  readonly dimension: number;
  private readonly dense: DenseGraph;
  private readonly vectors: QuantizedVectorStore;
  private lexical: Bm25Index;
  private store = new DocumentStore();
  /** Entity key → memories naming it, for deep search's bridge signal. */
  private entities = new EntityIndex();
  private readonly bm25Options?: Bm25Options;
  private readonly ranking: RankingOptions;
  /** The candidate signals, in the order they propose candidates. */
  private signals: readonly CandidateSignal[] = [];
  /** Per-session lexical scores of the current search (zeroed after each). */
  private sessionLexical = new Float64Array(256);
  /** The snapshot's int8 vectors while the rows are replayed after loadDense (dropped at the first search). */
  private loadedVectors: { readonly vectors: SnapshotVectors; readonly row: Map<number, number> } | null = null;

  constructor(options: CubeIndexOptions) {
    this.dimension = options.dimension;
    this.vectors = new QuantizedVectorStore(options.dimension, options.initialCapacity ?? 1024);
    const graphMinDocuments = Math.max(0, options.graphMinDocuments ?? DEFAULT_GRAPH_MIN_DOCUMENTS);
    this.dense = new DenseGraph(this.vectors, { ...DEFAULT_HNSW_PARAMS, ...options.hnsw }, graphMinDocuments, () => this.store.nextSlot);
    this.bm25Options = options.bm25;
    this.lexical = new Bm25Index(options.bm25);
    this.ranking = { ...DEFAULT_RANKING, ...options.ranking };
    this.wireSignals();
  }

  private wireSignals(): void {
    this.signals = [
      new LexicalSignal(this.lexical, this.store),
      new DenseSignal(this.dense, this.vectors, this.store),
      new BridgeSignal(this.entities),
    ];
  }

  get size(): number {
    return this.store.size;
  }

  get hnswParams(): HnswParams {
    return this.dense.params;
  }

  has(label: number): boolean {
    return this.store.slotByLabel.has(label);
  }

  /** Whether dense search walks an HNSW graph (false: the index is small and scans its vectors). */
  get hasGraph(): boolean {
    return this.dense.current !== null;
  }

  /** Whether a graph build runs now (the first graph, a catch-up after a batch, a rebuild). */
  get graphBuilding(): boolean {
    return this.dense.building;
  }

  /**
   * Slots the graph may not link yet (a catch-up build is on its way through them; 0 when
   * none runs): what a snapshot saved now would leave to the catch-up build of its next load.
   */
  get graphUnlinked(): number {
    return this.dense.current === null ? 0 : this.store.nextSlot - this.dense.unlinkedFrom;
  }

  /** Whether the graph links every memory's vector (false without a graph); O(memories), for diagnostics and tests. */
  graphLinksAll(): boolean {
    return this.dense.linksEverySlot();
  }

  /** Resolves when no graph build runs (the first graph, a catch-up after a batch, a rebuild without tombstones). */
  graphReady(): Promise<void> {
    return this.dense.ready();
  }

  /** Stops background graph builds: call when the index is dropped. */
  close(): void {
    this.dense.close();
  }

  /**
   * Sizes the index for this many documents at once (a rebuild that knows its row count):
   * vectors, documents and per-slot arrays are allocated once instead of regrown step by
   * step, which leaves the allocator holes that stay in the RSS (ADR 0119).
   */
  reserve(documents: number): void {
    this.vectors.reserve(documents);
    this.store.reserve(documents);
    this.lexical.reserve(documents);
    this.entities.reserve(documents);
  }

  /** Estimated memory of the index (graph, int8 vectors, postings, documents), for a cache bounded by bytes. */
  approximateBytes(): number {
    return this.dense.approximateBytes() + this.vectors.approximateBytes() + this.lexical.approximateBytes() + this.store.approximateBytes() + this.entities.approximateBytes();
  }

  /** Share of the graph's nodes that are tombstones (the index rebuilds its graph past a quarter). */
  get deletedRatio(): number {
    return this.dense.current?.removedRatio ?? 0;
  }

  /**
   * Adds a document or replaces the one with the same label (text, attributes and vector).
   * Without a vector, the one the index has is kept (the previous version's, or the loaded
   * snapshot's after loadDense); without either, the document is found by words alone.
   * The new slot is linked into the graph (at once, or by a catch-up build when this
   * event-loop turn has spent its budget on the graph: see dense-graph.ts).
   */
  upsert(doc: IndexDocument): void {
    const previous = this.store.slotByLabel.get(doc.label);
    const slot = this.store.nextSlot;
    if (doc.vector === undefined && !(previous !== undefined && this.vectors.copy(previous, slot))) this.takeSnapshotVector(doc.label, slot);
    if (previous !== undefined) this.dropSlot(previous);
    if (doc.vector !== undefined) this.vectors.set(slot, doc.vector);
    const terms = analyze(doc.text);
    this.store.add(doc.label, toAttributes(doc), terms.length);
    this.lexical.add(slot, terms);
    this.entities.add(slot, doc.text);
    if (this.vectors.has(slot)) this.dense.added(slot);
    this.dense.grown(this.store.size);
  }

  upsertMany(docs: Iterable<IndexDocument>): void {
    for (const doc of docs) this.upsert(doc);
  }

  /** Makes a document unfindable at once. Returns false when the label was not indexed. */
  remove(label: number): boolean {
    const slot = this.store.slotByLabel.get(label);
    if (slot === undefined) return false;
    this.dropSlot(slot);
    this.store.slotByLabel.delete(label);
    return true;
  }

  /** Labels currently indexed. */
  labels(): number[] {
    return [...this.store.slotByLabel.keys()];
  }

  search(query: string, queryVector: ArrayLike<number> | null, options: SearchOptions = {}): SearchHit[] {
    this.loadedVectors = null; // the rows are in: the snapshot's vectors have served
    const topK = Math.max(0, Math.floor(options.topK ?? 10));
    if (topK === 0 || this.size === 0) return [];
    if (queryVector !== null && queryVector.length !== this.dimension) {
      throw new RangeError(`query vector has dimension ${queryVector.length}, index expects ${this.dimension}`);
    }
    const ranking: RankingOptions = options.ranking ? { ...this.ranking, ...options.ranking } : this.ranking;
    const input: QueryInput = { text: query, vector: queryVector, ranking, topK, filter: options.filter, referenceTime: options.referenceTime };
    if (options.deep) return this.deepSearch(input, options.deep === true ? DEFAULT_DEEP : { ...DEFAULT_DEEP, ...options.deep }, options.explain === true);
    const first = this.rank(input);
    return first.ranked.slice(0, topK).map((c) => {
      const label = this.store.labelOf(c.slot);
      if (!options.explain) return { label, score: c.score };
      return { label, score: c.score, explain: first.explain(c) };
    });
  }

  /**
   * Retrieves, expands the query from the first pass's top hits (terms, neighbouring turns,
   * vectors: see search/deep-expansion.ts), retrieves again and fuses the passes.
   */
  private deepSearch(input: QueryInput, deep: DeepOptions, explain: boolean): SearchHit[] {
    const first = this.rank(input);
    const expansion = expandQuery(first.query.terms, input.vector, first.ranked, { bm25: this.lexical, vectors: this.vectors, store: this.store }, deep);
    // Without dense feedback the second pass asks the graph the same question: its answer is reused.
    const denseProposals = expansion.vector === null ? denseRanked(first.ranked) : undefined;
    const neighbours = (slot: number, span: number): number[] => sessionNeighbours(this.store, slot, span);
    const bridge = bridgeFrom(input.text, first.ranked, { entities: this.entities, neighbours }, deep);
    const ranking = deep.secondContextWeight < 0 ? input.ranking : { ...input.ranking, contextWeight: deep.secondContextWeight };
    const second = this.rank({ ...input, ranking, terms: expansion, vector: expansion.vector ?? input.vector, denseProposals, bridge });
    const fused = fusePasses(first.ranked, second.ranked, deep.secondPassWeight, deep.passFusion, deep.keepFirst);
    const firstBySlot = new Map(first.ranked.map((c) => [c.slot, c]));
    const secondBySlot = new Map(second.ranked.map((c) => [c.slot, c]));
    const added = expansion.terms.slice(first.query.terms.length);
    return fused.slice(0, input.topK).map((f) => {
      const label = this.store.labelOf(f.slot);
      if (!explain) return { label, score: f.score };
      const own = firstBySlot.get(f.slot);
      const base = own ? first.explain(own) : second.explain(secondBySlot.get(f.slot)!);
      return { label, score: f.score, explain: { ...base, deep: { first: f.first, second: f.second, expansion: added } } };
    });
  }

  /** One retrieval: the signals propose and score candidates, then fusion, session context and priors rank them. */
  private rank(input: QueryInput): { query: SearchQuery; ranked: Candidate[]; explain: (c: Candidate) => ScoreExplanation } {
    if (this.sessionLexical.length < this.store.sessionCount) {
      this.sessionLexical = new Float64Array(Math.max(this.store.sessionCount, this.sessionLexical.length * 2));
    }
    const q = buildQuery(this.store, input, this.sessionLexical);
    const enabled = this.signals.filter((s) => s.enabled(q));
    const pool = new CandidatePool();
    for (const signal of enabled) signal.propose(q, pool);
    // Every enabled signal scores every candidate, so that fusion never compares a score
    // with a missing value.
    const all = pool.all();
    for (const signal of enabled) signal.complete(q, all);
    fuseDocuments(q, this.signals, all);
    blendSessionContext(q, this.store, all);
    addAfterContext(q, this.signals, all);
    const intent = applyPriors(q, this.store, all);
    all.sort((a, b) => b.score - a.score || a.slot - b.slot);
    const names = new Set(enabled.map((s) => s.name));
    return { query: q, ranked: all, explain: (c) => explainCandidate(q, c, names, intent) };
  }

  /**
   * Writes the index to dir: the int8 graph, the int8 vectors, the documents (attributes)
   * and BM25 postings, and the caller's own files (named `x.ext`), under one manifest
   * (checksums, change sequence, fingerprint). Texts are not saved: the postings are.
   * While the first graph of the index is being built the save waits for it, so that a
   * big cube's snapshot holds its graph (a load would otherwise build it again); a caller
   * that holds writes back during the save awaits firstGraphReady() first, so that it does not
   * hold them for the whole build.
   * Documents, postings and vectors are encoded and written in bounded pieces with yields
   * to the event loop between them (ADR 0115): the index must not change until the
   * returned promise settles (the caller holds its writes back meanwhile).
   */
  async save(dir: string, meta: SnapshotMeta, callerFiles: ReadonlyMap<string, Buffer> = new Map()): Promise<SnapshotManifest> {
    await this.dense.firstGraph();
    const vectors = await this.snapshotVectors();
    const extras = new Map<string, SnapshotExtra>([
      ...callerFiles,
      [DOCUMENTS_FILE, this.store.encodeChunks()],
      [LEXICAL_FILE, this.lexical.encodeChunks()],
      [ENTITIES_FILE, this.entities.encode()],
    ]);
    const manifest = await saveSnapshot(dir, meta, { dimension: this.dimension, params: this.dense.params, graph: this.dense.encode(), vectors, extras });
    // Settled enough to be saved: the postings give back the room they grew into (ADR 0119).
    this.lexical.trim();
    return manifest;
  }

  /** Resolves once the index's first graph, if one is being built, is complete (what save() waits for). */
  firstGraphReady(): Promise<void> {
    return this.dense.firstGraph();
  }

  /**
   * Loads a whole saved index into an empty one: graph, int8 vectors, documents and BM25
   * postings, so nothing is analysed or inserted again (`documents: true`); the caller then
   * replays the changes after the returned changeSeq. A snapshot without documents (or
   * damaged document files) loads as loadDense() does (`documents: false`): the caller
   * upserts every row, without vectors for labels the snapshot holds. A snapshot without a
   * usable graph (none saved, an hnswlib one of format 1) builds one in the background.
   */
  async load(dir: string, expected: { readonly fingerprint: string }): Promise<LoadResult & { readonly documents: boolean }> {
    const result = await this.readSnapshot(dir, expected);
    const documents = result.extras?.get(DOCUMENTS_FILE);
    const lexical = result.extras?.get(LEXICAL_FILE);
    const entityBytes = result.extras?.get(ENTITIES_FILE);
    // A snapshot from before the entity index (or with a damaged one) replays its rows, which rebuilds it.
    if (result.status !== 'loaded' || !documents || !lexical || !entityBytes || !result.vectors) return { ...withoutGraph(result), documents: false };
    let store: DocumentStore;
    let bm25: Bm25Index;
    let entities: EntityIndex;
    try {
      // Between the steps, searches of other (hot) cubes waiting on the event loop run.
      await yieldToEventLoop();
      bm25 = Bm25Index.decode(lexical, this.bm25Options);
      await yieldToEventLoop();
      store = DocumentStore.decode(documents, (slot) => bm25.lengthOf(slot));
      entities = EntityIndex.decode(entityBytes);
    } catch {
      return { ...withoutGraph(result), documents: false };
    }
    // Documents saved without a vector (found by words alone) stay without one.
    for (const [label, slot] of store.slotByLabel) this.takeSnapshotVector(label, slot);
    this.store = store;
    this.lexical = bm25;
    this.entities = entities;
    this.loadedVectors = null;
    this.wireSignals();
    // The graph's nodes are these slots: it fits only now that the documents are restored.
    const graph = result.graphData !== undefined && this.dense.adopt(result.graphData);
    if (!graph) this.dense.grown(store.size);
    const { graphData: _data, ...rest } = result;
    return { ...rest, graph, documents: true };
  }

  /** The int8 copy of every indexed vector, by label, for the snapshot; gathered in slices of slots with yields between them. */
  private async snapshotVectors(): Promise<SnapshotVectors> {
    const slotCount = this.store.slotCount;
    const present = (slot: number) => this.store.isLive(slot) && this.vectors.has(slot);
    let n = 0;
    for (let slot = 0; slot < slotCount; slot++) if (present(slot)) n++;
    await yieldToEventLoop();
    const labels = new Float64Array(n);
    const codes = new Int8Array(n * this.dimension);
    const scales = new Float32Array(n);
    let i = 0;
    for (let slot = 0; slot < slotCount; slot++) {
      if (slot % VECTORS_PER_SLICE === VECTORS_PER_SLICE - 1) await yieldToEventLoop();
      if (!present(slot)) continue;
      const v = this.vectors.read(slot)!;
      labels[i] = this.store.labelOf(slot);
      codes.set(v.codes, i * this.dimension);
      scales[i] = v.scale;
      i++;
    }
    return { labels, scales, codes };
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
   * Reads a saved snapshot's int8 vectors when it is intact and made by the same embedder.
   * Call it on an empty index, then upsert the rows (without vectors for labels the
   * snapshot holds) and replay changes after the returned changeSeq; the graph is built
   * again as the rows arrive (its nodes are slots, which re-added rows do not keep). On
   * any other status than 'loaded' the index is untouched and the caller rebuilds with vectors.
   */
  async loadDense(dir: string, expected: { readonly fingerprint: string }): Promise<LoadResult> {
    return withoutGraph(await this.readSnapshot(dir, expected));
  }

  /** Checks and reads a snapshot; keeps its vectors for the rows to come, hands back the graph file. */
  private async readSnapshot(dir: string, expected: { readonly fingerprint: string }): Promise<LoadResult> {
    if (this.size > 0) throw new Error('loading a snapshot needs an empty index');
    const result = await loadSnapshot(dir, { ...expected, dimension: this.dimension, params: this.dense.params });
    if (result.vectors) {
      const row = new Map<number, number>();
      result.vectors.labels.forEach((label, i) => row.set(label, i));
      this.loadedVectors = { vectors: result.vectors, row };
    }
    return result;
  }

  private dropSlot(slot: number): void {
    const length = this.lexical.lengthOf(slot);
    const label = this.store.drop(slot, length);
    if (label === undefined) return;
    this.lexical.remove(slot);
    this.entities.remove(slot);
    this.vectors.clear(slot);
    this.dense.removed(slot);
  }
}

/** The slots the dense signal proposed in a pass, in its order. */
function denseRanked(candidates: readonly Candidate[]): number[] {
  const proposed = candidates.filter((c) => c.signals.dense?.rank != null);
  return proposed.sort((a, b) => a.signals.dense.rank! - b.signals.dense.rank!).map((c) => c.slot);
}

/** A load whose graph file is not used (rows re-added take new slots): the graph is built again. */
function withoutGraph(result: LoadResult): LoadResult {
  const { graphData: _data, ...rest } = result;
  return result.status === 'loaded' ? { ...rest, graph: false } : rest;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function toAttributes(doc: IndexDocument): DocumentAttributes {
  const { label: _label, text: _text, vector: _vector, ...attrs } = doc;
  return attrs;
}
