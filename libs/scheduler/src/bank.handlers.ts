// Handlers of the parametric bank jobs; the work is in BankJobs (@engram/core).
import { Injectable } from '@nestjs/common';
import { BankJobs, JobName } from '@engram/core';
import { JobRecord } from '@engram/persistence';
import { JobControl, JobHandler } from './job-handler';

/** Clusters a cube's active memories into a new bank (progress on the bank row and the job). */
@Injectable()
export class BankBuildHandler implements JobHandler {
  readonly name = JobName.BankBuild;
  constructor(private readonly banks: BankJobs) {}
  handle(job: JobRecord, control: JobControl): Promise<void> {
    return this.banks.build(job, control);
  }
}

/** Trains the blocks of the written memories' paths, anchor frozen. */
@Injectable()
export class BankWriteHandler implements JobHandler {
  readonly name = JobName.BankWrite;
  constructor(private readonly banks: BankJobs) {}
  handle(job: JobRecord, control: JobControl): Promise<void> {
    return this.banks.write(job, control);
  }
}

/** Marks the blocks holding a deleted or edited memory stale. */
@Injectable()
export class BankForgetHandler implements JobHandler {
  readonly name = JobName.BankForget;
  constructor(private readonly banks: BankJobs) {}
  handle(job: JobRecord): Promise<void> {
    return this.banks.forget(job);
  }
}
