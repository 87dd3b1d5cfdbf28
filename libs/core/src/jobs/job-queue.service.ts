import { Inject, Injectable } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { JobRecord, JobRepository } from '@engram/persistence';
import { BankBuildPayload, BankForgetPayload, BankWritePayload, CubePurgePayload, JobName } from './job-names';

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

  enqueueBankForget(payload: BankForgetPayload): Promise<JobRecord> {
    return this.jobs.enqueue({ name: JobName.BankForget, payload: { ...payload }, tenantId: null, maxAttempts: this.config.jobMaxAttempts });
  }
}
