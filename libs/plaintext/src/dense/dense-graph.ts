// When and how a cube index keeps its int8 HNSW graph (ADR 0114):
// - up to `minDocuments` documents it keeps none (exact int8 scan, ADR 0112); past it the
//   graph is built from the store's vectors in slices that yield (graph-build.ts), and
//   searched exactly until it is complete;
// - a write links its slot at once while the writes of the current event-loop turn have
//   spent less than SYNC_BUDGET_MS on the graph; past that (a batch of thousands of rows
//   applied in one go) the rest are left to a catch-up build in slices, and a search scans
//   the not-yet-linked tail exactly, so every written document is findable at once;
// - a removal leaves a tombstone; when tombstones pass REBUILD_SHARE of the graph a new
//   graph is built in slices from the live slots while the old one serves, then swapped in.
import { performance } from 'node:perf_hooks';
import { GraphBuild } from './graph-build';
import { GraphHit, HnswParams, Int8Hnsw } from './int8-hnsw';
import { decodeGraph, encodeGraph } from './int8-hnsw.codec';
import { QuantizedVectorStore } from './quantized-vector.store';

/** Milliseconds of synchronous graph inserts per event-loop turn before writes are deferred to a catch-up build. */
export const SYNC_BUDGET_MS = 5;
/** A graph whose tombstones pass this share of its nodes (and REBUILD_MIN nodes) is rebuilt. */
export const REBUILD_SHARE = 0.25;
const REBUILD_MIN = 1024;

export class DenseGraph {
  /** The graph searches use (null: none yet, dense search is exact). */
  private graph: Int8Hnsw | null = null;
  /** Links slots written while sync inserts were over budget into `graph`. */
  private catchUp: GraphBuild | null = null;
  /** Builds a new graph (the first, or one without tombstones) to replace `graph`. */
  private fresh: GraphBuild | null = null;
  private turnSpent = 0;
  private turnResetPending = false;
  private closed = false;

  constructor(
    readonly store: QuantizedVectorStore,
    readonly params: HnswParams,
    /** Up to this many documents, no graph (0: a graph from the start). */
    readonly minDocuments: number,
    /** The slot after the last one handed out. */
    private readonly slotEnd: () => number,
  ) {
    if (minDocuments === 0) this.graph = new Int8Hnsw(store, params);
  }

  /** The graph dense search walks (null: exact search). */
  get current(): Int8Hnsw | null {
    return this.graph;
  }

  /** The first slot that may hold a vector the current graph has not linked yet (slotEnd() when none). */
  get unlinkedFrom(): number {
    return this.catchUp ? this.catchUp.cursorAt : this.slotEnd();
  }

  /** Whether the current graph links every slot holding a vector (false without a graph); O(slots), for diagnostics and tests. */
  linksEverySlot(): boolean {
    const graph = this.graph;
    if (graph === null) return false;
    for (let slot = 0, end = this.slotEnd(); slot < end; slot++) if (this.store.has(slot) && !graph.holds(slot)) return false;
    return true;
  }

  /** Whether a build is running (the first graph, a catch-up or a rebuild). */
  get building(): boolean {
    return this.catchUp !== null || this.fresh !== null;
  }

  /** Resolves when the first graph of a cube that crossed minDocuments is built (at once if there is one, or no build). */
  async firstGraph(): Promise<void> {
    if (this.graph === null && this.fresh !== null) await this.fresh.done;
  }

  /** Resolves when no build is running. */
  async ready(): Promise<void> {
    while (this.catchUp || this.fresh) await (this.fresh ?? this.catchUp)!.done;
  }

  approximateBytes(): number {
    return (this.graph?.approximateBytes() ?? 0) + (this.fresh?.graph.approximateBytes() ?? 0);
  }

