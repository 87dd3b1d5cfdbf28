// The reads behind GET /v1/cubes/{id}/overview, in one place: each is one indexed query on
// the cube (memories by cube, runs by cube, jobs by state), never a scan of another cube.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from './sql';
import { MEMORIES_WITH_ACCESS } from './memory-access.sql';
import { HEAT_SQL } from './working-memory.repository';

/** Upper edges of the heat histogram's buckets (a fresh, unread memory of default importance has heat 1). */
export const HEAT_BUCKET_EDGES = [0.25, 0.5, 1, 2, 4] as const;

export interface CubeMemoryCounts {
  rows: { state: string; kind: string; count: number; pinned: number; textBytes: number }[];
}

export interface CubeJobRow {
  id: string;
  name: string;
  state: string;
  attempts: number;
  lastError: string | null;
  runAfter: Date;
  finishedAt: Date | null;
}

@Injectable()
export class CubeOverviewRepository {
  constructor(private readonly db: DataSource) {}

  async memoryCounts(cubeId: string): Promise<CubeMemoryCounts> {
    const rows = await queryRows<{ state: string; kind: string; n: string; pinned: string; bytes: string }>(
      this.db,
      `SELECT state, kind, count(*) AS n, count(*) FILTER (WHERE pinned) AS pinned, coalesce(sum(octet_length(text)), 0) AS bytes
         FROM memories WHERE cube_id = $1 GROUP BY state, kind ORDER BY state, kind`,
      [cubeId],
    );
    return { rows: rows.map((r) => ({ state: r.state, kind: r.kind, count: Number(r.n), pinned: Number(r.pinned), textBytes: Number(r.bytes) })) };
  }

  /** Active memories per heat bucket (bucket i: below HEAT_BUCKET_EDGES[i]; the last: at least the last edge). */
  async heatHistogram(cubeId: string, now: Date): Promise<number[]> {
    const rows = await queryRows<{ bucket: number; n: string }>(
      this.db,
      `SELECT width_bucket(h, $3::float8[]) AS bucket, count(*) AS n
         FROM (SELECT ${HEAT_SQL} AS h FROM ${MEMORIES_WITH_ACCESS} WHERE cube_id = $1 AND state = 'active') heat
        GROUP BY 1`,
      [cubeId, now, [...HEAT_BUCKET_EDGES]],
    );
    const counts = new Array<number>(HEAT_BUCKET_EDGES.length + 1).fill(0);
    for (const r of rows) counts[r.bucket] = Number(r.n);
    return counts;
  }

  /** Written and stale blocks per level of each bank of the cube. */
  async bankBlocks(cubeId: string): Promise<{ bankId: string; level: number; written: number; stale: number }[]> {
    const rows = await queryRows<{ bank_id: string; level: number; written: string; stale: string }>(
      this.db,
      `SELECT b.bank_id, b.level, count(*) AS written, count(*) FILTER (WHERE b.stale) AS stale
         FROM bank_blocks b JOIN banks k ON k.id = b.bank_id
        WHERE k.cube_id = $1 GROUP BY b.bank_id, b.level ORDER BY b.bank_id, b.level`,
      [cubeId],
    );
    return rows.map((r) => ({ bankId: r.bank_id, level: r.level, written: Number(r.written), stale: Number(r.stale) }));
  }

  /** The cube's last lifecycle runs, newest first. */
  async lastRuns(cubeId: string, limit: number): Promise<{ id: string; status: string; createdAt: Date; finishedAt: Date | null; actions: number; error: string | null }[]> {
    const rows = await queryRows<{ id: string; status: string; created_at: Date; finished_at: Date | null; actions: number; error: string | null }>(
      this.db,
      `SELECT id, status, created_at, finished_at, jsonb_array_length(actions) AS actions, error
         FROM lifecycle_runs WHERE cube_id = $1 ORDER BY created_at DESC LIMIT $2`,
      [cubeId, limit],
    );
    return rows.map((r) => ({ id: r.id, status: r.status, createdAt: r.created_at, finishedAt: r.finished_at, actions: Number(r.actions), error: r.error }));
  }

  /** Where the lifecycle tick stands: the cube's last change and the last one a tick decided on. */
  async tickCursor(cubeId: string): Promise<{ changeSeq: number; processedSeq: number; lastEventAt: Date | null; sweptAt: Date | null }> {
    const rows = await queryRows<{ change_seq: string | null; processed_seq: string | null; last_event: Date | null; swept_at: Date | null }>(
      this.db,
      `SELECT (SELECT max(change_seq) FROM memories WHERE cube_id = $1) AS change_seq,
              s.processed_seq, s.swept_at,
              (SELECT at FROM lifecycle_events WHERE cube_id = $1 ORDER BY id DESC LIMIT 1) AS last_event
         FROM (SELECT 1) one LEFT JOIN cube_lifecycle_state s ON s.cube_id = $1`,
      [cubeId],
    );
    const r = rows[0];
    return { changeSeq: Number(r.change_seq ?? 0), processedSeq: Number(r.processed_seq ?? 0), lastEventAt: r.last_event, sweptAt: r.swept_at };
  }

  /** Jobs of the cube waiting, running or failed (the claim index narrows by state; done jobs are not read). */
  async openJobs(cubeId: string, limit: number): Promise<CubeJobRow[]> {
    const rows = await queryRows<{ id: string; name: string; state: string; attempts: number; last_error: string | null; run_after: Date; finished_at: Date | null }>(
      this.db,
      `SELECT id, name, state, attempts, last_error, run_after, finished_at
         FROM jobs WHERE state IN ('queued', 'running', 'failed') AND payload->>'cubeId' = $1
        ORDER BY coalesce(finished_at, run_after) DESC LIMIT $2`,
      [cubeId, limit],
    );
    return rows.map((r) => ({ id: r.id, name: r.name, state: r.state, attempts: r.attempts, lastError: r.last_error, runAfter: r.run_after, finishedAt: r.finished_at }));
  }
}
