// Speed of the memories service on real PostgreSQL, in-process and over HTTP, with one
// cube of N memories (default 100k): batch ingest rate, single add, search p50/p99,
// index rebuild from PostgreSQL and load from snapshot, RSS. Baselines in the same
// process: one INSERT per memory (ingest) and an exact brute-force scan (search).
//   npm run bench:latency [-- --n 100000 --queries 500]
// Uses ENGRAM_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) to create
// and drop a scratch database (bench/support/scratch-service.ts).
import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { performance } from 'node:perf_hooks';
import { EngramConfig, loadConfig } from '@engram/config';
import { ApiKeyService, CoreModule, CubeIndexManager, CubeService, MemoryService, RequestContext, Scope, SearchService, TenantService } from '@engram/core';
import { MemoryRepository } from '@engram/persistence';
import { HashEmbedder } from '@engram/plaintext';
import { createApp } from '@engram/server';
import { scratchDatabase } from './support/scratch-service';
import { arg } from './support/args';
import { summarize, SyntheticCorpus } from './support/synthetic-corpus';

const N = arg('n', 100_000);
const QUERIES = arg('queries', 500);
const BATCH = 1000;
const ADMIN: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'bench' };

const ms = (t0: number) => performance.now() - t0;
const rssMb = () => process.memoryUsage().rss / 1048576;
const fmt = (v: number, d = 2) => v.toFixed(d);

