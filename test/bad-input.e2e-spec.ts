import { Scope } from '@engram/core';
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

  it('says what a field is missing or of the wrong type once, without the length and pattern rules that restate it', async () => {
    const missing = await h.http.post('/v1/admin/tenants').set({ Authorization: `Bearer ${h.adminToken}` }).send({}).expect(400);
    expect(missing.body.error.details).toEqual([{ field: 'name', problems: ['name must be a string'] }]);
    const strings = await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: ['just a string'] }).expect(400);
    expect(strings.body.error.details).toEqual([{ field: 'items.0', problems: [expect.stringMatching(/^items must hold memories as objects such as \{ "text": "…" \}/)] }]);
    const blank = await h.http.post('/v1/cubes').set(auth()).send({ name: '   ' }).expect(400);
    expect(blank.body.error.details).toEqual([{ field: 'name', problems: [expect.stringMatching(/blank/)] }]); // a string: its own rules speak
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
    // An operator who opens the server's root (or mistypes a path) learns where to look.
    const root = await h.http.get('/');
    expect([root.status, root.body.error?.message]).toEqual([404, 'no such route: the routes are listed at /docs (the dashboard is at /ui)']);
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
    // Nothing to change (a reason alone explains nothing): 400, no new version (it went 1 → 2).
    for (const body of [{}, { reason: 'just because' }]) {
      const empty = await h.http.patch(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).send(body).expect(400);
      expect(empty.body.error.details).toEqual([{ field: 'body', problems: [expect.stringMatching(/^give at least one field to change: text, tags, metadata/)] }]);
    }
    const res = await h.http.get(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).expect(200);
    expect(res.body).toMatchObject({ text: 'the original memory', version: 1 });
  });

  it('answers 404 for a memory that does not exist', async () => {
    await h.http.get(`/v1/cubes/${cubeId}/memories/00000000-0000-4000-8000-000000000000`).set(auth()).expect(404);
  });
});

