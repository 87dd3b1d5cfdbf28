// The large cube of scale.bench (--million, --per-memory): ingested through the service in
// batches of 1,000, its index built by the first search (in process) while /health is
// asked every 50 ms, then searched over HTTP (warm-up, a timed pass, the same again, a
// client on its own thread), each search step timed alone, RSS and heap per memory.
import * as fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { EngramConfig } from '@engram/config';
import { CubeIndexManager, CubeService, MemoryService, RequestContext, SearchService } from '@engram/core';
import { createApp } from '@engram/server';
import { newQuerySteps, pgActivity, searchSteps, threadClientSearches, watchGc } from './search-costs';
import { serviceRows, summarize, SyntheticCorpus } from './synthetic-corpus';

const BATCH = 1000;
const ms = (t0: number) => performance.now() - t0;
const round = (x: number) => Math.round(x * 100) / 100;

export interface LargeCubeOptions {
  /** Memories in the cube. */
  readonly n: number;
  /** Figures named for 1M (else for 100k, with RSS per memory). */
  readonly million: boolean;
  /** The ingest figures alone. */
  readonly ingestOnly: boolean;
  /** A file for a CPU profile of the timed searches ('' for none). */
  readonly profile: string;
  /** Longest wait for the graph and snapshot before the searches are timed anyway (0: no limit). */
  readonly settleMaxS: number;
}