async function main(): Promise<void> {
  const db = await scratchDatabase();
  const config: EngramConfig = { ...loadConfig({ DATABASE_URL: db.url, ENGRAM_DATA_DIR: db.dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0', ENGRAM_NEW_CUBE_EMBEDDER: 'hash' }), workerInProcess: false, adminToken: 'bench-admin-token-0123456789' };

  const corpus = new SyntheticCorpus(42);
  const rows: { text: string; kind: 'fact'; tags: string[]; metadata: Record<string, unknown>; source: { sessionId: string }; observedAt: Date; importance: number }[] = [];
  for (let i = 0; i < N; i++) {
    const m = corpus.memory(i);
    rows.push({ text: m.text, kind: 'fact', tags: m.tags, metadata: m.metadata, source: { sessionId: m.sessionId }, observedAt: m.observedAt, importance: m.importance });
  }
  const queries = Array.from({ length: QUERIES }, () => corpus.sentence(3, 8));
  const figures: Record<string, number> = { n: N };
  const rssStart = rssMb();

  let app: INestApplicationContext = await NestFactory.createApplicationContext(CoreModule.forRoot(config), { logger: false });
  const tenant = await app.get(TenantService).create(ADMIN, { name: 'bench' });
  const key = await app.get(ApiKeyService).create(ADMIN, tenant.id, { scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] });
  const ctx: RequestContext = { auth: { kind: 'key', actorId: key.id, keyId: key.id, tenantId: tenant.id, scopes: key.scopes as Scope[], cubeIds: null }, requestId: 'bench' };
  const cube = await app.get(CubeService).create(ctx, { name: 'bench' });
  const baselineCube = await app.get(CubeService).create(ctx, { name: 'baseline' });

  // Ingest, in process, batches of 1,000.
  let t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    await app.get(MemoryService).add(ctx, cube.id, { items: rows.slice(i, i + BATCH) });
    if ((i / BATCH) % 10 === 0) process.stderr.write(`\ringest ${i + BATCH}/${N}`);
  }
  figures.ingest_per_s = N / (ms(t0) / 1000);
  process.stderr.write('\n');

  // Baseline ingest: one INSERT per memory (2,000 of them).
  const baselineN = Math.min(2000, N);
  t0 = performance.now();
  for (let i = 0; i < baselineN; i++) await app.get(MemoryService).add(ctx, baselineCube.id, { items: [rows[i]] });
  const singleAddMs: number[] = [];
  for (let i = 0; i < 300; i++) {
    const s = performance.now();
    await app.get(MemoryService).add(ctx, baselineCube.id, { items: [rows[(i * 7) % N]] });
    singleAddMs.push(ms(s));
  }
  figures.baseline_single_insert_ingest_per_s = baselineN / (ms(t0) / 1000);
  figures.single_add_p50_ms = summarize(singleAddMs).p50;
  figures.single_add_p99_ms = summarize(singleAddMs).p99;

  // First search builds the index from PostgreSQL (no snapshot yet).
  t0 = performance.now();
  await app.get(SearchService).search(ctx, cube.id, { query: queries[0], topK: 10 });
  figures.index_rebuild_ms = ms(t0);
  figures.rss_per_100k_mb = ((rssMb() - rssStart) * 100_000) / N;

  const inProcess: number[] = [];
  for (const query of queries) {
    const s = performance.now();
    await app.get(SearchService).search(ctx, cube.id, { query, topK: 10 });
    inProcess.push(ms(s));
  }
  const filtered: number[] = [];
  for (const query of queries.slice(0, 200)) {
    const s = performance.now();
    await app.get(SearchService).search(ctx, cube.id, { query, topK: 10, filters: { tags: ['travel'], metadata: { priority: 1 } } });
    filtered.push(ms(s));
  }
  Object.assign(figures, {
    search_p50_ms: summarize(inProcess).p50,
    search_p99_ms: summarize(inProcess).p99,
    search_filtered_p50_ms: summarize(filtered).p50,
    search_filtered_p99_ms: summarize(filtered).p99,
  });

  // Baseline search: exact cosine over every stored embedding, rows from memory as in the service.
  const changes = await app.get(MemoryRepository).changesSince(cube.id, 0, N + 10);
  const vectors = changes.map((c) => c.embedding!);
  const embedder = new HashEmbedder();
  const brute: number[] = [];
  for (const query of queries.slice(0, 100)) {
    const s = performance.now();
    const [q] = await embedder.embed([query]);
    const scores = vectors.map((v) => {
      let dot = 0;
      for (let d = 0; d < v.length; d++) dot += v[d] * q[d];
      return dot;
    });
    const top = scores.map((score, i) => ({ score, i })).sort((a, b) => b.score - a.score).slice(0, 10);
    const results = top.map((t) => changes[t.i]);
    if (results.length !== Math.min(10, changes.length)) throw new Error('baseline lost rows');
    brute.push(ms(s));
  }
  figures.baseline_bruteforce_p50_ms = summarize(brute).p50;

  // Snapshot save, then a fresh process state loading it.
  t0 = performance.now();
  await app.get(CubeIndexManager).beforeApplicationShutdown();
  figures.snapshot_save_ms = ms(t0);
  await app.close();
  app = await NestFactory.createApplicationContext(CoreModule.forRoot(config), { logger: false });
  t0 = performance.now();
  await app.get(SearchService).search(ctx, cube.id, { query: queries[0], topK: 10 });
  figures.index_load_from_snapshot_ms = ms(t0);
  await app.close();

  // Over HTTP.
  const http: NestExpressApplication = await createApp(config, { quiet: true, runWorker: false, announceAdminToken: () => undefined });
  await http.listen(0, '127.0.0.1');
  const base = await http.getUrl();
  const headers = { Authorization: `Bearer ${key.key}`, 'Content-Type': 'application/json' };
  const httpCube = (await (await fetch(`${base}/v1/cubes`, { method: 'POST', headers, body: JSON.stringify({ name: 'http' }) })).json()) as { id: string };
  const httpN = Math.min(N, 20_000);
  t0 = performance.now();
  for (let i = 0; i < httpN; i += BATCH) {
    const res = await fetch(`${base}/v1/cubes/${httpCube.id}/memories`, { method: 'POST', headers, body: JSON.stringify({ items: rows.slice(i, i + BATCH) }) });
    if (res.status !== 201) throw new Error(`HTTP ingest answered ${res.status}: ${await res.text()}`);
  }
  figures.http_ingest_per_s = httpN / (ms(t0) / 1000);
  const httpAdd: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    await (await fetch(`${base}/v1/cubes/${httpCube.id}/memories`, { method: 'POST', headers, body: JSON.stringify({ items: [rows[i]] }) })).arrayBuffer();
    httpAdd.push(ms(s));
  }
  figures.http_single_add_p50_ms = summarize(httpAdd).p50;
  await fetch(`${base}/v1/cubes/${cube.id}/search`, { method: 'POST', headers, body: JSON.stringify({ query: queries[0] }) });
  const httpSearch: number[] = [];
  for (const query of queries) {
    const s = performance.now();
    const res = await fetch(`${base}/v1/cubes/${cube.id}/search`, { method: 'POST', headers, body: JSON.stringify({ query, topK: 10 }) });
    await res.arrayBuffer();
    httpSearch.push(ms(s));
  }
  figures.http_search_p50_ms = summarize(httpSearch).p50;
  figures.http_search_p99_ms = summarize(httpSearch).p99;
  await http.close();
  figures.peak_rss_mb = rssMb();

  console.log('\nengram memories service, one cube, hash embedder, PostgreSQL 127.0.0.1');
  console.log('figure                               value        target');
  const rowsOut: [string, number, string][] = [
    ['memories in the cube', N, ''],
    ['batch ingest in-process (/s)', figures.ingest_per_s, '>= 5000'],
    ['  baseline: one insert each (/s)', figures.baseline_single_insert_ingest_per_s, ''],
    ['  ratio batch / baseline', figures.ingest_per_s / figures.baseline_single_insert_ingest_per_s, ''],
    ['single add p50 in-process (ms)', figures.single_add_p50_ms, '<= 5'],
    ['search p50 in-process (ms)', figures.search_p50_ms, '<= 5'],
    ['search p99 in-process (ms)', figures.search_p99_ms, '<= 25'],
    ['filtered search p50 / p99 (ms)', figures.search_filtered_p50_ms, `${fmt(figures.search_filtered_p99_ms)}`],
    ['  baseline: exact scan p50 (ms)', figures.baseline_bruteforce_p50_ms, ''],
    ['  ratio baseline / search p50', figures.baseline_bruteforce_p50_ms / figures.search_p50_ms, ''],
    ['batch ingest over HTTP (/s)', figures.http_ingest_per_s, '>= 2000'],
    ['single add p50 over HTTP (ms)', figures.http_single_add_p50_ms, ''],
    ['search p50 over HTTP (ms)', figures.http_search_p50_ms, '<= 10'],
    ['search p99 over HTTP (ms)', figures.http_search_p99_ms, '<= 40'],
    ['index rebuild from PostgreSQL (ms)', figures.index_rebuild_ms, ''],
    ['index snapshot save (ms)', figures.snapshot_save_ms, ''],
    ['index load from snapshot (ms)', figures.index_load_from_snapshot_ms, ''],
    ['RSS per 100k memories (MB)', figures.rss_per_100k_mb, ''],
    ['peak RSS (MB)', figures.peak_rss_mb, ''],
  ];
  for (const [name, value, target] of rowsOut) console.log(`${name.padEnd(36)} ${fmt(value).padStart(10)}   ${target}`);
  for (const k of Object.keys(figures)) figures[k] = Math.round(figures[k] * 1000) / 1000;
  console.log(JSON.stringify({ bench: 'latency', ...figures }));

  await db.drop();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
