// An HNSW graph (Malkov & Yashunin) over the int8 vectors of a QuantizedVectorStore: node i
// is slot i of the store, whose codes × scale are its vector, so the graph keeps no copy of
// its own (ADR 0114). Neighbour lists are flat typed arrays: level 0 holds M0 = 2·M links per
// node after a count (`links0`, (M0 + 1) ints a node); the few nodes above level 0 take
// (M + 1) ints per upper level from one pool (`upper`, offset `upperAt[node]`). Links are
// chosen by the heuristic of the paper (a candidate closer to an already chosen neighbour
// than to the node is skipped), as hnswlib does. Similarity is the inner product.
// Removal leaves a tombstone: the node keeps routing walks (its codes stay in the store
// with a negated scale) but is never returned; the owner rebuilds the graph when tombstones
// pass a share of it. Arrays grow by a quarter, as the store does.
import { dotNodes, dotQuery, dotQueryBatch, NodeHeap, newVisit, unitFloat } from './graph-kernels';
import { DEFAULT_HNSW_PARAMS, GraphArrays, GraphHit, HnswParams } from './hnsw-params';
import { QuantizedVectorStore } from './quantized-vector.store';

export { DEFAULT_HNSW_PARAMS } from './hnsw-params';
export type { GraphArrays, GraphHit, HnswParams } from './hnsw-params';

const ABSENT = 0;
const LIVE = 1;
const REMOVED = 2;
const MAX_LEVEL = 16;

const candidates = new NodeHeap(); // best first: key = similarity
const results = new NodeHeap(); // worst first: key = −similarity
let selectIds = new Int32Array(1024);
let selectSims = new Float64Array(1024);
/** A walk's step: the unvisited neighbours of the node it expands, and their similarities (at most M0 = 2·M; grown for a larger m). */
let stepIds = new Int32Array(64);
let stepSims = new Float64Array(64);

function growStep(n: number): void {
  stepIds = new Int32Array(n);
  stepSims = new Float64Array(n);
}

/** Room for n candidates in the selection scratch. */
function selectRoom(n: number): void {
  if (n <= selectIds.length) return;
  selectIds = new Int32Array(n * 2);
  selectSims = new Float64Array(n * 2);
}

export class Int8Hnsw {
  readonly m0: number;
  private links0: Int32Array;
  private upperAt: Int32Array;
  private upper: Int32Array;
  private upperUsed: number;
  private level: Uint8Array;
  private state: Uint8Array;
  private entry: number;
  private maxLevel: number;
  private rng: number;
  private live = 0;
  private removed = 0;
  private readonly levelFactor: number;
  private readonly scratch: Float32Array;
  /** The query of a search, copied so that every walk reads one array type (monomorphic, hence fast). */
  private readonly queryScratch: Float32Array;

  constructor(
    readonly store: QuantizedVectorStore,
    readonly params: HnswParams = DEFAULT_HNSW_PARAMS,
    initialCapacity = 1024,
    arrays?: GraphArrays,
  ) {
    this.m0 = params.m * 2;
    this.levelFactor = 1 / Math.log(Math.max(2, params.m));
    this.scratch = new Float32Array(store.dimension);
    this.queryScratch = new Float32Array(store.dimension);
    if (arrays) {
      ({ links0: this.links0, upperAt: this.upperAt, upper: this.upper, upperUsed: this.upperUsed } = arrays);
      ({ level: this.level, state: this.state, entry: this.entry, maxLevel: this.maxLevel, rng: this.rng } = arrays);
      for (let i = 0; i < this.state.length; i++) {
        if (this.state[i] === LIVE) this.live++;
        else if (this.state[i] === REMOVED) this.removed++;
      }
      return;
    }
    const cap = Math.max(16, initialCapacity);
    this.links0 = new Int32Array(cap * (this.m0 + 1));
    this.upperAt = new Int32Array(cap);
    this.upper = new Int32Array(Math.max(64, Math.ceil(cap / params.m) * (params.m + 1)));
    this.upperUsed = 0;
    this.level = new Uint8Array(cap);
    this.state = new Uint8Array(cap);
    this.entry = -1;
    this.maxLevel = -1;
    this.rng = params.seed >>> 0 || 1;
  }