  /** A slot got its vector in the store (the write path). */
  added(slot: number): void {
    const graph = this.graph;
    if (graph === null || this.catchUp !== null || (this.turnSpent >= SYNC_BUDGET_MS && !this.closed)) {
      if (graph !== null && this.catchUp === null) this.startCatchUp(slot);
      return;
    }
    const t0 = performance.now();
    graph.insert(slot);
    this.turnSpent += performance.now() - t0;
    if (!this.turnResetPending) {
      this.turnResetPending = true;
      setImmediate(() => {
        this.turnSpent = 0;
        this.turnResetPending = false;
      });
    }
  }

  /** A slot lost its vector (its store entry is cleared by the caller). */
  removed(slot: number): void {
    this.fresh?.graph.remove(slot);
    const graph = this.graph;
    if (graph === null || !graph.remove(slot)) return;
    if (this.fresh === null && !this.closed && graph.removedCount >= REBUILD_MIN && graph.removedRatio > REBUILD_SHARE) this.startFresh();
  }

  /** The index holds this many documents: past minDocuments, the first graph is built. */
  grown(documents: number): void {
    if (this.graph === null && this.fresh === null && !this.closed && documents > this.minDocuments) this.startFresh();
  }

  /**
   * The k nearest live slots `accept` admits: the graph's walk, merged with an exact scan of
   * the slots it has not linked yet. Null without a graph (the caller scans exactly).
   */
  search(query: ArrayLike<number>, k: number, ef: number, accept: ((slot: number) => boolean) | null): GraphHit[] | null {
    const graph = this.graph;
    if (graph === null) return null;
    const hits = graph.search(query, k, ef, accept);
    const end = this.slotEnd();
    let from = this.unlinkedFrom;
    if (from >= end) return hits;
    const merged = [...hits];
    for (; from < end; from++) {
      if (!this.store.has(from) || graph.holds(from) || (accept !== null && !accept(from))) continue;
      merged.push({ slot: from, similarity: this.store.dot(from, query) });
    }
    return merged.sort((a, b) => b.similarity - a.similarity || a.slot - b.slot).slice(0, k);
  }

  /** The graph for a snapshot (null without one). */
  encode(): Buffer | null {
    return this.graph ? encodeGraph(this.graph) : null;
  }

  /**
   * Adopts a saved graph once the store holds the snapshot's vectors: false (graph left
   * out, built again when needed) when it does not fit them — a live node without a vector.
   * Slots with a vector the graph lacks are linked by a catch-up build.
   */
  adopt(data: Buffer): boolean {
    this.stopBuilds();
    let graph: Int8Hnsw;
    try {
      graph = decodeGraph(data, this.store, this.params);
    } catch {
      return false;
    }
    const end = Math.max(this.slotEnd(), graph.capacity);
    let firstUnlinked = -1;
    for (let slot = 0; slot < end; slot++) {
      const live = this.store.has(slot);
      if (graph.isLive(slot) !== live && graph.holds(slot)) return false; // not this index's graph
      if (live && !graph.holds(slot) && firstUnlinked < 0) firstUnlinked = slot;
    }
    this.graph = graph;
    if (firstUnlinked >= 0) this.startCatchUp(firstUnlinked);
    return true;
  }

  /** Stops the builds and starts no more (an index being dropped; searches and writes still work). */
  close(): void {
    this.closed = true;
    this.stopBuilds();
  }

  private stopBuilds(): void {
    this.catchUp?.cancel();
    this.fresh?.cancel();
    this.catchUp = null;
    this.fresh = null;
  }

  private startCatchUp(from: number): void {
    const graph = this.graph!;
    this.catchUp = new GraphBuild(graph, this.slotEnd, () => {
      if (this.graph === graph) this.catchUp = null;
    }, undefined, from);
    // Not started synchronously: the write that triggered it is over budget already.
    this.catchUp.schedule();
  }

  private startFresh(): void {
    const capacity = Math.max(1024, Math.ceil(this.slotEnd() * 1.1));
    const build = new GraphBuild(new Int8Hnsw(this.store, this.params, capacity), this.slotEnd, (built) => {
      this.catchUp?.cancel();
      this.catchUp = null;
      this.fresh = null;
      this.graph = built;
    });
    this.fresh = build;
    build.start(); // a small graph is complete when this returns
  }
}
