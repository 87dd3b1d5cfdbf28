import { Scope } from '@engram/core';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/** A JSON body that is not UTF-8 is refused, not stored with U+FFFD for its bad bytes (REST and MCP share the parser). */
describe('request bodies that are not UTF-8', () => {
  let h: E2eHarness;
  let key: string;
  let cubeId: string;
  let base: string;
  const as = () => ({ Authorization: `Bearer ${key}` });
  /** Raw bytes over a real socket (supertest would serialize a Buffer as JSON). */
  const post = async (path: string, body: Buffer, contentType = 'application/json') => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { ...as(), 'Content-Type': contentType, Accept: 'application/json, text/event-stream' }, body });
    return { status: res.status, body: (await res.json()) as { items: { text: string }[]; error?: { code: string; message: string } } };
  };

  beforeAll(async () => {
    h = await createE2eHarness();
    key = (await h.factory.apiKey({ scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] })).key;
    cubeId = (await h.http.post('/v1/cubes').set(as()).send({ name: 'utf8', settings: { embedder: 'hash' } }).expect(201)).body.id;
    await h.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(h.app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(() => h.close());

  const latin1 = (value: unknown) => Buffer.from(JSON.stringify(value), 'latin1');

  it('answers 400 invalid_json for a Latin-1 body and stores nothing (it stored "caf\\uFFFD" with a 201)', async () => {
    const res = await post(`/v1/cubes/${cubeId}/memories`, latin1({ items: [{ text: 'Likes café au lait' }] }));
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_json', message: expect.stringContaining('not valid UTF-8') } } });
    const charset = await post(`/v1/cubes/${cubeId}/memories`, latin1({ items: [{ text: 'Likes café au lait' }] }), 'application/json; charset=utf-8');
    expect(charset.status).toBe(400);
    expect((await h.http.get(`/v1/cubes/${cubeId}/memories`).set(as()).expect(200)).body.items).toEqual([]);
  });

  it('stores the same text sent as UTF-8', async () => {
    const res = await post(`/v1/cubes/${cubeId}/memories`, Buffer.from(JSON.stringify({ items: [{ text: 'Likes café au lait ☕' }] }), 'utf8'));
    expect(res.status).toBe(201);
    expect(res.body.items[0].text).toBe('Likes café au lait ☕');
  });

  it('refuses a Latin-1 MCP tool call the same way', async () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add_memories', arguments: { cube: 'utf8', text: 'Zoë' } } };
    const res = await post('/mcp', latin1(call));
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
  });
});
