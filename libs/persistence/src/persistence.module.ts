import { DynamicModule, Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { DatabaseLifecycle, DatabaseServer, openDataSource, openDatabaseServer } from './database/database.providers';
import { DatabaseNotifications } from './database/database-notifications';
import { ApiKeyRepository } from './repositories/api-key.repository';
import { AuditRepository } from './repositories/audit.repository';
import { CubeRepository } from './repositories/cube.repository';
import { HealthRepository } from './repositories/health.repository';
import { JobRepository } from './repositories/job.repository';
import { SystemSettingRepository } from './repositories/system-setting.repository';
import { TenantRepository } from './repositories/tenant.repository';
import { MemoryRepository } from './repositories/memory.repository';
import { ModelRepository } from './repositories/model.repository';
import { KvCacheRepository } from './repositories/kv-cache.repository';
import { BankRepository } from './repositories/bank.repository';
import { BankBlockRepository } from './repositories/bank-block.repository';
import { UsageRepository } from './repositories/usage.repository';
import { LifecycleRepository } from './repositories/lifecycle.repository';
import { CubeArchiveRepository } from './repositories/cube-archive.repository';
import { PendingEmbeddingRepository } from './repositories/pending-embedding.repository';
import { ConsolidationRepository } from './repositories/consolidation.repository';
import { WorkingMemoryRepository } from './repositories/working-memory.repository';
import { CubeOverviewRepository } from './repositories/cube-overview.repository';

const REPOSITORIES = [
  TenantRepository,
  ApiKeyRepository,
  CubeRepository,
  AuditRepository,
  JobRepository,
  SystemSettingRepository,
  HealthRepository,
  MemoryRepository,
  ModelRepository,
  KvCacheRepository,
  BankRepository,
  BankBlockRepository,
  CubeArchiveRepository,
  LifecycleRepository,
  PendingEmbeddingRepository,
  ConsolidationRepository,
  UsageRepository,
  WorkingMemoryRepository,
  CubeOverviewRepository,
];

/** Provides the config, the database (embedded or external, migrated) and every repository. */
@Global()
@Module({})
export class PersistenceModule {
  static forRoot(config: EngramConfig): DynamicModule {
    return {
      module: PersistenceModule,
      providers: [
        { provide: ENGRAM_CONFIG, useValue: config },
        { provide: DatabaseServer, useFactory: () => openDatabaseServer(config) },
        { provide: DataSource, useFactory: (server: DatabaseServer) => openDataSource(config, server), inject: [DatabaseServer] },
        DatabaseLifecycle,
        DatabaseNotifications,
        ...REPOSITORIES,
      ],
      exports: [ENGRAM_CONFIG, DataSource, DatabaseServer, DatabaseNotifications, ...REPOSITORIES],
    };
  }
}
