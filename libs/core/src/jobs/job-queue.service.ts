import { Inject, Injectable } from '@nestjs/common';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { JobRecord, JobRepository } from '@engram/persistence';
import { CubePurgePayload, JobName } from './job-names';

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
}
