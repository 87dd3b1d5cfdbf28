// bench:scale's mixed workload (ADR 0121): searches from concurrent clients over cubes drawn by
// Zipf popularity, first within what the index cache holds, then over every cube while the
// cache turns over; warm and cold latencies, GC pauses and event-loop delay of the turnover.
import { INestApplicationContext } from '@nestjs/common';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { EngramConfig } from '@engram/config';
import { CubeIndexManager, RequestContext, SearchService } from '@engram/core';
import { watchGc } from './search-costs';
import { drawRank, rng, shuffled, summarize, zipfCdf } from './synthetic-corpus';

const ms = (t0: number) => performance.now() - t0;
const round = (x: number) => Math.round(x * 100) / 100;

export interface MixedWorkloadOptions {
  /** Concurrent clients. */
  clients: number;
  /** Zipf exponent of cube popularity. */
  zipf: number;
  /** Searches in each timed phase. */
  searches: number;
}

/**
 * Searches from `o.clients` concurrent clients over cubes drawn by Zipf popularity: first over the
 * most popular cubes that fit half the cache (loaded beforehand: no turnover), then over every
 * cube (the tail loads and evicts). A search is warm when its cube's index was held before it.
 */
export async function mixedWorkload(
  open: (config: EngramConfig) => Promise<INestApplicationContext>,
  config: EngramConfig,
  ctx: RequestContext,
  cubeIds: string[],
  queries: string[],
  o: MixedWorkloadOptions,
  figures: Record<string, number | null>,
): Promise<void> {
  const app = await open(config);
  const search = app.get(SearchService);
  const manager = app.get(CubeIndexManager);
  const byPopularity = shuffled(cubeIds, rng(5));
  const cdf = zipfCdf(byPopularity.length, o.zipf);
  let asked = 0;
  const run = async (n: number, ranks: number, random: () => number) => {
    const warm: number[] = [];
    const cold: number[] = [];
    let started = 0;
    await Promise.all(
      Array.from({ length: o.clients }, async () => {
        while (started < n) {
          started++;
          const cubeId = byPopularity[drawRank(cdf, ranks, random)];
          const held = manager.holds(cubeId);
          const t0 = performance.now();
          await search.search(ctx, cubeId, { query: queries[asked++ % queries.length], topK: 10 });
          (held ? warm : cold).push(ms(t0));
        }
      }),
    );
    return { warm, cold };
  };
  try {
    const fit = Math.max(1, Math.min(byPopularity.length, Math.floor(config.indexCacheCubes / 2)));
    for (let r = 0; r < fit; r++) await search.search(ctx, byPopularity[r], { query: queries[r % queries.length], topK: 10 });
    figures.mixed_steady_cubes = fit;
    figures.mixed_steady_share = round(cdf[fit - 1] / cdf[cdf.length - 1]);
    const steady = await run(o.searches, fit, rng(11));
    figures.mixed_steady_warm_p50_ms = round(summarize(steady.warm).p50);
    figures.mixed_steady_warm_p99_ms = round(summarize(steady.warm).p99);
    figures.mixed_steady_loads = steady.cold.length; // 0 unless the byte budget holds fewer cubes than `fit`
    await run(Math.min(o.searches, 1000), byPopularity.length, rng(12)); // the cache reaches its steady mix first
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    // Garbage collection during the turnover: pauses of the main thread, by kind.
    const gcWatch = watchGc();
    const started = performance.now();
    const turnover = await run(o.searches, byPopularity.length, rng(13));
    figures.mixed_turnover_s = round(ms(started) / 1000);
    const gc = gcWatch.stop();
    loop.disable();
    figures.mixed_turnover_gc_scavenge_ms = round(gc.scavengeMs);
    figures.mixed_turnover_gc_major_ms = round(gc.majorMs);
    figures.mixed_turnover_gc_major_max_ms = round(gc.majorMaxMs);
    figures.mixed_turnover_gc_major_count = gc.major;
    figures.mixed_turnover_warm_p50_ms = round(summarize(turnover.warm).p50);
    figures.mixed_turnover_warm_p99_ms = round(summarize(turnover.warm).p99);
    figures.mixed_turnover_cold_p50_ms = round(summarize(turnover.cold).p50);
    figures.mixed_turnover_cold_p99_ms = round(summarize(turnover.cold).p99);
    figures.mixed_turnover_hit_rate = round(turnover.warm.length / o.searches);
    figures.mixed_turnover_event_loop_p99_ms = round(loop.percentile(99) / 1e6);
    figures.mixed_turnover_event_loop_max_ms = round(loop.max / 1e6);
    figures.mixed_cached_cubes = manager.cachedCubes;
    figures.mixed_cached_mb = round(manager.cachedBytes / 1048576);
    figures.mixed_rss_mb = round(process.memoryUsage().rss / 1048576);
    figures.mixed_heap_mb = round(process.memoryUsage().heapUsed / 1048576);
  } finally {
    await app.close();
  }
}
