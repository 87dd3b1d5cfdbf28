// What a timed phase of a search bench costs besides its own work: garbage-collection
// pauses of the main thread, PostgreSQL's block reads and checkpoints, and latencies seen by
// a client on a thread of its own (as a client in another process would see them, without
// its CPU on the server's event loop), and each step of a search timed alone in process.
// Shared by scale.bench and search-http-split.bench.
import { INestApplicationContext } from '@nestjs/common';
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Client } from 'pg';
import { AccessService, CubeIndexManager, EmbedderRegistry, Permission, RequestContext, SearchService } from '@engram/core';
import { MemoryRepository } from '@engram/persistence';
import { summarize } from './synthetic-corpus';

/** Counts the main thread's garbage-collection pauses, by kind, until stop(). */
export function watchGc(): { stop(): { scavengeMs: number; majorMs: number; majorMaxMs: number; major: number } } {
  const gc = { scavengeMs: 0, majorMs: 0, majorMaxMs: 0, major: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.majorMs += entry.duration;
        gc.majorMaxMs = Math.max(gc.majorMaxMs, entry.duration);
        gc.major++;
      } else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.scavengeMs += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      observer.disconnect();
      return gc;
    },
  };
}

/** PostgreSQL's counters of this database's block reads and hits, and of checkpoints. */
export async function pgActivity(databaseUrl: string): Promise<{ blocksRead: number; blocksHit: number; checkpoints: number }> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const db = (await c.query<{ r: string; h: string }>('SELECT blks_read AS r, blks_hit AS h FROM pg_stat_database WHERE datname = current_database()')).rows[0];
    // PostgreSQL 17 (the embedded one) moved the checkpoint counts to pg_stat_checkpointer.
    const version = Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0].v);
    const checkpoints = version >= 170000 ? 'SELECT num_timed + num_requested AS n FROM pg_stat_checkpointer' : 'SELECT checkpoints_timed + checkpoints_req AS n FROM pg_stat_bgwriter';
    const cp = (await c.query<{ n: string }>(checkpoints)).rows[0];
    return { blocksRead: Number(db.r), blocksHit: Number(db.h), checkpoints: Number(cp.n) };
  } finally {
    await c.end();
  }
}

/** Worker-thread client of threadClientSearches(): one search after the other, each timed from request to parsed body. */
const THREAD_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const times = [];
  // Untimed first: the thread's own fetch and JSON code are cold (the server's are warm by now).
  const warmup = workerData.queries.slice(0, workerData.warmup).map((query) => ({ query, timed: false }));
  for (const { query, timed } of [...warmup, ...workerData.queries.map((query) => ({ query, timed: true }))]) {
    const t0 = performance.now();
    const res = await fetch(workerData.url, { method: 'POST', headers: { Authorization: 'Bearer ' + workerData.key, 'Content-Type': 'application/json' }, body: JSON.stringify({ query, topK: 10 }) });
    const body = await res.json();
    if (res.status !== 200 || !Array.isArray(body.results) || body.results.length === 0) throw new Error('search answered ' + res.status + ': ' + JSON.stringify(body));
    if (timed) times.push(performance.now() - t0);
  }
  parentPort.postMessage(times);
})();
`;

/** Latencies of searches sent one after the other by a client on its own thread (after `warmup` of them untimed). */
export function threadClientSearches(url: string, key: string, queries: string[], warmup = 50): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(THREAD_CLIENT, { eval: true, workerData: { url, key, queries, warmup } });
    worker.once('message', (times: number[]) => resolve(times));
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`client thread exited with ${code}`))));
  });
}

/** p50 and p99 of each step of SearchService.search, run alone in process over `queries` (each step in turn over all of them). */
export async function searchSteps(app: INestApplicationContext, ctx: RequestContext, cubeId: string, queries: readonly string[]): Promise<Record<string, { p50: number; p99: number }>> {
  const s = await stepsOf(app, ctx, cubeId);
  const labels = new Map<string, number[]>();
  for (const q of queries) labels.set(q, await s.labelsOf(q));
  return {
    service: await timed(queries, s.service),
    access_check: await timed(queries, s.accessCheck),
    index: await timed(queries, s.index),
    rows: await timed(queries, (q) => s.rows(labels.get(q)!)),
  };
}

/**
 * The same steps, each over queries the server has not seen (three sets, `fresh(k)` giving
 * the k-th): the index over the first set; the rows of the second set's hits, which the
 * index found untimed (new to PostgreSQL only); the whole service over the third.
 */
export async function newQuerySteps(app: INestApplicationContext, ctx: RequestContext, cubeId: string, fresh: (k: number) => string[]): Promise<Record<string, { p50: number; p99: number }>> {
  const s = await stepsOf(app, ctx, cubeId);
  const [forIndex, forRows, forService] = [fresh(0), fresh(1), fresh(2)];
  await s.prepare(forIndex);
  const index = await timed(forIndex, s.index);
  const labels = new Map<string, number[]>();
  for (const q of forRows) labels.set(q, await s.labelsOf(q));
  const rows = await timed(forRows, (q) => s.rows(labels.get(q)!));
  return { index, rows, service: await timed(forService, s.service) };
}

async function stepsOf(app: INestApplicationContext, ctx: RequestContext, cubeId: string) {
  const access = app.get(AccessService);
  const embedders = app.get(EmbedderRegistry);
  const { cube, changeSeq } = await access.requireCubeWithChangeSeq(ctx.auth, Permission.MemoryRead, cubeId);
  const embedder = embedders.forSettings(cube.settings);
  const { index } = await app.get(CubeIndexManager).current(cubeId, embedder, changeSeq);
  const repo = app.get(MemoryRepository);
  const search = app.get(SearchService);
  // Embedded before the timing (the hash embedder costs microseconds; a model would not).
  const vectors = new Map<string, Float32Array | number[]>();
  const vectorOf = async (q: string) => vectors.get(q) ?? vectors.set(q, (await embedders.embed(embedder, [q]))[0]).get(q)!;
  const indexSearch = (q: string, vector: Float32Array | number[]) => index.search(q, vector, { topK: 10, referenceTime: Date.now() });
  return {
    service: (q: string) => search.search(ctx, cubeId, { query: q, topK: 10 }),
    accessCheck: () => access.requireCubeWithChangeSeq(ctx.auth, Permission.MemoryRead, cubeId),
    labelsOf: async (q: string) => indexSearch(q, await vectorOf(q)).map((h) => h.label),
    /** The index search alone: the query was embedded by prepare() or labelsOf(). */
    index: (q: string) => indexSearch(q, vectors.get(q)!),
    rows: (labels: number[]) => repo.getByLabels(cubeId, labels),
    prepare: async (queries: readonly string[]) => {
      for (const q of queries) await vectorOf(q);
    },
  };
}

async function timed(queries: readonly string[], run: (q: string) => unknown): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (const q of queries) {
    const t0 = performance.now();
    await run(q);
    times.push(performance.now() - t0);
  }
  const { p50, p99 } = summarize(times);
  return { p50, p99 };
}
