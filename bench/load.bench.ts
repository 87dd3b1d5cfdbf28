// Load over HTTP on one cube: C concurrent clients (default 200, far more than the pool's
// 10 connections), 70% search / 20% add / 10% edit-or-delete, for S seconds on a cube of N
// memories. Reports requests, 5xx (the goal: none), p50/p99 per route, RSS at the start
// and end of the load (a leak shows as growth), and the ratio of search p50 under load to
// a one-client baseline run first in the same process.
//   npm run bench:load [-- --n 100000 --clients 200 --seconds 300]
// Uses ENGRAM_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) for a scratch database.
import 'reflect-metadata';
import { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { EngramConfig, loadConfig } from '@engram/config';
import { ApiKeyService, CubeService, MemoryService, RequestContext, Scope, TenantService } from '@engram/core';
import { createApp } from '@engram/server';
import { scratchDatabase } from './support/scratch-service';
import { arg } from './support/args';
import { summarize, SyntheticCorpus } from './support/synthetic-corpus';

const N = arg('n', 100_000);
const CLIENTS = arg('clients', 200);
const SECONDS = arg('seconds', 300);
const BASELINE_SECONDS = arg('baseline-seconds', 10);
const POOL = arg('pool', 10);
const ADMIN: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'bench' };
const rssMb = () => process.memoryUsage().rss / 1048576;

type Route = 'search' | 'add' | 'edit' | 'delete';

class Recorder {
  readonly latencies = new Map<Route, number[]>();
  readonly statuses = new Map<string, number>();
  failures = 0;

  record(route: Route, status: number, ms: number): void {
    if (!this.latencies.has(route)) this.latencies.set(route, []);
    this.latencies.get(route)!.push(ms);
    const key = `${route} ${status}`;
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
  }

  count(predicate: (status: number) => boolean): number {
    let n = 0;
    for (const [key, count] of this.statuses) if (predicate(Number(key.split(' ')[1]))) n += count;
    return n;
  }
}

/** One client: a loop of requests until `until`, each chosen by the route mix. */
async function client(base: string, headers: Record<string, string>, cubeId: string, corpus: SyntheticCorpus, seed: number, until: number, rec: Recorder, mix: boolean): Promise<void> {
  const mine: string[] = [];
  let i = 0;
  while (performance.now() < until) {
    const roll = ((seed * 7919 + i++ * 104729) % 1000) / 1000;
    let route: Route = 'search';
    let url = `${base}/v1/cubes/${cubeId}/search`;
    let init: RequestInit = { method: 'POST', headers, body: JSON.stringify({ query: corpus.sentence(3, 8), topK: 10 }) };
    if (mix && roll >= 0.7 && roll < 0.9) {
      route = 'add';
      url = `${base}/v1/cubes/${cubeId}/memories`;
      init = { method: 'POST', headers, body: JSON.stringify({ items: [{ text: corpus.sentence(6, 14) }] }) };
    } else if (mix && roll >= 0.9 && mine.length > 0) {
      const id = mine[(seed + i) % mine.length];
      if (roll < 0.95) {
        route = 'edit';
        url = `${base}/v1/cubes/${cubeId}/memories/${id}`;
        init = { method: 'PATCH', headers, body: JSON.stringify({ text: corpus.sentence(6, 14) }) };
      } else {
        route = 'delete';
        url = `${base}/v1/cubes/${cubeId}/memories/${id}`;
        init = { method: 'DELETE', headers };
        mine.splice(mine.indexOf(id), 1);
      }
    }
    const started = performance.now();
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      rec.record(route, res.status, performance.now() - started);
      if (route === 'add' && res.status === 201) mine.push((JSON.parse(text) as { items: { id: string }[] }).items[0].id);
    } catch {
      rec.failures += 1; // no answer within 30 s, or the connection broke
    }
  }
}

