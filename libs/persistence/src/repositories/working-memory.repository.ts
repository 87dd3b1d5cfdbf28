import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { LockAttempt, withAdvisoryLock } from '../database/advisory-lock';
import { WorkingMemoryEntity, WorkingMemoryRefusalEntity } from '../entities';
import { queryRows } from './sql';
import { MEMORIES_WITH_ACCESS } from './memory-access.sql';

export type WorkingMemoryRecord = Readonly<Omit<WorkingMemoryEntity, 'cube' | 'model'>>;
export type WorkingMemoryRefusal = Readonly<Omit<WorkingMemoryRefusalEntity, 'cube'>>;

export interface WorkingMemoryCandidate {
  id: string;
  text: string;
  pinned: boolean;
  createdAt: Date;
  heat: number;
}

export type NewWorkingMemory = Omit<WorkingMemoryRecord, 'generation' | 'staleSince' | 'lastUsedAt'>;

/**
 * Heat as in libs/core heat.ts, in SQL: (1 + ln(1 + accesses)) × ½^(days since last access / 7)
 * × (0.5 + importance), importance defaulting to 0.5. `$2` is "now"; the query reads
 * MEMORIES_WITH_ACCESS (the access statistics as `a`). In float8 with the exponent capped at
 * 1,000 half-lives (½^1000 ≈ 1e-301, heat.ts rounds it to 0): `extract` is numeric, and ½ to
 * the numeric power of a memory last touched ~20 years ago (an imported history) is too
 * small for float8, which failed the whole query (the overview, the working-memory job).
 */
export const HEAT_SQL = `(1 + ln(1 + greatest(coalesce(a.access_count, 0), 0))) * power(0.5::float8, least(greatest(extract(epoch from ($2::timestamptz - coalesce(a.last_accessed_at, memories.created_at)))::float8, 0) / 86400.0 / 7, 1000)) * (0.5 + coalesce(memories.importance, 0.5))`;

/** The cubes' working-memory rows (the KV blobs are in the KvCacheStore). */
@Injectable()
export class WorkingMemoryRepository {
  constructor(private readonly db: DataSource) {}

  get(cubeId: string): Promise<WorkingMemoryRecord | null> {
    return this.db.getRepository(WorkingMemoryEntity).findOneBy({ cubeId });
  }

  /** Pinned active memories first, then the hottest active ones, at most `limit`. */
  async candidates(cubeId: string, limit: number, now: Date): Promise<WorkingMemoryCandidate[]> {
    const rows = await queryRows<{ id: string; text: string; pinned: boolean; created_at: Date; heat: number }>(
      this.db,
      `SELECT id, text, pinned, created_at, ${HEAT_SQL} AS heat
         FROM ${MEMORIES_WITH_ACCESS}
        WHERE cube_id = $1 AND state = 'active'
        ORDER BY pinned DESC, heat DESC, created_at ASC, id ASC
        LIMIT $3`,
      [cubeId, now, limit],
    );
    return rows.map((r) => ({ id: r.id, text: r.text, pinned: r.pinned, createdAt: r.created_at, heat: Number(r.heat) }));
  }

  /** Whether every memory is still active with this text (a rebuild re-checks what it read). */
  async stillCurrent(cubeId: string, memories: readonly { id: string; text: string }[]): Promise<boolean> {
    if (memories.length === 0) return true;
    const rows = await queryRows<{ n: string }>(
      this.db,
      `SELECT count(*) AS n FROM memories m JOIN unnest($2::uuid[], $3::text[]) AS w(id, text) ON m.id = w.id
        WHERE m.cube_id = $1 AND m.state = 'active' AND m.text = w.text`,
      [cubeId, memories.map((m) => m.id), memories.map((m) => m.text)],
    );
    return Number(rows[0].n) === memories.length;
  }

  /**
   * Runs `fn` holding the cube's rebuild lock: a session advisory lock on a connection of its
   * own (ADR 0002), so two workers never rebuild one cube at once; `acquired: false` (and `fn`
   * not run) when another process holds it.
   */
  withRebuildLock<T>(cubeId: string, fn: () => Promise<T>): Promise<LockAttempt<T>> {
    return withAdvisoryLock(this.db, `engram.working-memory:${cubeId}`, false, fn);
  }