  /** Live nodes. */
  get size(): number {
    return this.live;
  }

  /** Removed nodes still in the graph (tombstones). */
  get removedCount(): number {
    return this.removed;
  }

  /** Share of the graph's nodes that are tombstones. */
  get removedRatio(): number {
    const n = this.live + this.removed;
    return n === 0 ? 0 : this.removed / n;
  }

  /** Nodes allocated (slots 0 … capacity − 1). */
  get capacity(): number {
    return this.state.length;
  }

  holds(slot: number): boolean {
    return slot < this.state.length && this.state[slot] !== ABSENT;
  }

  isLive(slot: number): boolean {
    return slot < this.state.length && this.state[slot] === LIVE;
  }

  isRemoved(slot: number): boolean {
    return slot < this.state.length && this.state[slot] === REMOVED;
  }

  approximateBytes(): number {
    return this.links0.byteLength + this.upperAt.byteLength + this.upper.byteLength + this.level.byteLength + this.state.byteLength;
  }

  /** The arrays as they stand (views; copy before the graph changes again). */
  arrays(): GraphArrays {
    return { links0: this.links0, upperAt: this.upperAt, upper: this.upper, upperUsed: this.upperUsed, level: this.level, state: this.state, entry: this.entry, maxLevel: this.maxLevel, rng: this.rng };
  }

  /** Links a slot of the store into the graph (its vector must be present there). */
  insert(slot: number): void {
    if (!this.store.has(slot)) throw new RangeError(`slot ${slot} has no vector`);
    if (slot < this.state.length && this.state[slot] !== ABSENT) {
      if (this.state[slot] === REMOVED) {
        this.state[slot] = LIVE; // same slot, same vector: the node's links still hold
        this.removed--;
        this.live++;
      }
      return;
    }
    this.ensure(slot + 1);
    const level = this.randomLevel();
    this.level[slot] = level;
    this.links0[slot * (this.m0 + 1)] = 0;
    if (level > 0) this.upperAt[slot] = this.allocUpper(level);
    this.state[slot] = LIVE;
    this.live++;
    if (this.entry < 0) {
      this.entry = slot;
      this.maxLevel = level;
      return;
    }
    const q = this.decode(slot);
    let ep = this.entry;
    let epSim = this.simQuery(q, ep);
    for (let lc = this.maxLevel; lc > level; lc--) [ep, epSim] = this.greedy(q, ep, epSim, lc);
    for (let lc = Math.min(level, this.maxLevel); lc >= 0; lc--) {
      this.walk(q, ep, epSim, this.params.efConstruction, lc, null, false);
      // results holds the nearest found, worst on top; the best of them enters the next level down.
      const n = results.size;
      selectRoom(n);
      for (let i = n - 1; i >= 0; i--) {
        selectIds[i] = results.topId;
        selectSims[i] = -results.topKey;
        results.pop();
      }
      ep = selectIds[0];
      epSim = selectSims[0];
      const chosen = this.selectNeighbours(n, this.params.m);
      const own = this.linksAt(slot, lc);
      const list = lc === 0 ? this.links0 : this.upper;
      list[own] = chosen;
      const picked = selectIds.slice(0, chosen);
      for (let i = 0; i < chosen; i++) list[own + 1 + i] = picked[i];
      for (let i = 0; i < chosen; i++) this.connect(picked[i], slot, lc);
    }
    if (level > this.maxLevel) {
      this.maxLevel = level;
      this.entry = slot;
    }
  }

  /** Makes a slot unfindable; it keeps routing walks until the graph is rebuilt. */
  remove(slot: number): boolean {
    if (!this.isLive(slot)) return false;
    this.state[slot] = REMOVED;
    this.live--;
    this.removed++;
    return true;
  }

