// The dense half of a cube index: hnswlib-node over unit vectors with inner product,
// grown by doubling, deletions by markDelete. A new label takes the slot of a deleted
// element when there is one (hnswlib's replace-deleted), so a cube whose memories churn
// (deletes, new versions) keeps a graph the size of its live memories instead of growing
// with every deletion. Re-adding a deleted label revives its slot if it was not taken.
// Labels are the caller's integers (the memory row sequence).
import { HierarchicalNSW } from 'hnswlib-node';

export interface HnswParams {
  /** Graph degree. 16 is the usual sweet spot for 256-d vectors. */
  readonly m: number;
  readonly efConstruction: number;
  /** Beam width at query time (raised to the number of neighbours asked for). */
  readonly efSearch: number;
  readonly seed: number;
}

export const DEFAULT_HNSW_PARAMS: HnswParams = { m: 16, efConstruction: 40, efSearch: 64, seed: 100 };

export interface DenseHit {
  readonly label: number;
  readonly similarity: number;
}

export class HnswVectorIndex {
  /** Allocated on first use: an index about to load a saved graph never allocates an empty one. */
  private graph: HierarchicalNSW | null = null;
  private capacity: number;
  /** label → true when live, false when marked deleted (its slot may since have been reused). */
  private readonly labels = new Map<number, boolean>();
  /** Live labels. */
  private live = 0;
  /** Deleted elements still holding a graph slot (hnswlib reuses them for new labels). */
  private deleted = 0;

  constructor(
    readonly dimension: number,
    readonly params: HnswParams = DEFAULT_HNSW_PARAMS,
    initialCapacity = 1024,
  ) {
    this.capacity = Math.max(16, initialCapacity);
  }

  private get index(): HierarchicalNSW {
    return (this.graph ??= this.fresh(this.capacity));
  }

  get size(): number {
    return this.live;
  }

  /** Share of graph slots held by deleted elements (new labels take them first). */
  get deletedRatio(): number {
    const slots = this.live + this.deleted;
    return slots === 0 ? 0 : this.deleted / slots;
  }

  /** Graph slots allocated (live, deleted and free). */
  get slotCapacity(): number {
    return this.capacity;
  }

  /**
   * Estimated memory of the graph: per allocated element its float vector, its level-0
   * links (2m) and upper-level share, label and bookkeeping; 0 while never allocated.
   */
  approximateBytes(): number {
    if (this.graph === null) return 0;
    return this.capacity * (this.dimension * 4 + this.params.m * 2 * 4 + this.params.m * 4 * 0.1 + 40) + this.labels.size * 40;
  }

  has(label: number): boolean {
    return this.labels.get(label) === true;
  }

  /** Adds or replaces the vector of a label. */
  add(label: number, vector: ArrayLike<number>): void {
    if (vector.length !== this.dimension) {
      throw new RangeError(`vector has dimension ${vector.length}, index expects ${this.dimension}`);
    }
    const point = Array.from(vector);
    const state = this.labels.get(label);
    if (state === true) {
      this.index.addPoint(point, label); // replaces the vector in place
      return;
    }
    if (state === false && this.revive(label)) {
      this.index.addPoint(point, label);
    } else if (this.deleted > 0) {
      this.index.addPoint(point, label, true); // into a deleted element's slot
      this.deleted--;
      // Some deleted label lost its slot; its entry is stale. Prune them now and then.
      if (this.labels.size > 2 * (this.live + this.deleted) + 1024) this.pruneStale();
    } else {
      if (this.live >= this.capacity) this.grow();
      this.index.addPoint(point, label);
    }
    this.labels.set(label, true);
    this.live++;
  }

  /** Drops the entries of deleted labels whose slot a new label took. */
  private pruneStale(): void {
    const held = new Set(this.index.getIdsList());
    for (const [label, live] of this.labels) if (!live && !held.has(label)) this.labels.delete(label);
  }

  /** Unmarks a deleted label that still has its slot; false when a new label took it. */
  private revive(label: number): boolean {
    try {
      this.index.unmarkDelete(label);
    } catch {
      return false;
    }
    this.deleted--;
    return true;
  }

  remove(label: number): boolean {
    if (this.labels.get(label) !== true) return false;
    this.index.markDelete(label);
    this.labels.set(label, false);
    this.live--;
    this.deleted++;
    return true;
  }

  /**
   * Approximate k nearest live neighbours. With a filter, hnswlib only admits labels the
   * filter accepts and keeps walking the graph until it has k of them (or runs out).
   */
  search(vector: ArrayLike<number>, k: number, filter?: (label: number) => boolean, ef?: number): DenseHit[] {
    const live = this.size;
    if (live === 0 || k <= 0) return [];
    const n = Math.min(k, live);
    this.index.setEf(Math.max(ef ?? this.params.efSearch, n));
    const result = this.index.searchKnn(Array.from(vector), n, filter);
    const hits: DenseHit[] = [];
    for (let i = 0; i < result.neighbors.length; i++) {
      hits.push({ label: result.neighbors[i], similarity: 1 - result.distances[i] });
    }
    return hits;
  }

  /** The stored vector of a live label (used for exact scoring of small filtered sets). */
  vector(label: number): number[] | undefined {
    return this.has(label) ? this.index.getPoint(label) : undefined;
  }

  liveLabels(): number[] {
    const out: number[] = [];
    for (const [label, live] of this.labels) if (live) out.push(label);
    return out;
  }

  writeTo(file: string): void {
    this.index.writeIndexSync(file);
  }

  /** Replaces the graph with the one in a file already verified by the caller. */
  readFrom(file: string, liveLabels: ReadonlySet<number> | null, capacity: number): void {
    const index = new HierarchicalNSW('ip', this.dimension);
    index.readIndexSync(file, true);
    if (index.getNumDimensions() !== this.dimension) throw new Error('dimension mismatch in index file');
    this.graph = index;
    this.capacity = Math.max(capacity, index.getMaxElements());
    this.labels.clear();
    this.deleted = 0;
    this.live = 0;
    for (const label of index.getIdsList()) {
      const live = liveLabels === null || liveLabels.has(label);
      this.labels.set(label, live);
      if (live) this.live++;
      if (!live) {
        try {
          index.markDelete(label);
        } catch {
          // already marked deleted in the file
        }
        this.deleted++;
      }
    }
  }

  /**
   * Grows by a quarter (at least 1,024 slots), not by doubling: every slot holds a float
   * vector whether used or not, so doubling left up to half of a large graph's memory
   * empty; resizes stay geometric, hence amortised O(1) per add.
   */
  private grow(): void {
    this.capacity = Math.max(this.capacity + 1024, Math.ceil(this.capacity * 1.25));
    this.index.resizeIndex(this.capacity);
  }

  private fresh(capacity: number): HierarchicalNSW {
    const index = new HierarchicalNSW('ip', this.dimension);
    index.initIndex({
      maxElements: capacity,
      m: this.params.m,
      efConstruction: this.params.efConstruction,
      randomSeed: this.params.seed,
      allowReplaceDeleted: true,
    });
    index.setEf(this.params.efSearch);
    return index;
  }
}