async function main(): Promise<void> {
  const db = await scratchDatabase();
  const config: EngramConfig = {
    ...loadConfig({ DATABASE_URL: db.url, ENGRAM_DATA_DIR: db.dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0', ENGRAM_NEW_CUBE_EMBEDDER: 'hash' }),
    workerInProcess: false,
    dbPoolSize: POOL,
    adminToken: 'bench-admin-token-0123456789-abcdef',
  };
  const app = await createApp(config, { quiet: true, runWorker: false });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  try {
    const tenant = await app.get(TenantService).create(ADMIN, { name: 'load' });
    const key = await app.get(ApiKeyService).create(ADMIN, tenant.id, { scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] });
    const ctx: RequestContext = { auth: { kind: 'key', actorId: key.id, keyId: key.id, tenantId: tenant.id, scopes: key.scopes as Scope[], cubeIds: null }, requestId: 'bench' };
    const cube = await app.get(CubeService).create(ctx, { name: 'load' });
    const corpus = new SyntheticCorpus(7);
    for (let i = 0; i < N; i += 1000) {
      const items = Array.from({ length: Math.min(1000, N - i) }, (_, j) => {
        const m = corpus.memory(i + j);
        return { text: m.text, kind: 'fact' as const, tags: m.tags, metadata: m.metadata, source: { sessionId: m.sessionId }, observedAt: m.observedAt };
      });
      await app.get(MemoryService).add(ctx, cube.id, { items });
      if ((i / 1000) % 10 === 0) process.stderr.write(`\ringest ${i + items.length}/${N}`);
    }
    process.stderr.write('\n');
    const headers = { Authorization: `Bearer ${key.key}`, 'Content-Type': 'application/json' };
    await fetch(`${base}/v1/cubes/${cube.id}/search`, { method: 'POST', headers, body: JSON.stringify({ query: 'warm up', topK: 10 }) }); // loads the index

    // Baseline: one client, searches only.
    const baseline = new Recorder();
    await client(base, headers, cube.id, corpus, 1, performance.now() + BASELINE_SECONDS * 1000, baseline, false);

    const rec = new Recorder();
    const rssStart = rssMb();
    const started = performance.now();
    const until = started + SECONDS * 1000;
    const progress = setInterval(() => process.stderr.write(`\rload ${Math.round((performance.now() - started) / 1000)}/${SECONDS} s, ${[...rec.latencies.values()].reduce((a, l) => a + l.length, 0)} requests`), 1000);
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(base, headers, cube.id, corpus, c + 2, until, rec, true)));
    clearInterval(progress);
    process.stderr.write('\n');
    const elapsed = (performance.now() - started) / 1000;
    const rssEnd = rssMb();

    const requests = [...rec.latencies.values()].reduce((a, l) => a + l.length, 0);
    const rows = (['search', 'add', 'edit', 'delete'] as Route[]).map((route) => {
      const s = summarize(rec.latencies.get(route) ?? [0]);
      return { route, n: rec.latencies.get(route)?.length ?? 0, p50: s.p50, p99: s.p99 };
    });
    const baselineSearch = summarize(baseline.latencies.get('search') ?? [0]);
    console.log(`\nload: ${CLIENTS} clients, pool ${POOL}, ${N} memories, ${elapsed.toFixed(0)} s`);
    console.log('route   | requests | p50 ms  | p99 ms');
    for (const r of rows) console.log(`${r.route.padEnd(7)} | ${String(r.n).padStart(8)} | ${r.p50.toFixed(1).padStart(7)} | ${r.p99.toFixed(1).padStart(7)}`);
    console.log(`statuses: ${[...rec.statuses.entries()].map(([k, v]) => `${k}: ${v}`).join(', ')}; no answer: ${rec.failures}`);
    console.log(`baseline (1 client, search): p50 ${baselineSearch.p50.toFixed(2)} ms, p99 ${baselineSearch.p99.toFixed(2)} ms`);
    console.log(`RSS ${rssStart.toFixed(0)} MB at the start of the load, ${rssEnd.toFixed(0)} MB at the end`);
    const figures: Record<string, number> = {
      n: N,
      clients: CLIENTS,
      pool: POOL,
      seconds: Math.round(elapsed),
      requests,
      requests_per_s: requests / elapsed,
      errors_5xx: rec.count((s) => s >= 500),
      errors_4xx: rec.count((s) => s >= 400 && s < 500),
      no_answer: rec.failures,
      rss_start_mb: rssStart,
      rss_end_mb: rssEnd,
      baseline_search_p50_ms: baselineSearch.p50,
      search_p50_ratio_vs_one_client: (rows[0].p50 || 0) / (baselineSearch.p50 || 1),
    };
    for (const r of rows) {
      figures[`${r.route}_p50_ms`] = r.p50;
      figures[`${r.route}_p99_ms`] = r.p99;
    }
    console.log(JSON.stringify(Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v * 100) / 100]))));
  } finally {
    await app.close();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
