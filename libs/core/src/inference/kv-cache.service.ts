import { Injectable } from '@nestjs/common';
import { KvCacheRepository, MemoryRecord, MemoryRepository, ModelRepository } from '@engram/persistence';
import { AccessService } from '../auth/access.service';
import { Permission } from '../auth/permission';
import { CreateKvCacheDto, KvCacheListDto, KvCacheResponseDto, mapKvCache, mapKvHitRates } from '../dtos/kv-cache.dto';
import { EngramError } from '../errors/engram.error';
import { AuditService } from '../services/audit.service';
import { RequestContext } from '../services/request-context';
import { ActivationStore } from './activation.store';
import { ModelRuntime } from './model.runtime';
import { ModelService } from './model.service';
import { KvHitCounter } from './kv-hit.counter';
import { QuotaService } from '../quotas/quota.service';

/** Joins the texts of the source memories into the one memory text a cache holds. */
export const MEMORY_TEXT_SEPARATOR = '\n\n';

/**
 * KV caches of a cube (activation memory). Built inline: the prefill of a memory text is
 * one forward pass, well under a second for the sizes a request body allows.
 */
@Injectable()
export class KvCacheService {
  constructor(
    private readonly access: AccessService,
    private readonly kvCaches: KvCacheRepository,
    private readonly memories: MemoryRepository,
    private readonly models: ModelService,
    private readonly modelRows: ModelRepository,
    private readonly runtime: ModelRuntime,
    private readonly activation: ActivationStore,
    private readonly audit: AuditService,
    private readonly quotas: QuotaService,
    private readonly kvHits: KvHitCounter,
  ) {}

  async create(ctx: RequestContext, cubeId: string, dto: CreateKvCacheDto): Promise<KvCacheResponseDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.KvCacheWrite, cubeId);
    if ((dto.memoryIds === undefined) === (dto.text === undefined)) {
      throw EngramError.validation([{ field: 'memoryIds', problems: ['give exactly one of memoryIds and text'] }]);
    }
    await this.quotas.requireKvBytes(cube.tenantId, 0); // the size is known after the prefill: a tenant at its limit builds no more
    const model = await this.models.resolve(dto.model);
    const sources = dto.memoryIds ? await this.activeMemories(cubeId, dto.memoryIds) : [];
    const text = dto.text ?? sources.map((m) => m.text).join(MEMORY_TEXT_SEPARATOR);
    const lm = await this.runtime.load(model);
    const built = await this.activation.build(lm, { text, sources: sources.map((m) => ({ memoryId: m.id, text: m.text })), owner: cubeId, partition: cube.tenantId });
    const { record, created } = await this.kvCaches.upsert({
      cubeId,
      modelId: model.id,
      fingerprint: model.fingerprint,
      entryId: built.entry.id,
      text,
      tokenCount: built.entry.tokens.length,
      bytes: built.entry.bytes,
      sourceMemoryIds: sources.map((m) => m.id),
    });
    // A source changed while the cache was being built: its invalidation may have run
    // before this row existed, so check again and drop the cache ourselves.
    if (sources.length > 0 && !(await this.stillCurrent(cubeId, sources))) {
      await this.kvCaches.delete(cubeId, record.id);
      await this.activation.deleteEntries([record.entryId]);
      throw EngramError.conflict('a source memory changed while the cache was being built; build it again');
    }
    if (created) {
      await this.audit.record(ctx.auth, ctx.requestId, {
        action: 'kv_cache.create',
        targetType: 'kv_cache',
        targetId: record.id,
        tenantId: cube.tenantId,
        details: { cubeId, model: model.name, tokens: record.tokenCount, sourceMemoryIds: record.sourceMemoryIds },
      });
    }
    return mapKvCache(record, model.name, await this.activation.tierOf(record.entryId));
  }

  async list(ctx: RequestContext, cubeId: string): Promise<KvCacheListDto> {
    await this.access.requireCube(ctx.auth, Permission.KvCacheRead, cubeId);
    const rows = await this.kvCaches.listByCube(cubeId);
    const names = new Map((await this.modelRows.list()).map((m) => [m.id, m.name]));
    const items: KvCacheResponseDto[] = [];
    for (const row of rows) items.push(mapKvCache(row, names.get(row.modelId) ?? row.modelId, await this.activation.tierOf(row.entryId)));
    return { items, hitRates: mapKvHitRates(this.kvHits.of(cubeId)) };
  }

  async delete(ctx: RequestContext, cubeId: string, cacheId: string): Promise<void> {
    const cube = await this.access.requireCube(ctx.auth, Permission.KvCacheWrite, cubeId);
    const deleted = await this.kvCaches.delete(cubeId, cacheId);
    if (!deleted) throw EngramError.notFound('KV cache');
    await this.activation.deleteEntries([deleted.entryId]);
    await this.audit.record(ctx.auth, ctx.requestId, { action: 'kv_cache.delete', targetType: 'kv_cache', targetId: cacheId, tenantId: cube.tenantId, details: { cubeId } });
  }

  /** The memories, in the order given; each must be an active memory of this cube. */
  private async activeMemories(cubeId: string, ids: string[]): Promise<MemoryRecord[]> {
    if (new Set(ids).size !== ids.length) throw EngramError.validation([{ field: 'memoryIds', problems: ['memoryIds must not repeat an id'] }]);
    const found: MemoryRecord[] = [];
    for (const id of ids) {
      const memory = await this.memories.get(cubeId, id);
      if (!memory || memory.state === 'deleted') throw EngramError.notFound(`memory ${id}`);
      if (memory.state !== 'active') throw EngramError.conflict(`memory ${id} is ${memory.state}; only active memories can be cached`);
      found.push(memory);
    }
    return found;
  }

  private async stillCurrent(cubeId: string, sources: MemoryRecord[]): Promise<boolean> {
    for (const source of sources) {
      const now = await this.memories.get(cubeId, source.id);
      if (!now || now.state !== 'active' || now.text !== source.text) return false;
    }
    return true;
  }
}
