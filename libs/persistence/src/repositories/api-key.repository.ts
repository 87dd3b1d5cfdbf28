import { Injectable } from '@nestjs/common';
import { DataSource, IsNull } from 'typeorm';
import { queryRows } from './sql';
import { ApiKeyEntity } from '../entities';
import { ApiKeyRecord } from './records';

export interface NewApiKey {
  tenantId: string;
  name: string | null;
  prefix: string;
  keyHash: string;
  scopes: string[];
  cubeIds: string[] | null;
  expiresAt: Date | null;
  rateLimitPerMinute: number | null;
}

@Injectable()
export class ApiKeyRepository {
  constructor(private readonly db: DataSource) {}

  create(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.db.getRepository(ApiKeyEntity).save({ ...key, revokedAt: null, lastUsedAt: null });
  }

  listByTenant(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.db.getRepository(ApiKeyEntity).find({ where: { tenantId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** The key with this public prefix, revoked or not (plain SQL: it runs on every request). */
  async findByPrefix(prefix: string): Promise<ApiKeyRecord | null> {
    const rows = await queryRows<Record<string, unknown>>(this.db,
      `SELECT id, tenant_id, name, prefix, key_hash, scopes, cube_ids, expires_at, revoked_at, rate_limit_per_minute, last_used_at, created_at
         FROM api_keys WHERE prefix = $1`,
      [prefix],
    );
    if (!rows.length) return null;
    const r = rows[0];
    return {
      id: r.id as string,
      tenantId: r.tenant_id as string,
      name: (r.name as string | null) ?? null,
      prefix: r.prefix as string,
      keyHash: r.key_hash as string,
      scopes: r.scopes as string[],
      cubeIds: (r.cube_ids as string[] | null) ?? null,
      expiresAt: (r.expires_at as Date | null) ?? null,
      revokedAt: (r.revoked_at as Date | null) ?? null,
      rateLimitPerMinute: (r.rate_limit_per_minute as number | null) ?? null,
      lastUsedAt: (r.last_used_at as Date | null) ?? null,
      createdAt: r.created_at as Date,
    };
  }

  /** Revokes a live key of the tenant; false when there is no such live key. */
  async revoke(tenantId: string, keyId: string): Promise<boolean> {
    const result = await this.db
      .getRepository(ApiKeyEntity)
      .update({ id: keyId, tenantId, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    return (result.affected ?? 0) > 0;
  }

  get(tenantId: string, keyId: string): Promise<ApiKeyRecord | null> {
    return this.db.getRepository(ApiKeyEntity).findOneBy({ id: keyId, tenantId });
  }

  /** Best effort, at most once a minute per key, so authentication stays one read on the hot path. */
  async touch(keyId: string): Promise<void> {
    await queryRows(this.db,
      `UPDATE api_keys SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
      [keyId],
    );
  }
}
