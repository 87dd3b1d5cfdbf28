import { Injectable } from '@nestjs/common';
import { KvCacheRepository } from '@engram/persistence';
import { BankChangeListener } from '../parametric/bank-change.listener';
import { ActivationStore } from './activation.store';
import { WorkingMemoryService } from './working-memory.service';

/**
 * Told by MemoryService when a memory's text changes or the memory is deleted: drops
 * what was derived from the old text (KV caches, by provenance), rows and blobs alike,
 * and has the bank blocks written from it marked stale.
 */
@Injectable()
export class MemoryChangeListener {
  constructor(
    private readonly kvCaches: KvCacheRepository,
    private readonly activation: ActivationStore,
    private readonly banks: BankChangeListener,
    private readonly workingMemory: WorkingMemoryService,
  ) {}

  async memoryChanged(cubeId: string, memoryId: string): Promise<void> {
    await this.banks.memoryChanged(cubeId, memoryId); // parametric memory: blocks written from it become stale
    await this.dropCaches(cubeId, memoryId);
    await this.workingMemory.memoryChanged(cubeId, memoryId); // stale at once, rebuilt within its debounce
  }

  /** Erased: its KV caches go, and the bank blocks holding it are marked and retrained without it. */
  async memoryErased(cubeId: string, tenantId: string, memoryId: string): Promise<void> {
    await this.banks.memoryErased(cubeId, tenantId, memoryId);
    await this.dropCaches(cubeId, memoryId);
    await this.workingMemory.memoryErased(cubeId, memoryId);
  }

  /**
   * Merged, superseded, expired or archived by the lifecycle: KV caches built from it go
   * (a cache can be built only from active memories, and chat naming one would otherwise
   * keep serving the retired text), and its bank blocks are marked stale. The working
   * memory is the lifecycle's to mark (it rebuilds within its debounce).
   */
  async memoriesRetired(cubeId: string, memoryIds: readonly string[]): Promise<void> {
    await this.banks.memoriesRetired(cubeId, memoryIds);
    for (const memoryId of memoryIds) await this.dropCaches(cubeId, memoryId);
  }

  private async dropCaches(cubeId: string, memoryId: string): Promise<void> {
    const entryIds = await this.kvCaches.deleteBySourceMemory(cubeId, memoryId);
    if (entryIds.length === 0) return; // the rows are the truth; no row, no cache to touch
    await this.activation.deleteEntries(entryIds);
    await this.activation.invalidate(memoryId);
  }
}
