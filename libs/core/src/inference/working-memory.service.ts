// Promotion to activation memory (ADR 0402): a cube's pinned and hottest memories, rendered
// as the memory prefix of its policy's model and kept as the cube's working-memory KV cache.
// Rebuilt by a debounced job after changes, from the first changed chunk on (the chained
// chunk keys find the unchanged prefix); cold caches move down the tiers and are dropped.
import { Injectable, Logger } from '@nestjs/common';
import { memoryPrefixTokens, textHash } from '@engram/activation';
import { CubeRecord, CubeRepository, ModelRecord, ModelRepository, WorkingMemoryRecord, WorkingMemoryRepository } from '@engram/persistence';
import { JobQueueService } from '../jobs/job-queue.service';
import { LifecyclePolicies } from '../lifecycle/lifecycle-policy.service';
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

export type WorkingMemoryState = 'ready' | 'stale' | 'building' | 'off' | 'skipped';

export interface WorkingMemoryForChat {
  state: WorkingMemoryState;
  /** Set when ready: its text goes first in the prompt and its KV is reused. */
  row: WorkingMemoryRecord | null;
}

export interface RefreshOutcome {
  status: 'built' | 'unchanged' | 'retry' | 'off' | 'empty' | 'gone';
  generation?: number;
  reusedTokens?: number;
  prefilledTokens?: number;
}

/** Test hooks standing for a crash at a point of the rebuild. */
export interface RefreshFaults {
  afterBuild?: () => void;
  afterSwap?: () => void;
}

@Injectable()
export class WorkingMemoryService {
  private readonly logger = new Logger('WorkingMemory');
  /** This process's rebuilds (for /metrics); the database holds the last build of every cube. */
  readonly counters = { builds: 0, unchanged: 0, reusedTokens: 0, prefilledTokens: 0, dropped: 0, demoted: 0 };

  constructor(
    private readonly rows: WorkingMemoryRepository,
    private readonly cubes: CubeRepository,
    private readonly models: ModelRepository,
    private readonly runtime: ModelRuntime,
    private readonly activation: ActivationStore,
    private readonly policies: LifecyclePolicies,
    private readonly queue: JobQueueService,
  ) {}

  /** What chat may use for this model; asks for a build when the policy wants one and none exists. */
  async forChat(cube: CubeRecord, model: ModelRecord): Promise<WorkingMemoryForChat | null> {
    const row = await this.rows.get(cube.id);
    if (!row) {
      const policy = (await this.policies.effective(cube.tenantId, cube.id)).activation;
      if (policy.model !== model.name) return null;
      await this.queue.enqueueWorkingMemoryRefresh(cube.tenantId, { cubeId: cube.id }, 0);
      return { state: 'building', row: null };
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

  /** A source's text was edited or the memory deleted: chat stops using the cache at once, and the rebuild is queued. */
  async memoryChanged(cubeId: string, memoryId: string): Promise<void> {
    if (!(await this.rows.markStale(cubeId, [memoryId], new Date()))) return;
    const cube = await this.cubes.getAny(cubeId);
    if (cube) await this.scheduleRefresh(cube.tenantId, cubeId); // at once: the tick the write queued comes a debounce later
  }

  /** Erased: the text must leave every cache now, not at the next rebuild. */
  async memoryErased(cubeId: string, memoryId: string): Promise<void> {
    const row = await this.rows.get(cubeId);
    if (row?.sourceMemoryIds.includes(memoryId)) await this.drop(cubeId);
  }

  /**
   * Rebuilds the cube's working memory when its set or texts changed. The new cache is
   * built beside the old one (sharing the unchanged prefix chunks), the row is swapped in one
   * statement, and only then is the old manifest deleted: a crash at any point leaves the
   * old or the new cache serving. Idempotent.
   */
  async refresh(cubeId: string, faults: RefreshFaults = {}): Promise<RefreshOutcome> {
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
    const built = await this.activation.build(lm, {
      text: selection.text,
      sources: [{ memoryId: WORKING_MEMORY_SOURCE, textHash: textHash(selection.text) }],
      owner: cubeId,
      partition: cube.tenantId,
    });
    faults.afterBuild?.();
    if (!(await this.rows.stillCurrent(cubeId, selection.memories))) {
      // Changed while building: that change queued the next rebuild, which starts over.
      if (built.entry.id !== current?.entryId) await this.activation.deleteEntries([built.entry.id]);
      await this.queue.enqueueWorkingMemoryRefresh(cube.tenantId, { cubeId }, policy.debounceMs);
      return { status: 'retry' };
    }
    const { record, previousEntryId } = await this.rows.swap({
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
    });
    faults.afterSwap?.();
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

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
