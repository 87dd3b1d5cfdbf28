import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from './sql';

export interface WindowCount {
  count: number;
  /** Milliseconds until the current one-minute window ends. */
  resetsInMs: number;
}

/**
 * What quotas and rate limits count, in PostgreSQL so every replica sees the same numbers:
 * per-minute windows (requests of a key, inference tokens of a tenant) and a tenant's
 * current usage (cubes, memories, KV bytes with working memories, jobs in flight).
 */
@Injectable()
export class UsageRepository {
  constructor(private readonly db: DataSource) {}

  /** Adds `amount` to the subject's current one-minute window; returns the new count. */
  async hit(subject: string, amount = 1): Promise<WindowCount> {
    const rows = await queryRows<{ count: number; resets_in_ms: number }>(this.db,
      `INSERT INTO rate_limit_windows (subject, window_start, count) VALUES ($1, date_trunc('minute', now()), $2)
       ON CONFLICT (subject, window_start) DO UPDATE SET count = rate_limit_windows.count + EXCLUDED.count
       RETURNING count, (extract(epoch from (window_start + interval '1 minute' - now())) * 1000)::int AS resets_in_ms`,
      [subject, amount],
    );
    return { count: rows[0].count, resetsInMs: Math.max(0, rows[0].resets_in_ms) };
  }

  /** The subject's count in the current window (0 when none). */
  async current(subject: string): Promise<WindowCount> {
    const rows = await queryRows<{ count: number; resets_in_ms: number }>(this.db,
      `SELECT count, (extract(epoch from (window_start + interval '1 minute' - now())) * 1000)::int AS resets_in_ms
         FROM rate_limit_windows WHERE subject = $1 AND window_start = date_trunc('minute', now())`,
      [subject],
    );
    return rows.length ? { count: rows[0].count, resetsInMs: Math.max(0, rows[0].resets_in_ms) } : { count: 0, resetsInMs: 60_000 };
  }

  /** Windows that ended more than a minute ago; returns how many went. */
  async deleteOldWindows(): Promise<number> {
    const rows = await queryRows(this.db, `DELETE FROM rate_limit_windows WHERE window_start < now() - interval '2 minutes' RETURNING subject`);
    return rows.length;
  }

  async liveCubes(tenantId: string): Promise<number> {
    const rows = await queryRows<{ n: number }>(this.db, `SELECT count(*)::int AS n FROM cubes WHERE tenant_id = $1 AND deleted_at IS NULL`, [tenantId]);
    return rows[0].n;
  }

  /** Memories of live cubes that still hold text (every state but deleted). */
  async storedMemories(tenantId: string): Promise<number> {
    const rows = await queryRows<{ n: number }>(this.db,
      `SELECT count(*)::int AS n FROM memories m JOIN cubes c ON c.id = m.cube_id
        WHERE c.tenant_id = $1 AND c.deleted_at IS NULL AND m.state <> 'deleted'`,
      [tenantId],
    );
    return rows[0].n;
  }

  /** KV bytes of the tenant's live cubes: the caches its clients built and its cubes' working memories (ADR 0402). */
  async kvBytes(tenantId: string): Promise<number> {
    const rows = await queryRows<{ n: string | null }>(this.db,
      `SELECT (coalesce((SELECT sum(k.bytes) FROM kv_caches k JOIN cubes c ON c.id = k.cube_id WHERE c.tenant_id = $1 AND c.deleted_at IS NULL), 0)
             + coalesce((SELECT sum(w.bytes) FROM working_memories w JOIN cubes c ON c.id = w.cube_id WHERE c.tenant_id = $1 AND c.deleted_at IS NULL), 0))::text AS n`,
      [tenantId],
    );
    return Number(rows[0].n ?? 0);
  }

  /** The geometry and model shape of every bank of the tenant's live cubes (their file sizes follow from it). */
  async bankShapes(tenantId: string): Promise<{ levels: number; branching: number; ranks: number[]; config: Record<string, unknown> }[]> {
    return queryRows(this.db,
      `SELECT b.levels, b.branching, b.ranks, m.config FROM banks b JOIN cubes c ON c.id = b.cube_id JOIN models m ON m.id = b.model_id
        WHERE c.tenant_id = $1 AND c.deleted_at IS NULL`,
      [tenantId],
    );
  }

  /** Jobs of the tenant queued or running (purges excluded: offboarding must never be refused). */
  async jobsInFlight(tenantId: string): Promise<number> {
    const rows = await queryRows<{ n: number }>(this.db,
      `SELECT count(*)::int AS n FROM jobs WHERE tenant_id = $1 AND state IN ('queued', 'running') AND name <> 'cube.purge'`,
      [tenantId],
    );
    return rows[0].n;
  }
}
