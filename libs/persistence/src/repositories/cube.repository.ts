import { Injectable } from '@nestjs/common';
import { DataSource, IsNull } from 'typeorm';
import { CubeEntity } from '../entities';
import { isUniqueViolation } from './tenant.repository';
import { CubeRecord, decodeMicrosIdCursor, encodeCursor, Page, timestampFromMicrosSql, timestampMicrosSql } from './records';
import { queryPrepared, queryRows } from './sql';

const CUBE_COLUMNS = 'c.id, c.tenant_id, c.name, c.description, c.settings, c.created_at, c.updated_at, c.deleted_at';

type CubeRow = Record<string, unknown>;

function toCube(r: CubeRow): CubeRecord {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    name: r.name as string,
    description: (r.description as string | null) ?? null,
    settings: (r.settings as Record<string, unknown> | null) ?? {},
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    deletedAt: (r.deleted_at as Date | null) ?? null,
  };
}

export interface NewCube {
  tenantId: string;
  name: string;
  description: string | null;
  settings: Record<string, unknown>;
}

export interface CubeChanges {
  name?: string;
  description?: string | null;
  settings?: Record<string, unknown>;
}

export type CubeWriteResult = { ok: true; cube: CubeRecord } | { ok: false; reason: 'name_taken' | 'not_found' };

@Injectable()
export class CubeRepository {
  constructor(private readonly db: DataSource) {}

  async create(cube: NewCube): Promise<CubeWriteResult> {
    try {
      const saved = await this.db.getRepository(CubeEntity).save({ ...cube, deletedAt: null });
      return { ok: true, cube: saved };
    } catch (error) {
      if (isUniqueViolation(error)) return { ok: false, reason: 'name_taken' };
      throw error;
    }
  }

  /** A live (not soft-deleted) cube of the tenant, or null. */
  async getLive(tenantId: string, id: string): Promise<CubeRecord | null> {
    // Plain SQL: this read guards every request of the hot paths.
    const rows = await queryRows<CubeRow>(this.db, `SELECT ${CUBE_COLUMNS} FROM cubes c WHERE c.id = $1 AND c.tenant_id = $2 AND c.deleted_at IS NULL`, [id, tenantId]);
    return rows.length ? toCube(rows[0]) : null;
  }

  /** The live cube of the tenant with this exact name (names are unique among live cubes), or null. */
  async getLiveByName(tenantId: string, name: string): Promise<CubeRecord | null> {
    const rows = await queryRows<CubeRow>(this.db, `SELECT ${CUBE_COLUMNS} FROM cubes c WHERE c.tenant_id = $1 AND c.name = $2 AND c.deleted_at IS NULL`, [tenantId, name]);
    return rows.length ? toCube(rows[0]) : null;
  }

  /**
   * A live cube of the tenant with the highest change sequence of its memories (0 for
   * none), in one round trip: search checks access and index freshness together.
   */
  async getLiveWithChangeSeq(tenantId: string, id: string): Promise<{ cube: CubeRecord; changeSeq: number } | null> {
    const rows = await queryPrepared<CubeRow>(this.db,
      `SELECT ${CUBE_COLUMNS}, (SELECT max(m.change_seq) FROM memories m WHERE m.cube_id = c.id) AS change_seq
         FROM cubes c WHERE c.id = $1 AND c.tenant_id = $2 AND c.deleted_at IS NULL`,
      [id, tenantId],
    );
    return rows.length ? { cube: toCube(rows[0]), changeSeq: Number(rows[0].change_seq ?? 0) } : null;
  }

  /** How many memories of the cube are in each (kind, state), soft-deleted ones included. */
  async memoryCounts(cubeId: string): Promise<{ kind: string; state: string; count: number }[]> {
    const rows = await queryRows<CubeRow>(this.db, 'SELECT kind, state, count(*)::int AS n FROM memories WHERE cube_id = $1 GROUP BY kind, state ORDER BY kind, state', [cubeId]);
    return rows.map((r) => ({ kind: r.kind as string, state: r.state as string, count: Number(r.n) }));
  }

  /** Any cube by id, deleted or not: for the purge job. */
  getAny(id: string): Promise<CubeRecord | null> {
    return this.db.getRepository(CubeEntity).findOneBy({ id });
  }

  /**
   * Live cubes of the tenant, oldest first, keyset-paginated on (created_at, id). The
   * cursor keeps created_at in microseconds (records.ts: timestampMicrosSql).
   */
  async listLive(tenantId: string, limit: number, cursor: string | null, onlyIds: string[] | null): Promise<Page<CubeRecord> | null> {
    const query = this.db
      .getRepository(CubeEntity)
      .createQueryBuilder('c')
      .addSelect(timestampMicrosSql('c.created_at'), 'c_micros')
      .where('c.tenant_id = :tenantId AND c.deleted_at IS NULL', { tenantId })
      .orderBy('c.created_at', 'ASC')
      .addOrderBy('c.id', 'ASC')
      .limit(limit + 1);
    if (onlyIds !== null) query.andWhere('c.id = ANY(:onlyIds)', { onlyIds });
    if (cursor !== null) {
      const after = decodeMicrosIdCursor(cursor);
      if (after === null) return null;
      query.andWhere(`(c.created_at, c.id) > (${timestampFromMicrosSql(':micros')}, :id::uuid)`, after);
    }
    const { entities, raw } = await query.getRawAndEntities<{ c_micros: string }>();
    const items = entities.slice(0, limit);
    const lastRaw = raw[items.length - 1];
    const last = items[items.length - 1];
    const nextCursor = entities.length > limit && last && lastRaw ? encodeCursor([lastRaw.c_micros, last.id]) : null;
    return { items, nextCursor };
  }

  async update(tenantId: string, id: string, changes: CubeChanges): Promise<CubeWriteResult> {
    try {
      const result = await this.db
        .getRepository(CubeEntity)
        .update({ id, tenantId, deletedAt: IsNull() }, changes as Partial<Pick<CubeEntity, 'name' | 'description'>>);
      if (!result.affected) return { ok: false, reason: 'not_found' };
    } catch (error) {
      if (isUniqueViolation(error)) return { ok: false, reason: 'name_taken' };
      throw error;
    }
    const cube = await this.getLive(tenantId, id);
    return cube ? { ok: true, cube } : { ok: false, reason: 'not_found' };
  }

  /** Marks a live cube deleted; false when there is no such live cube. */
  async softDelete(tenantId: string, id: string): Promise<boolean> {
    const result = await this.db
      .getRepository(CubeEntity)
      .update({ id, tenantId, deletedAt: IsNull() }, { deletedAt: () => 'now()' });
    return (result.affected ?? 0) > 0;
  }

  /** Removes a soft-deleted cube row; rows it owns go with it through ON DELETE CASCADE. */
  async hardDeleteSoftDeleted(id: string): Promise<boolean> {
    const result = await this.db
      .createQueryBuilder()
      .delete()
      .from(CubeEntity)
      .where('id = :id AND deleted_at IS NOT NULL', { id })
      .execute();
    return (result.affected ?? 0) > 0;
  }
}
