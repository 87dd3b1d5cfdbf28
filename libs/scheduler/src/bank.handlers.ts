// Handlers of the parametric bank jobs; the work is in BankJobs (@engram/core).
import { Injectable } from '@nestjs/common';
import { BankConsolidatePayload, BankConsolidation, BankJobs, JobName, JobQueueService, SchedulerControl } from '@engram/core';
import { JobRecord, JobRepository } from '@engram/persistence';
import { JobControl, JobHandler } from './job-handler';

/** Clusters a cube's active memories into a new bank (progress on the bank row and the job). */
@Injectable()
export class BankBuildHandler implements JobHandler {
  readonly name = JobName.BankBuild;
  constructor(private readonly banks: BankJobs) {}
  handle(job: JobRecord, control: JobControl): Promise<void> {
    return this.banks.build(job, control);
  }
}

/** Trains the blocks of the written memories' paths, anchor frozen. */
@Injectable()
export class BankWriteHandler implements JobHandler {
  readonly name = JobName.BankWrite;
  constructor(private readonly banks: BankJobs) {}
  handle(job: JobRecord, control: JobControl): Promise<void> {
    return this.banks.write(job, control);
  }
}

/** Marks the blocks holding a deleted or edited memory stale. */
@Injectable()
export class BankForgetHandler implements JobHandler {
  readonly name = JobName.BankForget;
  constructor(private readonly banks: BankJobs) {}
  handle(job: JobRecord): Promise<void> {
    return this.banks.forget(job);
  }
}

/** A cube's consolidation run (ADR 0403); paused scheduling re-queues it. */
@Injectable()
export class BankConsolidateHandler implements JobHandler {
  readonly name = JobName.BankConsolidate;
  constructor(
    private readonly consolidation: BankConsolidation,
    private readonly jobs: JobRepository,
    private readonly queue: JobQueueService,
    private readonly control: SchedulerControl,
  ) {}

  async handle(job: JobRecord, control: JobControl): Promise<void> {
    const { cubeId } = job.payload as unknown as BankConsolidatePayload;
    // From here on, a new trigger queues the next run instead of joining this one.
    await this.jobs.releaseSingleton(job.id);
    if (await this.control.isPaused(job.tenantId)) {
      if (job.tenantId) await this.queue.enqueueBankConsolidate(job.tenantId, { cubeId }, PAUSED_RETRY_MS);
      return;
    }
    const outcome = await this.consolidation.run(cubeId, { heartbeat: (progress) => control.heartbeat(progress), signal: control.signal });
    await control.heartbeat({ ...outcome, verification: outcome.verification ?? null });
  }
}

const PAUSED_RETRY_MS = 5000;
