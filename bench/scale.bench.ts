// Search at the scale of many users (issue 12): many cubes of 1,000 memories, the server
// restarted, then the first search of each cube (cold: index loaded from its on-disk form)
// and the p99 of searches on hot cubes while the index cache turns over; optionally a
// 1M-memory cube (--million: ingest rate, search p50/p99 over HTTP after 200 warm-up searches
// of other queries, which are reported too, RSS) and the RSS per
// memory of a 100k cube (--per-memory). Ends with one JSON line.
//   npm run bench:scale [-- --cubes 300 --per-cube 1000 --cache 64 --cache-mb 0 --million --per-memory --big N --embedder hash|use-lite --ingest-only --profile FILE --pg system|embedded]
//   many cubes (10,000): [-- --cubes 10000 --fixture --pool 100000 --build-clients 3 --cold-sample 1000 --mixed 4000 --zipf 1.1 --clients 4 --cache 800]
//   the same set-up kept and reused (ADR 0121): add --db NAME; first with --setup-only (unlocked, under nice), then the timed run.
// --fixture fills the cubes without sending every memory through the service: a pool of
// memories is ingested through the service, then each cube (created through the service)
// gets a window of the pool's rows copied inside PostgreSQL, every column as the service
// wrote it, with its own ids, labels and change sequences (bench/support/cube-fixture.ts).
// The server then builds, saves, loads and serves those cubes exactly as its own.
// --mixed N: after the restart, N searches from --clients concurrent clients over cubes
// drawn by Zipf popularity (--zipf), first over the most popular cubes that fit the cache
// (no turnover), then over all cubes with the cache bounded by --cache / --cache-mb (the tail
// keeps loading and evicting): warm p50/p99 of each, cold p50/p99, hit rate, RSS, and the
// disk the snapshots use.
// The large cube's first search rebuilds its index from PostgreSQL, then its graph is built
// in the background and its snapshot written; meanwhile /health is asked every 50 ms and
// the event loop's longest stall is recorded (ADR 0115).
// The many-cube phases run in process (services); the large cube is searched over HTTP
// (its ingest goes through the service, batches of 1,000). On a scratch database
// (bench/support/scratch-service.ts); latencies are noisy on a shared machine. --pg embedded
// runs it on the product's embedded PostgreSQL, sized as `engram serve` sizes it (ADR 0133),
// instead of the shared server (ENGRAM_BENCH_PG_URL, default 127.0.0.1:5432).
import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { EngramConfig, loadConfig } from '@engram/config';
import { ApiKeyService, CoreModule, CubeIndexManager, CubeService, MemoryService, RequestContext, Scope, SearchService, TenantService } from '@engram/core';
import { MemoryRepository } from '@engram/persistence';
import { fillCubesFromPool } from './support/cube-fixture';
import { embeddedDatabase, keptDatabase, scratchDatabase } from './support/scratch-service';
import { arg, textArg } from './support/args';
import { largeCubePhase } from './support/large-cube';
import { mixedWorkload } from './support/mixed-workload';
import { rng, serviceRows, shuffled, summarize, SyntheticCorpus } from './support/synthetic-corpus';

