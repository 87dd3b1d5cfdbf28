import { createE2eHarness, E2eHarness } from '@engram/testing';

/** Agents keep one cube per end user and find it by their own name for it (ADR 0501). */
describe('cubes by name', () => {
  let h: E2eHarness;
  let tenantId: string;
  let key: string;

  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const auth = (k = key) => ({ Authorization: `Bearer ${k}` });
  const newKey = async (body: object) => (await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set(admin()).send(body).expect(201)).body.key as string;

  beforeAll(async () => {
    h = await createE2eHarness();
    tenantId = (await h.http.post('/v1/admin/tenants').set(admin()).send({ name: 'acme' }).expect(201)).body.id;
    key = await newKey({ scopes: ['cubes:write', 'memories:read', 'memories:write'] });
  });

  afterAll(() => h.close());

  it('finds a cube by its exact name and answers an empty page for an unknown one', async () => {
    const made = await h.http.post('/v1/cubes').set(auth()).send({ name: 'user-42' }).expect(201);
    await h.http.post('/v1/cubes').set(auth()).send({ name: 'user-420' }).expect(201);
    const found = await h.http.get('/v1/cubes').query({ name: 'user-42' }).set(auth()).expect(200);
    expect(found.body).toEqual({ items: [expect.objectContaining({ id: made.body.id, name: 'user-42' })], nextCursor: null });
    const none = await h.http.get('/v1/cubes').query({ name: 'user-4' }).set(auth()).expect(200);
    expect(none.body).toEqual({ items: [], nextCursor: null });
  });

  it('refuses a blank name filter naming the field', async () => {
    const res = await h.http.get('/v1/cubes').query({ name: ' ' }).set(auth()).expect(400);
    expect(JSON.stringify(res.body.error)).toContain('name');
  });

  it('creates once and returns the same cube on every later ifExists: "return"', async () => {
    const first = await h.http.post('/v1/cubes').set(auth()).send({ name: 'topic-a', description: 'first', ifExists: 'return' }).expect(201);
    const again = await h.http.post('/v1/cubes').set(auth()).send({ name: 'topic-a', description: 'second', ifExists: 'return' }).expect(200);
    expect(again.body).toEqual(first.body);
    expect(again.body.description).toBe('first');
    const conflict = await h.http.post('/v1/cubes').set(auth()).send({ name: 'topic-a' }).expect(409);
    expect(conflict.body.error.code).toBe('conflict');
  });

  it('ends concurrent get-or-creates of one name with one cube', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => h.http.post('/v1/cubes').set(auth()).send({ name: 'racy', ifExists: 'return' })));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    expect(answers.filter((r) => r.status === 200)).toHaveLength(7);
    expect(new Set(answers.map((r) => r.body.id)).size).toBe(1);
  });

  it('creates anew after the named cube was deleted', async () => {
    const first = await h.http.post('/v1/cubes').set(auth()).send({ name: 'ephemeral', ifExists: 'return' }).expect(201);
    await h.http.delete(`/v1/cubes/${first.body.id}`).set(auth()).expect(202);
    const second = await h.http.post('/v1/cubes').set(auth()).send({ name: 'ephemeral', ifExists: 'return' }).expect(201);
    expect(second.body.id).not.toBe(first.body.id);
  });

  it('rejects an unknown ifExists value naming the field', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).send({ name: 'x', ifExists: 'replace' }).expect(400);
    expect(JSON.stringify(res.body.error)).toContain('ifExists');
  });

  it('does not find or return a cube of another tenant', async () => {
    const other = await h.factory.cube({ name: 'shared-name' });
    expect(other.tenantId).not.toBe(tenantId);
    const found = await h.http.get('/v1/cubes').query({ name: 'shared-name' }).set(auth()).expect(200);
    expect(found.body.items).toEqual([]);
    const mine = await h.http.post('/v1/cubes').set(auth()).send({ name: 'shared-name', ifExists: 'return' }).expect(201);
    expect(mine.body.id).not.toBe(other.id);
  });

  it('limits a cube-listed key to its cubes: found when listed, neither found nor created otherwise', async () => {
    const listed = await h.http.post('/v1/cubes').set(auth()).send({ name: 'listed' }).expect(201);
    await h.http.post('/v1/cubes').set(auth()).send({ name: 'unlisted' }).expect(201);
    const limited = await newKey({ scopes: ['cubes:write', 'memories:read'], cubeIds: [listed.body.id] });
    expect((await h.http.get('/v1/cubes').query({ name: 'unlisted' }).set(auth(limited)).expect(200)).body.items).toEqual([]);
    const back = await h.http.post('/v1/cubes').set(auth(limited)).send({ name: 'listed', ifExists: 'return' }).expect(200);
    expect(back.body.id).toBe(listed.body.id);
    await h.http.post('/v1/cubes').set(auth(limited)).send({ name: 'unlisted', ifExists: 'return' }).expect(403);
  });

  it('needs cubes:write to get-or-create but only a read scope to look up', async () => {
    const reader = await newKey({ scopes: ['memories:read'] });
    await h.http.get('/v1/cubes').query({ name: 'topic-a' }).set(auth(reader)).expect(200);
    const res = await h.http.post('/v1/cubes').set(auth(reader)).send({ name: 'topic-a', ifExists: 'return' }).expect(403);
    expect(res.body.error.code).toBe('forbidden');
  });
});

describe('cube stats', () => {
  let h: E2eHarness;
  beforeAll(async () => {
    h = await createE2eHarness();
  });
  afterAll(() => h.close());

  it('counts memories by kind and state, deleted ones only by state', async () => {
    const cube = await h.factory.cube();
    const { key } = await h.factory.apiKey({ tenantId: cube.tenantId });
    const auth = { Authorization: `Bearer ${key}` };
    const added = await h.http.post(`/v1/cubes/${cube.id}/memories`).set(auth).send({ items: [{ text: 'a' }, { text: 'b', kind: 'preference' }, { text: 'c' }] }).expect(201);
    await h.http.delete(`/v1/cubes/${cube.id}/memories/${added.body.items[2].id}`).set(auth).expect(204);
    const res = await h.http.get(`/v1/cubes/${cube.id}/stats`).set(auth).expect(200);
    expect(res.body).toEqual({
      cube: expect.objectContaining({ id: cube.id, name: cube.name }),
      memories: { total: 2, byKind: { fact: 1, preference: 1 }, byState: { active: 2, deleted: 1 } },
    });
  });
});
