// Commit first, embed right after (ADR 0106). A cube whose embedder is too slow for the
// write path (`deferWrites`, e.g. use-lite) stores memories without a vector: lexical
// search sees them as soon as the write commits, and this service embeds them in the
// background, in batches, oldest first, and stores the vectors with a new change
// sequence so every index follower (this process or another) adds them to its HNSW.
// The database is the queue: after a restart, a sweep finds every memory still waiting.
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { PendingEmbeddingRepository } from '@engram/persistence';
import { EmbedderRegistry } from './embedder.registry';

/** Memories embedded per round trip (one SELECT, one batched encoder run, one UPDATE). */
const BATCH = 256;
const RETRY_MS = 5_000;

@Injectable()
export class DeferredEmbeddingService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('DeferredEmbedding');
  private readonly queued = new Set<string>();
  /**
   * Per cube, the change sequence up to which every memory has a vector (as far as this
   * process knows): a cube's writes commit in change order under its lock, so the next
   * pass reads only later changes. 0 (a full pass) the first time a process sees a cube.
   */
  private readonly embeddedUpTo = new Map<string, number>();
  private draining: Promise<void> | null = null;
  private stopped = false;
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(
    private readonly pending: PendingEmbeddingRepository,
    private readonly embedders: EmbedderRegistry,
  ) {}

  onApplicationBootstrap(): void {
    // Memories a previous process committed but did not embed (crash, shutdown).
    void this.sweep().catch((error: unknown) => this.logger.warn(`could not look for memories waiting for a vector: ${String(error)}`));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const timer of this.retries) clearTimeout(timer);
    await this.draining;
  }

  /** Queues every cube that holds memories without a vector, each for a full pass. */
  async sweep(): Promise<void> {
    for (const cubeId of await this.pending.cubesWithPending()) {
      this.embeddedUpTo.delete(cubeId);
      this.schedule(cubeId);
    }
  }

  /** Embeds the cube's waiting memories soon (after the write that called this committed). */
  schedule(cubeId: string): void {
    if (this.stopped) return;
    this.queued.add(cubeId);
    this.kick();
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // A cube queued between the drain's last look and now.
      if (this.queued.size > 0 && !this.stopped) this.kick();
    });
  }

  /** Resolves once nothing is queued or running (tests, benches). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.queued.size > 0) {
      const cubeId = this.queued.values().next().value as string;
      this.queued.delete(cubeId);
      try {
        await this.embedCube(cubeId);
      } catch (error) {
        this.logger.warn(`cube ${cubeId}: deferred embedding failed, retrying in ${RETRY_MS / 1000} s: ${String(error)}`);
        const timer = setTimeout(() => {
          this.retries.delete(timer);
          this.schedule(cubeId);
        }, RETRY_MS);
        timer.unref();
        this.retries.add(timer);
      }
    }
  }

  private async embedCube(cubeId: string): Promise<void> {
    const settings = await this.pending.cubeSettings(cubeId);
    if (!settings) return; // the cube was deleted
    const embedder = this.embedders.forSettings(settings);
    let fruitless = 0;
    let after = this.embeddedUpTo.get(cubeId) ?? 0;
    while (!this.stopped) {
      const rows = await this.pending.pending(cubeId, after, BATCH);
      if (rows.length === 0) {
        this.embeddedUpTo.set(cubeId, after);
        return;
      }
      const vectors = await this.embedders.embed(embedder, rows.map((r) => r.text));
      const applied = await this.pending.store(
        cubeId,
        embedder.fingerprint,
        rows.map((r, i) => ({ id: r.id, version: r.version, embedding: vectors[i] })),
      );
      // Rows edited while they were embedded come back with their new version (the window
      // does not move past them); a cube edited faster than it can be embedded yields to
      // the others for a while.
      if (applied === rows.length) after = rows[rows.length - 1].changeSeq;
      fruitless = applied === 0 ? fruitless + 1 : 0;
      if (fruitless >= 3) {
        this.schedule(cubeId);
        return;
      }
    }
  }
}
