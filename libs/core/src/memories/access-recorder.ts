import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { MemoryRepository } from '@engram/persistence';

const FLUSH_EVERY_MS = 1000;

/**
 * Counts how often memories are returned by search, batched: one UPDATE a second at
 * most, whatever the search rate, flushed on shutdown. The scheduler's promotion
 * policies read these counts.
 */
@Injectable()
export class AccessRecorder implements BeforeApplicationShutdown {
  private readonly logger = new Logger('AccessRecorder');
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly memories: MemoryRepository) {}

  record(memoryIds: string[]): void {
    for (const id of memoryIds) this.pending.set(id, (this.pending.get(id) ?? 0) + 1);
    if (!this.timer && this.pending.size > 0) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
      this.timer.unref?.();
    }
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.memories.recordAccess(batch);
    } catch (error) {
      this.logger.warn(`could not record ${batch.size} memory accesses: ${String(error)}`);
    }
  }

  /** Before any onApplicationShutdown hook: the database connection is still open. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
