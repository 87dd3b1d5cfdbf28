// What a timed phase of a search bench costs besides its own work: garbage-collection
// pauses of the main thread, PostgreSQL's block reads and checkpoints, and latencies seen by
// a client on a thread of its own (as a client in another process would see them, without
// its CPU on the server's event loop). Shared by scale.bench and search-http-split.bench.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Client } from 'pg';

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
    const cp = (await c.query<{ n: string }>('SELECT checkpoints_timed + checkpoints_req AS n FROM pg_stat_bgwriter')).rows[0];
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
  for (const query of workerData.queries) {
    const t0 = performance.now();
    const res = await fetch(workerData.url, { method: 'POST', headers: { Authorization: 'Bearer ' + workerData.key, 'Content-Type': 'application/json' }, body: JSON.stringify({ query, topK: 10 }) });
    const body = await res.json();
    if (res.status !== 200 || !Array.isArray(body.results) || body.results.length === 0) throw new Error('search answered ' + res.status + ': ' + JSON.stringify(body));
    times.push(performance.now() - t0);
  }
  parentPort.postMessage(times);
})();
`;

/** Latencies of searches sent one after the other by a client on its own thread. */
export function threadClientSearches(url: string, key: string, queries: string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(THREAD_CLIENT, { eval: true, workerData: { url, key, queries } });
    worker.once('message', (times: number[]) => resolve(times));
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`client thread exited with ${code}`))));
  });
}
