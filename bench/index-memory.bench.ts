// Memory of one cube's in-process index, structure by structure (issue 12: RSS per memory
// at 100k). Builds a CubeIndex in process from the scale bench's corpus (the same rows its
// 100k cube ingests, hash embedder, 256-d), waits for the graph, then measures what each
// structure holds by releasing it and reading the JS heap + array buffers after a full GC:
// a measurement, not an estimate (approximateBytes() is printed beside it for comparison).
// Optionally saves and loads the index (--reload) and measures the loaded one, which is what
// a restarted server holds.
//   npm run build && node --expose-gc dist/bench/index-memory.bench.js [--n 100000] [--reload 1] [--reserve 1]
// The release steps reach into the structures' private fields by name (measurement only:
// the index is dropped afterwards); a renamed field fails the bench loudly.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { CubeIndex, HashEmbedder, IndexDocument } from '@engram/plaintext';
import { arg } from './support/args';
import { SyntheticCorpus } from './support/synthetic-corpus';

const N = arg('n', 100_000);
const DIM = arg('dim', 256);
const RELOAD = arg('reload', 1) === 1;
const RESERVE = arg('reserve', 1) === 1;

type Bag = Record<string, unknown>;

function gc(): void {
  const collect = (global as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) collect();
}

/** Heap and array buffers after full collections; the pauses let V8's concurrent array-buffer sweeper finish its count. */
async function held(): Promise<{ heap: number; buffers: number; rss: number; heapTotal: number }> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss, heapTotal: m.heapTotal };
}

/** A private field of a structure (measurement only); throws when it is not there. */
function field(owner: unknown, name: string): Bag {
  const value = (owner as Bag)[name];
  if (value === undefined) throw new Error(`no field ${name} on ${(owner as object).constructor.name}`);
  return value as Bag;
}

function set(owner: unknown, name: string, value: unknown): void {
  if (!(name in (owner as Bag))) throw new Error(`no field ${name} on ${(owner as object).constructor.name}`);
  (owner as Bag)[name] = value;
}

/**
 * The rows the scale bench's large cube ingests (SyntheticCorpus(11), batches of 1,000), as
 * CubeIndexManager hands them in, made and embedded batch by batch as a rebuild reads them.
 */
async function* documents(n: number, embedder: HashEmbedder): AsyncGenerator<IndexDocument> {
  const corpus = new SyntheticCorpus(11);
  for (let from = 0; from < n; from += 1000) {
    const batch = Array.from({ length: Math.min(1000, n - from) }, (_, j) => memory(corpus, from + j));
    const vectors = await embedder.embed(batch.map((d) => d.text));
    for (let j = 0; j < batch.length; j++) yield { ...batch[j], vector: vectors[j] };
  }
}

function memory(corpus: SyntheticCorpus, i: number): Omit<IndexDocument, 'vector'> {
  {
    const m = corpus.memory(i % 1000);
    return {
      label: i + 1,
      text: m.text,
      kind: 'fact',
      tags: m.tags,
      metadata: m.metadata,
      sessionId: m.sessionId,
      observedAt: m.observedAt.getTime(),
      importance: m.importance,
      state: 'active',
    };
  }
}

/** Releases the index's structures one by one; each step's bytes are what the release gave back. */
async function breakdown(index: CubeIndex): Promise<{ part: string; bytes: number }[]> {
  const lexical = field(index, 'lexical');
  const store = field(index, 'store');
  const entities = field(index, 'entities');
  const dense = field(index, 'dense');
  const vectors = field(index, 'vectors');
  const steps: [string, () => void][] = [
    ['bm25 per-document term lists', () => set(lexical, 'termsBySlot', null)],
    [
      'bm25 postings',
      () => {
        const pool = field(lexical, 'postings');
        set(pool, 'slots', new Int32Array(0));
        set(pool, 'tfs', new Uint16Array(0));
      },
    ],
    ['bm25 per-term arrays', () => ['start', 'length', 'live', 'capacity'].forEach((name) => set(field(lexical, 'postings'), name, new Int32Array(0)))],
    [
      'bm25 term dictionary',
      () => {
        (field(lexical, 'termIds') as unknown as Map<string, number>).clear();
        (field(lexical, 'termNames') as unknown as string[]).length = 0;
      },
    ],
    ['bm25 per-slot arrays', () => ['docLength', 'alive', 'accumulator', 'touched'].forEach((name) => set(lexical, name, new Float32Array(0)))],
    ['entity postings', () => set(entities, 'postings', [])],
    ['entity per-slot ids', () => ['flat', 'start', 'count'].forEach((name) => set(entities, name, new Int32Array(0)))],
    [
      'entity dictionary',
      () => {
        (field(entities, 'ids') as unknown as Map<string, number>).clear();
        (field(entities, 'keys') as unknown as string[]).length = 0;
        set(entities, 'df', []);
      },
    ],
    ['documents label map', () => (field(store, 'slotByLabel') as unknown as Map<number, number>).clear()],
    ['documents attribute postings', () => set(store, 'attributeSlots', null)],
    ['documents session lists', () => ((field(store, 'sessionSlots') as unknown as unknown[]).length = 0)],
    [
      'documents interned tables',
      () => {
        for (const table of Object.values(field(store, 'tables'))) {
          (field(table, 'ids') as unknown as Map<string, number>).clear();
          (field(table, 'values') as unknown as unknown[]).length = 0;
        }
      },
    ],
    [
      'documents columns',
      () => {
        const columns = field(store, 'columns');
        for (const name of Object.keys(columns)) set(columns, name, new Float64Array(0));
        for (const name of ['live', 'sessionOfSlot', 'roleOfSlot', 'sessionLength', 'sessionLive']) set(store, name, new Int32Array(0));
      },
    ],
    ['hnsw graph', () => set(dense, 'graph', null)],
    ['int8 vectors', () => ['codes', 'scales'].forEach((name) => set(vectors, name, new Int8Array(0)))],
  ];
  const out: { part: string; bytes: number }[] = [];
  for (const [part, release] of steps) {
    const before = await held();
    release();
    const after = await held();
    out.push({ part, bytes: before.heap + before.buffers - after.heap - after.buffers });
  }
  return out;
}

