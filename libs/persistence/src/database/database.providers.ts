import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EngramConfig, ENGRAM_CONFIG } from '@engram/config';
import { createDataSource, SessionLimits } from './data-source.factory';
import { startEmbeddedPostgres, EmbeddedPostgresHandle } from './embedded-postgres.launcher';
import { runMigrationsLocked } from './migrator';

/** Where the database is: DATABASE_URL, or an embedded PostgreSQL this process started. */
export class DatabaseServer {
  constructor(
    readonly url: string,
    readonly embedded: EmbeddedPostgresHandle | null,
  ) {}
}

export async function openDatabaseServer(config: EngramConfig, logger = new Logger('Database')): Promise<DatabaseServer> {
  if (config.databaseUrl) return new DatabaseServer(config.databaseUrl, null);
  const started = Date.now();
  const embedded = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    port: config.embeddedPostgresPort,
    sharedBuffersBytes: config.embeddedPostgresSharedBuffers,
    log: (message) => logger.debug(message),
  });
  logger.log(`embedded PostgreSQL ready on port ${config.embeddedPostgresPort} in ${Date.now() - started} ms (data in ${config.dataDir}/pg, shared_buffers ${embedded.sharedBuffersMb} MB)`);
  return new DatabaseServer(embedded.url, embedded);
}

export function sessionLimitsOf(config: EngramConfig): SessionLimits {
  return {
    acquireTimeoutMs: config.dbAcquireTimeoutMs,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    lockTimeoutMs: config.dbLockTimeoutMs,
    idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
  };
}

export async function openDataSource(config: EngramConfig, server: DatabaseServer, logger = new Logger('Database')): Promise<DataSource> {
  if (config.migrateOnStart) {
    // Migrations may build indexes on large tables: they run on their own connections, without the serving limits.
    const migrator = createDataSource({ url: server.url, poolSize: 2, applicationName: 'engram-migrator' });
    await migrator.initialize();
    try {
      const applied = await runMigrationsLocked(migrator, server.url);
      if (applied.length) logger.log(`applied migrations: ${applied.join(', ')}`);
    } finally {
      await migrator.destroy();
    }
  }
  const dataSource = createDataSource({ url: server.url, poolSize: config.dbPoolSize, limits: sessionLimitsOf(config), preparedStatements: config.dbPreparedStatements });
  await dataSource.initialize();
  return dataSource;
}

/** Closes the pool, then stops the embedded PostgreSQL if this process started one. */
@Injectable()
export class DatabaseLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  constructor(
    private readonly dataSource: DataSource,
    private readonly server: DatabaseServer,
    @Inject(ENGRAM_CONFIG) private readonly config: EngramConfig,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    if (this.server.embedded) {
      await this.server.embedded.stop();
      this.logger.log(`embedded PostgreSQL stopped (${this.config.dataDir}/pg)`);
    }
  }
}