const CUBES = arg('cubes', 300);
const PER_CUBE = arg('per-cube', 1000);
/** Index cache size during the turnover phase (smaller than the cubes, so they keep being loaded and evicted). */
const CACHE = arg('cache', 64);
/** Byte budget of the index cache during the turnover phase, in MiB (0: the cube count alone bounds it). */
const CACHE_MB = arg('cache-mb', 0);
const HOT = arg('hot', 16);
const FIXTURE = process.argv.includes('--fixture');
/** Memories ingested through the service for --fixture to copy from. */
const POOL = arg('pool', 100_000);
/** Cubes whose first search after the restart is timed (a seeded sample when fewer than the cubes). */
const COLD_SAMPLE = arg('cold-sample', 1000);
/** Searches in each phase of the mixed workload (0: none). */
const MIXED = arg('mixed', 0);
const ZIPF = arg('zipf', 1.1);
const CLIENTS = arg('clients', 4);
/** Concurrent first searches (each rebuilds an index from PostgreSQL and saves it): a quicker set-up of many cubes; 1 times each alone. */
const BUILD_CLIENTS = arg('build-clients', 1);
const MILLION = process.argv.includes('--million');
/** Keeps the database NAME and its data directory (ADR 0121): a later run with the same options reuses the filled cubes and their snapshots. */
const KEEP_DB = textArg('db', '');
/** system: the PostgreSQL at ENGRAM_BENCH_PG_URL; embedded: one the bench starts as `engram serve` would (ADR 0133). */
const PG = textArg('pg', 'system');
/** Stops after the set-up (fill, first searches): with --db, the timed phases then run later on the ready database. */
const SETUP_ONLY = process.argv.includes('--setup-only');
/** After the set-up, the mixed workload alone (no cold sample, warm-alone and hot-cube turnover phases): a quicker run to profile or compare the turnover. */
const MIXED_ONLY = process.argv.includes('--mixed-only');
/** Size of the large cube instead of 1M / 100k (a quicker run of the same phase; its figures are named by the phase it replaces). */
const BIG = arg('big', 0);
/** Longest wait for the large cube's graph and snapshot before its searches are timed anyway (0: no limit); graph_complete says which. */
const SETTLE_MAX_S = arg('settle-max-s', 0);
const PER_MEMORY = process.argv.includes('--per-memory');
/** The large cube's ingest only: no index build, graph or searches. */
const INGEST_ONLY = process.argv.includes('--ingest-only');
/** A file to write a CPU profile of the large cube's timed searches to (the first pass). */
const PROFILE = textArg('profile', '');
const ADMIN: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'bench' };
const BATCH = 1000;

const ms = (t0: number) => performance.now() - t0;
const round = (x: number) => Math.round(x * 100) / 100;

/** Bytes of the files under dir. */
function diskBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const at = path.join(dir, entry.name);
    total += entry.isDirectory() ? diskBytes(at) : fs.statSync(at).size;
  }
  return total;
}

async function open(config: EngramConfig): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(CoreModule.forRoot(config), { logger: false });
}

