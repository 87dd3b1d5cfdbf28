import { Injectable } from '@nestjs/common';
import { BankRepository, ConsolidationRepository, MemoryRepository } from '@engram/persistence';
import { JobQueueService } from '../jobs/job-queue.service';

/**
 * Told (through MemoryChangeListener) when a memory's text changes or the memory is
 * deleted, and by the lifecycle engine when it leaves the active state (merged,
 * superseded, expired, archived): the blocks written from it are marked stale at once, so
 * chat stops using them (ADR 0403), and a job marks them again under the bank's lock — a
 * write in progress holds that lock for its whole training run and would otherwise
 * record its blocks over the mark.
 */
@Injectable()
export class BankChangeListener {
  constructor(
    private readonly banks: BankRepository,
    private readonly memories: MemoryRepository,
    private readonly jobs: JobQueueService,
    private readonly consolidation: ConsolidationRepository,
  ) {}

  async memoryChanged(cubeId: string, memoryId: string): Promise<void> {
    if (!(await this.banks.hasAny(cubeId))) return;
    await this.consolidation.markStaleInCube(cubeId, [memoryId]);
    const memory = await this.memories.get(cubeId, memoryId);
    await this.jobs.enqueueBankForget({ cubeId, memoryId, deleted: !memory || memory.state === 'deleted' });
  }

  /** Erased: marked stale, then the blocks are rewritten so the weights no longer hold it. */
  async memoryErased(cubeId: string, tenantId: string, memoryId: string): Promise<void> {
    if (!(await this.banks.hasAny(cubeId))) return;
    await this.consolidation.markStaleInCube(cubeId, [memoryId]);
    await this.jobs.enqueueBankForget({ cubeId, memoryId, deleted: true, rewrite: true, tenantId });
  }

  /** Merged, superseded, expired or archived by the lifecycle: not deleted (a restore brings it back), but no longer what a block should answer. */
  async memoriesRetired(cubeId: string, memoryIds: readonly string[]): Promise<void> {
    if (!memoryIds.length || !(await this.banks.hasAny(cubeId))) return;
    if (!(await this.consolidation.markStaleInCube(cubeId, memoryIds))) return; // no block holds them
    for (const memoryId of memoryIds) await this.jobs.enqueueBankForget({ cubeId, memoryId, deleted: false });
  }
}
