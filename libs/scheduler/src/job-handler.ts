import { JobRecord } from '@engram/persistence';

/**
 * Lets a long job keep its lease and report progress, and tells it when to stop: the
 * operator cancelled it (`cancelled`) or another worker took it (`lost`). Both abort `signal`,
 * and `heartbeat` then rejects with the signal's reason, so a handler that reports progress
 * stops there; one with a synchronous loop calls `signal.throwIfAborted()` at its checkpoints.
 * A handler stops only before it commits its result: once committed, it finishes.
 */
export interface JobControl {
  heartbeat(progress?: Record<string, unknown>): Promise<void>;
  readonly lost: boolean;
  readonly cancelled: boolean;
  readonly signal: AbortSignal;
}

/** A job handler must be idempotent: after a crash or a retry it runs again from the start. */
export interface JobHandler {
  readonly name: string;
  handle(job: JobRecord, control: JobControl): Promise<void>;
}

export const JOB_HANDLERS = Symbol('JOB_HANDLERS');
