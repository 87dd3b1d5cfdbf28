import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { TenantEntity } from '../entities';
import { TenantRecord } from './records';
import { queryRows } from './sql';

@Injectable()
export class TenantRepository {
  constructor(private readonly db: DataSource) {}

  /** Returns null when the name is taken. */
  async create(name: string): Promise<TenantRecord | null> {
    try {
      return await this.db.getRepository(TenantEntity).save({ name });
    } catch (error) {
      if (isUniqueViolation(error)) return null;
      throw error;
    }
  }

  list(): Promise<TenantRecord[]> {
    return this.db.getRepository(TenantEntity).find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  get(id: string): Promise<TenantRecord | null> {
    return this.db.getRepository(TenantEntity).findOneBy({ id });
  }

  /** Replaces the operator's quota overrides of a live tenant; false when there is no such tenant. */
  async setQuotas(id: string, quotas: Record<string, number>): Promise<boolean> {
    const rows = await queryRows(this.db, `UPDATE tenants SET quotas = $2::jsonb WHERE id = $1 AND deleted_at IS NULL RETURNING id`, [id, JSON.stringify(quotas)]);
    return rows.length > 0;
  }

  /** A tenant that is not offboarded. */
  async getLive(id: string): Promise<TenantRecord | null> {
    const tenant = await this.get(id);
    return tenant && tenant.deletedAt === null ? tenant : null;
  }

  /**
   * Offboards a live tenant in one transaction: the row becomes a tombstone, every key is
   * revoked, every live cube soft-deleted (the caller queues their purges) and its
   * lifecycle defaults deleted. Null when
   * there is no such live tenant.
   */
  async offboard(id: string): Promise<{ keysRevoked: number; cubeIds: string[] } | null> {
    return this.db.transaction(async (tx) => {
      const marked = await queryRows(tx, `UPDATE tenants SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id`, [id]);
      if (!marked.length) return null;
      const keys = await queryRows(tx, `UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND revoked_at IS NULL RETURNING id`, [id]);
      const cubes = await queryRows<{ id: string }>(tx, `UPDATE cubes SET deleted_at = now() WHERE tenant_id = $1 AND deleted_at IS NULL RETURNING id`, [id]);
      // The tenant's lifecycle defaults go with it (each cube's own policy goes with its purge).
      await tx.query(`DELETE FROM lifecycle_policies WHERE scope = 'tenant:' || $1`, [id]);
      return { keysRevoked: keys.length, cubeIds: cubes.map((c) => c.id) };
    });
  }
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof QueryFailedError && (error as unknown as { code?: string }).code === '23505';
}
