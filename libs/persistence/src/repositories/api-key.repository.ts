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

  findByPrefix(prefix: string): Promise<ApiKeyRecord | null> {
    return this.db.getRepository(ApiKeyEntity).findOneBy({ prefix });
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