async function main(): Promise<void> {
  if (PG !== 'system' && PG !== 'embedded') throw new Error(`--pg ${PG}: expected system or embedded`);
  if (PG === 'embedded' && KEEP_DB) throw new Error('--db keeps a database on the shared server; it cannot be combined with --pg embedded');
  // The turnover phase searches the hot cubes while cold ones (the others) are loaded and evicted.
  if (CUBES > 0 && HOT >= CUBES) throw new Error(`--hot ${HOT} needs more cubes than that (--cubes ${CUBES}): pass --hot ${Math.max(1, CUBES - 1)} or fewer, or more --cubes`);
  if (HOT < 1) throw new Error(`--hot ${HOT}: at least 1 hot cube`);
  const db = PG === 'embedded' ? await embeddedDatabase((line) => console.log(line)) : KEEP_DB ? await keptDatabase(KEEP_DB) : await scratchDatabase();
  // The index mechanics are measured with the hash embedder (--embedder use-lite for the default of new cubes).
  // No tenant quotas: 10,000 cubes and the pool's are past the default limits (10,000 cubes, 10M memories).
  const base = loadConfig({ DATABASE_URL: db.url, ENGRAM_DATA_DIR: db.dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0', ENGRAM_QUOTA_CUBES: '0', ENGRAM_QUOTA_MEMORIES: '0', ENGRAM_NEW_CUBE_EMBEDDER: textArg('embedder', 'hash') });
  const config: EngramConfig = { ...base, workerInProcess: false, adminToken: 'bench-admin-token-0123456789' };
  const figures: Record<string, number | null> = {
    cubes: CUBES, per_cube: PER_CUBE,
    cold_first_search_p50_ms: null, cold_first_search_p99_ms: null, warm_p99_ms: null,
    search_1m_p50_ms: null, search_1m_p99_ms: null, ingest_1m_per_s: null, rss_1m_mb: null, rss_per_memory_100k_bytes: null,
  };
  const corpus = new SyntheticCorpus(7);
  const queries = Array.from({ length: 200 }, () => corpus.sentence(3, 8));
  try {
    let app = await open(config);
    const setup = new SetupState(config.dataDir, KEEP_DB !== '');
    const tenant = { id: setup.value.tenantId ?? setup.set({ tenantId: (await app.get(TenantService).create(ADMIN, { name: 'bench' })).id }).tenantId! };
    const key = await app.get(ApiKeyService).create(ADMIN, tenant.id, { scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] });
    const ctx: RequestContext = { auth: { kind: 'key', actorId: key.id, keyId: key.id, tenantId: tenant.id, scopes: key.scopes as Scope[], cubeIds: null }, requestId: 'bench' };

    let t0 = performance.now();
    // --cubes 0 skips the many-cube phases (e.g. a run of the large cube alone).
    if (CUBES > 0) {
      // Many cubes: ingest, each searched once (its index is built and written to disk, as a
      // cube in use has), then a restart. With --db every step resumes where the database
      // and its data directory left it.
      t0 = performance.now();
      const cubeIds: string[] = [];
      if (FIXTURE) {
        // A pool through the service, then each cube's rows copied from it inside PostgreSQL.
        const poolId = setup.value.poolCubeId ?? setup.set({ poolCubeId: (await app.get(CubeService).create(ctx, { name: 'pool' })).id }).poolCubeId!;
        const poolSize = Math.max(PER_CUBE, Math.min(POOL, CUBES * PER_CUBE));
        const pooled = await memoryCount(db.url, poolId);
        for (let i = pooled; i < poolSize; i += BATCH) {
          await app.get(MemoryService).add(ctx, poolId, { items: serviceRows(corpus, Math.min(BATCH, poolSize - i), i) });
          process.stderr.write(`\rpool ${i + BATCH}/${poolSize}`);
        }
        if (pooled < poolSize) figures.ingest_pool_per_s = round((poolSize - pooled) / (ms(t0) / 1000));
        cubeIds.push(...(setup.value.cubeIds ?? []).slice(0, CUBES));
        while (cubeIds.length < CUBES) {
          // A cube created after the last saved state (a set-up stopped meanwhile) is taken as it is.
          cubeIds.push((await app.get(CubeService).create(ctx, { name: `user-${cubeIds.length}`, ifExists: 'return' })).id);
          if (cubeIds.length % 500 === 0 || cubeIds.length === CUBES) setup.set({ cubeIds: [...cubeIds] });
        }
        t0 = performance.now();
        const filled = await filledCubes(db.url, cubeIds);
        await fillCubesFromPool(db.url, poolId, cubeIds, PER_CUBE, (done, total) => process.stderr.write(`\rfixture cube ${done}/${total}`), filled);
        if (filled.size < cubeIds.length) figures.fixture_rows_per_s = round(((cubeIds.length - filled.size) * PER_CUBE) / (ms(t0) / 1000));
      } else {
        if (KEEP_DB) throw new Error('--db keeps a --fixture set-up (cubes ingested through the service are not resumed)');
        for (let c = 0; c < CUBES; c++) {
          const cube = await app.get(CubeService).create(ctx, { name: `user-${c}` });
          cubeIds.push(cube.id);
          const items = serviceRows(corpus, PER_CUBE);
          for (let i = 0; i < items.length; i += BATCH) await app.get(MemoryService).add(ctx, cube.id, { items: items.slice(i, i + BATCH) });
          process.stderr.write(`\ringest cube ${c + 1}/${CUBES}`);
        }
        figures.ingest_many_per_s = round((CUBES * PER_CUBE) / (ms(t0) / 1000));
      }
      process.stderr.write('\n');
      // The first search of every cube without a snapshot (all of them on a fresh database).
      const unbuilt = cubeIds.filter((cubeId) => !fs.existsSync(path.join(app.get(CubeIndexManager).snapshotDir(cubeId), 'manifest.json')));
      const firstBuild: number[] = [];
      t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: BUILD_CLIENTS }, async () => {
          while (next < unbuilt.length) {
            const c = next++;
            const t1 = performance.now();
            await app.get(SearchService).search(ctx, unbuilt[c], { query: queries[c % queries.length], topK: 10 });
            firstBuild.push(ms(t1));
            if (c % 50 === 49) process.stderr.write(`\rfirst search (index built and saved) ${c + 1}/${unbuilt.length}`);
          }
        }),
      );
      figures.build_clients = BUILD_CLIENTS;
      figures.first_searches = unbuilt.length;
      figures.first_search_no_disk_index_p50_ms = unbuilt.length > 0 ? round(summarize(firstBuild).p50) : null;
      await app.close(); // writes what is still unsaved
      process.stderr.write('\n');
      figures.first_searches_s = round(ms(t0) / 1000);
      const snapshotBytes = cubeIds.reduce((sum, cubeId) => sum + diskBytes(path.join(config.dataDir, 'cubes', cubeId)), 0);
      figures.snapshot_disk_mb = round(snapshotBytes / 1048576);
      figures.snapshot_per_cube_kb = round(snapshotBytes / CUBES / 1024);
      if (SETUP_ONLY) {
        report(figures);
        return;
      }
      if (!MIXED_ONLY) {
        app = await open(config);
        const cold: number[] = [];
        for (const [c, cubeId] of shuffled(cubeIds, rng(4)).slice(0, COLD_SAMPLE).entries()) {
          t0 = performance.now();
          await app.get(SearchService).search(ctx, cubeId, { query: queries[(c + 7) % queries.length], topK: 10 });
          cold.push(ms(t0));
        }
        figures.cold_sample = cold.length;
        figures.cold_first_search_p50_ms = round(summarize(cold).p50);
        figures.cold_first_search_p99_ms = round(summarize(cold).p99);
        const warmAlone: number[] = [];
        for (let i = 0; i < 500; i++) {
          t0 = performance.now();
          await app.get(SearchService).search(ctx, cubeIds[i % HOT], { query: queries[i % queries.length], topK: 10 });
          warmAlone.push(ms(t0));
        }
        figures.warm_alone_p99_ms = round(summarize(warmAlone).p99);
        figures.warm_alone_p50_ms = round(summarize(warmAlone).p50);
        // What reading a result's rows from PostgreSQL costs a search (ADR 0112): ten rows by label.
        const repo = app.get(MemoryRepository);
        const fetches: number[] = [];
        // Ten labels spread over each hot cube (a search's hits are as scattered).
        const sample = await Promise.all(
          cubeIds.slice(0, HOT).map(async (cubeId) => {
            const page = await repo.list(cubeId, {}, PER_CUBE, null);
            const items = page?.items ?? [];
            return { cubeId, labels: Array.from({ length: 10 }, (_, i) => items[Math.floor((i * items.length) / 10)]?.label).filter((l): l is number => l !== undefined) };
          }),
        );
        for (let i = 0; i < 500; i++) {
          const { cubeId, labels } = sample[i % sample.length];
          t0 = performance.now();
          await repo.getByLabels(cubeId, labels);
          fetches.push(ms(t0));
        }
        figures.row_fetch_10_p50_ms = round(summarize(fetches).p50);
        figures.row_fetch_10_p99_ms = round(summarize(fetches).p99);
        await app.close();

        // Turnover: a small index cache; hot cubes are searched while a stream of searches on
        // the other cubes keeps loading and evicting indexes in the same process.
        app = await open({ ...config, indexCacheCubes: CACHE, ...(CACHE_MB > 0 ? { indexCacheBytes: CACHE_MB * 1048576 } : {}) });
        const search = app.get(SearchService);
        // The cache is filled first (other cubes, then the hot ones), so that every load of the
        // churn evicts: with many cubes and a large cache, one churning client would otherwise
        // not fill it before the hot searches end, and nothing would turn over (ADR 0121).
        const filler = cubeIds.slice(HOT, HOT + Math.max(0, CACHE - HOT));
        for (const [i, cubeId] of [...filler, ...cubeIds.slice(0, HOT)].entries()) await search.search(ctx, cubeId, { query: queries[i % queries.length], topK: 10 });
        const random = rng(3);
        const warm: number[] = [];
        const manager = app.get(CubeIndexManager);
        let churned = 0;
        let loads = 0;
        let stop = false;
        const churn = (async () => {
          while (!stop) {
            const cubeId = cubeIds[HOT + Math.floor(random() * (cubeIds.length - HOT))];
            if (!manager.holds(cubeId)) loads++;
            await search.search(ctx, cubeId, { query: queries[churned % queries.length], topK: 10 });
            churned++;
          }
        })();
        for (let i = 0; i < 1000; i++) {
          t0 = performance.now();
          await search.search(ctx, cubeIds[i % HOT], { query: queries[i % queries.length], topK: 10 });
          warm.push(ms(t0));
        }
        stop = true;
        await churn;
        figures.warm_p99_ms = round(summarize(warm.slice(HOT)).p99);
        figures.warm_p50_ms = round(summarize(warm.slice(HOT)).p50);
        figures.turnover_churn_searches = churned;
        figures.turnover_cold_loads = loads;
        figures.turnover_cached_cubes = manager.cachedCubes;
        figures.turnover_cached_mb = round(manager.cachedBytes / 1048576);
        // Every cube of the fill was loaded once (a fresh process), then the churn's loads; the cache keeps the rest.
        figures.turnover_evicted = filler.length + HOT + loads - manager.cachedCubes;
        await app.close();
      }
      if (MIXED > 0) await mixedWorkload(open, { ...config, indexCacheCubes: CACHE, ...(CACHE_MB > 0 ? { indexCacheBytes: CACHE_MB * 1048576 } : {}) }, ctx, cubeIds, queries, { clients: CLIENTS, zipf: ZIPF, searches: MIXED }, figures);
    } else {
      await app.close();
    }

    if (PER_MEMORY || MILLION) {
      const n = BIG > 0 ? BIG : MILLION ? 1_000_000 : 100_000;
      await largeCubePhase(config, ctx, key.key, queries, figures, { n, million: MILLION, ingestOnly: INGEST_ONLY, profile: PROFILE, settleMaxS: SETTLE_MAX_S });
    }
  } finally {
    await db.drop();
  }
  report(figures);
}

