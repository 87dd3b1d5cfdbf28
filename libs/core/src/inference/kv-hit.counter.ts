// KV cache hits and misses per cube, for the dashboard and `GET /v1/cubes/{id}/kv-caches`
// (ADR 0506). Counted in this process since it started: the tiers themselves are per process
// (RAM, local disk), so a hit rate is too. A chunk of a cube's cache that chat found in a tier
// is a hit of that tier; one it had to prefill again is a miss.
import { Injectable } from '@nestjs/common';

export type HitTier = 'ram' | 'disk' | 'object';

export interface KvHitCounts {
  hits: Record<HitTier, number>;
  misses: number;
  /** When this process started counting. */
  since: Date;
}

const TIERS: readonly HitTier[] = ['ram', 'disk', 'object'];

@Injectable()
export class KvHitCounter {
  private readonly started = new Date();
  private readonly byCube = new Map<string, { hits: Record<HitTier, number>; misses: number }>();

  /** One use of a cube's cache: the tier each reused chunk came from, and the chunks recomputed. */
  record(cubeId: string, tiers: readonly string[], missedChunks: number): void {
    let counts = this.byCube.get(cubeId);
    if (!counts) this.byCube.set(cubeId, (counts = { hits: { ram: 0, disk: 0, object: 0 }, misses: 0 }));
    for (const tier of tiers) if ((TIERS as readonly string[]).includes(tier)) counts.hits[tier as HitTier]++;
    counts.misses += Math.max(0, missedChunks);
  }

  of(cubeId: string): KvHitCounts {
    const counts = this.byCube.get(cubeId);
    return { hits: { ...(counts?.hits ?? { ram: 0, disk: 0, object: 0 }) }, misses: counts?.misses ?? 0, since: this.started };
  }
}
