// The int8 HNSW graph (libs/plaintext/src/dense/int8-hnsw.ts, ADR 0114) against hnswlib at
// the same M / efConstruction / ef, in one process, on hash-embedder vectors of synthetic
// sentences: recall@10 against an exact int8 scan, search p50/p99, build time (ours in
// event-loop slices, with the event-loop delay measured while it runs), bytes per vector.
// Ends with one JSON line.
//   npm run bench:graph -- [--n 100000] [--dim 256] [--queries 1000] [--recall-queries 200] [--m 16] [--efc 40] [--ef 64] [--hnswlib 1]
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { HierarchicalNSW } from 'hnswlib-node';
import { GraphBuild, HashEmbedder, Int8Hnsw, QuantizedVectorStore, TopK } from '@engram/plaintext';
import { arg } from './support/args';
import { percentile, rng } from './support/synthetic-corpus';

const N = arg('n', 100_000);
const DIM = arg('dim', 256);
const QUERIES = arg('queries', 1000);
const RECALL_QUERIES = Math.min(QUERIES, arg('recall-queries', 200));
const PARAMS = { m: arg('m', 16), efConstruction: arg('efc', 40), efSearch: arg('ef', 64), seed: 100 };
const WITH_HNSWLIB = arg('hnswlib', 1) === 1;
const random = rng(arg('seed', 42));

const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'to', 'sa', 'vel', 'dor', 'pi', 'qua', 'zen', 'mor', 'li', 'ba', 'cu', 'ne', 'tra', 'ol', 'gi', 'fa'];
const VOCAB = Array.from({ length: 30_000 }, () => {
  let w = '';
  for (let i = 2 + Math.floor(random() * 3); i > 0; i--) w += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
  return w;
});
/** Zipf–Mandelbrot word pick (as latency-core.bench). */
function word(): string {
  const r = Math.floor(100 * Math.exp(random() * Math.log((VOCAB.length + 100) / 100)) - 100);
  return VOCAB[Math.min(VOCAB.length - 1, r)];
}
function sentence(min: number, max: number): string {
  return Array.from({ length: min + Math.floor(random() * (max - min + 1)) }, word).join(' ');
}

const ms = (x: number): number => Math.round(x * 1000) / 1000;
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** CPU seconds (user + system) of this process since `from`: robust to other processes sharing the cores. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

function stats(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: ms(percentile(sorted, 50)), p99: ms(percentile(sorted, 99)) };
}

