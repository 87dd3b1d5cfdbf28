// Keyset pagination on every route that takes a cursor: walking the pages returns each
// row exactly once (a cursor that lost created_at's microseconds matched its own row again,
// and the admin cube list looped forever), and a cursor this API did not hand out answers
// 400 on the cursor field, never a 500 from a failed database cast.
import type { Response } from 'supertest';
import { DataSource } from 'typeorm';
import { timestampFromMicrosSql, timestampMicrosSql } from '@engram/persistence';
import { createE2eHarness, E2eHarness } from '@engram/testing';

const cursorOf = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
const UUID = '00000000-0000-4000-8000-000000000000';

describe('pagination cursors', () => {
  let h: E2eHarness;
  let key: string;
  let tenantId: string;
  let otherTenantId: string;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });

  /** Follows nextCursor from the first page to the last; fails rather than loop when a page repeats. */
  const walk = async (path: string, headers: Record<string, string>, query: Record<string, string | number> = {}): Promise<string[]> => {
    const ids: string[] = [];
    const seen = new Set<string>();
    let cursor: string | null = null;
    for (let page = 0; page < 50; page++) {
      const res: Response = await h.http.get(path).query(cursor ? { ...query, limit: 1, cursor } : { ...query, limit: 1 }).set(headers);
      expect(res.status).toBe(200);
      ids.push(...res.body.items.map((i: { id: string }) => i.id));
      cursor = res.body.nextCursor;
      if (!cursor) return ids;
      if (seen.has(cursor)) throw new Error(`${path}: page ${page + 1} handed out a cursor it had handed out before (ids so far: ${ids.join(', ')})`);
      seen.add(cursor);
    }
    throw new Error(`${path}: still paging after 50 pages`);
  };

  const liveCubes = async (tenant: string | null) =>
    ((await h.app.get(DataSource).query(`SELECT id FROM cubes WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR tenant_id = $1) ORDER BY created_at, id`, [tenant])) as { id: string }[]).map((r) => r.id);

  beforeAll(async () => {
    h = await createE2eHarness();
    const owner = await h.factory.apiKey();
    key = owner.key;
    tenantId = owner.tenantId;
    otherTenantId = (await h.factory.tenant()).id;
    const mine = [];
    for (let i = 0; i < 4; i++) mine.push((await h.factory.cube({ tenantId })).id);
    for (let i = 0; i < 2; i++) await h.factory.cube({ tenantId: otherTenantId });
    cubeId = mine[0];
    // Two cubes created in the same microsecond: the id decides their order.
    await h.app.get(DataSource).query(`UPDATE cubes SET created_at = (SELECT created_at FROM cubes WHERE id = $1) WHERE id = $2`, [mine[1], mine[2]]);
    await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'one' }, { text: 'two' }, { text: 'three' }] }).expect(201);
  });

  afterAll(() => h.close());

  it('pages through the admin cube list one at a time and returns each cube exactly once', async () => {
    const all = await liveCubes(null);
    expect(all.length).toBeGreaterThanOrEqual(6);
    expect(await walk('/v1/admin/cubes', admin())).toEqual(all);
    expect(await walk('/v1/admin/cubes', admin(), { tenantId: otherTenantId })).toEqual(await liveCubes(otherTenantId));
  });

  it("pages through a tenant's cubes one at a time and returns each cube exactly once", async () => {
    expect(await walk('/v1/cubes', auth())).toEqual(await liveCubes(tenantId));
  });

  it('pages through memories one at a time', async () => {
    const ids = await walk(`/v1/cubes/${cubeId}/memories`, auth());
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
  });

  it('reads a microseconds cursor back to the very timestamp it came from, near and far', async () => {
    const stamps = ['2024-05-01 10:00:00.123457+00', '1970-01-01 00:00:00.000001+00', '9999-12-31 23:59:59.999999+00'];
    const rows: { same: boolean }[] = await h.app.get(DataSource).query(
      `SELECT ${timestampFromMicrosSql(timestampMicrosSql('t'))} = t AS same FROM unnest($1::timestamptz[]) AS t`,
      [stamps],
    );
    expect(rows.map((r) => r.same)).toEqual(stamps.map(() => true));
  });

  describe('refuses a cursor it did not hand out with 400', () => {
    const notBase64 = '%%%not*base64%%%';
    const notJson = Buffer.from('{"half": ').toString('base64url');
    const timeAndId: [string, string][] = [
      ['bigint out of range', cursorOf(['99999999999999999999', UUID])],
      ['just past the bigint range', cursorOf(['9223372036854775808', UUID])],
      ['not a date', cursorOf(['not-a-date', UUID])],
      ['a millisecond ISO date (an old cursor)', cursorOf(['2024-01-01T00:00:00.000Z', UUID])],
      ['negative', cursorOf(['-1', UUID])],
      ['a fraction', cursorOf([1.5, UUID])],
      ['an object for the time', cursorOf([{}, UUID])],
      ['36 dashes for the id', cursorOf(['1700000000000000', '-'.repeat(36)])],
      ['an id that is not a uuid', cursorOf(['1700000000000000', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz'])],
      ['one part', cursorOf(['1'])],
      ['three parts', cursorOf(['1700000000000000', UUID, 'x'])],
      ['an empty array', cursorOf([])],
      ['not base64', notBase64],
      ['not JSON', notJson],
    ];
    const bigintId: [string, string][] = [
      ['bigint out of range', cursorOf(['99999999999999999999999'])],
      ['just past the bigint range', cursorOf(['9223372036854775808'])],
      ['not a number', cursorOf(['not-a-date'])],
      ['a date', cursorOf(['2024-01-01T00:00:00.000Z'])],
      ['negative', cursorOf(['-1'])],
      ['a fraction', cursorOf([1.5])],
      ['an exponent', cursorOf(['1e3'])],
      ['36 dashes', cursorOf(['-'.repeat(36)])],
      ['two parts', cursorOf(['1', UUID])],
      ['an empty array', cursorOf([])],
      ['not base64', notBase64],
      ['not JSON', notJson],
    ];
    const routes: { name: string; path: () => string; headers: () => Record<string, string>; cases: [string, string][]; largest: string }[] = [
      { name: 'GET /v1/cubes', path: () => '/v1/cubes', headers: auth, cases: timeAndId, largest: cursorOf(['9223372036854775807', UUID]) },
      { name: 'GET /v1/admin/cubes', path: () => '/v1/admin/cubes', headers: admin, cases: timeAndId, largest: cursorOf(['9223372036854775807', UUID]) },
      { name: 'GET /v1/cubes/{id}/memories', path: () => `/v1/cubes/${cubeId}/memories`, headers: auth, cases: bigintId, largest: cursorOf(['9223372036854775807']) },
      { name: 'GET /v1/cubes/{id}/lifecycle/events', path: () => `/v1/cubes/${cubeId}/lifecycle/events`, headers: auth, cases: bigintId, largest: cursorOf(['9223372036854775807']) },
      { name: 'GET /v1/admin/audit', path: () => '/v1/admin/audit', headers: admin, cases: bigintId, largest: cursorOf(['9223372036854775807']) },
    ];

    for (const route of routes) {
      it(`on ${route.name}`, async () => {
        const answers = [];
        for (const [what, cursor] of route.cases) {
          const res = await h.http.get(route.path()).query({ cursor }).set(route.headers());
          answers.push({ what, status: res.status, field: res.body.error?.details?.[0]?.field, problem: res.body.error?.details?.[0]?.problems?.[0] });
        }
        expect(answers).toEqual(route.cases.map(([what]) => ({ what, status: 400, field: 'cursor', problem: 'cursor is not one this API returned' })));
      });

      it(`accepts the largest well-formed cursor on ${route.name}`, async () => {
        const res = await h.http.get(route.path()).query({ cursor: route.largest }).set(route.headers());
        expect(res.status).toBe(200);
        expect(res.body.nextCursor).toBeNull();
      });
    }
  });
});
