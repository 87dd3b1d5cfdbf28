import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { BankRepository, ConsolidationRepository } from '@engram/persistence';
import { JobQueueService } from '../jobs/job-queue.service';

/**
 * Told (through MemoryChangeListener) when a memory's text changes or the memory is
 * deleted, and by the lifecycle engine when it leaves the active state (merged,
 * superseded, expired, archived): the blocks written from it are marked stale at once, so
 * chat stops using them (ADR 0403), and a job marks them again under the bank's lock — a
 * write in progress holds that lock for its whole training run and would otherwise
 * record its blocks over the mark.
 *
 * Everything here is rows (the stale marks, the job), written inside the transaction of the
 * change that makes them necessary (`tx`): they commit with it or not at all, so a crash
 * or an error after the commit cannot leave a block answering from the old text (ADR 0530).
 */
@Injectable()
export class BankChangeListener {
  constructor(
    private readonly banks: BankRepository,
    private readonly jobs: JobQueueService,
    private readonly consolidation: ConsolidationRepository,
  ) {}

  /** `deleted`: the memory is deleted by this transaction (else its text changed). */
  async memoryChanged(tx: EntityManager, cubeId: string, memoryId: string, deleted: boolean): Promise<void> {
    if (!(await this.banks.hasAny(cubeId, tx))) return;
    await this.consolidation.markStaleInCube(cubeId, [memoryId], tx);
    await this.jobs.enqueueBankForget({ cubeId, memoryId, deleted }, tx);
  }

  /** Erased: marked stale, then the blocks are rewritten so the weights no longer hold it. */
  async memoryErased(tx: EntityManager, cubeId: string, tenantId: string, memoryId: string): Promise<void> {
    if (!(await this.banks.hasAny(cubeId, tx))) return;
    await this.consolidation.markStaleInCube(cubeId, [memoryId], tx);
    await this.jobs.enqueueBankForget({ cubeId, memoryId, deleted: true, rewrite: true, tenantId }, tx);
  }

  /** Merged, superseded, expired or archived by the lifecycle: not deleted (a restore brings it back), but no longer what a block should answer. */
  async memoriesRetired(tx: EntityManager, cubeId: string, memoryIds: readonly string[]): Promise<void> {
    if (!memoryIds.length || !(await this.banks.hasAny(cubeId, tx))) return;
    if (!(await this.consolidation.markStaleInCube(cubeId, memoryIds, tx))) return; // no block holds them
    for (const memoryId of memoryIds) await this.jobs.enqueueBankForget({ cubeId, memoryId, deleted: false }, tx);
  }
}
