import { createE2eHarness, E2eHarness } from '@engram/testing';

describe('bad input', () => {
  let h: E2eHarness;
  let key: string;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    h = await createE2eHarness({ bodyLimitBytes: 2048 });
    const owner = await h.factory.apiKey();
    key = owner.key;
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId, name: 'kept' })).id;
  });

  afterAll(() => h.close());

  it('answers invalid JSON with 400 invalid_json', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).set('Content-Type', 'application/json').send('{"name": ');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_json', requestId: expect.any(String) });
  });

  it('names every bad field', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).send({ name: '', description: 5, settings: [1] });
    expect(res.status).toBe(400);
    const fields = res.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['name', 'description', 'settings']));
  });

  it('names a bad embedder in the cube settings', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).send({ name: 'emb', settings: { embedder: { type: 'magic' } } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'settings.embedder' })]);
  });

  it('rejects unknown fields', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).send({ name: 'x', owner: 'me' });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'owner' })]);
  });

  it('rejects a body that is not an object', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).set('Content-Type', 'application/json').send('[1,2]');
    expect(res.status).toBe(400);
  });

  it('answers a body over the limit with 413', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).send({ name: 'big', description: 'x'.repeat(4000) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('answers a non-JSON body with 415', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).set('Content-Type', 'text/plain').send('name=x');
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it('rejects bad keys scopes and dates on key creation', async () => {
    const tenant = await h.factory.tenant();
    const res = await h.http
      .post(`/v1/admin/tenants/${tenant.id}/keys`)
      .set('Authorization', `Bearer ${h.adminToken}`)
      .send({ scopes: ['root'], cubeIds: ['nope'], expiresAt: 'tomorrow' });
    expect(res.status).toBe(400);
    const fields = res.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['scopes', 'cubeIds', 'expiresAt']));
  });

  it('refuses a key limited to a cube of another tenant', async () => {
    const tenant = await h.factory.tenant();
    const res = await h.http
      .post(`/v1/admin/tenants/${tenant.id}/keys`)
      .set('Authorization', `Bearer ${h.adminToken}`)
      .send({ scopes: ['memories:read'], cubeIds: [cubeId] });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'cubeIds' })]);
  });

  it('rejects a malformed cursor and limit', async () => {
    expect((await h.http.get('/v1/cubes').query({ cursor: 'garbage' }).set(auth())).status).toBe(400);
    expect((await h.http.get('/v1/cubes').query({ limit: 0 }).set(auth())).status).toBe(400);
    expect((await h.http.get('/v1/cubes').query({ limit: 'ten' }).set(auth())).status).toBe(400);
  });

  it('rejects cursors that look right but would fail the database cast (400, not 500)', async () => {
    const cursor = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
    const admin = { Authorization: `Bearer ${h.adminToken}` };
    const cases: [string, Record<string, string>, string][] = [
      ['/v1/cubes', auth(), cursor(['1700000000000000', '-'.repeat(36)])],
      ['/v1/cubes', auth(), cursor(['99999999999999999999', '00000000-0000-0000-0000-000000000000'])],
      [`/v1/cubes/${cubeId}/memories`, auth(), cursor(['99999999999999999999'])],
      ['/v1/admin/audit', admin, cursor(['99999999999999999999'])],
    ];
    for (const [path, headers, c] of cases) {
      const res = await h.http.get(path).query({ cursor: c }).set(headers);
      expect({ path, status: res.status, field: res.body.error?.details?.[0]?.field }).toEqual({ path, status: 400, field: 'cursor' });
    }
  });

  it('answers an unknown route with 404 in the error envelope', async () => {
    const res = await h.http.get('/v1/nothing-here').set(auth());
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('route_not_found');
  });

  it('answers a cube id that is not a UUID with 404', async () => {
    expect((await h.http.get('/v1/cubes/not-a-uuid').set(auth())).status).toBe(404);
  });

  it('loses nothing stored after all of the above', async () => {
    const res = await h.http.get(`/v1/cubes/${cubeId}`).set(auth()).expect(200);
    expect(res.body.name).toBe('kept');
  });

  it('echoes a caller request id', async () => {
    const res = await h.http.get('/v1/cubes/not-a-uuid').set(auth()).set('X-Request-Id', 'trace-123');
    expect(res.headers['x-request-id']).toBe('trace-123');
    expect(res.body.error.requestId).toBe('trace-123');
  });
});

