// Where an HTTP search spends its time outside the index (issue 12: search at 1M). A cube
// of scale.bench's memories (SyntheticCorpus 11, default 20,000: the database steps do
// not grow with the cube, the index is timed at 1M by search-split.bench.ts) is searched
// over HTTP with scale.bench's queries, and each step of SearchService.search is timed
// alone, as the server runs it: the API key lookup (AuthGuard), the access check with the
// change sequence, the query embedding, the index cache's freshness check, the index
// search, the rows of the hits, the flush of the hits' access counts, and the whole service call; HTTP and serialization are
// what the full request adds to those. Two rows time the stack without a search: GET /health
// (it pings the database), with fetch and with a node:http keep-alive client (is the client
// the cost?), and GET /v1/cubes/{id} (auth, access check, a row).
// With --db NAME the database and its data directory are kept (bench/support/scratch-service.ts):
// the first run ingests and leaves the index's snapshot there, later runs load it, so a
// large cube (--n 1000000) is timed through the server in minutes, e.g. before and after a
// change, alternately. The last rows time the HTTP search with and without two changes, in
// alternating passes: its reads as prepared statements (ADR 0130), its index searched while
// the access check is read (ADR 0131).
//   npm run build && node --expose-gc dist/bench/search-http-split.bench.js [--n 20000] [--queries 300] [--embedder hash|use-lite] [--profile FILE] [--db NAME]
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { Agent as HttpAgent, get as httpGet } from 'node:http';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '@engram/config';
import { AccessService, ApiKeyService, AuthenticationService, CubeIndexManager, CubeService, EmbedderRegistry, MemoryService, Permission, RequestContext, Scope, SearchService, TenantService } from '@engram/core';
import { DataSource } from 'typeorm';
import { MemoryRepository, usePreparedStatements } from '@engram/persistence';
import { createApp } from '@engram/server';
import { arg, textArg } from './support/args';
import { keptDatabase, scratchDatabase } from './support/scratch-service';
import { threadClientSearches } from './support/search-costs';
import { summarize, SyntheticCorpus } from './support/synthetic-corpus';