export async function largeCubePhase(config: EngramConfig, ctx: RequestContext, apiKey: string, queries: readonly string[], figures: Record<string, number | null>, options: LargeCubeOptions): Promise<void> {
  const { n, million, ingestOnly, profile: profileFile, settleMaxS } = options;
  const databaseUrl = config.databaseUrl;
  if (!databaseUrl) throw new Error('the large cube phase reads PostgreSQL statistics: config.databaseUrl must be set');
  // The large cube: ingested through the service, searched over HTTP.
  const server = await createApp(config, { quiet: true, runWorker: false, announceAdminToken: () => undefined });
  await server.listen(0, '127.0.0.1');
  const base = (await server.getUrl()).replace('[::1]', '127.0.0.1');
  const big = await server.get(CubeService).create(ctx, { name: 'big' });
  const bigCorpus = new SyntheticCorpus(11);
  const service = server.get(MemoryService);
  const httpSearch = async (query: string): Promise<void> => {
    const res = await fetch(`${base}/v1/cubes/${big.id}/search`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ query, topK: 10 }),
    });
    if (res.status !== 200 && res.status !== 201) throw new Error(`search answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { results: unknown[] };
    if (body.results.length === 0) throw new Error('search found nothing');
  };
  let t0 = performance.now();
  let at100k = 0;
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  // The rate of each tenth of the ingest too: does it fall as the cube grows (ADR 0118)?
  const tenths: number[] = [t0];
  for (let i = 0; i < n; i += BATCH) {
    // Memory i of the corpus, so that its sessions are of 12 turns (s<i/12>); before 2026-11-30 every
    // batch started again at 0: 84 sessions of ~12,000 turns each at 1M, a cube unlike the others.
    await service.add(ctx, big.id, { items: serviceRows(bigCorpus, BATCH, i) });
    if ((i / BATCH) % 20 === 0) process.stderr.write(`\ringest ${i + BATCH}/${n}`);
    if (i + BATCH === Math.min(n, 100_000)) at100k = performance.now();
    if ((i + BATCH) % Math.max(BATCH, Math.floor(n / 10 / BATCH) * BATCH) === 0) tenths.push(performance.now());
  }
  process.stderr.write('\n');
  const ingestS = ms(t0) / 1000;
  const perTenth = tenths.slice(1).map((t, k) => Math.round((n / 10) / ((t - tenths[k]) / 1000)));
  console.log(`ingest rate per tenth of the cube (memories/s): ${perTenth.join(', ')}`);
  if (million) {
    figures.ingest_1m_per_s = round(n / ingestS);
    figures.ingest_1m_last_tenth_per_s = perTenth[perTenth.length - 1] ?? null;
  } else {
    figures.ingest_100k_per_s = round(Math.min(n, 100_000) / ((at100k - t0) / 1000));
  }
  // --ingest-only: the ingest figures alone (minutes instead of the half hour the build and graph take at 1M).
  if (!ingestOnly) {
    // RSS of the index: after the first search builds it (from PostgreSQL), less the RSS before the ingest.
    global.gc?.();
    const before = process.memoryUsage().rss;
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    // The first search builds the index from PostgreSQL; in process, since at 1M it runs past HTTP timeouts.
    // Meanwhile, and while the graph is built and the snapshot written, /health is asked
    // every 50 ms: the server must keep answering (ADR 0115).
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();
    let healthOk = 0;
    let healthFailed = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const res = await fetch(`${base}/health`).catch(() => null);
        if (res?.status === 200) healthOk++;
        else healthFailed++;
        await res?.arrayBuffer().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const size = million ? '1m' : '100k';
    t0 = performance.now();
    await server.get(SearchService).search(ctx, big.id, { query: queries[0], topK: 10 });
    figures[`build_${size}_s`] = round(ms(t0) / 1000);
    t0 = performance.now();
    const settled = server.get(CubeIndexManager).settled(big.id).then(() => true);
    const complete = settleMaxS > 0 ? await Promise.race([settled, new Promise<false>((resolve) => setTimeout(() => resolve(false), settleMaxS * 1000))]) : await settled;
    figures.graph_complete = complete ? 1 : 0;
    figures[`graph_and_save_${size}_s`] = complete ? round(ms(t0) / 1000) : null;
    probing = false;
    await probe;
    stalls.disable();
    figures[`build_event_loop_max_stall_ms`] = round(stalls.max / 1e6);
    figures[`build_health_answered`] = healthOk;
    figures[`build_health_failed`] = healthFailed;
    await httpSearch(queries[0]);
    global.gc?.();
    const after = process.memoryUsage().rss;
    figures[million ? 'index_1m_estimated_mb' : 'index_100k_estimated_mb'] = round(server.get(CubeIndexManager).cachedBytes / 1048576);
    // The server's first searches after the build, with queries of their own, timed and
    // reported (search_<size>_warmup_*) before the timed searches, whose rows they do not
    // warm: do the timed ones pay for a fresh process (V8 compiling the search path) or for
    // queries seen for the first time? At 1M the timed searches' last tenths, which repeat
    // earlier queries, are faster than their first ones; part of that was the access
    // counting of hits never returned before (ADR 0129), the rest is not explained by any
    // step (search_<size>_new_query_step_* cost what the repeated steps do).
    const warmupCorpus = new SyntheticCorpus(13);
    const warmup: number[] = [];
    for (let i = 0; i < 200; i++) {
      const query = warmupCorpus.sentence(3, 8);
      t0 = performance.now();
      await httpSearch(query);
      warmup.push(ms(t0));
    }
    figures[`search_${size}_warmup_p50_ms`] = round(summarize(warmup).p50);
    figures[`search_${size}_warmup_p99_ms`] = round(summarize(warmup).p99);
    console.log(`warm-up searches (other queries): p50 by tenth of ${warmup.length} (ms): ${Array.from({ length: 10 }, (_, k) => round(summarize(warmup.slice(k * 20, k * 20 + 20)).p50)).join(', ')}`);
    // The timed searches' queries: the 200 in turn, then the first 100 again.
    const timedQueries = Array.from({ length: 300 }, (_, i) => queries[(i + 1) % queries.length]);
    // What the timed searches cost besides the index: PostgreSQL block reads (not in its
    // buffers), checkpoints meanwhile, and this process's CPU per search.
    const pgBefore = await pgActivity(databaseUrl);
    const gcWatch = watchGc();
    const profiler = profileFile ? new Session() : null;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const cpuBefore = process.cpuUsage();
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      t0 = performance.now();
      await httpSearch(timedQueries[i]);
      times.push(ms(t0));
    }
    const cpu = process.cpuUsage(cpuBefore);
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      fs.writeFileSync(profileFile, JSON.stringify(profile));
      profiler.disconnect();
    }
    const gc = gcWatch.stop();
    const pgAfter = await pgActivity(databaseUrl);
    figures[`search_${size}_gc_major_count`] = gc.major;
    figures[`search_${size}_gc_major_ms`] = round(gc.majorMs);
    figures[`search_${size}_gc_major_max_ms`] = round(gc.majorMaxMs);
    figures[`search_${size}_gc_scavenge_ms`] = round(gc.scavengeMs);
    figures[`search_${size}_cpu_ms_per_search`] = round((cpu.user + cpu.system) / 1000 / times.length);
    figures[`search_${size}_pg_blocks_read`] = pgAfter.blocksRead - pgBefore.blocksRead;
    figures[`search_${size}_pg_blocks_hit`] = pgAfter.blocksHit - pgBefore.blocksHit;
    figures[`search_${size}_checkpoints`] = pgAfter.checkpoints - pgBefore.checkpoints;
    console.log(`search p50 by tenth of the ${times.length} timed searches (ms): ${Array.from({ length: 10 }, (_, k) => round(summarize(times.slice(k * 30, k * 30 + 30)).p50)).join(', ')}`);
    // The same searches again: the rows and pages they touch are now warm.
    const again: number[] = [];
    for (let i = 0; i < 300; i++) {
      t0 = performance.now();
      await httpSearch(timedQueries[i]);
      again.push(ms(t0));
    }
    figures[`search_${size}_repeat_p50_ms`] = round(summarize(again).p50);
    figures[`search_${size}_repeat_p99_ms`] = round(summarize(again).p99);
    // The same searches from a client on a thread of its own, as a client in another process
    // would send them: the server's event loop no longer also runs the client's fetch and parsing.
    const threadTimes = await threadClientSearches(`${base}/v1/cubes/${big.id}/search`, apiKey, timedQueries);
    figures[`search_${size}_thread_client_p50_ms`] = round(summarize(threadTimes).p50);
    figures[`search_${size}_thread_client_p99_ms`] = round(summarize(threadTimes).p99);
    // Each step of the search alone, in process, over the same queries (seen three times by
    // now): what the server spends where, to compare with search-http-split.bench's server.
    const steps = await searchSteps(server, ctx, big.id, timedQueries);
    for (const [step, { p50, p99 }] of Object.entries(steps)) {
      figures[`search_${size}_step_${step}_p50_ms`] = round(p50);
      figures[`search_${size}_step_${step}_p99_ms`] = round(p99);
    }
    // And over queries not seen before (the timed searches' first pass is slower than their
    // repeat): which step pays for a new query?
    const fresh = (k: number) => {
      const c = new SyntheticCorpus(17 + k);
      return Array.from({ length: 300 }, () => c.sentence(3, 8));
    };
    for (const [step, { p50, p99 }] of Object.entries(await newQuerySteps(server, ctx, big.id, fresh))) {
      figures[`search_${size}_new_query_step_${step}_p50_ms`] = round(p50);
      figures[`search_${size}_new_query_step_${step}_p99_ms`] = round(p99);
    }
    if (million) {
      figures.search_1m_p50_ms = round(summarize(times).p50);
      figures.search_1m_p99_ms = round(summarize(times).p99);
      figures.rss_1m_mb = round(process.memoryUsage().rss / 1048576);
    } else {
      figures.search_100k_p50_ms = round(summarize(times).p50);
      figures.search_100k_p99_ms = round(summarize(times).p99);
      figures.rss_per_memory_100k_bytes = Math.round((after - Math.min(before, rssBefore)) / n);
      // RSS also keeps what the ingest's garbage grew the heap by; the JS heap and array buffers the index added, alone:
      figures.heap_per_memory_100k_bytes = Math.round((process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore) / n);
    }
  }
  await server.close();
}
