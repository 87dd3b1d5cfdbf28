import { JobRecord } from '@engram/persistence';

/** Lets a long job keep its lease and report progress; `lost` is true once another worker took it. */
export interface JobControl {
  heartbeat(progress?: Record<string, unknown>): Promise<void>;
  readonly lost: boolean;
}

/** A job handler must be idempotent: after a crash or a retry it runs again from the start. */
export interface JobHandler {
  readonly name: string;
  handle(job: JobRecord, control: JobControl): Promise<void>;
}

export const JOB_HANDLERS = Symbol('JOB_HANDLERS');