const N = arg('n', 20_000);
const QUERIES = arg('queries', 300);
/** A file to write a CPU profile of the HTTP searches to. */
const PROFILE = textArg('profile', '');
/** Keeps the database NAME and its data directory: the cube is filled once, its index loaded from the snapshot by later runs. */
const KEEP_DB = textArg('db', '');
const ADMIN: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'bench' };
const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const db = KEEP_DB ? await keptDatabase(KEEP_DB) : await scratchDatabase();
  const config = { ...loadConfig({ DATABASE_URL: db.url, ENGRAM_DATA_DIR: db.dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0', ENGRAM_NEW_CUBE_EMBEDDER: textArg('embedder', 'hash') }), workerInProcess: false, adminToken: 'bench-admin-token-0123456789' };
  const server = await createApp(config, { quiet: true, runWorker: false, announceAdminToken: () => undefined });
  try {
    await server.listen(0, '127.0.0.1');
    const base = (await server.getUrl()).replace('[::1]', '127.0.0.1');
    const tenants = server.get(TenantService);
    const tenant = (await tenants.list(ADMIN)).items.find((t) => t.name === 'bench') ?? (await tenants.create(ADMIN, { name: 'bench' }));
    const key = await server.get(ApiKeyService).create(ADMIN, tenant.id, { scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] });
    const ctx: RequestContext = { auth: { kind: 'key', actorId: key.id, keyId: key.id, tenantId: tenant.id, scopes: key.scopes as Scope[], cubeIds: null }, requestId: 'bench' };
    const { created, cube } = await server.get(CubeService).createOrReturn(ctx, { name: `split-${N}`, ifExists: 'return' });
    if (!created) console.log(`kept cube ${cube.name}: its memories are not ingested again`);
    const corpus = new SyntheticCorpus(11);
    for (let i = 0; created && i < N; i += 1000) {
      const items = Array.from({ length: Math.min(1000, N - i) }, (_, j) => {
        const m = corpus.memory(i + j);
        return { text: m.text, kind: 'fact' as const, tags: m.tags, metadata: m.metadata, source: { sessionId: m.sessionId }, observedAt: m.observedAt, importance: m.importance };
      });
      await server.get(MemoryService).add(ctx, cube.id, { items });
      if (i % 50_000 === 0) process.stderr.write(`\ringest ${i + items.length}/${N}`);
    }
    if (created) process.stderr.write('\n');
    const search = server.get(SearchService);
    const queryCorpus = new SyntheticCorpus(7);
    const queries = Array.from({ length: QUERIES }, () => queryCorpus.sentence(3, 8));
    let t0 = performance.now();
    await search.search(ctx, cube.id, { query: queries[0], topK: 10 });
    console.log(`first search (index ${created ? 'built' : 'loaded'}) ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t0 = performance.now();
    await server.get(CubeIndexManager).settled(cube.id);
    console.log(`settled (graph, snapshot) ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const auth = server.get(AuthenticationService);
    const access = server.get(AccessService);
    const embedders = server.get(EmbedderRegistry);
    const indexes = server.get(CubeIndexManager);
    const rows = server.get(MemoryRepository);
    const http = async (query: string): Promise<void> => {
      const res = await fetch(`${base}/v1/cubes/${cube.id}/search`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key.key}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ query, topK: 10 }),
      });
      if (res.status !== 200 && res.status !== 201) throw new Error(`search answered ${res.status}`);
      await res.json();
    };
    const figures: Record<string, number> = { n: N };
    const time = async (name: string, run: (query: string) => Promise<unknown> | unknown): Promise<void> => {
      for (let i = 0; i < 20; i++) await run(queries[i % queries.length]);
      const times: number[] = [];
      for (let i = 0; i < QUERIES; i++) {
        const t0 = performance.now();
        await run(queries[i]);
        times.push(performance.now() - t0);
      }
      const { p50, p99, mean } = summarize(times);
      console.log(`| ${name} | ${p50.toFixed(2)} | ${p99.toFixed(2)} | ${mean.toFixed(2)} |`);
      const key = name.replace(/[^a-z0-9]+/gi, '_').replace(/^_|_$/g, '');
      figures[`${key}_p50_ms`] = round(p50);
      figures[`${key}_p99_ms`] = round(p99);
    };
    const { cube: record, changeSeq } = await access.requireCubeWithChangeSeq(ctx.auth, Permission.MemoryRead, cube.id);
    const embedder = embedders.forSettings(record.settings);
    const { index } = await indexes.current(cube.id, embedder, changeSeq);
    const vectors = new Map(await Promise.all(queries.map(async (q) => [q, (await embedders.embed(embedder, [q]))[0]] as const)));
    const labels = new Map(queries.map((q) => [q, index.search(q, vectors.get(q)!, { topK: 10, referenceTime: Date.now() }).map((h) => h.label)] as const));
    console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log(`\n## HTTP search split, a cube of ${N} memories, ${embedder.fingerprint}\n`);
    console.log('| step | p50 ms | p99 ms | mean ms |\n|---|---|---|---|');
    await time('HTTP POST /search (whole request)', http);
    // The stack without the search: an unauthenticated GET and an authenticated, validated read of the cube.
    const get = async (path: string, authorized: boolean): Promise<void> => {
      const res = await fetch(`${base}${path}`, { headers: authorized ? { Authorization: `Bearer ${key.key}` } : {} });
      if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
      await res.json();
    };
    await time('HTTP GET /health (the stack + a database ping)', () => get('/health', false));
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const nodeGet = (path: string): Promise<void> =>
      new Promise((resolve, reject) => {
        httpGet(`${base}${path}`, { agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))) : reject(new Error(`${path} answered ${res.statusCode}`))));
        }).on('error', reject);
      });
    await time('HTTP GET /health, node:http client instead of fetch', () => nodeGet('/health'));
    await time('HTTP GET /v1/cubes/{id} (stack + auth + access check)', () => get(`/v1/cubes/${cube.id}`, true));
    await time('SearchService.search (in process)', (q) => search.search(ctx, cube.id, { query: q, topK: 10 }));
    await time('API key lookup (AuthGuard)', () => auth.authenticate(key.key));
    await time('access check + change seq', () => access.requireCubeWithChangeSeq(ctx.auth, Permission.MemoryRead, cube.id));
    await time('query embedding', (q) => embedders.embed(embedder, [q]));
    await time('index cache freshness', () => indexes.current(cube.id, embedder, changeSeq));
    await time('index search', (q) => index.search(q, vectors.get(q)!, { topK: 10, referenceTime: Date.now() }));
    await time('rows of the hits (getByLabels)', (q) => rows.getByLabels(cube.id, labels.get(q)!));
    // What counting a search's hits costs the database (AccessRecorder's flush, ADR 0129): five
    // flushes of 1,000 random memories of the cube never counted before (inserts), then the same
    // five again (updates in place).
    const flushes: Map<string, number>[] = [];
    for (let k = 0; k < 5; k++) {
      const ids: { id: string }[] = await server.get(DataSource).query(
        `SELECT id FROM memories m TABLESAMPLE SYSTEM (1) WHERE m.cube_id = $1 AND NOT EXISTS (SELECT 1 FROM memory_access a WHERE a.memory_id = m.id) LIMIT 1000`, [cube.id]);
      flushes.push(new Map(ids.map((r) => [r.id, 1])));
    }
    for (const [name, key] of [['new', 'access_flush_new_1000_ms'], ['again', 'access_flush_again_1000_ms']] as const) {
      const times: number[] = [];
      for (const batch of flushes) {
        const t0 = performance.now();
        await rows.recordAccess(batch);
        times.push(((performance.now() - t0) * 1000) / Math.max(1, batch.size));
      }
      const mean = times.reduce((x, y) => x + y, 0) / times.length;
      console.log(`| access flush, memories ${name === 'new' ? 'never counted' : 'counted before'} (ms per 1,000) | ${summarize(times).p50.toFixed(2)} | ${Math.max(...times).toFixed(2)} | ${mean.toFixed(2)} |`);
      figures[key] = round(mean);
    }
    // The first row ran on a process just warmed by 20 requests; the same requests again,
    // after every step above, say how much of it was warm-up (JIT, caches).
    await time('HTTP POST /search again (warm)', http);
    // The same requests from a client on a thread of its own: no client CPU on the server's event loop.
    const threadTimes = await threadClientSearches(`${base}/v1/cubes/${cube.id}/search`, key.key, queries);
    const thread = summarize(threadTimes);
    console.log(`| HTTP POST /search, client on its own thread | ${thread.p50.toFixed(2)} | ${thread.p99.toFixed(2)} | ${thread.mean.toFixed(2)} |`);
    figures.HTTP_POST_search_thread_client_p50_ms = round(thread.p50);
    figures.HTTP_POST_search_thread_client_p99_ms = round(thread.p99);
    // Two changes timed against the code before them, in 12 alternating passes each (on, off,
    // off, on, …: the machine's speed drifts by tens of percent within minutes here, so that
    // the drift falls on both alike); each figure is the median of its
    // passes' p50s (the passes' own p50s are printed). ADR 0130: the search's two reads as
    // named prepared statements or as plain queries. ADR 0131: the index of a known cube
    // searched while the access check is read, or after it (the early search switched off).
    const dataSource = server.get(DataSource);
    const early = search as unknown as { searchKnown: (...args: unknown[]) => Promise<unknown> };
    const searchKnown = early.searchKnown;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const alternate = async (name: string, key: string, toggle: (on: boolean) => void): Promise<void> => {
      const passes: Record<'on' | 'off', number[]> = { on: [], off: [] };
      for (let k = 0; k < 24; k++) {
        const on = k % 4 === 0 || k % 4 === 3;
        toggle(on);
        const times: number[] = [];
        for (const q of queries) {
          const t0 = performance.now();
          await http(q);
          times.push(performance.now() - t0);
        }
        passes[on ? 'on' : 'off'].push(summarize(times).p50);
      }
      toggle(true);
      for (const mode of ['on', 'off'] as const) {
        const mean = passes[mode].reduce((x, y) => x + y, 0) / passes[mode].length;
        console.log(`| HTTP POST /search, ${name} ${mode} (median p50 of ${passes[mode].length} alternating passes: ${passes[mode].map((x) => x.toFixed(2)).join(', ')}; their mean ${mean.toFixed(2)}) | ${median(passes[mode]).toFixed(2)} | | |`);
        figures[`HTTP_POST_search_${key}_${mode}_p50_ms`] = round(median(passes[mode]));
      }
    };
    await alternate('prepared statements', 'prepared', (on) => usePreparedStatements(dataSource, on && config.dbPreparedStatements));
    await alternate('index searched during the access check', 'early_search', (on) => {
      early.searchKnown = on ? searchKnown : async () => null;
    });
    if (PROFILE) {
      const session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      for (const q of queries) await http(q);
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(PROFILE, JSON.stringify(profile));
      session.disconnect();
    }
    console.log(`\nload average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log('\n' + JSON.stringify({ bench: 'search-http-split', ...figures, loadAverage: round(loadavg()[0]) }));
  } finally {
    await server.close();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
