import { Injectable } from '@nestjs/common';
import { KvCacheRepository } from '@engram/persistence';
import { ActivationStore } from './activation.store';

/**
 * Told by MemoryService when a memory's text changes or the memory is deleted: drops
 * what was derived from the old text (KV caches, by provenance), rows and blobs alike.
 */
@Injectable()
export class MemoryChangeListener {
  constructor(
    private readonly kvCaches: KvCacheRepository,
    private readonly activation: ActivationStore,
  ) {}

  async memoryChanged(cubeId: string, memoryId: string): Promise<void> {
    const entryIds = await this.kvCaches.deleteBySourceMemory(cubeId, memoryId);
    if (entryIds.length === 0) return; // the rows are the truth; no row, no cache to touch
    await this.activation.deleteEntries(entryIds);
    await this.activation.invalidate(memoryId);
  }
}
