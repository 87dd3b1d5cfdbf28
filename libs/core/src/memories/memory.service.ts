import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { CubeRecord, IdempotentResult, MemoryActor, MemoryChanges, MemoryRecord, MemoryRepository, NewMemory } from '@engram/persistence';
import { Embedder } from '@engram/plaintext';
import { AccessService } from '../auth/access.service';
import { actorOf } from '../auth/auth-context';
import { Permission } from '../auth/permission';
import {
  AddMemoriesDto,
  AddMessagesDto,
  mapMemory,
  mapMemoryVersion,
  MemoryInputDto,
  MemoryListQueryDto,
  MemoryResponseDto,
  MemoryVersionDto,
  UpdateMemoryDto,
} from '../dtos/memory.dto';
import { EngramError } from '../errors/engram.error';
import { ErrorCode } from '../errors/error-code';
import { isForeignKeyViolation } from '../errors/database-error.mapper';
import { AuditService } from '../services/audit.service';
import { RequestContext } from '../services/request-context';
import { DerivedCleanup, MemoryChangeListener } from '../inference/memory-change.listener';
import { QuotaService } from '../quotas/quota.service';
import { DeferredEmbeddingService } from './deferred-embedding.service';
import { EmbedderRegistry } from './embedder.registry';
import { parseMemoryFilter } from './memory-filter.parser';
import { checkValidity, idempotencyClaim, idempotencyScope, sessionIdFromMetadata, UPDATABLE_FIELDS } from './memory-input';
import { LifecycleRepository } from '@engram/persistence';
import { LifecycleTrigger } from '../lifecycle/lifecycle.trigger';
import { LifecycleExtraction } from '../lifecycle/lifecycle.extraction';

/** Rows of a pipelined batch per statement (ADR 0118): a 1,000-memory batch is written in four. */
const PIPELINE_CHUNK = 250;
/** Texts embedded between two turns of the event loop while a chunk is written (≈ 2–3 ms of hashing). */
const PIPELINE_SLICE = 50;

export interface WriteResult<T> {
  statusCode: number;
  body: T;
  replayed: boolean;
}

function actor(ctx: RequestContext): MemoryActor {
  return { ...actorOf(ctx.auth), requestId: ctx.requestId };
}

@Injectable()
export class MemoryService {
  constructor(
    private readonly access: AccessService,
    private readonly memories: MemoryRepository,
    private readonly embedders: EmbedderRegistry,
    private readonly audit: AuditService,
    private readonly listener: MemoryChangeListener,
    private readonly lifecycle: LifecycleRepository,
    private readonly trigger: LifecycleTrigger,
    private readonly extraction: LifecycleExtraction,
    private readonly deferred: DeferredEmbeddingService,
    private readonly quotas: QuotaService,
  ) {}

  /**
   * Vectors computed before a batch's transaction: none when the cube's embedder embeds after
   * the commit (ADR 0106, all nulls), the first chunk's when it embeds while the rows are
   * written (ADR 0118), else all of them.
   */
  private async vectorsBefore(embedder: Embedder, texts: string[]): Promise<(Float32Array | null)[]> {
    if (embedder.deferWrites) return texts.map(() => null);
    return this.embedders.embed(embedder, embedder.pipelineWrites ? texts.slice(0, PIPELINE_CHUNK) : texts);
  }

