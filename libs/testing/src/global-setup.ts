// Jest global setup: migrate a template database that every spec file of this run clones.
// Relative imports only: jest does not apply moduleNameMapper here.
import { createDataSource } from '../../persistence/src/database/data-source.factory';
import { databaseUrl, stampedName, stampOf, TEST_DATABASE_PREFIX, withAdminClient } from './test-postgres';

const STALE_AFTER_MS = 3 * 60 * 60 * 1000;

export default async function globalSetup(): Promise<void> {
  const template = stampedName('tpl');
  await withAdminClient(async (client) => {
    const existing = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${TEST_DATABASE_PREFIX}%`]);
    for (const { datname } of existing.rows) {
      const stamp = stampOf(datname);
      if (stamp === null || Date.now() - stamp > STALE_AFTER_MS) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
    await client.query(`CREATE DATABASE "${template}"`);
  });
  const dataSource = createDataSource({ url: databaseUrl(template), poolSize: 1 });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
  process.env.ENGRAM_TEST_TEMPLATE = template;
}
