// The dense half of a cube index: hnswlib-node over unit vectors with inner product,
// grown by doubling, deletions by markDelete. Deleted elements keep their slot until the
// caller rebuilds (see deletedRatio); re-adding a deleted label revives its slot.
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
  private index: HierarchicalNSW;
  private capacity: number;
  /** label → true when live, false when marked deleted (and still in the graph). */
  private readonly labels = new Map<number, boolean>();
  private deleted = 0;

  constructor(
    readonly dimension: number,
    readonly params: HnswParams = DEFAULT_HNSW_PARAMS,
    initialCapacity = 1024,
  ) {
    this.capacity = Math.max(16, initialCapacity);
    this.index = this.fresh(this.capacity);
  }

  get size(): number {
    return this.labels.size - this.deleted;
  }

  /** Share of graph slots held by deleted elements: rebuild when it grows large. */
  get deletedRatio(): number {
    return this.labels.size === 0 ? 0 : this.deleted / this.labels.size;
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
    if (state === undefined) {
      if (this.labels.size >= this.capacity) this.grow();
      this.index.addPoint(point, label);
    } else {
      if (!state) {
        this.index.unmarkDelete(label);
        this.deleted--;
      }
      this.index.addPoint(point, label);
    }
    this.labels.set(label, true);
  }

  remove(label: number): boolean {
    if (this.labels.get(label) !== true) return false;
    this.index.markDelete(label);
    this.labels.set(label, false);
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
    index.readIndexSync(file, false);
    if (index.getNumDimensions() !== this.dimension) throw new Error('dimension mismatch in index file');
    this.index = index;
    this.capacity = Math.max(capacity, index.getMaxElements());
    this.labels.clear();
    this.deleted = 0;
    for (const label of index.getIdsList()) {
      const live = liveLabels === null || liveLabels.has(label);
      this.labels.set(label, live);
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

  private grow(): void {
    this.capacity *= 2;
    this.index.resizeIndex(this.capacity);
  }

  private fresh(capacity: number): HierarchicalNSW {
    const index = new HierarchicalNSW('ip', this.dimension);
    index.initIndex({
      maxElements: capacity,
      m: this.params.m,
      efConstruction: this.params.efConstruction,
      randomSeed: this.params.seed,
      allowReplaceDeleted: false,
    });
    index.setEf(this.params.efSearch);
    return index;
  }
}