  /**
   * Stores a batch in input order inside `tx`, from the vectors `vectorsBefore` gave: with a
   * pipelining embedder, chunk by chunk, each chunk's statement sent as soon as its vectors
   * are ready and the previous chunk's has answered, so the database works on one chunk
   * while the next is embedded (the transaction keeps the batch all-or-nothing). One
   * statement at a time on the connection: pg 8 queues a second one anyway, warns that it
   * is deprecated, and pg 9 refuses it. Otherwise in one statement.
   */
  private async insertBatch(
    tx: EntityManager,
    cubeId: string,
    embedder: Embedder,
    texts: string[],
    before: (Float32Array | null)[],
    row: (index: number, vector: Float32Array | null) => NewMemory,
    who: MemoryActor,
  ): Promise<MemoryRecord[]> {
    if (before.length === texts.length) return this.memories.insertMany(tx, cubeId, before.map((vector, i) => row(i, vector)), who);
    await this.memories.lockForWrites(tx, cubeId);
    const writes: Promise<MemoryRecord[]>[] = [];
    let vectors = before;
    try {
      for (let start = 0; ; ) {
        const chunk = vectors.map((vector, k) => row(start + k, vector));
        // The previous chunk's statement ran while this chunk was embedded.
        if (writes.length > 0) await writes[writes.length - 1];
        const write = this.memories.insertMany(tx, cubeId, chunk, who, { lockHeld: true });
        // Awaited below with the others; a failure meanwhile must not count as unhandled.
        write.catch(() => undefined);
        writes.push(write);
        start += vectors.length;
        if (start >= texts.length) break;
        vectors = await this.embedBetweenReplies(embedder, texts.slice(start, start + PIPELINE_CHUNK));
      }
    } finally {
      // Every queued statement has settled before the transaction commits or rolls back.
      await Promise.allSettled(writes);
    }
    return (await Promise.all(writes)).flat();
  }

