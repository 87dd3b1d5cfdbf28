import { DynamicModule, Module } from '@nestjs/common';
import { EngramConfig } from '@engram/config';
import { CoreModule } from '@engram/core';
import { SchedulerModule } from '@engram/scheduler';

/** The worker process: the same providers as the server, no controllers, the job runner on. */
@Module({})
export class WorkerModule {
  static forRoot(config: EngramConfig, options: { runWorker?: boolean } = {}): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CoreModule.forRoot(config), SchedulerModule.forRoot({ runWorker: options.runWorker ?? true })],
    };
  }
}
