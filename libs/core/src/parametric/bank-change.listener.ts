import { Injectable } from '@nestjs/common';
import { BankRepository, MemoryRepository } from '@engram/persistence';
import { JobQueueService } from '../jobs/job-queue.service';

/**
 * Told (through MemoryChangeListener) when a memory's text changes or the memory is
 * deleted: queues marking the blocks written from it stale in the cube's banks. A job,
 * not inline: a bank being written holds its lock for the whole training run.
 */
@Injectable()
export class BankChangeListener {
  constructor(
    private readonly banks: BankRepository,
    private readonly memories: MemoryRepository,
    private readonly jobs: JobQueueService,
  ) {}

  async memoryChanged(cubeId: string, memoryId: string): Promise<void> {
    if (!(await this.banks.hasAny(cubeId))) return;
    const memory = await this.memories.get(cubeId, memoryId);
    await this.jobs.enqueueBankForget({ cubeId, memoryId, deleted: !memory || memory.state === 'deleted' });
  }

  /** Erased: marked stale, then the blocks are rewritten so the weights no longer hold it. */
  async memoryErased(cubeId: string, tenantId: string, memoryId: string): Promise<void> {
    if (!(await this.banks.hasAny(cubeId))) return;
    await this.jobs.enqueueBankForget({ cubeId, memoryId, deleted: true, rewrite: true, tenantId });
  }
}
