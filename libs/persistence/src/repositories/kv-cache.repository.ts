import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { KvCacheEntity } from '../entities';
import { queryRows } from './sql';

export type KvCacheRecord = Readonly<Omit<KvCacheEntity, 'cube' | 'model'>>;

export interface NewKvCache {
  cubeId: string;
  modelId: string;
  fingerprint: string;
  entryId: string;
  text: string;
  tokenCount: number;
  bytes: number;
  sourceMemoryIds: string[];
}

/** The KV caches of cubes (metadata; the blobs are in the KvCacheStore). */
@Injectable()
export class KvCacheRepository {
  constructor(private readonly db: DataSource) {}

  /** Records a cache; building the same cache again (same store entry) returns the existing row. */
  async upsert(cache: NewKvCache): Promise<{ record: KvCacheRecord; created: boolean }> {
    const rows = await queryRows<{ id: string }>(
      this.db,
      `INSERT INTO kv_caches (cube_id, model_id, fingerprint, entry_id, text, token_count, bytes, source_memory_ids)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid[])
       ON CONFLICT (cube_id, entry_id) DO NOTHING
       RETURNING id`,
      [cache.cubeId, cache.modelId, cache.fingerprint, cache.entryId, cache.text, cache.tokenCount, cache.bytes, cache.sourceMemoryIds],
    );
    const record = await this.db.getRepository(KvCacheEntity).findOneByOrFail({ cubeId: cache.cubeId, entryId: cache.entryId });
    return { record, created: rows.length > 0 };
  }

  listByCube(cubeId: string): Promise<KvCacheRecord[]> {
    return this.db.getRepository(KvCacheEntity).find({ where: { cubeId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** The caches of this cube among `ids`, in no particular order (missing ids are simply absent). */
  getMany(cubeId: string, ids: string[]): Promise<KvCacheRecord[]> {
    return this.db.getRepository(KvCacheEntity).findBy({ cubeId, id: In(ids) });
  }

  /** The cube's cache of exactly this memory text for this model, if any. */
  findByText(cubeId: string, modelId: string, text: string): Promise<KvCacheRecord | null> {
    return this.db.getRepository(KvCacheEntity).findOne({ where: { cubeId, modelId, text }, order: { createdAt: 'ASC' } });
  }

  /** Deletes one cache row; returns its store entry id, or null when the cube has no such cache. */
  async delete(cubeId: string, id: string): Promise<{ entryId: string } | null> {
    const rows = await queryRows<{ entry_id: string }>(this.db, 'DELETE FROM kv_caches WHERE cube_id = $1 AND id = $2 RETURNING entry_id', [cubeId, id]);
    return rows.length ? { entryId: rows[0].entry_id } : null;
  }

  /** Provenance: deletes the caches of the cube built from this memory; returns their store entry ids. */
  async deleteBySourceMemory(cubeId: string, memoryId: string, tx: EntityManager | DataSource = this.db): Promise<string[]> {
    const rows = await queryRows<{ entry_id: string }>(
      tx,
      'DELETE FROM kv_caches WHERE cube_id = $1 AND $2::uuid = ANY(source_memory_ids) RETURNING entry_id',
      [cubeId, memoryId],
    );
    return rows.map((r) => r.entry_id);
  }
}
