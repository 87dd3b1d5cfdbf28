// The SQL of deferred embedding (ADR 0106): memories committed without a vector (their
// cube's embedder is a neural one, too slow for the write path) are found here, and
// their vectors written back later. Writing a vector is not a new version of the memory
// (the content did not change) but it takes a new change sequence, so every index
// follower picks the vector up; it applies only while the text it was computed from is
// still the memory's text (same version) and no vector has arrived meanwhile.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { encodeEmbedding } from './memory.repository';
import { queryRows } from './sql';

export interface PendingEmbedding {
  id: string;
  version: number;
  changeSeq: number;
  text: string;
}

export interface ComputedEmbedding {
  id: string;
  /** The version whose text was embedded. */
  version: number;
  embedding: Float32Array;
}

@Injectable()
export class PendingEmbeddingRepository {
  constructor(private readonly db: DataSource) {}

  /** Live cubes holding memories without a vector (a sweep after a restart). */
  async cubesWithPending(): Promise<string[]> {
    const rows = await queryRows<{ cube_id: string }>(
      this.db,
      `SELECT DISTINCT m.cube_id FROM memories m JOIN cubes c ON c.id = m.cube_id
        WHERE m.embedding IS NULL AND m.state <> 'deleted' AND c.deleted_at IS NULL`,
    );
    return rows.map((r) => r.cube_id);
  }

  /** The cube's settings (its embedder), or null when the cube is gone. */
  async cubeSettings(cubeId: string): Promise<Record<string, unknown> | null> {
    const rows = await queryRows<{ settings: Record<string, unknown> | null }>(this.db, `SELECT settings FROM cubes WHERE id = $1 AND deleted_at IS NULL`, [cubeId]);
    return rows.length ? (rows[0].settings ?? {}) : null;
  }

  /**
   * Up to `limit` memories of the cube that wait for a vector and changed after `afterSeq`,
   * in change order: a caller that remembers how far it got reads only the cube's recent
   * changes (the (cube_id, change_seq) index), not every row of a large cube.
   */
  async pending(cubeId: string, afterSeq: number, limit: number): Promise<PendingEmbedding[]> {
    const rows = await queryRows<{ id: string; version: number; change_seq: string; text: string }>(
      this.db,
      `SELECT id, version, change_seq, text FROM memories
        WHERE cube_id = $1 AND change_seq > $2 AND embedding IS NULL AND state <> 'deleted' ORDER BY change_seq LIMIT $3`,
      [cubeId, afterSeq, limit],
    );
    return rows.map((r) => ({ id: r.id, version: Number(r.version), changeSeq: Number(r.change_seq), text: r.text }));
  }

  /** How many memories of the cube wait for a vector. */
  async countPending(cubeId: string): Promise<number> {
    const rows = await queryRows<{ n: string }>(this.db, `SELECT count(*) AS n FROM memories WHERE cube_id = $1 AND embedding IS NULL AND state <> 'deleted'`, [cubeId]);
    return Number(rows[0].n);
  }

  /**
   * Stores computed vectors; returns how many applied (a memory edited or given a vector
   * meanwhile is skipped). Takes the cube's write lock, so change sequences stay in commit order.
   */
  async store(cubeId: string, fingerprint: string, vectors: ComputedEmbedding[]): Promise<number> {
    if (vectors.length === 0) return 0;
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, [cubeId]);
      const rows = await queryRows<{ id: string }>(
        tx,
        `UPDATE memories m SET embedding = u.embedding, embedder_fingerprint = $2, change_seq = nextval('engram_change_seq')
           FROM unnest($3::uuid[], $4::int[], $5::bytea[]) AS u(id, version, embedding)
          WHERE m.cube_id = $1 AND m.id = u.id AND m.version = u.version AND m.embedding IS NULL
          RETURNING m.id`,
        [cubeId, fingerprint, vectors.map((v) => v.id), vectors.map((v) => v.version), vectors.map((v) => encodeEmbedding(v.embedding))],
      );
      return rows.length;
    });
  }
}
