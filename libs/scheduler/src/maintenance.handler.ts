import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { JobName, JobQueueService } from '@engram/core';
import { JobRecord, JobRepository, MemoryRepository, UsageRepository } from '@engram/persistence';
import { JobControl, JobHandler } from './job-handler';
import { JOB_RUNNER_ENABLED } from './job-runner';

/** How often housekeeping runs. */
export const MAINTENANCE_INTERVAL_MS = 5 * 60_000;

/**
 * Housekeeping: stored idempotent responses past their TTL (they hold whole memories) and
 * rate-limit windows that ended. Queues its next run first, so one failure never stops it.
 */
@Injectable()
export class MaintenanceHandler implements JobHandler {
  readonly name = JobName.Maintenance;
  private readonly logger = new Logger('Maintenance');

  constructor(
    private readonly jobs: JobRepository,
    private readonly queue: JobQueueService,
    private readonly memories: MemoryRepository,
    private readonly usage: UsageRepository,
  ) {}

  async handle(job: JobRecord, control: JobControl): Promise<void> {
    await this.jobs.releaseSingleton(job.id);
    await this.queue.enqueueMaintenance(new Date(Date.now() + MAINTENANCE_INTERVAL_MS));
    let expired = 0;
    for (let removed = -1; removed !== 0 && !control.lost; ) {
      removed = await this.memories.deleteExpiredIdempotency();
      expired += removed;
      await control.heartbeat({ expired });
    }
    const windows = await this.usage.deleteOldWindows();
    if (expired || windows) this.logger.log(`removed ${expired} expired idempotency records and ${windows} rate-limit windows`);
  }
}

/** Queues the first run in a process that runs jobs (the singleton key keeps it to one). */
@Injectable()
export class MaintenanceStarter implements OnApplicationBootstrap {
  constructor(
    private readonly queue: JobQueueService,
    @Inject(JOB_RUNNER_ENABLED) private readonly enabled: boolean,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.enabled) await this.queue.enqueueMaintenance(new Date(Date.now() + 60_000));
  }
}