  /**
   * Embeds in slices with a turn of the event loop before each, so the statement just queued
   * goes out and the connection's replies are read (and the next statement sent) in between.
   */
  private async embedBetweenReplies(embedder: Embedder, texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += PIPELINE_SLICE) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      out.push(...(await this.embedders.embed(embedder, texts.slice(i, i + PIPELINE_SLICE))));
    }
    return out;
  }

  private afterWrite<T>(cubeId: string, embedder: Embedder, result: T): T {
    if (embedder.deferWrites) this.deferred.schedule(cubeId);
    return result;
  }

  /** Stores a batch all-or-nothing; with an Idempotency-Key a retry replays the first response. */
  async add(ctx: RequestContext, cubeId: string, dto: AddMemoriesDto, idempotencyKey?: string): Promise<WriteResult<{ items: MemoryResponseDto[] }>> {
    const cube = await this.access.requireCube(ctx.auth, Permission.MemoryWrite, cubeId);
    const release = await this.requireSlotsUnlessReplay(ctx, cube.tenantId, cubeId, 'memories.add', idempotencyKey, dto.items.length);
    try {
      const problems: { field: string; problems: string[] }[] = [];
      dto.items.forEach((item, i) => checkValidity(problems, `items.${i}.validTo`, item.validFrom, item.validTo));
      if (problems.length) throw EngramError.validation(problems);
      const embedder = this.embedders.forSettings(cube.settings);
      const texts = dto.items.map((i) => i.text);
      const before = await this.vectorsBefore(embedder, texts);
      const row = (i: number, vector: Float32Array | null) => this.newMemory(dto.items[i], vector, vector ? embedder.fingerprint : null);
      const result = await this.write(ctx, cubeId, 'memories.add', dto, idempotencyKey, async (tx) => {
        const stored = await this.insertBatch(tx, cubeId, embedder, texts, before, row, actor(ctx));
        await this.audit.record(ctx.auth, ctx.requestId, { action: 'memory.add', targetType: 'cube', targetId: cubeId, tenantId: cube.tenantId, details: { count: stored.length } }, tx);
        return { items: stored.map(mapMemory) };
      });
      return this.afterWrite(cubeId, embedder, result);
    } finally {
      release();
    }
  }

  /** Raw mode: each message becomes a `message` memory with its role, session and time. */
  async addMessages(ctx: RequestContext, cubeId: string, dto: AddMessagesDto, idempotencyKey?: string): Promise<WriteResult<{ ids: string[]; items: MemoryResponseDto[] }>> {
    const cube = await this.access.requireCube(ctx.auth, Permission.MemoryWrite, cubeId);
    const release = await this.requireSlotsUnlessReplay(ctx, cube.tenantId, cubeId, 'messages.add', idempotencyKey, dto.messages.length);
    try {
      const embedder = this.embedders.forSettings(cube.settings);
      const texts = dto.messages.map((m) => m.content);
      const before = await this.vectorsBefore(embedder, texts);
      const extract = await this.extraction.wanted(cube, dto.mode);
      const now = new Date();
      const row = (i: number, vector: Float32Array | null): NewMemory => {
        const message = dto.messages[i];
        return {
          text: message.content,
          kind: 'message',
          role: message.role,
          tags: [],
          metadata: { ...(dto.metadata ?? {}), ...(message.name ? { name: message.name } : {}), turnIndex: i },
          source: { type: 'message', ...(dto.sessionId ? { sessionId: dto.sessionId } : {}) },
          sessionId: dto.sessionId ?? null,
          observedAt: message.at ?? now,
          pinned: false,
          expiresAt: null,
          fact: null,
          validFrom: null,
          validTo: null,
          importance: null,
          embedding: vector,
          embedderFingerprint: vector ? embedder.fingerprint : null,
        };
      };
      const result = await this.write(ctx, cubeId, 'messages.add', dto, idempotencyKey, async (tx) => {
        const stored = await this.insertBatch(tx, cubeId, embedder, texts, before, row, actor(ctx));
        await this.audit.record(ctx.auth, ctx.requestId, { action: 'memory.add_messages', targetType: 'cube', targetId: cubeId, tenantId: cube.tenantId, details: { count: stored.length, sessionId: dto.sessionId ?? null } }, tx);
        const ids = stored.map((m) => m.id);
        // Queued with the turns (ADR 0530): stored means extracted later, and a failure here stores nothing.
        if (extract) await this.extraction.enqueue(cube, ids, tx);
        return { ids, items: stored.map(mapMemory) };
      });
      return this.afterWrite(cubeId, embedder, result);
    } finally {
      release();
    }
  }

  async get(ctx: RequestContext, cubeId: string, memoryId: string): Promise<MemoryResponseDto> {
    await this.access.requireCube(ctx.auth, Permission.MemoryRead, cubeId);
    return mapMemory(await this.requireMemory(cubeId, memoryId, false));
  }

  async list(ctx: RequestContext, cubeId: string, query: MemoryListQueryDto): Promise<{ items: MemoryResponseDto[]; nextCursor: string | null }> {
    await this.access.requireCube(ctx.auth, Permission.MemoryRead, cubeId);
    const csv = (v?: string) => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean));
    let metadata: unknown;
    if (query.metadata !== undefined) {
      try {
        metadata = JSON.parse(query.metadata);
      } catch {
        throw EngramError.validation([{ field: 'metadata', problems: ['metadata must be a JSON object'] }]);
      }
    }
    const filter = parseMemoryFilter(
      {
        kind: csv(query.kind),
        tags: query.tags !== undefined || query.tagsAll !== undefined ? { ...(query.tags ? { any: csv(query.tags) } : {}), ...(query.tagsAll ? { all: csv(query.tagsAll) } : {}) } : undefined,
        state: csv(query.state),
        sessionId: query.sessionId,
        metadata,
        observedAfter: query.observedAfter?.toISOString(),
        observedBefore: query.observedBefore?.toISOString(),
        validAt: query.validAt?.toISOString(),
      },
      { allowDeleted: true },
    );
    const page = await this.memories.list(cubeId, filter, query.limit ?? 50, query.cursor ?? null);
    if (!page) throw EngramError.validation([{ field: 'cursor', problems: ['cursor is not one this API returned'] }]);
    return { items: page.items.map(mapMemory), nextCursor: page.nextCursor };
  }

  /**
   * A partial change as a new version. `expectedVersion` (If-Match) makes it conditional: it
   * applies only while the memory is still at that version, else 412 and nothing changes.
   */
  async update(ctx: RequestContext, cubeId: string, memoryId: string, dto: UpdateMemoryDto, options: { expectedVersion?: number } = {}): Promise<MemoryResponseDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.MemoryWrite, cubeId);
    // An update that names nothing to change would still make a version (a history row, a version bump).
    if (UPDATABLE_FIELDS.every((field) => dto[field] === undefined)) {
      throw EngramError.validation([{ field: 'body', problems: [`give at least one field to change: ${UPDATABLE_FIELDS.join(', ')}`] }]);
    }
    // Checked again below on the locked row: this read answers early, the locked row decides.
    const guard = (memory: MemoryRecord) => {
      if (memory.state === 'deleted') throw EngramError.notFound('memory');
      if (memory.state !== 'active') throw EngramError.conflict(`memory is ${memory.state}; restore it before changing it`);
      if (options.expectedVersion !== undefined && memory.version !== options.expectedVersion) {
        throw EngramError.preconditionFailed(`memory is at version ${memory.version}, not ${options.expectedVersion} (If-Match): it changed since it was read; read it again and reapply the change`, { version: memory.version });
      }
      const problems: { field: string; problems: string[] }[] = [];
      // null clears the bound (UpdateMemoryDto): check the interval the memory will have.
      checkValidity(problems, 'validTo', dto.validFrom !== undefined ? dto.validFrom : memory.validFrom, dto.validTo !== undefined ? dto.validTo : memory.validTo);
      if (problems.length) throw EngramError.validation(problems);
    };
    guard(await this.requireMemory(cubeId, memoryId, false));
    const changes: MemoryChanges = {
      tags: dto.tags,
      metadata: dto.metadata,
      validFrom: dto.validFrom,
      validTo: dto.validTo,
      importance: dto.importance,
      pinned: dto.pinned,
      expiresAt: dto.expiresAt,
    };
    if (dto.text !== undefined) {
      // Embedded even when it equals the text read above: a concurrent edit may have changed
      // the text since, and then this one is a change too (the repository skips an equal text).
      const embedder = this.embedders.forSettings(cube.settings);
      changes.text = dto.text;
      changes.embedding = (await this.embedders.embed(embedder, [dto.text]))[0];
      changes.embedderFingerprint = embedder.fingerprint;
    }
    let textBefore: string | null = null;
    let cleanup: DerivedCleanup | null = null;
    const updated = await this.memories.unitOfWork(async (tx) => {
      const row = await this.memories.update(tx, cubeId, memoryId, changes, actor(ctx), dto.reason ?? null, (locked) => {
        guard(locked);
        textBefore = locked.text;
      });
      if (!row) return row;
      await this.audit.record(ctx.auth, ctx.requestId, { action: 'memory.update', targetType: 'memory', targetId: memoryId, tenantId: cube.tenantId, details: { cubeId, version: row.version } }, tx);
      // What was derived from the old text is marked stale in this transaction (ADR 0530).
      cleanup = row.text !== textBefore ? await this.listener.memoryChanged(tx, cube.tenantId, cubeId, memoryId, false) : null;
      return row;
    });
    if (!updated) throw EngramError.notFound('memory');
    await this.listener.afterCommit(cleanup, `the edit of memory ${memoryId}`);
    await this.trigger.cubeWritten(cube.tenantId, cubeId);
    return mapMemory(updated);
  }

  /** Soft delete: gone from reads and search at once, history kept, restorable. */
  async delete(ctx: RequestContext, cubeId: string, memoryId: string, options: { erase?: boolean } = {}): Promise<void> {
    if (options.erase) return this.erase(ctx, cubeId, memoryId);
    const cube = await this.access.requireCube(ctx.auth, Permission.MemoryWrite, cubeId);
    let cleanup: DerivedCleanup | null = null;
    const deleted = await this.memories.unitOfWork(async (tx) => {
      const row = await this.memories.transition(tx, cubeId, memoryId, ['active', 'archived', 'expired', 'merged', 'superseded'], 'deleted', 'delete', actor(ctx));
      if (!row) return row;
      await this.audit.record(ctx.auth, ctx.requestId, { action: 'memory.delete', targetType: 'memory', targetId: memoryId, tenantId: cube.tenantId, details: { cubeId } }, tx);
      cleanup = await this.listener.memoryChanged(tx, cube.tenantId, cubeId, memoryId, true); // ADR 0530
      return row;
    });
    if (!deleted) {
      // Already deleted (or erased): deleting again changes nothing and answers as the first
      // delete did, so a retried or concurrent DELETE is not a 404; a memory never here is.
      await this.requireMemory(cubeId, memoryId, true);
      return;
    }
    await this.listener.afterCommit(cleanup, `the delete of memory ${memoryId}`);
    // Committed: the tick reads the delete from the change feed (fusion, working memory, consolidation; ADR 0401).
    await this.trigger.cubeWritten(cube.tenantId, cubeId);
  }

  /**
   * Erase means gone: the text leaves the row, its versions, lifecycle events and stored
   * responses in one transaction (audited without the text); then its KV caches are dropped,
   * the bank blocks holding it are retrained without it, and search indexes holding its
   * vector are rebuilt. Erasing again changes nothing.
   */
  private async erase(ctx: RequestContext, cubeId: string, memoryId: string): Promise<void> {
    const cube = await this.access.requireCube(ctx.auth, Permission.MemoryErase, cubeId);
    let cleanup: DerivedCleanup | null = null;
    const erased = await this.memories.unitOfWork(async (tx) => {
      const row = await this.memories.erase(tx, cubeId, memoryId, actor(ctx));
      if (!row) return row;
      await this.audit.record(ctx.auth, ctx.requestId, { action: 'memory.erase', targetType: 'memory', targetId: memoryId, tenantId: cube.tenantId, details: { cubeId } }, tx);
      // The stale marks, the retraining job and the cache rows commit with the erase (ADR 0530).
      cleanup = await this.listener.memoryErased(tx, cube.tenantId, cubeId, memoryId);
      return row;
    });
    if (!erased) throw EngramError.notFound('memory');
    await this.listener.afterCommit(cleanup, `the erase of memory ${memoryId}`);
    await this.trigger.cubeWritten(cube.tenantId, cubeId);
  }

  async restore(ctx: RequestContext, cubeId: string, memoryId: string): Promise<MemoryResponseDto> {
    const cube = await this.access.requireCube(ctx.auth, Permission.MemoryWrite, cubeId);
    const current = await this.memories.get(cubeId, memoryId);
    if (current?.erasedAt) throw EngramError.conflict('an erased memory cannot be restored: its contents are gone');
    // A deleted memory is out of the tenant's count (ADR 0004): bringing it back takes a slot like an add.
    const release = current?.state === 'deleted' ? await this.quotas.requireMemorySlots(cube.tenantId, 1) : () => undefined;
    try {
      return await this.restoreIn(ctx, cube, cubeId, memoryId);
    } finally {
      release();
    }
  }

  private async restoreIn(ctx: RequestContext, cube: CubeRecord, cubeId: string, memoryId: string): Promise<MemoryResponseDto> {
    // Any non-active state comes back (a merge is undone, a superseded fact's validTo returns),
    // recorded as a lifecycle event in the same transaction as the change and its audit row.
    const lifecycleActor = { actorType: 'key' as const, actorId: actorOf(ctx.auth).actorId, requestId: ctx.requestId };
    const cleanups: DerivedCleanup[] = [];
    let restored: MemoryRecord | null = null;
    const outcome = await this.lifecycle.restore(cubeId, cube.tenantId, memoryId, lifecycleActor, async (tx, textChanged) => {
      await this.audit.record(ctx.auth, ctx.requestId, { action: 'memory.restore', targetType: 'memory', targetId: memoryId, tenantId: cube.tenantId, details: { cubeId } }, tx);
      // Undoing an LLM merge gave the survivor its old text back: derived forms follow, in this transaction (ADR 0530).
      cleanups.length = 0;
      for (const changed of textChanged) cleanups.push(await this.listener.memoryChanged(tx, cube.tenantId, cubeId, changed, false));
      restored = await this.memories.get(cubeId, memoryId, tx); // the answer, read before the commit: nothing after it can fail the request
    });
    if (!outcome) throw EngramError.notFound('memory');
    if (outcome.erased) throw EngramError.conflict('an erased memory cannot be restored: its contents are gone');
    if (!outcome.restored) throw EngramError.conflict('memory is active; only archived, expired, merged, superseded or deleted memories can be restored');
    for (const cleanup of cleanups) await this.listener.afterCommit(cleanup, `the restore of memory ${memoryId}`);
    if (outcome.textChanged.length) this.deferred.schedule(cubeId); // the old text is embedded again
    await this.trigger.cubeWritten(cube.tenantId, cubeId); // an active memory again: the tick and the working memory see it
    return mapMemory(restored ?? (await this.requireMemory(cubeId, memoryId, true)));
  }

  async history(ctx: RequestContext, cubeId: string, memoryId: string): Promise<{ items: MemoryVersionDto[] }> {
    await this.access.requireCube(ctx.auth, Permission.MemoryRead, cubeId);
    await this.requireMemory(cubeId, memoryId, true);
    return { items: (await this.memories.history(cubeId, memoryId)).map(mapMemoryVersion) };
  }

  private async requireMemory(cubeId: string, memoryId: string, includeDeleted: boolean): Promise<MemoryRecord> {
    const memory = await this.memories.get(cubeId, memoryId);
    if (!memory || (!includeDeleted && memory.state === 'deleted')) throw EngramError.notFound('memory');
    return memory;
  }

  private newMemory(item: MemoryInputDto, vector: Float32Array | null, fingerprint: string | null): NewMemory {
    const source: Record<string, unknown> = { ...(item.source ?? {}) };
    return {
      text: item.text,
      kind: item.kind ?? 'fact',
      role: item.role ?? null,
      tags: [...new Set(item.tags ?? [])],
      metadata: item.metadata ?? {},
      source,
      sessionId: item.source?.sessionId ?? sessionIdFromMetadata(item.metadata),
      observedAt: item.observedAt ?? null,
      validFrom: item.validFrom ?? null,
      validTo: item.validTo ?? null,
      importance: item.importance ?? null,
      pinned: item.pinned ?? false,
      expiresAt: item.expiresAt ?? null,
      fact: item.fact ? { subject: item.fact.subject, predicate: item.fact.predicate, object: item.fact.object } : null,
      embedding: vector,
      embedderFingerprint: fingerprint,
    };
  }

  /**
   * The memory quota, before anything is embedded. A retry of a write that was stored (same
   * Idempotency-Key) is not refused: `write` replays its first answer, whatever the count is now.
   */
  private async requireSlotsUnlessReplay(ctx: RequestContext, tenantId: string, cubeId: string, route: string, idempotencyKey: string | undefined, adding: number): Promise<() => void> {
    try {
      return await this.quotas.requireMemorySlots(tenantId, adding);
    } catch (error) {
      const replay = error instanceof EngramError && error.code === ErrorCode.QuotaExceeded && idempotencyKey !== undefined && (await this.memories.hasReplay(idempotencyScope(ctx, route, cubeId, idempotencyKey)));
      if (!replay) throw error;
      return () => undefined;
    }
  }

  private async write<T>(
    ctx: RequestContext,
    cubeId: string,
    route: string,
    dto: object,
    idempotencyKey: string | undefined,
    run: (tx: EntityManager) => Promise<T>,
  ): Promise<WriteResult<T>> {
    const claim = idempotencyClaim(ctx, route, cubeId, idempotencyKey, dto);
    let result: IdempotentResult<T>;
    try {
      result = await this.memories.idempotent(claim, async (tx) => {
        const body = await run(tx);
        return { value: body, statusCode: 201, response: body };
      });
    } catch (error) {
      // The rows reference only the cube: it was deleted and purged after the access check
      // (while this write waited for the cube's lock or embedded its batch). Nothing was stored.
      if (isForeignKeyViolation(error)) throw EngramError.notFound('cube');
      throw error;
    }
    if (result.kind === 'fresh') {
      // Committed: the cube's lifecycle tick (fusion, invalidation) will look at it.
      if (ctx.auth.kind === 'key') await this.trigger.cubeWritten(ctx.auth.tenantId, cubeId);
      return { statusCode: 201, body: result.value, replayed: false };
    }
    if (claim && result.requestHash !== claim.requestHash) {
      throw EngramError.conflict('this Idempotency-Key was already used with a different request body');
    }
    return { statusCode: result.statusCode, body: result.response as T, replayed: true };
  }
}