async function main(): Promise<void> {
  console.log(`graph bench: n=${N} dim=${DIM} M=${PARAMS.m} efC=${PARAMS.efConstruction} ef=${PARAMS.efSearch}; load average ${load()} on ${cpus().length} cores`);
  const embedder = new HashEmbedder({ dimension: DIM });
  const texts: string[] = [];
  const store = new QuantizedVectorStore(DIM, 1024);
  let t = performance.now();
  const floats = WITH_HNSWLIB ? new Float32Array(N * DIM) : null;
  for (let i = 0; i < N; i++) {
    const text = sentence(8, 40);
    if (i < 50_000) texts.push(text);
    const v = embedder.embedOne(text);
    store.set(i, v);
    floats?.set(v, i * DIM);
  }
  console.log(`embedded ${N} sentences in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const queries = Array.from({ length: QUERIES }, () => {
    const words = texts[Math.floor(random() * texts.length)].split(' ');
    const n = Math.min(words.length, 3 + Math.floor(random() * 6));
    const start = Math.floor(random() * (words.length - n + 1));
    return Float32Array.from(embedder.embedOne(words.slice(start, start + n).join(' ')));
  });

  // Ours: built the way CubeIndex builds it, in slices, while the event-loop delay is sampled.
  const graph = new Int8Hnsw(store, PARAMS, 1024);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  t = performance.now();
  let cpu = process.cpuUsage();
  const build = new GraphBuild(graph, () => N, () => undefined);
  await build.start().done;
  const buildOurs = (performance.now() - t) / 1000;
  const cpuOurs = cpuSeconds(cpu);
  delay.disable();
  const stallMax = delay.max / 1e6;
  const stallP99 = delay.percentile(99) / 1e6;
  // Baseline: the event-loop delay of this process doing nothing for 5 s (what the shared machine's scheduling adds).
  const idle = monitorEventLoopDelay({ resolution: 5 });
  idle.enable();
  await new Promise((resolve) => setTimeout(resolve, 5000));
  idle.disable();
  const idleMax = idle.max / 1e6;
  const idleP99 = idle.percentile(99) / 1e6;
  console.log(`event-loop delay idle (baseline, 5 s) p99 ${idleP99.toFixed(1)} ms, max ${idleMax.toFixed(1)} ms; longest build slice ${build.longestSliceMs.toFixed(1)} ms`);
  console.log(`ours: built in ${buildOurs.toFixed(1)} s, ${cpuOurs.toFixed(1)} CPU-s (event-loop delay during the build p99 ${stallP99.toFixed(1)} ms, max ${stallMax.toFixed(1)} ms); load ${load()}`);

  let hnsw: HierarchicalNSW | null = null;
  let buildHnswlib: number | null = null;
  let cpuHnswlib: number | null = null;
  if (floats) {
    hnsw = new HierarchicalNSW('ip', DIM);
    hnsw.initIndex({ maxElements: N, m: PARAMS.m, efConstruction: PARAMS.efConstruction, randomSeed: PARAMS.seed });
    t = performance.now();
    cpu = process.cpuUsage();
    for (let i = 0; i < N; i++) hnsw.addPoint(Array.from(floats.subarray(i * DIM, (i + 1) * DIM)), i);
    buildHnswlib = (performance.now() - t) / 1000;
    cpuHnswlib = cpuSeconds(cpu);
    hnsw.setEf(PARAMS.efSearch);
    console.log(`hnswlib: built in ${buildHnswlib.toFixed(1)} s, ${cpuHnswlib.toFixed(1)} CPU-s (synchronous); load ${load()}`);
  }

  // Recall@10 against the exact int8 scan (what the dense signal scores with).
  let oursFound = 0;
  let libFound = 0;
  for (let q = 0; q < RECALL_QUERIES; q++) {
    const best = new TopK(10);
    for (let s = 0; s < N; s++) best.push(s, store.dot(s, queries[q]));
    const truth = new Set(best.sorted());
    oursFound += graph.search(queries[q], 10).filter((h) => truth.has(h.slot)).length;
    if (hnsw) libFound += hnsw.searchKnn(Array.from(queries[q]), 10).neighbors.filter((l) => truth.has(l)).length;
  }
  const recallOurs = oursFound / (10 * RECALL_QUERIES);
  const recallLib = hnsw ? libFound / (10 * RECALL_QUERIES) : null;

  // Search latency, interleaved query by query after a warm-up, k = 10 as the dense signal asks (its pool).
  const oursMs: number[] = [];
  const libMs: number[] = [];
  for (let round = 0; round < 2; round++) {
    for (const q of queries) {
      let t0 = performance.now();
      graph.search(q, 10);
      const a = performance.now() - t0;
      let b = 0;
      if (hnsw) {
        t0 = performance.now();
        hnsw.searchKnn(Array.from(q), 10);
        b = performance.now() - t0;
      }
      if (round === 1) {
        oursMs.push(a);
        libMs.push(b);
      }
    }
  }
  const ours = stats(oursMs);
  const lib = hnsw ? stats(libMs) : null;

  const graphBytes = graph.approximateBytes() / graph.capacity;
  const bytesOurs = DIM + 4 + graphBytes; // int8 codes + scale + links, per allocated node
  // hnswlib per element: level-0 links (2M ints + count), the float vector, the label; upper levels ≈ (M + 1) ints / (M − 1) per element.
  const bytesLib = 2 * PARAMS.m * 4 + 4 + DIM * 4 + 8 + ((PARAMS.m + 1) * 4) / (PARAMS.m - 1);
  console.log('');
  console.log('| | recall@10 vs exact int8 | search p50 | search p99 | build (wall / CPU) | bytes / vector |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| int8 graph | ${recallOurs.toFixed(3)} | ${ours.p50} ms | ${ours.p99} ms | ${buildOurs.toFixed(1)} s / ${cpuOurs.toFixed(1)} s | ${bytesOurs.toFixed(0)} (graph ${graphBytes.toFixed(0)}) |`);
  if (lib) console.log(`| hnswlib (float32) | ${recallLib!.toFixed(3)} | ${lib.p50} ms | ${lib.p99} ms | ${buildHnswlib!.toFixed(1)} s / ${cpuHnswlib!.toFixed(1)} s | ${bytesLib.toFixed(0)} + its int8 copy ${DIM + 4} |`);
  console.log(`load average after: ${load()}`);
  console.log(
    JSON.stringify({
      n: N,
      dim: DIM,
      m: PARAMS.m,
      ef_construction: PARAMS.efConstruction,
      ef: PARAMS.efSearch,
      recall_at_10: ms(recallOurs),
      recall_at_10_hnswlib: recallLib === null ? null : ms(recallLib),
      search_p50_ms: ours.p50,
      search_p99_ms: ours.p99,
      search_p50_ms_hnswlib: lib?.p50 ?? null,
      search_p99_ms_hnswlib: lib?.p99 ?? null,
      p99_ratio: lib ? ms(ours.p99 / lib.p99) : null,
      build_s: ms(buildOurs),
      build_s_hnswlib: buildHnswlib === null ? null : ms(buildHnswlib),
      build_cpu_s: ms(cpuOurs),
      build_cpu_s_hnswlib: cpuHnswlib === null ? null : ms(cpuHnswlib),
      build_stall_max_ms: ms(stallMax),
      build_stall_p99_ms: ms(stallP99),
      idle_stall_max_ms: ms(idleMax),
      idle_stall_p99_ms: ms(idleP99),
      longest_build_slice_ms: ms(build.longestSliceMs),
      bytes_per_vector: Math.round(bytesOurs),
      graph_bytes_per_vector: Math.round(graphBytes),
      bytes_per_vector_hnswlib: Math.round(bytesLib),
      load_average: loadavg()[0],
    }),
  );
}

void main();
