import { Inject, Injectable } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { EntityManager } from 'typeorm';
import { JobRecord, JobRepository } from '@engram/persistence';
import { BankBuildPayload, BankConsolidatePayload, BankForgetPayload, BankWritePayload, CubePurgePayload, JobName, LifecycleExtractPayload, LifecycleRunPayload, LifecycleTickPayload, WorkingMemoryRefreshPayload } from './job-names';

/** Writes within this window share one lifecycle tick of their cube. */
export const LIFECYCLE_TICK_DEBOUNCE_MS = 250;

@Injectable()
export class JobQueueService {
  constructor(
    private readonly jobs: JobRepository,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
  ) {}

  /** One purge job per cube, however often it is asked for. */
  enqueueCubePurge(payload: CubePurgePayload): Promise<JobRecord> {
    return this.jobs.enqueue({
      name: JobName.CubePurge,
      payload: { ...payload },
      tenantId: payload.tenantId,
      singletonKey: `${JobName.CubePurge}:${payload.cubeId}`,
      maxAttempts: this.config.jobMaxAttempts,
    });
  }

  /** One build job per bank. */
  enqueueBankBuild(tenantId: string, payload: BankBuildPayload): Promise<JobRecord> {
    return this.jobs.enqueue({
      name: JobName.BankBuild,
      payload: { ...payload },
      tenantId,
      singletonKey: `${JobName.BankBuild}:${payload.bankId}`,
      maxAttempts: this.config.jobMaxAttempts,
    });
  }

  enqueueBankWrite(tenantId: string, payload: BankWritePayload): Promise<JobRecord> {
    return this.jobs.enqueue({ name: JobName.BankWrite, payload: { ...payload }, tenantId, maxAttempts: this.config.jobMaxAttempts });
  }

  /** One pending consolidation run per cube. */
  enqueueBankConsolidate(tenantId: string, payload: BankConsolidatePayload, delayMs = 0): Promise<JobRecord> {
    return this.jobs.enqueue({
      name: JobName.BankConsolidate,
      payload: { ...payload },
      tenantId,
      singletonKey: `${JobName.BankConsolidate}:${payload.cubeId}`,
      maxAttempts: this.config.jobMaxAttempts,
      ...(delayMs ? { runAfter: new Date(Date.now() + delayMs) } : {}),
    });
  }

  /** `tx`: queued inside the write that made the blocks stale (ADR 0530). */
  enqueueBankForget(payload: BankForgetPayload, tx?: EntityManager): Promise<JobRecord> {
    return this.jobs.enqueue({ name: JobName.BankForget, payload: { ...payload }, tenantId: null, maxAttempts: this.config.jobMaxAttempts }, tx);
  }

  /**
   * The cube's debounced lifecycle tick: the first write after a tick started queues one
   * to run after the debounce window, and the writes inside the window join it.
   */
  enqueueLifecycleTick(tenantId: string, payload: LifecycleTickPayload, debounceMs = LIFECYCLE_TICK_DEBOUNCE_MS): Promise<JobRecord> {
    return this.jobs.enqueue({
      name: JobName.LifecycleTick,
      payload: { ...payload },
      tenantId,
      singletonKey: `${JobName.LifecycleTick}:${payload.cubeId}`,
      maxAttempts: this.config.jobMaxAttempts,
      runAfter: new Date(Date.now() + debounceMs),
    });
  }

  enqueueLifecycleRun(tenantId: string, payload: LifecycleRunPayload): Promise<JobRecord> {
    return this.jobs.enqueue({ name: JobName.LifecycleRun, payload: { ...payload }, tenantId, maxAttempts: this.config.jobMaxAttempts });
  }

  enqueueLifecycleExtract(tenantId: string, payload: LifecycleExtractPayload, tx?: EntityManager): Promise<JobRecord> {
    return this.jobs.enqueue({ name: JobName.LifecycleExtract, payload: { ...payload }, tenantId, maxAttempts: this.config.jobMaxAttempts }, tx);
  }

  /** The cube's working-memory rebuild: changes within `debounceMs` of the first one share it. */
  enqueueWorkingMemoryRefresh(tenantId: string, payload: WorkingMemoryRefreshPayload, debounceMs: number, tx?: EntityManager): Promise<JobRecord> {
    return this.jobs.enqueue({
      name: JobName.WorkingMemoryRefresh,
      payload: { ...payload },
      tenantId,
      singletonKey: `${JobName.WorkingMemoryRefresh}:${payload.cubeId}`,
      maxAttempts: this.config.jobMaxAttempts,
      runAfter: new Date(Date.now() + debounceMs),
    }, tx);
  }

  enqueueActivationSweep(runAfter: Date): Promise<JobRecord> {
    return this.jobs.enqueue({ name: JobName.ActivationSweep, payload: {}, tenantId: null, singletonKey: JobName.ActivationSweep, maxAttempts: this.config.jobMaxAttempts, runAfter });
  }

  /** One pending sweep for the whole instance. */
  enqueueMaintenance(runAfter: Date): Promise<JobRecord> {
    return this.jobs.enqueue({ name: JobName.Maintenance, payload: {}, tenantId: null, singletonKey: JobName.Maintenance, maxAttempts: this.config.jobMaxAttempts, runAfter });
  }

  enqueueLifecycleSweep(runAfter: Date): Promise<JobRecord> {
    return this.jobs.enqueue({ name: JobName.LifecycleSweep, payload: {}, tenantId: null, singletonKey: JobName.LifecycleSweep, maxAttempts: this.config.jobMaxAttempts, runAfter });
  }
}
