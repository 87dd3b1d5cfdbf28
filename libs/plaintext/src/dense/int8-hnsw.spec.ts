import { HierarchicalNSW } from 'hnswlib-node';
import { DEFAULT_HNSW_PARAMS, Int8Hnsw } from './int8-hnsw';
import { decodeGraph, encodeGraph } from './int8-hnsw.codec';
import { QuantizedVectorStore } from './quantized-vector.store';

const DIM = 48;

/** Deterministic unit vectors drawn around a few centres (clustered, like embeddings). */
function vectors(n: number, seed = 7): Float32Array[] {
  let s = seed;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const centres = Array.from({ length: 12 }, () => Float32Array.from({ length: DIM }, rand));
  return Array.from({ length: n }, (_, i) => {
    const c = centres[i % centres.length];
    const v = Float32Array.from({ length: DIM }, (_, d) => c[d] + 0.6 * rand());
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

function filled(n: number, initial = 64): { store: QuantizedVectorStore; graph: Int8Hnsw; data: Float32Array[] } {
  const data = vectors(n);
  const store = new QuantizedVectorStore(DIM, initial);
  const graph = new Int8Hnsw(store, DEFAULT_HNSW_PARAMS, initial);
  data.forEach((v, slot) => {
    store.set(slot, v);
    graph.insert(slot);
  });
  return { store, graph, data };
}

/** The k best slots by exact int8 score among those `admit` accepts. */
function exact(store: QuantizedVectorStore, n: number, q: Float32Array, k: number, admit: (s: number) => boolean = () => true): number[] {
  const scored: [number, number][] = [];
  for (let s = 0; s < n; s++) if (store.has(s) && admit(s)) scored.push([s, store.dot(s, q)]);
  return scored.sort((a, b) => b[1] - a[1]).slice(0, k).map(([s]) => s);
}

function recall(graph: Int8Hnsw, store: QuantizedVectorStore, n: number, queries: Float32Array[], admit?: (s: number) => boolean): number {
  let found = 0;
  let total = 0;
  for (const q of queries) {
    const truth = new Set(exact(store, n, q, 10, admit));
    const got = graph.search(q, 10, 64, admit ?? null).map((h) => h.slot);
    found += got.filter((s) => truth.has(s)).length;
    total += truth.size;
  }
  return found / total;
}

describe('Int8Hnsw', () => {
  const N = 3000;
  const { store, graph, data } = filled(N);
  const queries = vectors(60, 99);

  it('finds the exact int8 top 10 as well as hnswlib does at the same M / efConstruction / ef, best first, with similarities the store agrees with', () => {
    expect(graph.size).toBe(N);
    expect(graph.capacity).toBeGreaterThanOrEqual(N);
    const lib = new HierarchicalNSW('ip', DIM);
    lib.initIndex({ maxElements: N, m: DEFAULT_HNSW_PARAMS.m, efConstruction: DEFAULT_HNSW_PARAMS.efConstruction, randomSeed: DEFAULT_HNSW_PARAMS.seed });
    data.forEach((v, slot) => lib.addPoint(Array.from(v), slot));
    lib.setEf(64);
    let libFound = 0;
    for (const q of queries) {
      const truth = new Set(exact(store, N, q, 10));
      libFound += lib.searchKnn(Array.from(q), 10).neighbors.filter((s) => truth.has(s)).length;
    }
    const ours = recall(graph, store, N, queries);
    expect(ours).toBeGreaterThanOrEqual(libFound / (10 * queries.length) - 0.02);
    expect(ours).toBeGreaterThan(0.8);
    const hits = graph.search(queries[0], 10);
    expect(hits).toHaveLength(10);
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1].similarity).toBeGreaterThanOrEqual(hits[i].similarity);
    for (const h of hits) expect(h.similarity).toBeCloseTo(store.dot(h.slot, queries[0]), 5);
    // A stored vector finds itself first.
    for (const slot of [0, 1234, N - 1]) expect(graph.search(data[slot], 1)[0].slot).toBe(slot);
  });

  it('keeps within the per-node memory the layout promises: (2M + 1) ints at level 0 and a small upper share', () => {
    const perNode = graph.approximateBytes() / graph.capacity;
    expect(perNode).toBeGreaterThanOrEqual((2 * DEFAULT_HNSW_PARAMS.m + 1) * 4);
    expect(perNode).toBeLessThan(200);
  });

  it('admits only what a filter accepts, walking through the rest', () => {
    const even = (s: number): boolean => s % 2 === 0;
    const hits = graph.search(queries[1], 10, 64, even);
    expect(hits).toHaveLength(10);
    expect(hits.every((h) => even(h.slot))).toBe(true);
    expect(recall(graph, store, N, queries, even)).toBeGreaterThan(0.9);
  });

  it('never returns a removed node, keeps routing through it, and revives it when re-inserted', () => {
    const own = filled(1500);
    const removed = new Set<number>();
    for (let s = 0; s < 1500; s += 3) {
      expect(own.graph.remove(s)).toBe(true);
      own.store.clear(s);
      removed.add(s);
    }
    expect(own.graph.remove(0)).toBe(false);
    expect(own.graph.size).toBe(1000);
    expect(own.graph.removedRatio).toBeCloseTo(1 / 3, 2);
    for (const q of queries) expect(own.graph.search(q, 50).some((h) => removed.has(h.slot))).toBe(false);
    expect(recall(own.graph, own.store, 1500, queries)).toBeGreaterThan(0.9);
    own.store.set(3, own.data[3]);
    own.graph.insert(3);
    expect(own.graph.search(own.data[3], 1)[0].slot).toBe(3);
    expect(() => own.graph.insert(6)).toThrow(/no vector/);
  });

  it('round-trips through one buffer: same answers, tombstones and their vectors included, and grows after the load', () => {
    const own = filled(800);
    for (let s = 0; s < 800; s += 7) {
      own.graph.remove(s);
      own.store.clear(s);
    }
    const bytes = encodeGraph(own.graph);
    // A fresh store holds only the live vectors, as the snapshot's vectors file does.
    const store = new QuantizedVectorStore(DIM, 16);
    for (let s = 0; s < 800; s++) if (own.store.has(s)) store.set(s, own.data[s]);
    const loaded = decodeGraph(bytes, store, DEFAULT_HNSW_PARAMS);
    expect(loaded.size).toBe(own.graph.size);
    expect(loaded.removedCount).toBe(own.graph.removedCount);
    expect(store.has(7)).toBe(false);
    expect(store.scaleArray[7]).toBeLessThan(0);
    for (const q of queries) expect(loaded.search(q, 10)).toEqual(own.graph.search(q, 10));
    const more = vectors(900);
    for (let s = 800; s < 900; s++) {
      store.set(s, more[s]);
      loaded.insert(s);
    }
    expect(loaded.size).toBe(own.graph.size + 100);
    expect(loaded.search(more[850], 1)[0].slot).toBe(850);
    expect(encodeGraph(loaded).length).toBeGreaterThan(bytes.length);
  });

  it('refuses a buffer that does not describe a graph of these parameters', () => {
    const bytes = encodeGraph(filled(200).graph);
    const store = (): QuantizedVectorStore => new QuantizedVectorStore(DIM, 16);
    expect(() => decodeGraph(bytes.subarray(0, bytes.length - 4), store(), DEFAULT_HNSW_PARAMS)).toThrow(/size/);
    expect(() => decodeGraph(bytes, store(), { ...DEFAULT_HNSW_PARAMS, m: 8 })).toThrow(/m 16/);
    expect(() => decodeGraph(bytes, new QuantizedVectorStore(DIM + 1), DEFAULT_HNSW_PARAMS)).toThrow(/dimension/);
    const bad = Buffer.from(bytes);
    bad.writeInt32LE(1 << 30, 64 + 4); // the first node's first level-0 link
    expect(() => decodeGraph(bad, store(), DEFAULT_HNSW_PARAMS)).toThrow(/outside the graph/);
  });

  it('answers an empty graph with nothing', () => {
    const store = new QuantizedVectorStore(DIM);
    const empty = new Int8Hnsw(store);
    expect(empty.search(vectors(1)[0], 10)).toEqual([]);
    const loaded = decodeGraph(encodeGraph(empty), store, DEFAULT_HNSW_PARAMS);
    expect(loaded.size).toBe(0);
  });
});
