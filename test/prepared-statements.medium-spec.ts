import { DataSource } from 'typeorm';
import { createDataSource, queryPrepared } from '@engram/persistence';
import { databaseUrl, stampedName, withAdminClient } from '@engram/testing';

// ADR 0130: the reads every search makes run as named prepared statements.
describe('queryPrepared', () => {
  const name = stampedName('db');
  const url = databaseUrl(name);
  const open = async (preparedStatements: boolean): Promise<DataSource> => {
    // One connection: what pg_prepared_statements shows is that connection's.
    const ds = createDataSource({ url, poolSize: 1, preparedStatements });
    await ds.initialize();
    return ds;
  };
  const prepared = async (ds: DataSource) =>
    ((await ds.query('SELECT name, statement FROM pg_prepared_statements')) as { name: string; statement: string }[]).filter((s) => s.name.startsWith('engram_'));

  beforeAll(async () => {
    await withAdminClient(async (c) => void (await c.query(`CREATE DATABASE "${name}"`)));
    const ds = await open(false);
    await ds.query(`CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)`);
    await ds.query(`INSERT INTO notes VALUES (1, 'beagle'), (2, 'peanut allergy')`);
    await ds.destroy();
  });
  afterAll(() => withAdminClient(async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))));

  it('prepares a statement once per connection and answers as a plain query does', async () => {
    const ds = await open(true);
    try {
      const sql = 'SELECT id, body FROM notes WHERE id = ANY($1::int[]) ORDER BY id';
      expect(await queryPrepared(ds, sql, [[1, 2]])).toEqual(await ds.query(sql, [[1, 2]]));
      expect(await queryPrepared(ds, sql, [[2]])).toEqual([{ id: 2, body: 'peanut allergy' }]);
      const statements = await prepared(ds);
      expect(statements).toHaveLength(1);
      expect(statements[0].statement).toBe(sql);
    } finally {
      await ds.destroy();
    }
  });

  it('is a plain query when the data source is opened without prepared statements, and inside a transaction', async () => {
    const off = await open(false);
    try {
      expect(await queryPrepared(off, 'SELECT body FROM notes WHERE id = $1', [1])).toEqual([{ body: 'beagle' }]);
      expect(await prepared(off)).toEqual([]);
    } finally {
      await off.destroy();
    }
    const on = await open(true);
    try {
      const inTransaction = await on.transaction((em) => queryPrepared(em, 'SELECT body FROM notes WHERE id = $1', [2]));
      expect(inTransaction).toEqual([{ body: 'peanut allergy' }]);
      expect(await prepared(on)).toEqual([]);
    } finally {
      await on.destroy();
    }
  });

  it('runs again on a fresh connection when a migration changed what a prepared statement returns', async () => {
    const ds = await open(true);
    try {
      const sql = 'SELECT id, body FROM notes WHERE id = $1';
      expect(await queryPrepared(ds, sql, [1])).toEqual([{ id: 1, body: 'beagle' }]);
      await ds.query('ALTER TABLE notes ALTER COLUMN body TYPE int USING length(body)');
      // Without the retry: "cached plan must not change result type".
      expect(await queryPrepared(ds, sql, [1])).toEqual([{ id: 1, body: 6 }]);
      await ds.query('ALTER TABLE notes ALTER COLUMN body TYPE text USING body::text');
    } finally {
      await ds.destroy();
    }
  });

  it('passes the server\'s errors on and keeps the connection', async () => {
    const ds = await open(true);
    try {
      await expect(queryPrepared(ds, 'SELECT 1 / $1::int AS x', [0])).rejects.toMatchObject({ code: '22012' });
      expect(await queryPrepared(ds, 'SELECT 1 / $1::int AS x', [1])).toEqual([{ x: 1 }]);
      expect((await prepared(ds)).length).toBe(1);
    } finally {
      await ds.destroy();
    }
  });
});
