import { Client, ClientConfig } from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../../../migrations';
import { ENTITIES } from '../entities';
import { usePreparedStatements } from '../repositories/sql';

/** Limits that turn a stuck unit of work into an error instead of a hang (0: off). */
export interface SessionLimits {
  /** Longest wait for a pooled connection ("timeout exceeded when trying to connect"). */
  acquireTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
  limits?: SessionLimits;
  /** Hot reads as named prepared statements (ADR 0130); off behind a pooler in transaction mode. */
  preparedStatements?: boolean;
}

/** `-c name=value` startup options, so every connection of the pool carries the limits from its first statement. */
export function sessionOptions(limits: SessionLimits): string {
  return [
    `-c statement_timeout=${limits.statementTimeoutMs}`,
    `-c lock_timeout=${limits.lockTimeoutMs}`,
    `-c idle_in_transaction_session_timeout=${limits.idleInTransactionTimeoutMs}`,
  ].join(' ');
}

/**
 * A pooled connection that always has an 'error' listener. pg-pool takes its own off a
 * connection while it is checked out; TypeORM adds one a tick after it is handed over, and
 * the prepared reads (ADR 0130) none: a connection that broke in such a window (PostgreSQL
 * restarting, a network failure) emitted 'error' with no listener, and that ends the process.
 * The error still fails the query in flight, and the pool drops the connection on release.
 */
class PooledClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}

/** The one place a TypeORM DataSource is configured: entities, migrations, never synchronize. */
export function createDataSource(options: DataSourceOptions): DataSource {
  const limits = options.limits;
  const dataSource = new DataSource({
    type: 'postgres',
    url: options.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    uuidExtension: 'pgcrypto',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      max: options.poolSize ?? 10,
      Client: PooledClient,
      application_name: options.applicationName ?? 'engram',
      ...(limits ? { connectionTimeoutMillis: limits.acquireTimeoutMs, options: sessionOptions(limits) } : {}),
    },
  });
  usePreparedStatements(dataSource, options.preparedStatements === true);
  return dataSource;
}
