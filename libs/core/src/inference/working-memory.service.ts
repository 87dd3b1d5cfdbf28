// Promotion to activation memory (ADR 0402): a cube's pinned and hottest memories, rendered
// as the memory prefix of its policy's model and kept as the cube's working-memory KV cache.
// Rebuilt by a debounced job after changes, from the first changed chunk on (the chained
// chunk keys find the unchanged prefix); cold caches move down the tiers and are dropped.
import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { memoryPrefixTokens, textHash } from '@engram/activation';
import type { LanguageModel } from '@engram/inference';
import { CubeRecord, CubeRepository, ModelRecord, ModelRepository, WorkingMemoryRecord, WorkingMemoryRepository } from '@engram/persistence';
import { JobQueueService } from '../jobs/job-queue.service';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policy.service';
import { QuotaService } from '../quotas/quota.service';
import { ActivationStore } from './activation.store';
import { ModelRuntime } from './model.runtime';
import { selectWorkingMemory } from './working-memory.selection';

/** Marks a store manifest as a working memory (its provenance is the SQL row), so KV-cache invalidation by memory id leaves it to us. */
export const WORKING_MEMORY_SOURCE = 'working-memory';
/** Unused this long: its chunks leave RAM (they stay on disk). */
export const WORKING_MEMORY_RAM_IDLE_MS = 15 * 60_000;
/** Unused this long: dropped (recomputable; the next chat or change rebuilds it). */
export const WORKING_MEMORY_DROP_IDLE_MS = 24 * 3_600_000;
export const ACTIVATION_SWEEP_INTERVAL_MS = 5 * 60_000;
/** Candidates read per rebuild: far more than fit (a memory line is rarely under 4 tokens). */
const CANDIDATES_PER_TOKEN = 0.25;
const MIN_CANDIDATES = 64;
/** Another process holds the cube's rebuild lock: look again this much later. */
export const WORKING_MEMORY_BUSY_RETRY_MS = 1_000;
/** A refused (over-quota) working memory is tried again by chat at most this often (a raised quota or freed bytes then apply). */
export const WORKING_MEMORY_OVER_QUOTA_RECHECK_MS = 60_000;

export type WorkingMemoryState = 'ready' | 'stale' | 'building' | 'off' | 'skipped' | 'over_quota';

export interface WorkingMemoryForChat {
  state: WorkingMemoryState;
  /** Set when ready: its text goes first in the prompt and its KV is reused. */
  row: WorkingMemoryRecord | null;
}

export interface RefreshOutcome {
  /** busy: another process is rebuilding the cube (this one queued itself to run after it); over_quota: not built, see WorkingMemoryRepository.refusal. */
  status: 'built' | 'unchanged' | 'retry' | 'off' | 'empty' | 'gone' | 'busy' | 'over_quota';
  generation?: number;
  neededBytes?: number;
  reusedTokens?: number;
  prefilledTokens?: number;
}

/** Test hooks standing for a crash (a throw) or a slow worker (a wait) at a point of the rebuild. */
export interface RefreshFaults {
  afterBuild?: () => void | Promise<void>;
  afterSwap?: () => void | Promise<void>;
}

@Injectable()
export class WorkingMemoryService {
  private readonly logger = new Logger('WorkingMemory');
  /** This process's rebuilds (for /metrics); the database holds the last build of every cube. */
  readonly counters = { builds: 0, unchanged: 0, reusedTokens: 0, prefilledTokens: 0, dropped: 0, demoted: 0, busy: 0, overQuota: 0 };

  constructor(
    private readonly rows: WorkingMemoryRepository,
    private readonly cubes: CubeRepository,
    private readonly models: ModelRepository,
    private readonly runtime: ModelRuntime,
    private readonly activation: ActivationStore,
    private readonly policies: LifecyclePolicies,
    private readonly queue: JobQueueService,
    private readonly quotas: QuotaService,
  ) {}

  /** What chat may use for this model; asks for a build when the policy wants one and none exists. */
  async forChat(cube: CubeRecord, model: ModelRecord): Promise<WorkingMemoryForChat | null> {
    const row = await this.rows.get(cube.id);
    if (!row) {
      const policy = (await this.policies.effective(cube.tenantId, cube.id)).activation;
      if (policy.model !== model.name) return null;
      const refused = await this.rows.refusal(cube.id);
      if (refused && Date.now() - refused.refusedAt.getTime() < WORKING_MEMORY_OVER_QUOTA_RECHECK_MS) return { state: 'over_quota', row: null };
      await this.queue.enqueueWorkingMemoryRefresh(cube.tenantId, { cubeId: cube.id }, 0);
      return { state: refused ? 'over_quota' : 'building', row: null };
    }
    if (row.modelId !== model.id) return { state: 'off', row: null };
    if (row.staleSince) return { state: 'stale', row: null };
    await this.rows.touch(cube.id, new Date());
    return { state: 'ready', row };
  }

