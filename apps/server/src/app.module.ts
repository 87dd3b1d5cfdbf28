import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { EngramConfig } from '@engram/config';
import { CoreModule } from '@engram/core';
import { SchedulerModule } from '@engram/scheduler';
import { AdminController } from './controllers/admin.controller';
import { AdminLifecycleController } from './controllers/admin-lifecycle.controller';
import { LifecycleController } from './controllers/lifecycle.controller';
import { CubeController } from './controllers/cube.controller';
import { CubeArchiveController } from './controllers/cube-archive.controller';
import { MemoryController } from './controllers/memory.controller';
import { SystemController } from './controllers/system.controller';
import { ChatController } from './controllers/chat.controller';
import { KvCacheController } from './controllers/kv-cache.controller';
import { BankController } from './controllers/bank.controller';
import { ModelAdminController } from './controllers/model-admin.controller';
import { McpController } from './controllers/mcp.controller';
import { McpService } from './mcp/mcp.service';
import { AuthGuard } from './http/auth.guard';
import { ErrorFilter } from './http/error.filter';
import { MetricsService } from './http/metrics.service';
import { EngramRequest } from './http/request-context.decorator';
import { EngramValidationPipe } from './http/validation.pipe';

export interface AppModuleOptions {
  /** Run the job worker in this process too (single-process installs). */
  runWorker: boolean;
}

@Module({})
export class AppModule {
  static forRoot(config: EngramConfig, options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config),
        SchedulerModule.forRoot({ runWorker: options.runWorker }),
      ],
      controllers: [SystemController, AdminController, CubeController, CubeArchiveController, MemoryController, ModelAdminController, KvCacheController, BankController, ChatController, McpController, LifecycleController, AdminLifecycleController],
      providers: [
        MetricsService,
        McpService,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
        { provide: APP_PIPE, useClass: EngramValidationPipe },
      ],
    };
  }
}
