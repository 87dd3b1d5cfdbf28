import { DynamicModule, Module } from '@nestjs/common';
import { ActivationSweepHandler, ActivationSweepStarter, WorkingMemoryRefreshHandler } from './activation.handlers';
import { BankBuildHandler, BankConsolidateHandler, BankForgetHandler, BankWriteHandler } from './bank.handlers';
import { CubePurgeHandler } from './cube-purge.handler';
import { LifecycleExtractHandler, LifecycleRunHandler, LifecycleSweepHandler, LifecycleSweepStarter, LifecycleTickHandler } from './lifecycle.handlers';
import { JOB_HANDLERS } from './job-handler';
import { MaintenanceHandler, MaintenanceStarter } from './maintenance.handler';
import { JOB_RUNNER_ENABLED, JobRunner } from './job-runner';

const HANDLERS = [CubePurgeHandler, BankBuildHandler, BankWriteHandler, BankForgetHandler, BankConsolidateHandler, LifecycleTickHandler, LifecycleRunHandler, LifecycleSweepHandler, LifecycleExtractHandler, MaintenanceHandler, WorkingMemoryRefreshHandler, ActivationSweepHandler];

/** Job handlers and the runner. `runWorker: false` registers the handlers without polling. */
@Module({})
export class SchedulerModule {
  static forRoot(options: { runWorker: boolean }): DynamicModule {
    return {
      module: SchedulerModule,
      providers: [
        ...HANDLERS,
        { provide: JOB_HANDLERS, useFactory: (...handlers: unknown[]) => handlers, inject: HANDLERS },
        { provide: JOB_RUNNER_ENABLED, useValue: options.runWorker },
        JobRunner,
        LifecycleSweepStarter,
        MaintenanceStarter,
        ActivationSweepStarter,
      ],
      exports: [JobRunner, ...HANDLERS],
    };
  }
}
