// Handlers of the activation-memory jobs (ADR 0402); the work is in WorkingMemoryService (@engram/core).
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ACTIVATION_SWEEP_INTERVAL_MS, JobName, JobQueueService, SchedulerControl, WorkingMemoryRefreshPayload, WorkingMemoryService } from '@engram/core';
import { JobRecord, JobRepository } from '@engram/persistence';
import { JobHandler } from './job-handler';
import { JOB_RUNNER_ENABLED } from './job-runner';

const PAUSED_RETRY_MS = 5000;

/** Rebuilds a cube's working-memory KV cache when its set or texts changed. */
@Injectable()
export class WorkingMemoryRefreshHandler implements JobHandler {
  readonly name = JobName.WorkingMemoryRefresh;
  constructor(
    private readonly workingMemory: WorkingMemoryService,
    private readonly jobs: JobRepository,
    private readonly queue: JobQueueService,
    private readonly control: SchedulerControl,
  ) {}

  async handle(job: JobRecord): Promise<void> {
    const { cubeId } = job.payload as unknown as WorkingMemoryRefreshPayload;
    // From here on, a change queues the next rebuild instead of joining this one.
    await this.jobs.releaseSingleton(job.id);
    if (await this.control.isPaused(job.tenantId)) {
      if (job.tenantId) await this.queue.enqueueWorkingMemoryRefresh(job.tenantId, { cubeId }, PAUSED_RETRY_MS);
      return;
    }
    await this.workingMemory.refresh(cubeId);
  }
}

/** Cold working memories: out of RAM, then dropped; queues the next sweep first. */
@Injectable()
export class ActivationSweepHandler implements JobHandler {
  readonly name = JobName.ActivationSweep;
  private readonly logger = new Logger('ActivationSweep');
  constructor(
    private readonly workingMemory: WorkingMemoryService,
    private readonly jobs: JobRepository,
    private readonly queue: JobQueueService,
  ) {}

  async handle(job: JobRecord): Promise<void> {
    await this.jobs.releaseSingleton(job.id);
    await this.queue.enqueueActivationSweep(new Date(Date.now() + ACTIVATION_SWEEP_INTERVAL_MS));
    const { demoted, dropped } = await this.workingMemory.sweep();
    if (demoted || dropped) this.logger.log(`working memories: ${demoted} moved out of RAM, ${dropped} dropped`);
  }
}

/** Queues the first activation sweep in a process that runs jobs. */
@Injectable()
export class ActivationSweepStarter implements OnApplicationBootstrap {
  constructor(
    private readonly queue: JobQueueService,
    @Inject(JOB_RUNNER_ENABLED) private readonly enabled: boolean,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.enabled) await this.queue.enqueueActivationSweep(new Date(Date.now() + ACTIVATION_SWEEP_INTERVAL_MS));
  }
}