describe('null, impossible dates, deep nesting and lone surrogates', () => {
  let h: E2eHarness;
  let key: string;
  let tenantId: string;
  let cubeId: string;
  let memoryId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const fieldsOf = (res: { body: { error: { details?: { field: string }[] } } }) => (res.body.error.details ?? []).map((d) => d.field);
  const memory = () => h.http.get(`/v1/cubes/${cubeId}/memories/${memoryId}`).set(auth()).expect(200);
  const patch = (body: object) => h.http.patch(`/v1/cubes/${cubeId}/memories/${memoryId}`).set(auth()).send(body);
  const texts = async () => (await h.http.get(`/v1/cubes/${cubeId}/memories`).set(auth()).expect(200)).body.items.map((m: { text: string }) => m.text);
  /** `{"a":{"a":…}}` of `levels` objects, as raw JSON (supertest would serialize it recursively). */
  const nestedJson = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
  const rawPost = (path: string, json: string) => h.http.post(path).set(auth()).set('Content-Type', 'application/json').send(json);

  beforeAll(async () => {
    h = await createE2eHarness();
    const owner = await h.factory.apiKey({ scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite, Scope.CubesExport] });
    key = owner.key;
    tenantId = owner.tenantId;
    cubeId = (await h.http.post('/v1/cubes').set(auth()).send({ name: 'nulls', settings: { embedder: { type: 'hash' } } }).expect(201)).body.id;
    const added = await h.http
      .post(`/v1/cubes/${cubeId}/memories`)
      .set(auth())
      .send({ items: [{ text: 'the original memory', tags: ['t'], pinned: true, validTo: '2030-01-01T00:00:00Z', expiresAt: '2031-01-01T00:00:00Z', importance: 0.4 }] })
      .expect(201);
    memoryId = added.body.items[0].id;
  });
  afterAll(() => h.close());

  it.each([
    ['text', 'text must be a string'],
    ['tags', 'tags must be an array'],
    ['metadata', 'metadata must be a JSON object'],
    ['pinned', 'pinned must be a boolean value'],
    ['reason', 'reason must be a string'],
  ])('refuses a memory update with %s: null, naming the field and changing nothing', async (field, message) => {
    const res = await patch({ [field]: null });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ field, problems: expect.arrayContaining([message]) }]);
    expect((await memory()).body).toMatchObject({ text: 'the original memory', tags: ['t'], pinned: true, metadata: {}, version: 1 });
  });

  it('clears validTo, expiresAt and importance with null, checking the interval the memory will have', async () => {
    const res = await patch({ validFrom: '2040-01-01T00:00:00Z', validTo: null, expiresAt: null, importance: null }).expect(200);
    expect(res.body).toMatchObject({ validFrom: '2040-01-01T00:00:00.000Z', validTo: null, expiresAt: null, importance: null, version: 2 });
  });

  it('refuses cube updates with name or settings null, or a null embedder, changing nothing', async () => {
    const before = (await h.http.get(`/v1/cubes/${cubeId}`).set(auth()).expect(200)).body;
    for (const [body, field] of [
      [{ name: null }, 'name'],
      [{ settings: null }, 'settings'],
      [{ settings: { embedder: null } }, 'settings.embedder'],
    ] as const) {
      const res = await h.http.patch(`/v1/cubes/${cubeId}`).set(auth()).send(body);
      expect({ body, status: res.status, fields: fieldsOf(res) }).toEqual({ body, status: 400, fields: [field] });
    }
    expect((await h.http.get(`/v1/cubes/${cubeId}`).set(auth()).expect(200)).body).toEqual(before);
    const created = await h.http.post('/v1/cubes').set(auth()).send({ name: 'null-embedder', settings: { embedder: null } });
    expect({ status: created.status, fields: fieldsOf(created) }).toEqual({ status: 400, fields: ['settings.embedder'] });
  });

  it('refuses to pause the scheduler for tenantId: null instead of pausing the whole instance', async () => {
    const res = await h.http.post('/v1/admin/scheduler/pause').set(admin()).send({ tenantId: null });
    expect({ status: res.status, fields: fieldsOf(res) }).toEqual({ status: 400, fields: ['tenantId'] });
    expect((await h.http.get('/v1/admin/scheduler').set(admin()).expect(200)).body.paused).toEqual({ global: false, tenants: [] });
  });

  it.each([
    ['2024-02-30T00:00:00Z'],
    ['2023-02-29'],
    ['1'],
    [0],
    [true],
    ['March 5, 2024'],
  ])('refuses the date %p with 400 naming the field, storing nothing', async (value) => {
    const res = await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'dated', observedAt: value }] });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ field: 'items.0.observedAt', problems: ['observedAt must be an ISO-8601 date-time'] }]);
    expect(await texts()).toEqual(['the original memory']);
  });

  it('refuses impossible dates in search, list and key fields', async () => {
    for (const [body, field] of [
      [{ query: 'x', referenceTime: '2024-02-30T00:00:00Z' }, 'referenceTime'],
      [{ query: 'x', filters: { validAt: 1700000000000 } }, 'filters.validAt'],
      [{ query: 'x', filters: { observedAfter: '2023-02-29' } }, 'filters.observedAfter'],
    ] as const) {
      const search = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send(body);
      expect({ body, status: search.status, fields: fieldsOf(search) }).toEqual({ body, status: 400, fields: [field] });
    }
    const list = await h.http.get(`/v1/cubes/${cubeId}/memories`).query({ observedAfter: '2023-02-29' }).set(auth());
    expect({ status: list.status, fields: fieldsOf(list) }).toEqual({ status: 400, fields: ['observedAfter'] });
    const keyRes = await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set(admin()).send({ scopes: ['memories:read'], expiresAt: '2099-02-29T00:00:00Z' });
    expect({ status: keyRes.status, fields: fieldsOf(keyRes) }).toEqual({ status: 400, fields: ['expiresAt'] });
  });

  it('accepts the date-times clients send: Z or an offset, with or without fractions', async () => {
    const items = ['2024-03-05T10:15:00Z', '2024-03-05T10:15:00.123Z', '2024-03-05T11:15:00+01:00', '2024-03-05T10:15:00.123456+00:00', '2024-03-05'].map((observedAt, i) => ({ text: `dated ${i}`, observedAt }));
    const res = await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items }).expect(201);
    expect(res.body.items.map((m: { observedAt: string }) => m.observedAt)).toEqual([
      '2024-03-05T10:15:00.000Z',
      '2024-03-05T10:15:00.123Z',
      '2024-03-05T10:15:00.000Z',
      '2024-03-05T10:15:00.123Z',
      '2024-03-05T00:00:00.000Z',
    ]);
    await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'dated', referenceTime: new Date().toISOString(), filters: { observedAfter: '2024-01-01T00:00:00+02:00' } }).expect(200);
    for (const m of res.body.items) await h.http.delete(`/v1/cubes/${cubeId}/memories/${m.id}`).set(auth()).expect(204);
  });

  it('refuses a lone UTF-16 surrogate with 400 naming the field, storing nothing', async () => {
    const res = await rawPost(`/v1/cubes/${cubeId}/memories`, '{"items":[{"text":"fine"},{"text":"lone \\ud800 surrogate"}]}');
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ field: 'items.1.text', problems: [expect.stringMatching(/lone UTF-16 surrogate/)] }]);
    expect(await texts()).toEqual(['the original memory']);
    const paired = await rawPost(`/v1/cubes/${cubeId}/memories`, '{"items":[{"text":"paired \\ud83d\\ude00 surrogates"}]}').expect(201);
    expect(paired.body.items[0].text).toBe('paired 😀 surrogates');
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${paired.body.items[0].id}`).set(auth()).expect(204);
  });

  it('refuses 3,000 levels of nesting in metadata and in search filters with 400, storing nothing', async () => {
    const add = await rawPost(`/v1/cubes/${cubeId}/memories`, `{"items":[{"text":"deep","metadata":${nestedJson(3000)}}]}`);
    expect(add.status).toBe(400);
    expect(add.body.error.details).toEqual([{ field: 'items.0.metadata.a.a.a.a.a', problems: [expect.stringMatching(/more than 2048 levels/)] }]);
    const search = await rawPost(`/v1/cubes/${cubeId}/search`, `{"query":"deep","filters":{"metadata":${nestedJson(3000)}}}`);
    expect(search.status).toBe(400);
    expect(fieldsOf(search)).toEqual(['filters.metadata.a.a.a.a.a.a']);
    expect(await texts()).toEqual(['the original memory']);
  });

  it('stores metadata as deep as the limit allows (2,000 levels and more) and carries it through export and import', async () => {
    const levels = 2048 - 3; // the body, items and the item hold it
    const res = await rawPost(`/v1/cubes/${cubeId}/memories`, `{"items":[{"text":"deep metadata","metadata":${nestedJson(levels)}}]}`).expect(201);
    const deepId = res.body.items[0].id;
    const depthOf = (value: unknown) => {
      let depth = 0;
      for (let at = value as Record<string, unknown> | undefined; at && typeof at === 'object'; at = at.a as Record<string, unknown> | undefined) depth++;
      return depth;
    };
    expect(depthOf((await h.http.get(`/v1/cubes/${cubeId}/memories/${deepId}`).set(auth()).expect(200)).body.metadata)).toBe(levels);
    const archive = await h.http.get(`/v1/cubes/${cubeId}/export`).set(auth()).buffer(true).parse((stream, done) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => done(null, Buffer.concat(chunks)));
    }).expect(200);
    const imported = await h.http.post('/v1/cubes/import?name=deep-copy').set(auth()).set('Content-Type', 'application/gzip').send(archive.body as Buffer).expect(201);
    const copyId = imported.body.cube.id as string;
    const copies = (await h.http.get(`/v1/cubes/${copyId}/memories`).set(auth()).expect(200)).body.items as { text: string; metadata: unknown }[];
    expect(depthOf(copies.find((m) => m.text === 'deep metadata')?.metadata)).toBe(levels);
  });
});
