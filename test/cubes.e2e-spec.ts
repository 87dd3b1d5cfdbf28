import { createE2eHarness, E2eHarness } from '@engram/testing';

describe('tenants, keys and cubes over HTTP', () => {
  let h: E2eHarness;
  let tenantId: string;
  let key: string;

  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const tenant = (k = key) => ({ Authorization: `Bearer ${k}` });

  beforeAll(async () => {
    h = await createE2eHarness();
    const created = await h.http.post('/v1/admin/tenants').set(admin()).send({ name: 'acme' }).expect(201);
    tenantId = created.body.id;
    const keyRes = await h.http
      .post(`/v1/admin/tenants/${tenantId}/keys`)
      .set(admin())
      .send({ name: 'agent', scopes: ['cubes:write', 'memories:read', 'memories:write'] })
      .expect(201);
    key = keyRes.body.key;
  });

  afterAll(() => h.close());

  it('accepts the operator token and nothing near it', async () => {
    await h.http.get('/v1/admin/tenants').set(admin()).expect(200);
    const near = h.adminToken.slice(0, -1) + (h.adminToken.endsWith('a') ? 'b' : 'a');
    for (const token of [near, h.adminToken.slice(0, -1), `${h.adminToken}x`, 'egm_admin_guess']) {
      await h.http.get('/v1/admin/tenants').set({ Authorization: `Bearer ${token}` }).expect(401);
    }
  });

  it('creates a tenant and lists it', async () => {
    const res = await h.http.get('/v1/admin/tenants').set(admin()).expect(200);
    expect(res.body.items).toEqual([expect.objectContaining({ id: tenantId, name: 'acme', createdAt: expect.any(String) })]);
  });

  it('refuses a second tenant with the same name', async () => {
    const res = await h.http.post('/v1/admin/tenants').set(admin()).send({ name: 'acme' }).expect(409);
    expect(res.body.error.code).toBe('conflict');
  });

  it('shows the key secret once and lists only its prefix', async () => {
    const res = await h.http.get(`/v1/admin/tenants/${tenantId}/keys`).set(admin()).expect(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).not.toHaveProperty('key');
    expect(key).toContain(res.body.items[0].prefix);
  });

  it('creates, reads, updates, lists and deletes a cube', async () => {
    const created = await h.http.post('/v1/cubes').set(tenant()).send({ name: 'notes', description: 'd', settings: { embedder: 'hash' } }).expect(201);
    expect(created.body).toMatchObject({ id: expect.any(String), name: 'notes', description: 'd', settings: { embedder: 'hash' }, createdAt: expect.any(String) });
    const id = created.body.id;
    await h.http.get(`/v1/cubes/${id}`).set(tenant()).expect(200);
    const patched = await h.http.patch(`/v1/cubes/${id}`).set(tenant()).send({ description: 'new' }).expect(200);
    expect(patched.body.description).toBe('new');
    const list = await h.http.get('/v1/cubes').set(tenant()).expect(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).toContain(id);
    const deleted = await h.http.delete(`/v1/cubes/${id}`).set(tenant()).expect(202);
    expect(deleted.body.purgeJobId).toEqual(expect.any(String));
    await h.http.get(`/v1/cubes/${id}`).set(tenant()).expect(404);
    const after = await h.http.get('/v1/cubes').set(tenant()).expect(200);
    expect(after.body.items.map((c: { id: string }) => c.id)).not.toContain(id);
  });

  it('pages through cubes with a cursor', async () => {
    for (let i = 0; i < 5; i++) await h.http.post('/v1/cubes').set(tenant()).send({ name: `page-${i}` }).expect(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: Record<string, string | number> = cursor ? { limit: 2, cursor } : { limit: 2 };
      const res = await h.http.get('/v1/cubes').query(query).set(tenant()).expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((c: { name: string }) => c.name));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.filter((n) => n.startsWith('page-'))).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('revokes a key at once', async () => {
    const created = await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set(admin()).send({ scopes: ['memories:read'] }).expect(201);
    await h.http.get('/v1/cubes').set(tenant(created.body.key)).expect(200);
    await h.http.delete(`/v1/admin/tenants/${tenantId}/keys/${created.body.id}`).set(admin()).expect(204);
    const res = await h.http.get('/v1/cubes').set(tenant(created.body.key)).expect(401);
    expect(res.body.error.code).toBe('unauthenticated');
  });

  it('records writes and admin actions in the audit log', async () => {
    const res = await h.http.get('/v1/admin/audit').query({ tenantId }).set(admin()).expect(200);
    const actions = res.body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['tenant.create', 'api_key.create', 'cube.create', 'cube.update', 'cube.delete', 'api_key.revoke']));
    const update = res.body.items.find((e: { action: string }) => e.action === 'cube.update');
    expect(update).toMatchObject({ actorType: 'key', actorId: expect.any(String), targetType: 'cube', requestId: expect.any(String) });
  });

  it('serves health, metrics and the OpenAPI document', async () => {
    const health = await h.http.get('/health').expect(200);
    expect(health.body).toMatchObject({ status: 'ok', database: { ok: true } });
    const metrics = await h.http.get('/metrics').expect(200);
    expect(metrics.text).toContain('engram_http_request_duration_seconds_bucket');
    expect(metrics.text).toContain('route="/v1/cubes/:cubeId"');
    expect(metrics.text).toContain('engram_db_pool_connections');
    expect(metrics.text).toMatch(/engram_jobs\{name="cube.purge",state="queued"\} \d/);
    const docs = await h.http.get('/docs-json').expect(200);
    expect(Object.keys(docs.body.paths)).toEqual(expect.arrayContaining(['/v1/cubes', '/v1/cubes/{cubeId}', '/v1/admin/tenants']));
    await h.http.get('/docs/').expect(200);
  });
});
