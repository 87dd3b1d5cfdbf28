// Where a search of a large cube spends its time, in process (issue 12: search at 1M).
// The cube and queries are scale.bench's (SyntheticCorpus seeds 11 and 7: pure Zipf
// words, so common terms are as common as there), ingested straight into a CubeIndex;
// once the graph is built, each query is timed as its parts: query embedding, the whole
// hybrid search, lexical-only and dense-only searches, and the BM25 index alone (the
// per-document score and the per-session score the session context adds).
//   npm run build && node --expose-gc dist/bench/search-split.bench.js [--n 1000000] [--queries 300] [--graph 0] [--snapshot DIR] [--profile FILE]
import { existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Bm25Index, Bm25QueryPlan, CubeIndex, HashEmbedder, IndexDocument, analyzeQuery } from '@engram/plaintext';
import { arg, textArg } from './support/args';
import { summarize, SyntheticCorpus } from './support/synthetic-corpus';

const N = arg('n', 1_000_000);
const QUERIES = arg('queries', 300);
const BATCH = 1000;
/** A directory holding the built index (loaded when present, else built and saved there): later runs skip the ingest. */
const SNAPSHOT = textArg('snapshot', '');
/** A file to write a CPU profile of the hybrid (or, with --graph 0, lexical-only) searches to. */
const PROFILE = textArg('profile', '');
/** 0: no graph is built and only the lexical parts are timed (a quick look at a large cube's BM25). */
const GRAPH = arg('graph', 1) === 1;

const round = (x: number) => Math.round(x * 100) / 100;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

interface Store {
  sessionOfSlot: Int32Array;
  sessionLength: Float64Array;
  liveSessions: number;
  totalSessionLength: number;
}

async function main(): Promise<void> {
  const embedder = new HashEmbedder({ dimension: 256 });
  const corpus = new SyntheticCorpus(11);
  const queryCorpus = new SyntheticCorpus(7);
  const queries = Array.from({ length: QUERIES }, () => queryCorpus.sentence(3, 8));
  console.log(`load average before ingest: ${load()} on ${cpus().length} cores`);
  const index = new CubeIndex({ dimension: embedder.dimension, initialCapacity: N, ...(GRAPH ? {} : { graphMinDocuments: Number.MAX_SAFE_INTEGER }) });
  const meta = { changeSeq: N, fingerprint: `${embedder.fingerprint}:split:${N}` };
  if (SNAPSHOT && existsSync(SNAPSHOT)) {
    const t0 = performance.now();
    const loaded = await index.load(SNAPSHOT, meta);
    if (!loaded.documents) throw new Error(`${SNAPSHOT} holds no usable index (${loaded.status})`);
    await index.graphReady();
    console.log(`loaded ${SNAPSHOT} in ${((performance.now() - t0) / 1000).toFixed(1)} s (graph: ${index.hasGraph})`);
  } else {
    const t0 = performance.now();
    for (let start = 0; start < N; start += BATCH) {
      const docs: Omit<IndexDocument, 'vector'>[] = [];
      for (let i = start; i < Math.min(N, start + BATCH); i++) {
        const m = corpus.memory(i);
        docs.push({ label: i + 1, text: m.text, kind: 'fact', tags: m.tags, metadata: m.metadata, sessionId: m.sessionId, observedAt: m.observedAt.getTime(), importance: m.importance });
      }
      const vectors = await embedder.embed(docs.map((d) => d.text));
      index.upsertMany(docs.map((d, i) => ({ ...d, vector: vectors[i] })));
      if ((start / BATCH) % 50 === 0) process.stderr.write(`\ringest ${start + BATCH}/${N}`);
    }
    process.stderr.write('\n');
    const ingestS = (performance.now() - t0) / 1000;
    const g0 = performance.now();
    await index.graphReady();
    const graphS = (performance.now() - g0) / 1000;
    console.log(`ingest ${ingestS.toFixed(1)} s, graph ${graphS.toFixed(1)} s`);
    if (SNAPSHOT) await index.save(SNAPSHOT, meta);
  }
  global.gc?.();
  console.log(`load average at search: ${load()}`);

  // The BM25 index a CubeIndex holds (private there; a bench looks inside to time it alone).
  const lexical = (index as unknown as { lexical: Bm25Index }).lexical;
  const store = (index as unknown as { store: Store }).store;
  const groups = { groupOf: store.sessionOfSlot, length: store.sessionLength, live: store.liveSessions, totalLength: store.totalSessionLength };
  const vectors = queries.map((q) => embedder.embedOne(q));
  const terms = queries.map((q) => analyzeQuery(q));
  const figures: Record<string, number> = { n: N };
  const time = (name: string, run: (i: number) => void): void => {
    for (let i = 0; i < Math.min(30, QUERIES); i++) run(i); // warm-up
    const times: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      const s = performance.now();
      run(i);
      times.push(performance.now() - s);
    }
    const { p50, p99, mean } = summarize(times);
    console.log(`| ${name} | ${p50.toFixed(2)} | ${p99.toFixed(2)} | ${mean.toFixed(2)} |`);
    figures[`${name.replace(/[^a-z0-9]+/gi, '_')}_p50_ms`] = round(p50);
    figures[`${name.replace(/[^a-z0-9]+/gi, '_')}_p99_ms`] = round(p99);
  };
  console.log(`\n## search split, ${N} memories (scale.bench corpus), hash-256\n`);
  console.log('| part | p50 ms | p99 ms | mean ms |\n|---|---|---|---|');
  time('embed query', (i) => embedder.embedOne(queries[i]));
  if (GRAPH) time('hybrid search', (i) => index.search(queries[i], vectors[i], { topK: 10, referenceTime: Date.now() }));
  time('lexical-only search', (i) => index.search(queries[i], null, { topK: 10, ranking: { mode: 'lexical' }, referenceTime: Date.now() }));
  if (GRAPH) time('dense-only search', (i) => index.search(queries[i], vectors[i], { topK: 10, ranking: { mode: 'dense' }, referenceTime: Date.now() }));
  time('bm25 score', (i) => lexical.score(terms[i], { minMatches: 100 }));
  // The lexical signal's pool of 100 and the score of 100 other candidates (what it asks of BM25 per search).
  const others = Array.from({ length: 100 }, (_, i) => Math.floor((i * N) / 100));
  time('bm25 pool of 100 + 100 scored', (i) => {
    const plan = Bm25QueryPlan.create(lexical, terms[i], { minMatches: 100 })!;
    plan.topK(100, () => 1);
    for (const slot of others) plan.scoreOf(slot);
  });
  time('bm25 scoreGroups', (i) => lexical.scoreGroups(terms[i], groups));
  if (PROFILE) {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    for (let i = 0; i < QUERIES; i++) index.search(queries[i], GRAPH ? vectors[i] : null, { topK: 10, referenceTime: Date.now(), ...(GRAPH ? {} : { ranking: { mode: 'lexical' } }) });
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(PROFILE, JSON.stringify(profile));
    session.disconnect();
    console.log(`CPU profile of ${QUERIES} searches: ${PROFILE}`);
  }
  console.log(`\nload average after: ${load()}`);
  console.log('\n' + JSON.stringify({ bench: 'search-split', ...figures, loadAverage: round(loadavg()[0]) }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
