import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { KvCacheRepository } from '@engram/persistence';
import { BankChangeListener } from '../parametric/bank-change.listener';
import { ActivationStore } from './activation.store';
import { WorkingMemoryService } from './working-memory.service';

/**
 * What a change left to do once its transaction committed: KV manifests and blobs whose rows
 * it deleted, and the memories whose caches the in-process store still indexes (ADR 0530).
 */
export interface DerivedCleanup {
  cubeId: string;
  /** KV entries (caches and working memories) whose rows the transaction deleted. */
  entryIds: string[];
  /** Memories whose caches the in-process store drops by provenance. */
  invalidate: string[];
}

/**
 * Told by MemoryService (and the lifecycle engine) when a memory's text changes or the memory
 * is deleted, erased or retired: drops what was derived from the old text (KV caches, by
 * provenance), and has the bank blocks and the working memory written from it marked stale.
 *
 * Two halves (ADR 0530). Every effect that is a row — stale marks, jobs, KV cache rows — is
 * written inside the change's own transaction (`tx`), so it commits with the change or not at
 * all: neither an error nor a crash after the commit can leave chat serving the old text.
 * What is not a row (blobs on disk, the in-process store's index) is done by `afterCommit`,
 * best effort: the rows are the truth (a cache without its row is never used), so a failure
 * there is logged and costs disk space, never a committed write's answer.
 */
@Injectable()
export class MemoryChangeListener {
  private readonly logger = new Logger('MemoryChange');

  constructor(
    private readonly kvCaches: KvCacheRepository,
    private readonly activation: ActivationStore,
    private readonly banks: BankChangeListener,
    private readonly workingMemory: WorkingMemoryService,
  ) {}

  /** Its text changed (`deleted`: it was deleted) in `tx`. */
  async memoryChanged(tx: EntityManager, tenantId: string, cubeId: string, memoryId: string, deleted: boolean): Promise<DerivedCleanup> {
    await this.banks.memoryChanged(tx, cubeId, memoryId, deleted); // parametric memory: blocks written from it become stale
    const cleanup = await this.dropCacheRows(tx, cubeId, [memoryId]);
    const workingMemory = await this.workingMemory.memoriesChanged(tx, tenantId, cubeId, [memoryId]); // stale at once, rebuilt within its debounce
    if (workingMemory) cleanup.entryIds.push(workingMemory);
    return cleanup;
  }

  /** Erased in `tx`: its KV caches and a working memory holding it go, and the bank blocks holding it are marked and retrained without it. */
  async memoryErased(tx: EntityManager, tenantId: string, cubeId: string, memoryId: string): Promise<DerivedCleanup> {
    await this.banks.memoryErased(tx, cubeId, tenantId, memoryId);
    const cleanup = await this.dropCacheRows(tx, cubeId, [memoryId]);
    const workingMemory = await this.workingMemory.memoryErased(tx, cubeId, memoryId);
    if (workingMemory) cleanup.entryIds.push(workingMemory);
    return cleanup;
  }

  /**
   * Merged, superseded, expired or archived by the lifecycle in `tx`: KV caches built from it
   * go (a cache can be built only from active memories, and chat naming one would otherwise
   * keep serving the retired text), its bank blocks are marked stale, and a working memory
   * holding it stops serving and is rebuilt within its debounce.
   */
  async memoriesRetired(tx: EntityManager, tenantId: string, cubeId: string, memoryIds: readonly string[]): Promise<DerivedCleanup> {
    await this.banks.memoriesRetired(tx, cubeId, memoryIds);
    const cleanup = await this.dropCacheRows(tx, cubeId, memoryIds);
    const workingMemory = await this.workingMemory.memoriesChanged(tx, tenantId, cubeId, memoryIds);
    if (workingMemory) cleanup.entryIds.push(workingMemory);
    return cleanup;
  }

  /**
   * After the commit: the blobs of the deleted rows and the in-process store's entries. Never
   * throws (the change is committed and its answer stands); a failure is logged with what it
   * left behind, which no row points at any more, so no chat uses it.
   */
  async afterCommit(cleanup: DerivedCleanup | null | undefined, context: string): Promise<void> {
    if (!cleanup || (cleanup.entryIds.length === 0 && cleanup.invalidate.length === 0)) return;
    const failures: string[] = [];
    const attempt = async (what: string, work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (error) {
        failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    for (const entryId of cleanup.entryIds) await attempt(`entry ${entryId}`, () => this.activation.deleteEntries([entryId]));
    for (const memoryId of cleanup.invalidate) await attempt(`caches of memory ${memoryId}`, () => this.activation.invalidate(memoryId));
    if (failures.length) {
      this.logger.error(
        `${context} in cube ${cleanup.cubeId} is committed, but deleting the KV caches derived from it failed (their rows are gone, so no chat uses them; ` +
          `the files stay until deleted by hand): ${failures.join('; ')}`,
      );
    }
  }

  /** The KV cache rows built from these memories, deleted in `tx`; their blobs go after the commit. */
  private async dropCacheRows(tx: EntityManager, cubeId: string, memoryIds: readonly string[]): Promise<DerivedCleanup> {
    const cleanup: DerivedCleanup = { cubeId, entryIds: [], invalidate: [] };
    for (const memoryId of memoryIds) {
      const entryIds = await this.kvCaches.deleteBySourceMemory(cubeId, memoryId, tx);
      if (entryIds.length === 0) continue; // the rows are the truth; no row, no cache to touch
      cleanup.entryIds.push(...entryIds);
      cleanup.invalidate.push(memoryId);
    }
    return cleanup;
  }
}

