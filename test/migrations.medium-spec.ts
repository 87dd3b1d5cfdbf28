import { createDataSource, pendingSchemaChanges } from '@engram/persistence';
import { withAdminClient, databaseUrl, stampedName } from '@engram/testing';

describe('migrations', () => {
  const name = stampedName('db');
  const url = databaseUrl(name);

  beforeAll(() => withAdminClient(async (c) => void (await c.query(`CREATE DATABASE "${name}"`))));
  afterAll(() => withAdminClient(async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))));

  it('apply to an empty database and leave nothing for the entities to generate (drift check)', async () => {
    const ds = createDataSource({ url, poolSize: 1 });
    await ds.initialize();
    try {
      await ds.runMigrations({ transaction: 'each' });
      expect(await pendingSchemaChanges(ds)).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it('revert every migration down to an empty schema and apply them again', async () => {
    const ds = createDataSource({ url, poolSize: 1 });
    await ds.initialize();
    try {
      const count = ds.migrations.length;
      for (let i = 0; i < count; i++) await ds.undoLastMigration({ transaction: 'each' });
      const tables: { table_name: string }[] = await ds.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'`,
      );
      expect(tables).toEqual([]);
      await ds.runMigrations({ transaction: 'each' });
      expect(await pendingSchemaChanges(ds)).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });
});

describe('migration CancelledJobs', () => {
  const name = stampedName('db');
  const url = databaseUrl(name);

  beforeAll(() => withAdminClient(async (c) => void (await c.query(`CREATE DATABASE "${name}"`))));
  afterAll(() => withAdminClient(async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))));

  it('turns the jobs that ended failed by an operator cancel into cancelled ones, and only those', async () => {
    const ds = createDataSource({ url, poolSize: 1 });
    await ds.initialize();
    try {
      await ds.runMigrations({ transaction: 'each' });
      await ds.undoLastMigration({ transaction: 'each' });
      expect(ds.migrations.at(-1)?.name).toBe('CancelledJobs1796100000000');
      await ds.query(`INSERT INTO jobs (name, state, last_error) VALUES ('a', 'failed', 'cancelled by the operator'), ('b', 'failed', 'boom'), ('c', 'completed', NULL)`);
      await ds.runMigrations({ transaction: 'each' });
      expect(await ds.query(`SELECT name, state FROM jobs ORDER BY name`)).toEqual([
        { name: 'a', state: 'cancelled' },
        { name: 'b', state: 'failed' },
        { name: 'c', state: 'completed' },
      ]);
    } finally {
      await ds.destroy();
    }
  });
});
