import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createTinyModel } from '@engram/inference';
import { MCP_TOOL_NAMES } from '@engram/server';
import { createE2eHarness, E2eHarness } from '@engram/testing';

// The built CLI (`npm run build`); ENGRAM_TEST_CLI runs these against another build.
const CLI = process.env.ENGRAM_TEST_CLI ?? path.resolve(__dirname, '../dist/apps/cli/src/main.js');

type ToolResult = { isError?: boolean; content: { type: string; text?: string }[] };
const json = (result: unknown) => JSON.parse((result as ToolResult).content[0].text ?? 'null');

/** The MCP surface, driven by the MCP SDK's own client against a listening engram (ADR 0502). */
describe('MCP server', () => {
  let h: E2eHarness;
  let baseUrl: string;
  let tenantId: string;
  let ownerKey: string;
  let modelsDir: string;
  const clients: Client[] = [];

  const connect = async (key: string, query = ''): Promise<Client> => {
    const client = new Client({ name: 'engram-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp${query}`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
    clients.push(client);
    return client;
  };
  const keyFor = async (scopes: string[], cubeIds?: string[]) =>
    (await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set({ Authorization: `Bearer ${h.adminToken}` }).send({ scopes, cubeIds }).expect(201)).body.key as string;

  beforeAll(async () => {
    h = await createE2eHarness();
    await h.app.listen(0, '127.0.0.1');
    const address = h.app.getHttpServer().address() as { port: number };
    baseUrl = `http://127.0.0.1:${address.port}`;
    tenantId = (await h.http.post('/v1/admin/tenants').set({ Authorization: `Bearer ${h.adminToken}` }).send({ name: 'mcp' }).expect(201)).body.id;
    ownerKey = await keyFor(['cubes:write', 'memories:read', 'memories:write', 'inference:run']);
    await h.http.post('/v1/cubes').set({ Authorization: `Bearer ${ownerKey}` }).send({ name: 'alice' }).expect(201);
    await h.http.post('/v1/cubes').set({ Authorization: `Bearer ${ownerKey}` }).send({ name: 'bob' }).expect(201);
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-mcp-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, vocab: 280, maxPositionEmbeddings: 256 });
    await h.http.post('/v1/admin/models').set({ Authorization: `Bearer ${h.adminToken}` }).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
  });

  afterAll(async () => {
    for (const client of clients) await client.close();
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('lists the tools with descriptions and JSON schemas', async () => {
    const client = await connect(ownerKey);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...MCP_TOOL_NAMES].sort());
    for (const t of tools) {
      expect(t.description?.length).toBeGreaterThan(30);
      expect(t.inputSchema.type).toBe('object');
    }
    const search = tools.find((t) => t.name === 'search_memories')!;
    expect(search.inputSchema.required).toEqual(['query']);
    expect(Object.keys(search.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['cube', 'query', 'top_k', 'filters']));
    expect(search.annotations?.readOnlyHint).toBe(true);
    // Free-form objects (metadata, filters) without `propertyNames`: Gemini's function calling refuses the keyword (INVALID_ARGUMENT).
    expect(JSON.stringify(tools.map((t) => t.inputSchema))).not.toContain('propertyNames');
    expect(search.inputSchema.properties?.filters).toMatchObject({ type: 'object', additionalProperties: {} });
  });

  it('adds, searches, reads, updates, lists and deletes memories in a cube named by its name', async () => {
    const client = await connect(ownerKey);
    const added = await client.callTool({ name: 'add_memories', arguments: { cube: 'alice', memories: [{ text: 'Alice prefers window seats on long flights', kind: 'preference' }, { text: 'Alice works on project apollo' }] } });
    expect(added.isError).toBeFalsy();
    const items = json(added).items as { id: string; kind: string }[];
    expect(items.map((i) => i.kind)).toEqual(['preference', 'fact']);
    const found = json(await client.callTool({ name: 'search_memories', arguments: { cube: 'alice', query: 'which seat does Alice like?', top_k: 1 } }));
    expect(found.results).toEqual([expect.objectContaining({ id: items[0].id, score: expect.any(Number) })]);
    const updated = json(await client.callTool({ name: 'update_memory', arguments: { cube: 'alice', memory_id: items[1].id, text: 'Alice leads project apollo', reason: 'promoted' } }));
    expect(updated).toMatchObject({ id: items[1].id, text: 'Alice leads project apollo', version: 2 });
    // With the version last read: applied only while the memory is still at it.
    const stale = await client.callTool({ name: 'update_memory', arguments: { cube: 'alice', memory_id: items[1].id, tags: ['lead'], expected_version: 1 } });
    expect(stale.isError).toBe(true);
    expect(json(stale)).toMatchObject({ error: { code: 'precondition_failed', details: { version: 2 } } });
    expect(json(await client.callTool({ name: 'update_memory', arguments: { cube: 'alice', memory_id: items[1].id, tags: ['lead'], expected_version: 2 } }))).toMatchObject({ tags: ['lead'], version: 3 });
    expect(json(await client.callTool({ name: 'get_memory', arguments: { cube: 'alice', memory_id: items[1].id } })).text).toBe('Alice leads project apollo');
    const listed = json(await client.callTool({ name: 'list_memories', arguments: { cube: 'alice', kind: 'preference' } }));
    expect(listed.items.map((m: { id: string }) => m.id)).toEqual([items[0].id]);
    expect(json(await client.callTool({ name: 'delete_memory', arguments: { cube: 'alice', memory_id: items[0].id } }))).toEqual({ deleted: items[0].id });
    const after = json(await client.callTool({ name: 'search_memories', arguments: { cube: 'alice', query: 'window seats' } }));
    expect(after.results.map((r: { id: string }) => r.id)).not.toContain(items[0].id);
    // The same data through REST: one store, two surfaces.
    const cube = (await h.http.get('/v1/cubes').query({ name: 'alice' }).set({ Authorization: `Bearer ${ownerKey}` }).expect(200)).body.items[0];
    await h.http.get(`/v1/cubes/${cube.id}/memories/${items[1].id}`).set({ Authorization: `Bearer ${ownerKey}` }).expect(200);
  });

  it('stores conversation turns with add_messages under a session', async () => {
    const client = await connect(ownerKey);
    const res = json(await client.callTool({ name: 'add_messages', arguments: { cube: 'bob', session_id: 's-1', messages: [{ role: 'user', content: 'I moved to Lisbon' }, { role: 'assistant', content: 'Noted!' }] } }));
    expect(res.items.map((m: { role: string; source: { sessionId?: string } }) => [m.role, m.source.sessionId])).toEqual([['user', 's-1'], ['assistant', 's-1']]);
  });

  it('answers tool errors with the REST error codes', async () => {
    const client = await connect(ownerKey);
    const missing = await client.callTool({ name: 'get_memory', arguments: { cube: 'alice', memory_id: '00000000-0000-4000-8000-000000000000' } });
    expect(missing.isError).toBe(true);
    expect(json(missing).error).toMatchObject({ code: 'not_found' });
    for (const name of ['get_memory', 'update_memory', 'delete_memory']) {
      const notAnId = await client.callTool({ name, arguments: { cube: 'alice', memory_id: '../../x', ...(name === 'update_memory' ? { text: 'y' } : {}) } });
      expect(json(notAnId).error).toEqual({ code: 'not_found', message: 'memory not found' }); // as REST's path ids: not an internal error
    }
    const noCube = await client.callTool({ name: 'search_memories', arguments: { query: 'x' } });
    expect(json(noCube).error).toMatchObject({ code: 'validation_failed', details: [{ field: 'cube', problems: [expect.any(String)] }] });
    const unknownCube = await client.callTool({ name: 'search_memories', arguments: { cube: 'nobody', query: 'x' } });
    expect(json(unknownCube).error.code).toBe('not_found');
    const tooMany = await client.callTool({ name: 'search_memories', arguments: { cube: 'alice', query: 'x', top_k: 5000 } });
    expect(json(tooMany).error).toMatchObject({ code: 'validation_failed', details: [expect.objectContaining({ field: 'topK' })] });
    const blank = await client.callTool({ name: 'add_memories', arguments: { cube: 'alice', text: '   ' } });
    expect(json(blank).error).toMatchObject({ code: 'validation_failed', details: [expect.objectContaining({ field: 'items.0.text' })] });
  });

  it('enforces scopes exactly as REST: a read-only key searches but cannot write', async () => {
    const client = await connect(await keyFor(['memories:read']));
    expect((await client.callTool({ name: 'search_memories', arguments: { cube: 'alice', query: 'apollo' } })).isError).toBeFalsy();
    const denied = await client.callTool({ name: 'add_memories', arguments: { cube: 'alice', text: 'planted' } });
    expect(json(denied).error).toMatchObject({ code: 'forbidden' });
  });

  it('does not reach a cube of another tenant, by id or by name', async () => {
    const victim = await h.factory.cube({ name: 'victim-cube' });
    const client = await connect(ownerKey);
    for (const cube of [victim.id, 'victim-cube']) {
      const res = await client.callTool({ name: 'search_memories', arguments: { cube, query: 'secret' } });
      expect(json(res).error).toEqual({ code: 'not_found', message: 'cube not found' });
    }
    await expect(client.readResource({ uri: `engram://cubes/${victim.id}` })).rejects.toThrow(/cube not found/);
  });

  it('fixes the cube by the key when it reaches one cube, and by ?cube= in the URL', async () => {
    const bob = (await h.http.get('/v1/cubes').query({ name: 'bob' }).set({ Authorization: `Bearer ${ownerKey}` }).expect(200)).body.items[0];
    const single = await connect(await keyFor(['memories:read', 'memories:write'], [bob.id]));
    const added = json(await single.callTool({ name: 'add_memories', arguments: { text: 'Bob drinks oat milk' } }));
    expect(added.items[0].cubeId).toBe(bob.id);
    const denied = await single.callTool({ name: 'search_memories', arguments: { cube: 'alice', query: 'x' } });
    expect(json(denied).error.code).toBe('not_found');
    const byUrl = await connect(ownerKey, '?cube=bob');
    const found = json(await byUrl.callTool({ name: 'search_memories', arguments: { query: 'oat milk' } }));
    expect(found.results[0].text).toBe('Bob drinks oat milk');
  });

  it('serves each cube overview as a resource', async () => {
    const client = await connect(ownerKey);
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.name).sort()).toEqual(['alice', 'bob']);
    const bob = resources.find((r) => r.name === 'bob')!;
    const read = await client.readResource({ uri: bob.uri });
    const overview = JSON.parse(String((read.contents[0] as { text: string }).text));
    expect(overview).toMatchObject({ cube: { name: 'bob' }, memories: { total: 3, byKind: { message: 2, fact: 1 } } });
    const byName = await client.readResource({ uri: 'engram://cubes/bob' });
    expect(JSON.parse(String((byName.contents[0] as { text: string }).text)).cube.id).toBe(overview.cube.id);
  });

  it('chats with a local model, putting the most relevant memories first', async () => {
    const client = await connect(ownerKey);
    const res = await client.callTool({ name: 'chat', arguments: { cube: 'bob', model: 'tiny', max_tokens: 3, memory_top_k: 1, messages: [{ role: 'user', content: 'what milk do I drink?' }] } });
    expect(res.isError).toBeFalsy();
    const body = json(res);
    expect(body.answer).toEqual(expect.any(String));
    expect(body.memories).toEqual([expect.objectContaining({ text: 'Bob drinks oat milk' })]);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    // The same prompt as REST chat with the cube: the memory is in it once (the tool used to send it as memoryText too).
    const bob = (await h.http.get('/v1/cubes').query({ name: 'bob' }).set({ Authorization: `Bearer ${ownerKey}` }).expect(200)).body.items[0].id;
    const rest = await h.http.post('/v1/chat/completions').set({ Authorization: `Bearer ${ownerKey}` })
      .send({ model: 'tiny', max_tokens: 3, messages: [{ role: 'user', content: 'what milk do I drink?' }], engram: { cubeId: bob, retrieve: { topK: 1 } } }).expect(200);
    expect(body.usage.prompt_tokens).toBe(rest.body.usage.prompt_tokens);
    expect(body.memories.map((m: { id: string }) => m.id)).toEqual(rest.body.engram.retrieval.memoryIds);
    const unknown = await client.callTool({ name: 'chat', arguments: { cube: 'bob', model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] } });
    expect(json(unknown).error.code).toBe('not_found');
  });

  it('chats with a key that may run models but not read memories, as REST does: the memories used by id (it answered forbidden after generating)', async () => {
    const bob = (await h.http.get('/v1/cubes').query({ name: 'bob' }).set({ Authorization: `Bearer ${ownerKey}` }).expect(200)).body.items[0].id;
    await h.http.post(`/v1/cubes/${bob}/memories`).set({ Authorization: `Bearer ${ownerKey}` }).send({ items: [{ text: 'Bob buys oat milk every Monday' }] }).expect(201);
    const chatOnly = await keyFor(['inference:run'], [bob]);
    const messages = [{ role: 'user', content: 'what milk do I drink?' }];
    const rest = await h.http.post('/v1/chat/completions').set({ Authorization: `Bearer ${chatOnly}` }).send({ model: 'tiny', max_tokens: 2, messages, engram: { cubeId: bob, retrieve: { topK: 1 } } }).expect(200);
    const res = await (await connect(chatOnly)).callTool({ name: 'chat', arguments: { model: 'tiny', max_tokens: 2, memory_top_k: 1, messages } });
    expect(res.isError).toBeFalsy();
    expect(rest.body.engram.retrieval.memoryIds).toHaveLength(1);
    expect(json(res).memories).toEqual(rest.body.engram.retrieval.memoryIds.map((id: string) => ({ id })));
  });

  it('answers a cube PostgreSQL cannot take as a validation error, not an internal one, in tools, the URL and resources', async () => {
    const client = await connect(ownerKey);
    const nul = await client.callTool({ name: 'search_memories', arguments: { cube: 'al\u0000ice', query: 'x' } });
    expect(json(nul).error).toMatchObject({ code: 'validation_failed', details: [expect.objectContaining({ field: 'cube' })] });
    // list_cubes checks its arguments as GET /v1/cubes?name= does.
    for (const name of ['al\u0000ice', 'x'.repeat(201)]) expect(json(await client.callTool({ name: 'list_cubes', arguments: { name } })).error).toMatchObject({ code: 'validation_failed', details: [expect.objectContaining({ field: 'name' })] });
    const byUrl = await connect(ownerKey, '?cube=al%00ice');
    expect(json(await byUrl.callTool({ name: 'search_memories', arguments: { query: 'x' } })).error.code).toBe('validation_failed');
    for (const uri of ['engram://cubes/al%00ice', 'engram://cubes/%E0%A4%A']) {
      const error = await client.readResource({ uri }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: -32602, data: { uri, error: { code: 'validation_failed' } } });
    }
  });

  it('answers a missing cube resource with MCP\'s "resource not found" and the REST body, and lists no resources for a key that may not read cubes', async () => {
    const client = await connect(ownerKey);
    const missing = await client.readResource({ uri: 'engram://cubes/no-such-cube' }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: -32002, message: 'MCP error -32002: cube not found', data: { uri: 'engram://cubes/no-such-cube', error: { code: 'not_found', message: 'cube not found' } } });
    const chatOnly = await connect(await keyFor(['inference:run']));
    expect(await chatOnly.listResources()).toEqual({ resources: [] });
    const denied = await chatOnly.readResource({ uri: 'engram://cubes/alice' }).catch((e: unknown) => e);
    expect(denied).toMatchObject({ code: -32600, data: { error: { code: 'forbidden' } } });
  });

  it('refuses a connection without a valid key with 401', async () => {
    await expect(connect('egk_not-a-key')).rejects.toThrow(/401|unauthenticated/);
    const res = await fetch(`${baseUrl}/mcp`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
  });

  it('serves the same tools over stdio through `engram mcp`, proxied to the HTTP server', async () => {
    const client = new Client({ name: 'engram-stdio-test', version: '1.0.0' });
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', '--url', baseUrl, '--cube', 'alice'], env: { ENGRAM_API_KEY: ownerKey, PATH: process.env.PATH ?? '' }, stderr: 'pipe' });
    await client.connect(transport);
    clients.push(client);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([...MCP_TOOL_NAMES].sort());
    const found = json(await client.callTool({ name: 'search_memories', arguments: { query: 'apollo' } }));
    expect(found.results[0].text).toBe('Alice leads project apollo');
    const denied = await client.callTool({ name: 'get_memory', arguments: { memory_id: '00000000-0000-4000-8000-000000000000' } });
    expect(denied.isError).toBe(true);
    expect(json(denied).error.code).toBe('not_found');
    const { resources } = await client.listResources();
    expect(resources.length).toBe(2);
    // Protocol errors pass through as the server sent them (they read "MCP error -32603: MCP error -32603: …").
    const missing = await client.readResource({ uri: 'engram://cubes/no-such-cube' }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: -32002, message: 'MCP error -32002: cube not found', data: { error: { code: 'not_found' } } });
  });
});
