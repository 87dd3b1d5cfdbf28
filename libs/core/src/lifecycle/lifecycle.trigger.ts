import { Injectable, Logger } from '@nestjs/common';
import { JobQueueService, LIFECYCLE_TICK_DEBOUNCE_MS } from '../jobs/job-queue.service';

/**
 * Told after every committed write to a cube: makes sure a lifecycle tick of the cube is
 * queued to run after the debounce window. A tick still waiting to start (its run time in
 * the future) will read this write, so the queue is not asked again until it starts.
 */
@Injectable()
export class LifecycleTrigger {
  private readonly logger = new Logger('LifecycleTrigger');
  private readonly pending = new Map<string, number>();

  constructor(private readonly jobs: JobQueueService) {}

  async cubeWritten(tenantId: string, cubeId: string): Promise<void> {
    const startsAt = this.pending.get(cubeId);
    if (startsAt !== undefined && startsAt > Date.now() + 25) return;
    try {
      const job = await this.jobs.enqueueLifecycleTick(tenantId, { cubeId }, LIFECYCLE_TICK_DEBOUNCE_MS);
      if (job.state === 'queued') this.pending.set(cubeId, job.runAfter.getTime());
      else this.pending.delete(cubeId);
      if (this.pending.size > 10_000) this.pending.clear();
    } catch (error) {
      // The write is committed; the next write or the periodic sweep's tick picks the cube up.
      this.logger.warn(`could not queue the lifecycle tick of cube ${cubeId}: ${String(error)}`);
    }
  }
}