function report(title: string, total: number, rss: number, parts: { part: string; bytes: number }[], estimated: number): Record<string, number> {
  const per = (b: number) => Math.round(b / N);
  console.log(`\n## ${title}: ${N} memories\n\n| structure | bytes/memory |\n|---|---|`);
  let listed = 0;
  for (const { part, bytes } of parts) {
    console.log(`| ${part} | ${per(bytes)} |`);
    listed += bytes;
  }
  console.log(`| other (scratch, signals, objects) | ${per(total - listed)} |`);
  console.log(`| **heap + array buffers, total** | **${per(total)}** |`);
  console.log(`| RSS added | ${per(rss)} |`);
  console.log(`| approximateBytes() | ${per(estimated)} |`);
  const figures: Record<string, number> = { total: per(total), rss: per(rss), estimated: per(estimated) };
  for (const { part, bytes } of parts) figures[part.replace(/[^a-z0-9]+/g, '_')] = per(bytes);
  return figures;
}

async function main(): Promise<void> {
  const load = loadavg()[0];
  const embedder = new HashEmbedder({ dimension: DIM });
  const [queryVector] = await embedder.embed(['kalo mi']);
  const base = await held();
  let t0 = performance.now();
  let index: CubeIndex | null = new CubeIndex({ dimension: DIM });
  // As CubeIndexManager sizes a rebuild for the cube's rows (--reserve 0: grown step by step, as a cube taking writes).
  if (RESERVE) index.reserve(N);
  for await (const doc of documents(N, embedder)) index.upsert(doc);
  const ingestS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await index.graphReady();
  const graphS = (performance.now() - t0) / 1000;
  const built = await held();
  const figures: Record<string, unknown> = { bench: 'index-memory', n: N, load_avg_1m: Math.round(load * 100) / 100, ingest_s: round(ingestS), graph_s: round(graphS) };
  const estimated = index.approximateBytes();
  // Where the RSS went: the JS heap V8 holds (used or not), array buffers, and the rest (malloc's free lists, code, stacks).
  const per = (b: number) => Math.round(b / N);
  figures.heap_spaces_mb = Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, [Math.round(sp.space_size / 1048576), Math.round(sp.space_used_size / 1048576)]]));
  figures.built_rss_parts = { rss: per(built.rss - base.rss), heap_committed: per(built.heapTotal - base.heapTotal), heap_used: per(built.heap - base.heap), array_buffers: per(built.buffers - base.buffers) };
  let dir: string | null = null;
  if (RELOAD) {
    dir = mkdtempSync(path.join(tmpdir(), 'engram-index-memory-'));
    await index.save(dir, { changeSeq: 1, fingerprint: 'bench' });
    const saved = await held();
    figures.save_retained_per_memory = Math.round((saved.heap + saved.buffers - built.heap - built.buffers) / N);
  }
  figures.built = report('built by upserts', built.heap + built.buffers - base.heap - base.buffers, built.rss - base.rss, await breakdown(index), estimated);
  index.close();
  index = null;
  if (dir !== null) {
    const empty = await held();
    const loaded = new CubeIndex({ dimension: DIM });
    t0 = performance.now();
    const status = await loaded.load(dir, { fingerprint: 'bench' }).then((r) => (r.documents ? null : r.status));
    if (status !== null) throw new Error(`snapshot did not load whole (${status})`);
    figures.load_s = round((performance.now() - t0) / 1000);
    // What a restarted server holds after its first search (which drops the snapshot's vectors).
    loaded.search('kalo mi', queryVector, { topK: 10 });
    const after = await held();
    const loadedEstimate = loaded.approximateBytes();
    figures.loaded = report('loaded from its snapshot', after.heap + after.buffers - empty.heap - empty.buffers, after.rss - empty.rss, await breakdown(loaded), loadedEstimate);
    loaded.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nload average (1 min) at start: ${load.toFixed(2)}, at end: ${loadavg()[0].toFixed(2)}`);
  console.log(JSON.stringify(figures));
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
