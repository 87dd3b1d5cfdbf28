// Handlers of the lifecycle jobs; the work is in LifecycleEngine (@engram/core).
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { BankConsolidation, ExecutedAction, JobName, JobQueueService, LifecycleEngine, LifecycleExtraction, LifecycleExtractPayload, LifecycleRunPayload, LifecycleTickPayload, SchedulerControl, WorkingMemoryService } from '@engram/core';
import { JobRecord, JobRepository, LifecycleRepository } from '@engram/persistence';
import { JobControl, JobHandler } from './job-handler';
import { JOB_RUNNER_ENABLED } from './job-runner';

/** How long paused work waits before it looks again. */
const PAUSED_RETRY_MS = 5000;

/** The memories applied actions changed (merged, superseded, expired, archived, and their survivors). */
function touchedMemories(actions: readonly ExecutedAction[]): string[] {
  return [...new Set(actions.filter((a) => a.status === 'applied').flatMap((a) => [...a.memoryIds, ...(a.targetId ? [a.targetId] : [])]))];
}

/** A cube's debounced tick: fusion and invalidation over what changed since the last one. */
@Injectable()
export class LifecycleTickHandler implements JobHandler {
  readonly name = JobName.LifecycleTick;
  constructor(
    private readonly engine: LifecycleEngine,
    private readonly jobs: JobRepository,
    private readonly queue: JobQueueService,
    private readonly control: SchedulerControl,
    private readonly workingMemory: WorkingMemoryService,
  ) {}

  async handle(job: JobRecord, control: JobControl): Promise<void> {
    const { cubeId } = job.payload as unknown as LifecycleTickPayload;
    // From here on, a new write queues the next tick instead of joining this one.
    await this.jobs.releaseSingleton(job.id);
    if (await this.control.isPaused(job.tenantId)) {
      if (job.tenantId) await this.queue.enqueueLifecycleTick(job.tenantId, { cubeId }, PAUSED_RETRY_MS);
      return;
    }
    const { actions } = await this.engine.tick(cubeId, (progress) => control.heartbeat(progress));
    if (job.tenantId) await this.workingMemory.changed(job.tenantId, cubeId, touchedMemories(actions)); // promotion follows every change
  }
}

/** A requested run: the whole plan of one cube, applied; its status and actions on the run row. */
@Injectable()
export class LifecycleRunHandler implements JobHandler {
  readonly name = JobName.LifecycleRun;
  constructor(
    private readonly engine: LifecycleEngine,
    private readonly lifecycle: LifecycleRepository,
    private readonly queue: JobQueueService,
    private readonly control: SchedulerControl,
    private readonly consolidation: BankConsolidation,
    private readonly workingMemory: WorkingMemoryService,
  ) {}

  async handle(job: JobRecord, control: JobControl): Promise<void> {
    const { cubeId, runId } = job.payload as unknown as LifecycleRunPayload;
    const run = await this.lifecycle.getRun(cubeId, runId);
    if (!run || run.status === 'done') return;
    if (await this.control.isPaused(run.tenantId)) {
      // Waits in the queue as a fresh job; the run stays queued.
      const next = await this.queue.enqueueLifecycleRun(run.tenantId, { cubeId, runId });
      await this.lifecycle.attachJob(runId, next.id);
      return;
    }
    const cube = await this.engine.liveCube(cubeId);
    if (!cube) {
      await this.lifecycle.updateRun(runId, { status: 'failed', error: 'the cube was deleted' });
      return;
    }
    await this.lifecycle.updateRun(runId, { status: 'running', error: null });
    try {
      const actions = await this.engine.run(cube, runId, (progress) => control.heartbeat(progress));
      // As after a tick or a sweep: a working memory holding a memory the run merged, superseded, expired or archived
      // stops serving at once and is rebuilt (it kept the old text until some other change rebuilt it).
      if (actions.some((a) => a.status === 'applied')) await this.workingMemory.changed(cube.tenantId, cube.id, touchedMemories(actions));
      await this.lifecycle.updateRun(runId, { status: 'done', actions: actions as unknown as Record<string, unknown>[] });
      // Then consolidation, on what the run left active (ADR 0403).
      await this.consolidation.enqueueIfConfigured(cube.tenantId, cube.id);
    } catch (error) {
      // Visible on the run at once; the job retries with backoff and sets it running again.
      await this.lifecycle.updateRun(runId, { status: 'failed', error: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  }
}

/** Every live cube's TTL and idleness, cube by cube; queues the next sweep first. */
@Injectable()
export class LifecycleSweepHandler implements JobHandler {
  readonly name = JobName.LifecycleSweep;
  private readonly logger = new Logger('LifecycleSweep');
  constructor(
    private readonly engine: LifecycleEngine,
    private readonly jobs: JobRepository,
    private readonly queue: JobQueueService,
    private readonly lifecycle: LifecycleRepository,
    private readonly control: SchedulerControl,
    private readonly workingMemory: WorkingMemoryService,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
    private readonly consolidation: BankConsolidation,
  ) {}

  async handle(job: JobRecord, control: JobControl): Promise<void> {
    await this.jobs.releaseSingleton(job.id);
    await this.queue.enqueueLifecycleSweep(new Date(Date.now() + this.config.lifecycleSweepIntervalMs));
    if (await this.control.isPaused(null)) return;
    let cursor: string | null = null;
    let swept = 0;
    do {
      const page = await this.lifecycle.cubesWithCounts(null, 100, cursor);
      if (!page) return;
      for (const cube of page.items) {
        if (control.lost) return;
        if (await this.control.isPaused(cube.tenantId)) continue;
        if ((cube.counts.active ?? 0) === 0) continue;
        // A write whose tick was not queued after its commit (LifecycleTrigger logs why) is fused now (ADR 0530).
        if (await this.lifecycle.tickBehind(cube.id)) await this.queue.enqueueLifecycleTick(cube.tenantId, { cubeId: cube.id }, 0);
        const actions = await this.engine.sweep(cube.id);
        await this.consolidation.enqueueIfConfigured(cube.tenantId, cube.id);
        swept += actions.filter((a) => a.status === 'applied').length;
        if (actions.some((a) => a.status === 'applied')) await this.workingMemory.changed(cube.tenantId, cube.id, touchedMemories(actions));
        await control.heartbeat({ cube: cube.id, applied: swept });
      }
      cursor = page.nextCursor;
    } while (cursor);
    if (swept) this.logger.log(`sweep applied ${swept} actions`);
  }
}

/** Queues the first sweep in a process that runs jobs (the singleton key keeps it to one). */
@Injectable()
export class LifecycleSweepStarter implements OnApplicationBootstrap {
  constructor(
    private readonly queue: JobQueueService,
    @Inject(JOB_RUNNER_ENABLED) private readonly enabled: boolean,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.enabled) await this.queue.enqueueLifecycleSweep(new Date(Date.now() + Math.min(60_000, this.config.lifecycleSweepIntervalMs)));
  }
}

/** Facts from stored turns by the operator's LLM; a failing LLM fails the job (retried with backoff), the turns stay. */
@Injectable()
export class LifecycleExtractHandler implements JobHandler {
  readonly name = JobName.LifecycleExtract;
  constructor(
    private readonly engine: LifecycleEngine,
    private readonly extraction: LifecycleExtraction,
  ) {}

  async handle(job: JobRecord): Promise<void> {
    const { cubeId, memoryIds } = job.payload as unknown as LifecycleExtractPayload;
    const cube = await this.engine.liveCube(cubeId);
    if (!cube) return;
    await this.extraction.run(cube, memoryIds);
  }
}
