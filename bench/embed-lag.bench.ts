// The write path of a cube whose embedder embeds after the commit (use-lite, ADR 0106),
// against a hash cube in the same process, on real PostgreSQL and real memory-like text
// (MADial-Bench events + LongMemEval-S user turns): batch ingest rate (commit), the time
// until every vector is stored (dense lag of a burst), single add latency and the lag
// from a single add's response until its vector is stored.
//   npm run build && node dist/bench/embed-lag.bench.js [--n 10000] [--singles 100]
// Uses ENGRAM_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) to create
// and drop a scratch database (bench/support/scratch-service.ts).
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EngramConfig, loadConfig } from '@engram/config';
import { ApiKeyService, CoreModule, CubeService, DeferredEmbeddingService, MemoryService, RequestContext, Scope, TenantService } from '@engram/core';
import { PendingEmbeddingRepository } from '@engram/persistence';
import { scratchDatabase } from './support/scratch-service';
import { arg } from './support/args';
import { sharedDataDir } from './support/longmemeval';
import { summarize } from './support/synthetic-corpus';

const N = arg('n', 10_000);
const SINGLES = arg('singles', 100);
const BATCH = 1000;
const ADMIN: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'bench' };
const ms = (t0: number) => performance.now() - t0;

function texts(n: number): string[] {
  const data = sharedDataDir();
  const out: string[] = [];
  for (const line of readFileSync(path.join(data, 'madial-bench', 'en', 'MADial-Bench-en-memory.json'), 'utf8').split('\n')) {
    if (line.trim()) for (const m of Object.values(JSON.parse(line) as Record<string, { event: string }>)) out.push(m.event);
  }
  const lme = path.join(data, 'longmemeval-s-dev');
  for (const file of readdirSync(lme).filter((f) => f.endsWith('.json')).sort()) {
    const q = JSON.parse(readFileSync(path.join(lme, file), 'utf8')) as { haystack_sessions: { role: string; content: string }[][] };
    for (const s of q.haystack_sessions) for (const t of s) if (t.role === 'user') out.push(t.content);
    if (out.length >= n + SINGLES) break;
  }
  return out.slice(0, n + SINGLES);
}

async function main(): Promise<void> {
  const db = await scratchDatabase();
  const config: EngramConfig = { ...loadConfig({ DATABASE_URL: db.url, ENGRAM_DATA_DIR: db.dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0' }), workerInProcess: false };
  const app = await NestFactory.createApplicationContext(CoreModule.forRoot(config), { logger: false });
  const all = texts(N);
  const figures: Record<string, number> = { n: N };
  try {
    const tenant = await app.get(TenantService).create(ADMIN, { name: 'bench' });
    const key = await app.get(ApiKeyService).create(ADMIN, tenant.id, { scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] });
    const ctx: RequestContext = { auth: { kind: 'key', actorId: key.id, keyId: key.id, tenantId: tenant.id, scopes: key.scopes as Scope[], cubeIds: null }, requestId: 'bench' };
    const memories = app.get(MemoryService);
    const deferred = app.get(DeferredEmbeddingService);
    const pending = app.get(PendingEmbeddingRepository);

    for (const embedder of ['hash', 'use-lite']) {
      const cube = await app.get(CubeService).create(ctx, { name: embedder, settings: { embedder } });
      await memories.add(ctx, cube.id, { items: [{ text: 'warm up' }] }); // loads the model
      await deferred.idle();
      // A burst: N memories in batches of 1,000, then the wait until every vector is stored.
      const t0 = performance.now();
      for (let i = 0; i < N; i += BATCH) await memories.add(ctx, cube.id, { items: all.slice(i, i + BATCH).map((text) => ({ text })) });
      const commitMs = ms(t0);
      const waiting = await pending.countPending(cube.id);
      await deferred.idle();
      const embeddedMs = ms(t0);
      figures[`${embedder}_ingest_commit_per_s`] = Math.round(N / (commitMs / 1000));
      figures[`${embedder}_ingest_embedded_per_s`] = Math.round(N / (embeddedMs / 1000));
      figures[`${embedder}_waiting_after_commit`] = waiting;
      figures[`${embedder}_burst_dense_lag_s`] = +((embeddedMs - commitMs) / 1000).toFixed(2);
      // Single adds, one at a time: the response, then the time until the vector is stored.
      const add: number[] = [];
      const lag: number[] = [];
      for (const text of all.slice(N, N + SINGLES)) {
        const s = performance.now();
        await memories.add(ctx, cube.id, { items: [{ text }] });
        add.push(ms(s));
        const l = performance.now();
        await deferred.idle();
        lag.push(ms(l));
      }
      figures[`${embedder}_single_add_p50_ms`] = +summarize(add).p50.toFixed(2);
      figures[`${embedder}_single_add_p99_ms`] = +summarize(add).p99.toFixed(2);
      figures[`${embedder}_single_dense_lag_p50_ms`] = +summarize(lag).p50.toFixed(2);
      figures[`${embedder}_single_dense_lag_p99_ms`] = +summarize(lag).p99.toFixed(2);
      if ((await pending.countPending(cube.id)) !== 0) throw new Error(`${embedder}: memories left without a vector`);
    }
  } finally {
    await app.close();
    await db.drop();
  }
  console.log('| figure | value |\n|---|---|');
  for (const [k, v] of Object.entries(figures)) console.log(`| ${k} | ${v} |`);
  console.log('\n' + JSON.stringify({ bench: 'embed-lag', ...figures }));
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