  /** Memories changed (by a write or a lifecycle action): mark a working memory holding them stale and queue the rebuild. */
  async changed(tenantId: string, cubeId: string, memoryIds: readonly string[]): Promise<void> {
    await this.rows.markStale(cubeId, memoryIds, new Date());
    await this.scheduleRefresh(tenantId, cubeId);
  }

  /** Queues the debounced rebuild when the cube has or wants a working memory. */
  async scheduleRefresh(tenantId: string, cubeId: string): Promise<void> {
    const policy = (await this.policies.effective(tenantId, cubeId)).activation;
    if (policy.model === null) return this.drop(cubeId); // turned off (or never on): nothing to build
    await this.queue.enqueueWorkingMemoryRefresh(tenantId, { cubeId }, policy.debounceMs);
  }

  /**
   * A source's text was edited or the memory deleted: chat stops using the cache at once, and
   * the rebuild is queued. Both are rows written in the change's transaction `tx` (ADR 0530);
   * the manifest id returned (the working memory was turned off) is deleted after the commit.
   */
  async memoriesChanged(tx: EntityManager, tenantId: string, cubeId: string, memoryIds: readonly string[]): Promise<string | null> {
    if (!(await this.rows.markStale(cubeId, memoryIds, new Date(), tx))) return null;
    // At once: the tick the write queued comes a debounce later.
    const policy = (await this.policies.effective(tenantId, cubeId, tx)).activation; // on `tx`: it holds a connection, and must not wait for a second one
    if (policy.model === null) return this.rows.delete(cubeId, tx); // turned off (or never on): nothing to build
    await this.queue.enqueueWorkingMemoryRefresh(tenantId, { cubeId }, policy.debounceMs, tx);
    return null;
  }

  /**
   * Erased: the text must leave every cache now, not at the next rebuild. The row goes in the
   * erasing transaction `tx`; the manifest id returned is deleted after the commit.
   */
  memoryErased(tx: EntityManager, cubeId: string, memoryId: string): Promise<string | null> {
    return this.rows.deleteHolding(tx, cubeId, memoryId);
  }

  /**
   * Rebuilds the cube's working memory when its set or texts changed, single-flight across
   * processes: under the cube's rebuild lock (a session advisory lock on a connection of its
   * own, ADR 0002). When another process holds it, that rebuild may have read the memories
   * before the change that queued this one, so this one queues itself to run after it.
   */
  async refresh(cubeId: string, faults: RefreshFaults = {}): Promise<RefreshOutcome> {
    const attempt = await this.rows.withRebuildLock(cubeId, () => this.rebuild(cubeId, faults));
    if (attempt.acquired) return attempt.value;
    this.counters.busy += 1;
    const cube = await this.cubes.getAny(cubeId);
    if (cube && cube.deletedAt === null) await this.queue.enqueueWorkingMemoryRefresh(cube.tenantId, { cubeId }, WORKING_MEMORY_BUSY_RETRY_MS);
    return { status: 'busy' };
  }

