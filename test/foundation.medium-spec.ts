import { DataSource } from 'typeorm';
import { AuditQueryService, AuthenticationService } from '@engram/core';
import { createDataSource, runMigrationsLocked } from '@engram/persistence';
import { createMediumHarness, databaseUrl, MediumHarness, stampedName, withAdminClient } from '@engram/testing';

describe('migrations under the advisory lock', () => {
  const name = stampedName('db');
  const url = databaseUrl(name);
  beforeAll(() => withAdminClient(async (c) => void (await c.query(`CREATE DATABASE "${name}"`))));
  afterAll(() => withAdminClient(async (c) => void (await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))));

  it('apply exactly once when three replicas start at the same time', async () => {
    const sources = [0, 1, 2].map(() => createDataSource({ url, poolSize: 2 }));
    await Promise.all(sources.map((s) => s.initialize()));
    try {
      const applied = await Promise.all(sources.map((s) => runMigrationsLocked(s, url)));
      const total = sources[0].migrations.length;
      expect(applied.map((a) => a.length).sort()).toEqual([0, 0, total]);
      const rows: { count: string }[] = await sources[0].query('SELECT count(*)::int AS count FROM migrations');
      expect(Number(rows[0].count)).toBe(total);
    } finally {
      await Promise.all(sources.map((s) => s.destroy()));
    }
  });
});

describe('the operator token', () => {
  let h: MediumHarness;
  beforeAll(async () => {
    h = await createMediumHarness({ adminToken: null });
  });
  afterAll(() => h.close());

  it('is generated and shown once on first boot, then only its hash is kept', async () => {
    const shown: string[] = [];
    const auth = h.app.get(AuthenticationService);
    await auth.initAdminToken((t) => shown.push(t));
    await auth.initAdminToken((t) => shown.push(t)); // a restart
    expect(shown).toHaveLength(1);
    expect(await auth.authenticate(shown[0])).toEqual({ kind: 'admin', actorId: 'admin' });
    expect(await auth.authenticate(`${shown[0]}x`)).toBeNull();
    const stored: { value: string }[] = await h.app.get(DataSource).query(`SELECT value FROM system_settings WHERE key = 'admin_token_hash'`);
    expect(JSON.stringify(stored)).not.toContain(shown[0]);
  });
});

describe('the audit log', () => {
  let h: MediumHarness;
  beforeAll(async () => {
    h = await createMediumHarness();
  });
  afterAll(() => h.close());

  it('filters by tenant and action and pages newest first', async () => {
    const owner = await h.factory.apiKey();
    for (let i = 0; i < 5; i++) await h.factory.cube({ tenantId: owner.tenantId });
    await h.factory.cube(); // another tenant's
    const audit = h.app.get(AuditQueryService);
    const first = await audit.query(h.factory.admin, { tenantId: owner.tenantId, action: 'cube.create', limit: 3 });
    expect(first.items).toHaveLength(3);
    expect(first.nextCursor).not.toBeNull();
    const second = await audit.query(h.factory.admin, { tenantId: owner.tenantId, action: 'cube.create', limit: 3, cursor: first.nextCursor! });
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
    const ids = [...first.items, ...second.items].map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect([...first.items, ...second.items].every((e) => e.tenantId === owner.tenantId && e.action === 'cube.create')).toBe(true);
    const none = await audit.query(h.factory.admin, { tenantId: owner.tenantId, since: new Date(Date.now() + 60_000) });
    expect(none.items).toEqual([]);
  });
});