  /**
   * The k live nodes most similar to the query that `accept` admits (all when null),
   * best first, walking with a beam of max(ef, k).
   */
  search(query: ArrayLike<number>, k: number, ef = this.params.efSearch, accept: ((slot: number) => boolean) | null = null): GraphHit[] {
    if (this.entry < 0 || this.live === 0 || k <= 0) return [];
    if (query.length !== this.store.dimension) throw new RangeError(`query has dimension ${query.length}, graph expects ${this.store.dimension}`);
    const q = this.queryScratch;
    for (let i = 0; i < q.length; i++) q[i] = query[i];
    let ep = this.entry;
    let epSim = this.simQuery(q, ep);
    for (let lc = this.maxLevel; lc > 0; lc--) [ep, epSim] = this.greedy(q, ep, epSim, lc);
    this.walk(q, ep, epSim, Math.max(ef, k), 0, accept, true);
    while (results.size > k) results.pop();
    const out: GraphHit[] = new Array<GraphHit>(results.size);
    for (let i = results.size - 1; i >= 0; i--) {
      out[i] = { slot: results.topId, similarity: -results.topKey };
      results.pop();
    }
    return out;
  }

  /** Similarity of a float query to a node's int8 vector (tombstones included). */
  private simQuery(q: Float32Array, slot: number): number {
    return dotQuery(this.store.codeArray, this.store.scaleArray, this.store.dimension, q, slot);
  }

  /** Similarity of two nodes. */
  private simNodes(a: number, b: number): number {
    return dotNodes(this.store.codeArray, this.store.scaleArray, this.store.dimension, a, b);
  }

  /** A node's vector as floats, into the insert scratch. */
  private decode(slot: number): Float32Array {
    const codes = this.store.codeArray;
    const dim = this.store.dimension;
    const scale = Math.abs(this.store.scaleArray[slot]);
    const q = this.scratch;
    for (let i = 0, o = slot * dim; i < dim; i++) q[i] = codes[o + i] * scale;
    return q;
  }

  /** Offset of a node's list at a level (its count, then its links) in links0 or upper. */
  private linksAt(slot: number, lc: number): number {
    return lc === 0 ? slot * (this.m0 + 1) : this.upperAt[slot] + (lc - 1) * (this.params.m + 1);
  }

  /** Greedy descent at one level: the most similar node reachable by improving steps. */
  private greedy(q: Float32Array, ep: number, epSim: number, lc: number): [number, number] {
    const list = this.upper;
    for (let improved = true; improved; ) {
      improved = false;
      const at = this.linksAt(ep, lc);
      const n = list[at];
      if (n > stepIds.length) growStep(n);
      for (let i = 0; i < n; i++) stepIds[i] = list[at + 1 + i];
      dotQueryBatch(this.store.codeArray, this.store.scaleArray, this.store.dimension, q, stepIds, n, stepSims);
      for (let i = 0; i < n; i++) {
        const c = stepIds[i];
        const s = stepSims[i];
        if (s > epSim) {
          ep = c;
          epSim = s;
          improved = true;
        }
      }
    }
    return [ep, epSim];
  }

  /**
   * Beam search at one level from ep; leaves the ef best admitted nodes in `results`
   * (worst on top). Tombstones and rejected nodes are walked through, never kept when
   * `onlyLive` is set.
   */
  private walk(q: Float32Array, ep: number, epSim: number, ef: number, lc: number, accept: ((slot: number) => boolean) | null, onlyLive: boolean): void {
    const { marks, epoch } = newVisit(this.state.length);
    const state = this.state;
    const list = lc === 0 ? this.links0 : this.upper;
    candidates.clear();
    results.clear();
    marks[ep] = epoch;
    candidates.push(ep, epSim);
    if (!onlyLive || (state[ep] === LIVE && (accept === null || accept(ep)))) results.push(ep, -epSim);
    let bound = results.size > 0 ? -results.topKey : -Infinity;
    while (candidates.size > 0) {
      const c = candidates.topId;
      const cSim = candidates.topKey;
      if (cSim < bound && results.size >= ef) break;
      candidates.pop();
      const at = this.linksAt(c, lc);
      const n = list[at];
      if (n > stepIds.length) growStep(n);
      // The unvisited neighbours first, then their similarities together (dotQueryBatch),
      // then each in list order as before: the same similarities, the same walk.
      let fresh = 0;
      for (let i = 1; i <= n; i++) {
        const e = list[at + i];
        if (marks[e] === epoch) continue;
        marks[e] = epoch;
        stepIds[fresh++] = e;
      }
      dotQueryBatch(this.store.codeArray, this.store.scaleArray, this.store.dimension, q, stepIds, fresh, stepSims);
      for (let j = 0; j < fresh; j++) {
        const e = stepIds[j];
        const s = stepSims[j];
        if (results.size < ef || s > bound) {
          candidates.push(e, s);
          if (!onlyLive || (state[e] === LIVE && (accept === null || accept(e)))) {
            results.push(e, -s);
            if (results.size > ef) results.pop();
            bound = -results.topKey;
          }
        }
      }
    }
  }