describe('bad input on memories', () => {
  let h: E2eHarness;
  let key: string;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const add = (body: unknown) => h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send(body as object);
  const fieldsOf = (res: { body: { error: { details?: { field: string }[] } } }) => (res.body.error.details ?? []).map((d) => d.field);

  beforeAll(async () => {
    h = await createE2eHarness();
    const owner = await h.factory.apiKey();
    key = owner.key;
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    await add({ items: [{ text: 'the original memory' }] }).expect(201);
  });
  afterAll(() => h.close());

  it.each([
    ['empty text', { items: [{ text: '' }] }, 'items.0.text'],
    ['whitespace text', { items: [{ text: '   \n ' }] }, 'items.0.text'],
    ['text over 32,000 characters', { items: [{ text: 'x'.repeat(32_001) }] }, 'items.0.text'],
    ['no items', { items: [] }, 'items'],
    ['an unknown kind', { items: [{ text: 'ok', kind: 'rumour' }] }, 'items.0.kind'],
    ['a bad date', { items: [{ text: 'ok', observedAt: 'last tuesday' }] }, 'items.0.observedAt'],
    ['an unknown field', { items: [{ text: 'ok', colour: 'red' }] }, 'items.0.colour'],
    ['importance out of range', { items: [{ text: 'ok', importance: 3 }] }, 'items.0.importance'],
    ['validFrom after validTo', { items: [{ text: 'ok', validFrom: '2024-01-02T00:00:00Z', validTo: '2024-01-01T00:00:00Z' }] }, 'items.0.validTo'],
  ])('refuses %s with 400 naming the field', async (_name, body, field) => {
    const res = await add(body);
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toContain(field);
  });

  it('refuses more than 1,000 items', async () => {
    const res = await h.http
      .post(`/v1/cubes/${cubeId}/memories`)
      .set(auth())
      .send({ items: Array.from({ length: 1001 }, (_, i) => ({ text: `m${i}` })) });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toContain('items');
  });

  it('stores nothing from a batch with one bad item', async () => {
    await add({ items: [{ text: 'good one' }, { text: '' }] }).expect(400);
    const list = await h.http.get(`/v1/cubes/${cubeId}/memories`).set(auth()).expect(200);
    expect(list.body.items.map((m: { text: string }) => m.text)).toEqual(['the original memory']);
  });

  it.each([
    ['topK over 200', { query: 'x', topK: 201 }, 'topK'],
    ['an empty query', { query: ' ' }, 'query'],
    ['an unknown filter key', { query: 'x', filters: { colour: 'red' } }, 'filters.colour'],
    ['a bad filter date', { query: 'x', filters: { validAt: 'soon' } }, 'filters.validAt'],
    ['a bad tags filter', { query: 'x', filters: { tags: 5 } }, 'filters.tags'],
    ['an unknown mode', { query: 'x', mode: 'deeper' }, 'mode'],
  ])('refuses a search with %s', async (_name, body, field) => {
    const res = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send(body);
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toContain(field);
  });

  it('refuses an update that empties the text, and keeps the memory', async () => {
    const list = await h.http.get(`/v1/cubes/${cubeId}/memories`).set(auth()).expect(200);
    const id = list.body.items[0].id;
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).send({ text: '' }).expect(400);
    const res = await h.http.get(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).expect(200);
    expect(res.body).toMatchObject({ text: 'the original memory', version: 1 });
  });

  it('answers 404 for a memory that does not exist', async () => {
    await h.http.get(`/v1/cubes/${cubeId}/memories/00000000-0000-4000-8000-000000000000`).set(auth()).expect(404);
  });
});