function report(figures: Record<string, number | null>): void {
  figures.load_avg_1m_end = round(loadavg()[0]);
  console.log(`\n| figure | value |\n|---|---|`);
  for (const [k, v] of Object.entries(figures)) console.log(`| ${k} | ${v} |`);
  console.log('\n' + JSON.stringify({ bench: 'scale', ...figures }));
}

/**
 * What a kept set-up (--db) has done so far, in `<dataDir>/scale-setup.json`: the tenant, the
 * pool cube and the cubes' ids in order (the rows, the snapshots and the pool's size are read
 * from the database and the disk). Without --db nothing is read and nothing is written.
 */
class SetupState {
  readonly value: { tenantId?: string; poolCubeId?: string; cubeIds?: string[] };
  private readonly file: string;

  constructor(dataDir: string, private readonly kept: boolean) {
    this.file = path.join(dataDir, 'scale-setup.json');
    this.value = kept && fs.existsSync(this.file) ? (JSON.parse(fs.readFileSync(this.file, 'utf8')) as SetupState['value']) : {};
  }

  set(change: SetupState['value']): SetupState['value'] {
    Object.assign(this.value, change);
    if (this.kept) fs.writeFileSync(this.file, JSON.stringify(this.value));
    return this.value;
  }
}

async function memoryCount(databaseUrl: string, cubeId: string): Promise<number> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM memories WHERE cube_id = $1', [cubeId])).rows[0].n);
  } finally {
    await c.end();
  }
}

/** The cubes among `cubeIds` that hold memories already (the fixture fills a group of cubes in one statement). */
async function filledCubes(databaseUrl: string, cubeIds: readonly string[]): Promise<Set<string>> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const found = await c.query<{ id: string }>('SELECT t.id FROM unnest($1::uuid[]) AS t(id) WHERE EXISTS (SELECT 1 FROM memories m WHERE m.cube_id = t.id)', [cubeIds]);
    return new Set(found.rows.map((r) => r.id));
  } finally {
    await c.end();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
