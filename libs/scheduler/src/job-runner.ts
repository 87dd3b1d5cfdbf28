import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { JOB_CANCELLED, JobRecord, JobRepository } from '@engram/persistence';
import { JOB_HANDLERS, JobControl, JobHandler } from './job-handler';

/** Options the process decides at boot; the runner stays off in a server with an external worker. */
export const JOB_RUNNER_ENABLED = Symbol('JOB_RUNNER_ENABLED');

/** The longest a running job goes without reading its row: how soon a cancel reaches a handler that reports no progress. */
const CANCEL_POLL_MS = 1000;

/**
 * Polls the PostgreSQL queue and runs one job at a time with a lease it renews while
 * the job runs. Failures go back to the queue with exponential backoff until the job's
 * attempts are spent. The lease renewal reads the operator's cancel from the row and aborts
 * the handler's signal (JobControl).
 */
@Injectable()
export class JobRunner implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly logger = new Logger('JobRunner');
  private readonly handlers: Map<string, JobHandler>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly jobs: JobRepository,
    @Inject(JOB_HANDLERS) handlers: JobHandler[],
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
    @Inject(JOB_RUNNER_ENABLED) private readonly enabled: boolean,
  ) {
    this.handlers = new Map(handlers.map((h) => [h.name, h]));
  }

  onApplicationBootstrap(): void {
    if (this.enabled) this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.logger.log(`worker ${this.workerId} polling ${[...this.handlers.keys()].join(', ')}`);
    this.schedule(0);
  }

  /** Stops polling and waits for the job in hand to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Claims and runs jobs until the queue is empty; returns how many ran. Used by tests and the loop. */
  async drain(): Promise<number> {
    let count = 0;
    for (;;) {
      const job = await this.jobs.claim(this.workerId, [...this.handlers.keys()], this.config.jobLeaseMs);
      if (!job) return count;
      await this.runOne(job);
      count += 1;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.drain()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.error(`polling failed: ${String(error)}`))
        .finally(() => {
          this.running = null;
          this.schedule(this.config.jobPollIntervalMs);
        });
    }, delayMs);
    this.timer.unref?.();
  }

  private async runOne(job: JobRecord): Promise<void> {
    const handler = this.handlers.get(job.name);
    if (!handler) return;
    const control = this.controlOf(job);
    // Renew the lease in the background, often enough that a cancel reaches a handler that reports no progress.
    const renew = setInterval(() => void control.heartbeat().catch(() => undefined), Math.max(50, Math.min(CANCEL_POLL_MS, Math.floor(this.config.jobLeaseMs / 3))));
    renew.unref?.();
    try {
      await handler.handle(job, control);
      clearInterval(renew);
      // A handler that finished committed its result, even if a cancel arrived meanwhile: the job completed.
      await this.jobs.complete(job.id, this.workerId);
    } catch (error) {
      clearInterval(renew);
      const backoffMs = Math.min(60_000, 1000 * 2 ** Math.max(0, job.attempts - 1));
      // A cancelled job ends `cancelled` with the cancel as its error (JobRepository.fail), not queued again.
      const state = await this.jobs.fail(job.id, this.workerId, error instanceof Error ? error.message : String(error), backoffMs);
      if (control.cancelled) this.logger.log(`job ${job.name} ${job.id} stopped: ${JOB_CANCELLED}`);
      else this.logger.warn(`job ${job.name} ${job.id} attempt ${job.attempts} failed (${state ?? 'lease lost'}): ${String(error)}`);
    }
  }

  /** The job's control: each heartbeat renews the lease and reads a cancel request from the row (the worker may be another process). */
  private controlOf(job: JobRecord): JobControl {
    const jobs = this.jobs;
    const workerId = this.workerId;
    const leaseMs = this.config.jobLeaseMs;
    const abort = new AbortController();
    const control = {
      lost: false,
      cancelled: false,
      signal: abort.signal,
      async heartbeat(progress?: Record<string, unknown>): Promise<void> {
        if (!control.lost) {
          // Still renewed after a cancel: the handler holds the job until it has stopped.
          const lease = await jobs.heartbeat(job.id, workerId, leaseMs, progress);
          if (lease === 'lost') {
            control.lost = true;
            abort.abort(new Error(`job ${job.id} was taken over by another worker`));
          } else if (lease === 'cancelling' && !control.cancelled) {
            control.cancelled = true;
            abort.abort(new Error(JOB_CANCELLED));
          }
        }
        abort.signal.throwIfAborted();
      },
    };
    return control;
  }
}
