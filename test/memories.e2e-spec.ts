import { DataSource } from 'typeorm';
import { AccessRecorder } from '@engram/core';
import { createE2eHarness, E2eHarness } from '@engram/testing';

describe('plaintext memories over HTTP', () => {
  let h: E2eHarness;
  let key: string;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const add = (items: object[], headers: Record<string, string> = {}) => h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).set(headers).send({ items });
  const search = (body: object) => h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send(body);

  beforeAll(async () => {
    h = await createE2eHarness();
    const owner = await h.factory.apiKey();
    key = owner.key;
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
  });
  afterAll(() => h.close());

  it('stores a batch in input order and returns the stored memories', async () => {
    const res = await add([
      { text: 'Alice moved to Lisbon in 2021', kind: 'fact', tags: ['alice', 'travel'], metadata: { topic: 'home' }, source: { id: 'msg-1', type: 'chat', sessionId: 's1' }, observedAt: '2024-03-01T10:00:00Z', importance: 0.8 },
      { text: 'Bob prefers green tea over coffee', kind: 'preference', tags: ['bob'], metadata: { topic: 'food' } },
      { text: 'To deploy, run make release then tag the commit', kind: 'procedure' },
    ]).expect(201);
    expect(res.body.items.map((m: { text: string }) => m.text)).toEqual([
      'Alice moved to Lisbon in 2021',
      'Bob prefers green tea over coffee',
      'To deploy, run make release then tag the commit',
    ]);
    expect(res.body.items[0]).toMatchObject({
      id: expect.any(String),
      kind: 'fact',
      tags: ['alice', 'travel'],
      metadata: { topic: 'home' },
      source: { id: 'msg-1', type: 'chat', sessionId: 's1' },
      observedAt: '2024-03-01T10:00:00.000Z',
      importance: expect.closeTo(0.8, 5),
      state: 'active',
      version: 1,
    });
  });

  it('finds memories by meaning and words, best first, with an explanation', async () => {
    const res = await search({ query: 'Which city does Alice live in?', topK: 2, explain: true }).expect(200);
    expect(res.body.results[0]).toMatchObject({ text: 'Alice moved to Lisbon in 2021', kind: 'fact', score: expect.any(Number) });
    expect(res.body.results[0].explain).toEqual(expect.objectContaining({ fusion: expect.any(Object), priors: expect.any(Object) }));
    expect(res.body.results.length).toBeLessThanOrEqual(2);
  });

  it('searches in deep mode, explaining both passes', async () => {
    const res = await search({ query: 'Which city does Alice live in?', topK: 2, explain: true, mode: 'deep' }).expect(200);
    expect(res.body.results[0]).toMatchObject({ text: 'Alice moved to Lisbon in 2021' });
    expect(res.body.results[0].explain.deep).toEqual({ first: expect.any(Number), second: expect.any(Number), expansion: expect.any(Array) });
  });

  it('counts how often search returns a memory, without a new version', async () => {
    const found = await search({ query: 'Which city does Alice live in?', topK: 1 }).expect(200);
    const id = found.body.results[0].id;
    await search({ query: 'Alice Lisbon', topK: 1 }).expect(200);
    await h.app.get(AccessRecorder).flush();
    const memory = await h.http.get(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).expect(200);
    expect(memory.body.accessCount).toBeGreaterThanOrEqual(2);
    expect(memory.body.lastAccessedAt).toEqual(expect.any(String));
    expect(memory.body.version).toBe(1);
  });

  it('applies filters', async () => {
    const byKind = await search({ query: 'tea coffee Lisbon deploy', filters: { kind: 'preference' } }).expect(200);
    expect(byKind.body.results.map((r: { kind: string }) => r.kind)).toEqual(['preference']);
    const byTags = await search({ query: 'Alice Bob', filters: { tags: { all: ['alice', 'travel'] } } }).expect(200);
    expect(byTags.body.results.map((r: { text: string }) => r.text)).toEqual(['Alice moved to Lisbon in 2021']);
    const byMeta = await search({ query: 'anything', filters: { metadata: { topic: { in: ['food'] } } } }).expect(200);
    expect(byMeta.body.results.map((r: { text: string }) => r.text)).toEqual(['Bob prefers green tea over coffee']);
    const bySession = await search({ query: 'Alice', filters: { sessionId: 's1' } }).expect(200);
    expect(bySession.body.results).toHaveLength(1);
  });

  it('stores messages in raw mode with role, session and time', async () => {
    const res = await h.http
      .post(`/v1/cubes/${cubeId}/messages`)
      .set(auth())
      .send({ sessionId: 'chat-7', messages: [{ role: 'user', content: 'My dog is called Pixel', at: '2024-05-01T09:00:00Z' }, { role: 'assistant', content: 'Pixel is a lovely name!' }] })
      .expect(201);
    expect(res.body.ids).toHaveLength(2);
    const first = await h.http.get(`/v1/cubes/${cubeId}/memories/${res.body.ids[0]}`).set(auth()).expect(200);
    expect(first.body).toMatchObject({ kind: 'message', role: 'user', source: { type: 'message', sessionId: 'chat-7' }, observedAt: '2024-05-01T09:00:00.000Z' });
    const found = await search({ query: "what is my dog's name", filters: { kind: 'message', sessionId: 'chat-7' } }).expect(200);
    expect(found.body.results[0].text).toBe('My dog is called Pixel');
  });

  it('replays an idempotent retry without storing twice', async () => {
    const headers = { 'Idempotency-Key': 'retry-123' };
    const first = await add([{ text: 'Carol speaks Portuguese' }], headers).expect(201);
    const second = await add([{ text: 'Carol speaks Portuguese' }], headers).expect(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const list = await h.http.get(`/v1/cubes/${cubeId}/memories`).set(auth()).expect(200);
    expect(list.body.items.filter((m: { text: string }) => m.text === 'Carol speaks Portuguese')).toHaveLength(1);
    await add([{ text: 'something else' }], headers).expect(409);
  });

  it('updates a memory as a new version, keeps history, deletes and restores', async () => {
    const created = await add([{ text: 'Dave works at Initech', tags: ['dave'] }]).expect(201);
    const id = created.body.items[0].id;
    const updated = await h.http.patch(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).send({ text: 'Dave works at Globex', reason: 'changed jobs' }).expect(200);
    expect(updated.body).toMatchObject({ text: 'Dave works at Globex', version: 2 });
    const found = await search({ query: 'where does Dave work', topK: 1 }).expect(200);
    expect(found.body.results[0].text).toBe('Dave works at Globex');

    await h.http.delete(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).expect(204);
    await h.http.get(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).expect(404);
    // Deleting again (a retry, or concurrent DELETEs) answers as the first did and writes nothing; a memory never here is a 404.
    await Promise.all([1, 2, 3].map(() => h.http.delete(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).expect(204)));
    await h.http.delete(`/v1/cubes/${cubeId}/memories/00000000-0000-4000-8000-000000000000`).set(auth()).expect(404);
    const afterDelete = await search({ query: 'Dave Globex Initech', topK: 50 }).expect(200);
    expect(afterDelete.body.results.map((r: { id: string }) => r.id)).not.toContain(id);

    const restored = await h.http.post(`/v1/cubes/${cubeId}/memories/${id}/restore`).set(auth()).expect(200);
    expect(restored.body).toMatchObject({ state: 'active', text: 'Dave works at Globex' });
    const back = await search({ query: 'Dave Globex', topK: 1 }).expect(200);
    expect(back.body.results[0].id).toBe(id);

    const history = await h.http.get(`/v1/cubes/${cubeId}/memories/${id}/history`).set(auth()).expect(200);
    expect(history.body.items.map((v: { action: string }) => v.action)).toEqual(['create', 'update', 'delete', 'restore']);
    expect(history.body.items[1]).toMatchObject({ oldValues: { text: 'Dave works at Initech' }, newValues: { text: 'Dave works at Globex' }, reason: 'changed jobs', actorType: 'key' });
  });

  it('lists with filters and cursor pages', async () => {
    const res = await h.http.get(`/v1/cubes/${cubeId}/memories`).query({ kind: 'fact,preference', limit: 2 }).set(auth()).expect(200);
    expect(res.body.items.length).toBe(2);
    expect(res.body.nextCursor).toEqual(expect.any(String));
    const next = await h.http.get(`/v1/cubes/${cubeId}/memories`).query({ kind: 'fact,preference', limit: 2, cursor: res.body.nextCursor }).set(auth()).expect(200);
    const ids = [...res.body.items, ...next.body.items].map((m: { id: string }) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    const tagged = await h.http.get(`/v1/cubes/${cubeId}/memories`).query({ metadata: JSON.stringify({ topic: 'food' }) }).set(auth()).expect(200);
    expect(tagged.body.items.map((m: { text: string }) => m.text)).toEqual(['Bob prefers green tea over coffee']);
  });

  it('time filters and validity', async () => {
    await add([
      { text: 'Eve lived in Paris', validFrom: '2010-01-01T00:00:00Z', validTo: '2015-01-01T00:00:00Z', observedAt: '2012-01-01T00:00:00Z' },
      { text: 'Eve lives in Berlin', validFrom: '2015-01-01T00:00:00Z', observedAt: '2016-01-01T00:00:00Z' },
    ]).expect(201);
    const at2012 = await search({ query: 'where does Eve live', filters: { validAt: '2012-06-01T00:00:00Z' } }).expect(200);
    // Memories without validity bounds are valid at every time; Berlin started in 2015.
    const texts2012 = at2012.body.results.map((r: { text: string }) => r.text);
    expect(texts2012[0]).toBe('Eve lived in Paris');
    expect(texts2012).not.toContain('Eve lives in Berlin');
    const observed = await search({ query: 'Eve', filters: { observedAfter: '2015-06-01T00:00:00Z', observedBefore: '2017-01-01T00:00:00Z' } }).expect(200);
    expect(observed.body.results.map((r: { text: string }) => r.text)).toEqual(['Eve lives in Berlin']);
  });

  it('refuses reserved JavaScript key names in metadata instead of dropping them silently', async () => {
    const body = '{"items":[{"text":"Prototype keys","metadata":{"__proto__":"yes","n":1}}]}';
    const res = await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).set('Content-Type', 'application/json').send(body).expect(400);
    expect(res.body.error.details).toEqual([{ field: 'items.0.metadata.__proto__', problems: [expect.stringMatching(/reserved/)] }]);
    const filter = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).set('Content-Type', 'application/json')
      .send('{"query":"prototype","filters":{"metadata":{"constructor":"x"}}}').expect(400);
    expect(filter.body.error.details[0].field).toBe('filters.metadata.constructor');
    const listed = await h.http.get(`/v1/cubes/${cubeId}/memories`).query({ limit: 200 }).set(auth()).expect(200);
    expect(listed.body.items.map((m: { text: string }) => m.text)).not.toContain('Prototype keys');
  });

  it('refuses the NUL character anywhere in a write with a 400 naming the field, storing nothing of the batch', async () => {
    const items = [{ text: 'a clean memory before the bad one' }, { text: 'bad \u0000 text' }, { text: 'clean', metadata: { ['k\u0000']: 1, note: 'x\u0000y' } }];
    const res = await add(items).expect(400);
    expect(res.body.error.details).toEqual([
      { field: 'items.1.text', problems: [expect.stringMatching(/NUL character/)] },
      { field: 'items.2.metadata.k\u0000', problems: [expect.stringMatching(/key must not contain the NUL character/)] },
      { field: 'items.2.metadata.note', problems: [expect.stringMatching(/NUL character/)] },
    ]);
    const listed = await h.http.get(`/v1/cubes/${cubeId}/memories`).query({ limit: 200 }).set(auth()).expect(200);
    expect(listed.body.items.map((m: { text: string }) => m.text)).not.toContain('a clean memory before the bad one');
    const said = await h.http.post(`/v1/cubes/${cubeId}/messages`).set(auth()).send({ sessionId: 's', messages: [{ role: 'user', content: 'hi\u0000' }] }).expect(400);
    expect(said.body.error.details[0].field).toBe('messages.0.content');
  });

  it('gives new memories time-ordered ids: a later batch sorts after an earlier one (ADR 0118)', async () => {
    const millis = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    const before = Date.now();
    const first = await add([{ text: 'ordered id one' }, { text: 'ordered id two' }]).expect(201);
    const second = await add([{ text: 'ordered id three' }]).expect(201);
    const ids: string[] = [...first.body.items, ...second.body.items].map((m: { id: string }) => m.id);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(millis(id)).toBeGreaterThanOrEqual(before - 1);
      expect(millis(id)).toBeLessThanOrEqual(Date.now());
    }
    expect(millis(ids[2])).toBeGreaterThanOrEqual(Math.max(millis(ids[0]), millis(ids[1])));
    await h.http.get(`/v1/cubes/${cubeId}/memories/${ids[2]}`).set(auth()).expect(200);
  });

  it('stores a 1,000-memory batch in input order, written in chunks, all or nothing (ADR 0118)', async () => {
    const owner = await h.factory.apiKey();
    const cube = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const post = (items: object[]) => h.http.post(`/v1/cubes/${cube}/memories`).set({ Authorization: `Bearer ${owner.key}` }).send({ items });
    const count = async (table: 'memories' | 'memory_versions') => {
      const sql = table === 'memories' ? `SELECT count(*)::int AS n FROM memories WHERE cube_id = $1` : `SELECT count(*)::int AS n FROM memory_versions v JOIN memories m ON m.id = v.memory_id WHERE m.cube_id = $1`;
      return ((await h.app.get(DataSource).query(sql, [cube])) as { n: number }[])[0].n;
    };
    const texts = Array.from({ length: 1000 }, (_, i) => `chunked batch memory number ${i} about topic ${i % 7}`);
    // The database, not the validation, refuses one row (a trigger of this test's database); it sits in the last chunk.
    const db = h.app.get(DataSource);
    await db.query(`CREATE FUNCTION refuse_marked_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.text = 'refused by the database' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`);
    await db.query(`CREATE TRIGGER refuse_marked_row BEFORE INSERT ON memories FOR EACH ROW EXECUTE FUNCTION refuse_marked_row()`);
    try {
      const refused = await post(texts.map((text, i) => ({ text: i === 950 ? 'refused by the database' : text })));
      expect(refused.status).toBe(500);
      expect(await count('memories')).toBe(0);
    } finally {
      await db.query(`DROP TRIGGER refuse_marked_row ON memories; DROP FUNCTION refuse_marked_row()`);
    }
    const stored = await post(texts.map((text) => ({ text }))).expect(201);
    expect(stored.body.items.map((m: { text: string }) => m.text)).toEqual(texts);
    expect(await count('memories')).toBe(1000);
    // Labels and the change feed follow input order across the chunks too.
    const byLabel = (await h.app.get(DataSource).query(`SELECT text FROM memories WHERE cube_id = $1 ORDER BY label`, [cube])) as { text: string }[];
    expect(byLabel.map((r) => r.text)).toEqual(texts);
    const byChange = (await h.app.get(DataSource).query(`SELECT text FROM memories WHERE cube_id = $1 ORDER BY change_seq`, [cube])) as { text: string }[];
    expect(byChange.map((r) => r.text)).toEqual(texts);
    expect(await count('memory_versions')).toBe(1000);
    const last = await h.http.post(`/v1/cubes/${cube}/search`).set({ Authorization: `Bearer ${owner.key}` }).send({ query: 'chunked batch memory number 999', topK: 1 }).expect(200);
    expect(last.body.results[0].text).toBe(texts[999]);
    // Messages take the same chunked path: order, turn index and vectors hold across chunks.
    const messages = Array.from({ length: 600 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} of a long chunked conversation` }));
    const said = await h.http.post(`/v1/cubes/${cube}/messages`).set({ Authorization: `Bearer ${owner.key}` }).send({ sessionId: 'long', messages }).expect(201);
    expect(said.body.items.map((m: { text: string; metadata: { turnIndex: number } }) => [m.text, m.metadata.turnIndex])).toEqual(messages.map((m, i) => [m.content, i]));
    const vectors = (await h.app.get(DataSource).query(`SELECT count(*)::int AS n FROM memories WHERE cube_id = $1 AND kind = 'message' AND embedding IS NOT NULL`, [cube])) as { n: number }[];
    expect(vectors[0].n).toBe(600);
  });
});