  /**
   * Swaps the cube's working memory to a new cache, only if the row is still the generation
   * the rebuild started from (`expectedGeneration`; null: there was none) and every source
   * memory is still active with the text the cache was built from, and clears an over-quota
   * refusal with it. One transaction: the sources are read FOR SHARE, so an edit or erase of
   * one of them either committed before (the swap is refused) or waits for this commit (and
   * then drops or marks stale the row it finds, ADR 0402). Returns the store entry it
   * replaced (to delete after the commit; null for a first build), or null when the row or a
   * source moved on.
   */
  async swap(row: NewWorkingMemory, expectedGeneration: number | null, sources: readonly { id: string; text: string }[]): Promise<{ record: WorkingMemoryRecord; previousEntryId: string | null } | null> {
    const values = [row.cubeId, row.modelId, row.fingerprint, row.entryId, row.text, row.tokenCount, row.bytes, row.sourceMemoryIds, row.builtAt, row.buildMs, row.reusedTokens, row.prefilledTokens];
    const clear = `refusal AS (DELETE FROM working_memory_refusals WHERE cube_id = $1)`;
    const previous = await this.db.transaction(async (tx) => {
      if (sources.length > 0) {
        const current = await queryRows<{ id: string }>(
          tx,
          `SELECT m.id FROM memories m JOIN unnest($2::uuid[], $3::text[]) AS w(id, text) ON m.id = w.id
            WHERE m.cube_id = $1 AND m.state = 'active' AND m.text = w.text
            FOR SHARE OF m`,
          [row.cubeId, sources.map((m) => m.id), sources.map((m) => m.text)],
        );
        if (current.length !== sources.length) return undefined;
      }
      const rows =
        expectedGeneration === null
          ? await queryRows<{ previous: string | null }>(
              tx,
              `WITH ${clear}
               INSERT INTO working_memories (cube_id, model_id, fingerprint, entry_id, text, token_count, bytes, source_memory_ids, built_at, build_ms, reused_tokens, prefilled_tokens)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid[], $9, $10, $11, $12)
               ON CONFLICT (cube_id) DO NOTHING
               RETURNING NULL::text AS previous`,
              values,
            )
          : await queryRows<{ previous: string | null }>(
              tx,
              `WITH old AS (SELECT entry_id FROM working_memories WHERE cube_id = $1 AND generation = $13 FOR UPDATE), ${clear}
               UPDATE working_memories SET model_id = $2, fingerprint = $3, entry_id = $4, text = $5, token_count = $6, bytes = $7, source_memory_ids = $8::uuid[],
                 built_at = $9, build_ms = $10, reused_tokens = $11, prefilled_tokens = $12, generation = generation + 1, stale_since = NULL
               WHERE cube_id = $1 AND generation = $13
               RETURNING (SELECT entry_id FROM old) AS previous`,
              [...values, expectedGeneration],
            );
      if (rows.length === 0) return undefined;
      return rows[0].previous ?? null;
    });
    if (previous === undefined) return null;
    const record = await this.db.getRepository(WorkingMemoryEntity).findOneByOrFail({ cubeId: row.cubeId });
    return { record, previousEntryId: previous === row.entryId ? null : previous };
  }

  /**
   * The rebuild would take the tenant past its KV bytes quota: in one statement, records the
   * refusal and deletes the row (chat stops using the old set); returns its store entry id.
   */
  async refuse(cubeId: string, refusal: Omit<WorkingMemoryRefusal, 'cubeId'>): Promise<string | null> {
    const rows = await queryRows<{ entry_id: string | null }>(
      this.db,
      `WITH refused AS (
         INSERT INTO working_memory_refusals (cube_id, needed_bytes, used_bytes, limit_bytes, refused_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (cube_id) DO UPDATE SET needed_bytes = EXCLUDED.needed_bytes, used_bytes = EXCLUDED.used_bytes, limit_bytes = EXCLUDED.limit_bytes,
           refused_at = EXCLUDED.refused_at),
       gone AS (DELETE FROM working_memories WHERE cube_id = $1 RETURNING entry_id)
       SELECT (SELECT entry_id FROM gone) AS entry_id`,
      [cubeId, refusal.neededBytes, refusal.usedBytes, refusal.limitBytes, refusal.refusedAt],
    );
    return rows[0]?.entry_id ?? null;
  }

  /** The cube's over-quota refusal, if its last rebuild was refused. */
  refusal(cubeId: string): Promise<WorkingMemoryRefusal | null> {
    return this.db.getRepository(WorkingMemoryRefusalEntity).findOneBy({ cubeId });
  }

  /** The checked set did not change: clears a stale mark (e.g. an edit back to the same text). */
  async markFresh(cubeId: string, entryId: string): Promise<void> {
    await this.db.query('UPDATE working_memories SET stale_since = NULL WHERE cube_id = $1 AND entry_id = $2', [cubeId, entryId]);
  }

