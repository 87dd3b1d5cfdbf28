import { Inject, Injectable, Logger } from '@nestjs/common';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { ActivationStore, AuditService, BankStore, cubeScope, CubePurgePayload, JobName } from '@engram/core';
import { CubeRepository, JobRecord, LifecycleRepository } from '@engram/persistence';
import { JobControl, JobHandler } from './job-handler';

/**
 * Hard-deletes a soft-deleted cube and everything it owns: its rows (through
 * ON DELETE CASCADE), its files under `<dataDir>/cubes/<id>` (parametric banks included) and its KV caches. Idempotent: a cube that
 * is already gone, or a rerun after a crash half way, finishes the same way.
 */
@Injectable()
export class CubePurgeHandler implements JobHandler {
  readonly name = JobName.CubePurge;
  private readonly logger = new Logger('CubePurge');

  constructor(
    private readonly cubes: CubeRepository,
    private readonly audit: AuditService,
    private readonly activation: ActivationStore,
    private readonly bankStore: BankStore,
    private readonly lifecycle: LifecycleRepository,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
  ) {}

  async handle(job: JobRecord, control: JobControl): Promise<void> {
    const { cubeId, tenantId } = job.payload as unknown as CubePurgePayload;
    const cube = await this.cubes.getAny(cubeId);
    if (cube && cube.deletedAt === null) {
      // Restored (or never deleted): purging it would destroy live data.
      this.logger.warn(`cube ${cubeId} is live again; purge skipped`);
      return;
    }
    this.bankStore.closeCube(cubeId); // bank files live under the cube folder; their rows go with the cube row
    await fs.rm(path.join(this.config.dataDir, 'cubes', cubeId), { recursive: true, force: true });
    await this.activation.deleteByOwner(cubeId); // KV blobs; their kv_caches rows go with the cube row
    await control.heartbeat({ step: 'files' });
    const removed = cube ? await this.cubes.hardDeleteSoftDeleted(cubeId) : false;
    await this.lifecycle.deletePolicy(cubeScope(cubeId)); // its events, runs and tick cursor went with the cube row
    // A snapshot save that was already under way when the files went can have recreated the
    // folder; with the row gone no new save starts (CubeIndexManager checks it), so a second pass ends it.
    await fs.rm(path.join(this.config.dataDir, 'cubes', cubeId), { recursive: true, force: true });
    if (removed) {
      await this.audit.record(null, null, { action: 'cube.purge', targetType: 'cube', targetId: cubeId, tenantId, details: { jobId: job.id } });
    }
  }
}