  /**
   * The rebuild, under the lock. The new cache is built beside the old one (sharing the
   * unchanged prefix chunks), the row is swapped in one statement if it is still the
   * generation read at the start, and only then is the old manifest deleted: a crash at any
   * point leaves the old or the new cache serving. A cache that would take the tenant past
   * its KV bytes quota is not built (the old one goes; state over_quota). Idempotent.
   */
  private async rebuild(cubeId: string, faults: RefreshFaults): Promise<RefreshOutcome> {
    const started = new Date();
    const cube = await this.cubes.getAny(cubeId);
    if (!cube || cube.deletedAt !== null) return { status: 'gone' };
    const policy = (await this.policies.effective(cube.tenantId, cubeId)).activation;
    const model = policy.model === null ? null : await this.models.getByName(policy.model);
    if (!model) {
      if (policy.model !== null) this.logger.warn(`cube ${cubeId}: activation.model "${policy.model}" is not a registered model; working memory dropped`);
      await this.drop(cubeId);
      return { status: 'off' };
    }
    const lm = await this.runtime.load(model);
    const limit = Math.max(MIN_CANDIDATES, Math.ceil(policy.maxTokens * CANDIDATES_PER_TOKEN));
    const candidates = await this.rows.candidates(cubeId, limit, started);
    const maxTokens = Math.min(policy.maxTokens, lm.maxContext);
    const current = await this.rows.get(cubeId);
    const previousOrder = current?.modelId === model.id ? current.sourceMemoryIds : [];
    const selection = selectWorkingMemory(candidates, maxTokens, (t) => lm.tokenizer.encode(t).length, (t) => memoryPrefixTokens(lm.tokenizer, t).length, previousOrder);
    if (!selection) {
      await this.drop(cubeId);
      return { status: 'empty' };
    }
    const ids = selection.memories.map((m) => m.id);
    if (current && current.modelId === model.id && current.text === selection.text && sameIds(current.sourceMemoryIds, ids) && this.activation.hasEntry(current.entryId)) {
      if (current.staleSince) await this.rows.markFresh(cubeId, current.entryId);
      await this.deleteOrphans(cubeId, current.entryId, started);
      this.counters.unchanged += 1;
      return { status: 'unchanged', generation: current.generation };
    }
    const neededBytes = kvBytesPerToken(lm) * memoryPrefixTokens(lm.tokenizer, selection.text).length;
    const room = await this.quotas.kvBytesFit(cube.tenantId, neededBytes, current?.bytes ?? 0);
    if (!room.fits) {
      const previous = await this.rows.refuse(cubeId, { neededBytes, usedBytes: room.used, limitBytes: room.limit, refusedAt: new Date() });
      if (previous) await this.activation.deleteEntries([previous]);
      this.counters.overQuota += 1;
      this.logger.warn(`cube ${cubeId}: working memory of ${neededBytes} KV bytes not built: the tenant uses ${room.used} of its ${room.limit}`);
      return { status: 'over_quota', neededBytes };
    }
    const built = await this.activation.build(lm, {
      text: selection.text,
      sources: [{ memoryId: WORKING_MEMORY_SOURCE, textHash: textHash(selection.text) }],
      owner: cubeId,
      partition: cube.tenantId,
    });
    await faults.afterBuild?.();
    const swapped = await this.rows.swap({
      cubeId,
      modelId: model.id,
      fingerprint: model.fingerprint,
      entryId: built.entry.id,
      text: selection.text,
      tokenCount: built.entry.tokens.length,
      bytes: built.entry.bytes,
      sourceMemoryIds: ids,
      builtAt: new Date(),
      buildMs: Date.now() - started.getTime(),
      reusedTokens: built.reusedTokens,
      prefilledTokens: built.prefilledTokens,
    }, current?.generation ?? null, selection.memories);
    if (!swapped) {
      // A source memory changed while building (edited, deleted, erased: that change queued
      // the next rebuild), or the row moved on (dropped: policy off, an erase, idle; or built by
      // a holder of a lost lock): start over.
      if (built.entry.id !== (await this.rows.get(cubeId))?.entryId) await this.activation.deleteEntries([built.entry.id]);
      await this.queue.enqueueWorkingMemoryRefresh(cube.tenantId, { cubeId }, policy.debounceMs);
      return { status: 'retry' };
    }
    const { record, previousEntryId } = swapped;
    await faults.afterSwap?.();
    if (previousEntryId) await this.activation.deleteEntries([previousEntryId]);
    await this.deleteOrphans(cubeId, record.entryId, started);
    this.counters.builds += 1;
    this.counters.reusedTokens += built.reusedTokens;
    this.counters.prefilledTokens += built.prefilledTokens;
    return { status: 'built', generation: record.generation, reusedTokens: built.reusedTokens, prefilledTokens: built.prefilledTokens };
  }

  /** Cold caches: out of RAM after WORKING_MEMORY_RAM_IDLE_MS unused, dropped after WORKING_MEMORY_DROP_IDLE_MS. */
  async sweep(now = new Date()): Promise<{ demoted: number; dropped: number }> {
    let dropped = 0;
    for (const row of await this.rows.idleSince(new Date(now.getTime() - WORKING_MEMORY_DROP_IDLE_MS), 500)) {
      await this.drop(row.cubeId);
      dropped += 1;
    }
    let demoted = 0;
    for (const row of await this.rows.idleSince(new Date(now.getTime() - WORKING_MEMORY_RAM_IDLE_MS), 500)) {
      if ((await this.activation.tierOf(row.entryId)) !== 'ram') continue;
      await this.activation.evict(row.entryId, 'ram');
      demoted += 1;
    }
    this.counters.dropped += dropped;
    this.counters.demoted += demoted;
    return { demoted, dropped };
  }

  /** Row first, then the manifest: a crash between them leaves an orphan manifest, deleted by the next rebuild. */
  async drop(cubeId: string): Promise<void> {
    const entryId = await this.rows.delete(cubeId);
    if (entryId) await this.activation.deleteEntries([entryId]);
  }

  /** Working-memory manifests of the cube left by a crashed rebuild (older than this one, not the current). */
  private async deleteOrphans(cubeId: string, keep: string, startedBefore: Date): Promise<void> {
    const orphans = this.activation
      .entriesOf(cubeId)
      .filter((e) => e.id !== keep && e.sources.some((s) => s.memoryId === WORKING_MEMORY_SOURCE) && new Date(e.createdAt) < startedBefore)
      .map((e) => e.id);
    if (orphans.length) await this.activation.deleteEntries(orphans);
  }
}

/** KV bytes one token takes in this model's cache (keys and values of every layer, f32). */
function kvBytesPerToken(lm: Pick<LanguageModel, 'config'>): number {
  return lm.config.numLayers * lm.config.numKvHeads * lm.config.headDim * 2 * Float32Array.BYTES_PER_ELEMENT;
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
