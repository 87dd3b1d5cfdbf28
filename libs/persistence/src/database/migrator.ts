import { Client } from 'pg';
import { DataSource } from 'typeorm';

/** Arbitrary, fixed key of the advisory lock that serialises migrations across replicas. */
const MIGRATION_LOCK_KEY = 727_364_001;

/**
 * Applies pending migrations while holding a PostgreSQL advisory lock on a dedicated
 * connection, so several replicas starting at once migrate exactly once. Returns the
 * names of the migrations this call applied.
 */
export async function runMigrationsLocked(dataSource: DataSource, url: string): Promise<string[]> {
  const lockClient = new Client({ connectionString: url, application_name: 'engram-migrator' });
  await lockClient.connect();
  try {
    await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lockClient.end();
  }
}

/** SQL the entities would still need on this database: empty when migrations match the entities. */
export async function pendingSchemaChanges(dataSource: DataSource): Promise<string[]> {
  const sql = await dataSource.driver.createSchemaBuilder().log();
  return sql.upQueries.map((q) => q.query);
}