  /**
   * The heuristic: keeps, of the n candidates in selectIds/selectSims (best first), at most
   * max that are each closer to the base than to any kept one; compacts them to the front.
   */
  private selectNeighbours(n: number, max: number): number {
    if (n <= max) return n;
    let kept = 0;
    for (let i = 0; i < n && kept < max; i++) {
      const c = selectIds[i];
      const cSim = selectSims[i];
      let good = true;
      for (let j = 0; j < kept; j++) {
        if (this.simNodes(c, selectIds[j]) > cSim) {
          good = false;
          break;
        }
      }
      if (good) {
        selectIds[kept] = c;
        selectSims[kept] = cSim;
        kept++;
      }
    }
    return kept;
  }

  /** Adds a link from → to at a level, pruning from's list by the heuristic when full. */
  private connect(from: number, to: number, lc: number): void {
    const list = lc === 0 ? this.links0 : this.upper;
    const max = lc === 0 ? this.m0 : this.params.m;
    const at = this.linksAt(from, lc);
    const n = list[at];
    if (n < max) {
      list[at + 1 + n] = to;
      list[at] = n + 1;
      return;
    }
    // Full: the old links and the new one, by similarity to `from`, through the heuristic;
    // a newcomer less similar than every link held would come last and is left out at once.
    selectRoom(n + 1);
    const toSim = this.simNodes(from, to);
    let worst = Infinity;
    for (let i = 0; i < n; i++) {
      const id = list[at + 1 + i];
      const sim = this.simNodes(from, id);
      if (sim < worst) worst = sim;
      // Insertion sort (best first) into the selection scratch: n ≤ 2·M.
      let j = i;
      while (j > 0 && selectSims[j - 1] < sim) {
        selectIds[j] = selectIds[j - 1];
        selectSims[j] = selectSims[j - 1];
        j--;
      }
      selectIds[j] = id;
      selectSims[j] = sim;
    }
    if (toSim <= worst) return;
    let j = n;
    while (j > 0 && selectSims[j - 1] < toSim) {
      selectIds[j] = selectIds[j - 1];
      selectSims[j] = selectSims[j - 1];
      j--;
    }
    selectIds[j] = to;
    selectSims[j] = toSim;
    const kept = this.selectNeighbours(n + 1, max);
    list[at] = kept;
    for (let i = 0; i < kept; i++) list[at + 1 + i] = selectIds[i];
  }

  private randomLevel(): number {
    this.rng = (this.rng + 0x6d2b79f5) >>> 0;
    return Math.min(MAX_LEVEL, Math.floor(-Math.log(1 - unitFloat(this.rng)) * this.levelFactor));
  }

  private allocUpper(level: number): number {
    const need = level * (this.params.m + 1);
    if (this.upperUsed + need > this.upper.length) {
      const upper = new Int32Array(Math.max(this.upperUsed + need, Math.ceil(this.upper.length * 1.25) + 1024));
      upper.set(this.upper.subarray(0, this.upperUsed));
      this.upper = upper;
    }
    const at = this.upperUsed;
    this.upperUsed += need;
    for (let l = 0; l < level; l++) this.upper[at + l * (this.params.m + 1)] = 0;
    return at;
  }

  /** Grows every per-node array by a quarter (at least 1,024 nodes). */
  private ensure(nodes: number): void {
    if (nodes <= this.state.length) return;
    let cap = this.state.length;
    while (cap < nodes) cap = Math.max(cap + 1024, Math.ceil(cap * 1.25));
    const links0 = new Int32Array(cap * (this.m0 + 1));
    links0.set(this.links0);
    this.links0 = links0;
    const upperAt = new Int32Array(cap);
    upperAt.set(this.upperAt);
    this.upperAt = upperAt;
    const level = new Uint8Array(cap);
    level.set(this.level);
    this.level = level;
    const state = new Uint8Array(cap);
    state.set(this.state);
    this.state = state;
  }
}
