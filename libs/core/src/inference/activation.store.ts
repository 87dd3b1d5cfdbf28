// The side-effect boundary of activation memory: the KvCacheStore (RAM → disk tiers under
// `<dataDir>/kv`). Opened on first use, so processes that never touch KV caches (CLI
// admin commands) do not read the store's manifests.
import { Inject, Injectable } from '@nestjs/common';
import { join } from 'node:path';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { ActivationMemory, BuildKvCacheRequest, BuildKvCacheResult, KvCacheEntry, KvCacheStore, PrefillModel, PromptPrefix, TierName } from '@engram/activation';
import type { BlendSegment } from '@engram/inference';

export type StoreTier = 'ram' | 'disk' | 'object' | 'missing';

@Injectable()
export class ActivationStore {
  private activation?: ActivationMemory;

  constructor(@Inject(ENGRAM_CONFIG) private readonly config: EngramConfig) {}

  private get memory(): ActivationMemory {
    this.activation ??= new ActivationMemory(
      new KvCacheStore({
        dir: join(this.config.dataDir, 'kv'),
        ramBytes: this.config.kvRamBytes,
        diskBytes: this.config.kvDiskBytes ?? undefined,
        chunkTokens: this.config.kvChunkTokens,
      }),
    );
    return this.activation;
  }

  get chunkTokens(): number {
    return this.config.kvChunkTokens;
  }

  build(model: PrefillModel, request: BuildKvCacheRequest): Promise<BuildKvCacheResult> {
    return this.memory.build(model, request);
  }

  /** Prefix reuse within one tenant's chunks (`partition`: the tenant id). */
  prefixFor(model: PrefillModel, promptTokens: readonly number[], partition: string): Promise<PromptPrefix> {
    return this.memory.prefixFor(model, promptTokens, partition);
  }

  /** Several caches of one prompt as blend segments (ActivationMemory.segmentsFor). */
  segmentsFor(model: PrefillModel, promptTokens: readonly number[], entryIds: readonly string[]): Promise<{ segments: BlendSegment[]; placed: string[]; tiers: TierName[]; missedChunks: number }> {
    return this.memory.segmentsFor(model, promptTokens, entryIds);
  }

  async tierOf(entryId: string): Promise<StoreTier> {
    if (!this.memory.store.getEntry(entryId)) return 'missing';
    return this.memory.store.tierOf(entryId);
  }

  async deleteEntries(entryIds: readonly string[]): Promise<void> {
    for (const id of entryIds) await this.memory.store.deleteEntry(id);
  }

  /** Provenance: every cache computed from this memory, whatever its row says. */
  invalidate(memoryId: string): Promise<string[]> {
    return this.memory.store.invalidate(memoryId);
  }

  hasEntry(entryId: string): boolean {
    return this.memory.store.getEntry(entryId) !== undefined;
  }

  /** Manifests of one owner (a cube) in this process's view of the store. */
  entriesOf(owner: string): KvCacheEntry[] {
    return this.memory.store.listEntries({ owner });
  }

  /** Drops an entry's chunks from one tier (they stay in the tiers below, or are recomputed). */
  async evict(entryId: string, tier: 'ram' | 'disk'): Promise<void> {
    if (this.memory.store.getEntry(entryId)) await this.memory.store.evict(entryId, tier);
  }

  deleteByOwner(cubeId: string): Promise<number> {
    return this.memory.store.deleteByOwner(cubeId);
  }

  /** Per-tier counters (hits, misses, bytes…); null until the store was first used. */
  metrics(): ReturnType<KvCacheStore['metrics']> | null {
    return this.activation?.store.metrics() ?? null;
  }
}