  /** Marks the cube's working memory stale when it holds any of these memories; true when it did. */
  /** `tx`: inside the write that changed them, so the mark commits (or not) with the change (ADR 0530). */
  async markStale(cubeId: string, memoryIds: readonly string[], now: Date, tx: EntityManager | DataSource = this.db): Promise<boolean> {
    if (memoryIds.length === 0) return false;
    const rows = await queryRows<{ cube_id: string }>(
      tx,
      `UPDATE working_memories SET stale_since = coalesce(stale_since, $3)
        WHERE cube_id = $1 AND source_memory_ids && $2::uuid[] RETURNING cube_id`,
      [cubeId, memoryIds, now],
    );
    return rows.length > 0;
  }

  /** A chat used it; written at most once a minute per cube. */
  async touch(cubeId: string, now: Date): Promise<void> {
    await this.db.query(`UPDATE working_memories SET last_used_at = $2 WHERE cube_id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '60 seconds')`, [cubeId, now]);
  }

  /** Deletes the row and any over-quota refusal; returns its store entry id. */
  async delete(cubeId: string, tx: EntityManager | DataSource = this.db): Promise<string | null> {
    const rows = await queryRows<{ entry_id: string }>(
      tx,
      'WITH refusal AS (DELETE FROM working_memory_refusals WHERE cube_id = $1) DELETE FROM working_memories WHERE cube_id = $1 RETURNING entry_id',
      [cubeId],
    );
    return rows[0]?.entry_id ?? null;
  }

  /**
   * Deletes the cube's working memory when it was built from `memoryId` (an erase), inside
   * the erasing transaction (ADR 0530); its manifest id, for the blob to go after the commit.
   */
  async deleteHolding(tx: EntityManager, cubeId: string, memoryId: string): Promise<string | null> {
    const rows = await queryRows<{ entry_id: string }>(
      tx,
      `WITH gone AS (DELETE FROM working_memories WHERE cube_id = $1 AND $2::uuid = ANY(source_memory_ids) RETURNING cube_id, entry_id),
            refusal AS (DELETE FROM working_memory_refusals WHERE cube_id IN (SELECT cube_id FROM gone))
       SELECT entry_id FROM gone`,
      [cubeId, memoryId],
    );
    return rows[0]?.entry_id ?? null;
  }

  /** Rows unused (by chat, or since their build when never used) since `before`, oldest first. */
  async idleSince(before: Date, limit: number): Promise<WorkingMemoryRecord[]> {
    const rows = await queryRows<{ cube_id: string }>(
      this.db,
      'SELECT cube_id FROM working_memories WHERE coalesce(last_used_at, built_at) < $1 ORDER BY coalesce(last_used_at, built_at) LIMIT $2',
      [before, limit],
    );
    if (rows.length === 0) return [];
    return this.db.getRepository(WorkingMemoryEntity).find({ where: rows.map((r) => ({ cubeId: r.cube_id })) });
  }

  /** Cube ids with a working memory, by page (the periodic re-check of heat and TTL changes). */
  async cubeIds(after: string | null, limit: number): Promise<string[]> {
    const rows = await queryRows<{ cube_id: string }>(
      this.db,
      'SELECT cube_id FROM working_memories WHERE $1::uuid IS NULL OR cube_id > $1::uuid ORDER BY cube_id LIMIT $2',
      [after, limit],
    );
    return rows.map((r) => r.cube_id);
  }

  /** Instance-wide figures for /metrics and the operator's scheduler view. */
  async stats(): Promise<{ caches: number; stale: number; overQuota: number; tokens: number; bytes: number; builtLastHour: number; reusedTokensLastHour: number; prefilledTokensLastHour: number }> {
    const rows = await queryRows<Record<string, string | null>>(
      this.db,
      `SELECT count(*) AS caches, count(*) FILTER (WHERE stale_since IS NOT NULL) AS stale, (SELECT count(*) FROM working_memory_refusals) AS over_quota, coalesce(sum(token_count), 0) AS tokens, coalesce(sum(bytes), 0) AS bytes,
              count(*) FILTER (WHERE built_at > now() - interval '1 hour') AS built,
              coalesce(sum(reused_tokens) FILTER (WHERE built_at > now() - interval '1 hour'), 0) AS reused,
              coalesce(sum(prefilled_tokens) FILTER (WHERE built_at > now() - interval '1 hour'), 0) AS prefilled
         FROM working_memories`,
    );
    const r = rows[0];
    return {
      caches: Number(r.caches),
      stale: Number(r.stale),
      overQuota: Number(r.over_quota),
      tokens: Number(r.tokens),
      bytes: Number(r.bytes),
      builtLastHour: Number(r.built),
      reusedTokensLastHour: Number(r.reused),
      prefilledTokensLastHour: Number(r.prefilled),
    };
  }
}
