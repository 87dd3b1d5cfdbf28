import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ChatCompletionChunk,
  EngramApiError,
  EngramAuthError,
  EngramClient,
  EngramNotFoundError,
  EngramUnavailableError,
  EngramValidationError,
  retryAfterMs,
} from '@engram/client';
import { createTinyModel } from '@engram/inference';
import { createE2eHarness, E2eHarness } from '@engram/testing';

const PACKAGE = path.resolve(__dirname, '../packages/client');

/** @engram/client against a listening engram: the SDK's promises, one by one. */
describe('@engram/client', () => {
  let h: E2eHarness;
  let url: string;
  let apiKey: string;
  let engram: EngramClient;
  let modelsDir: string;

  beforeAll(async () => {
    h = await createE2eHarness();
    await h.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(h.app.getHttpServer().address() as { port: number }).port}`;
    const admin = new EngramClient({ url, apiKey: h.adminToken });
    const tenant = await admin.admin.createTenant('sdk');
    apiKey = (await admin.admin.createKey(tenant.id, { scopes: ['cubes:write', 'memories:read', 'memories:write', 'inference:run'] })).key;
    engram = new EngramClient({ url, apiKey });
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-sdk-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, vocab: 280, maxPositionEmbeddings: 256 });
    await admin.admin.listTenants();
    await h.http.post('/v1/admin/models').set({ Authorization: `Bearer ${h.adminToken}` }).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
  });

  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('gets or creates a cube by name and uses the name wherever a cube is taken', async () => {
    const first = await engram.cubes.getOrCreate('user-42', { description: 'Alice' });
    const again = await engram.cubes.getOrCreate('user-42');
    expect(again.id).toBe(first.id);
    const [stored] = await engram.memories.add('user-42', ['Alice prefers window seats on long flights']);
    expect(stored.cubeId).toBe(first.id);
    const results = await engram.memories.search('user-42', 'where does Alice like to sit?', { topK: 3, explain: true });
    expect(results[0]).toMatchObject({ id: stored.id, score: expect.any(Number), explain: expect.anything() });
    const updated = await engram.memories.update('user-42', stored.id, { text: 'Alice prefers aisle seats', reason: 'changed her mind' });
    expect(updated.version).toBe(2);
    // Read-modify-write with the version read: a change made meanwhile is not overwritten.
    const lost = await engram.memories.update('user-42', stored.id, { tags: ['travel'] }, { ifMatch: 1 }).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(EngramApiError);
    expect([(lost as EngramApiError).status, (lost as EngramApiError).code, (lost as EngramApiError).details]).toEqual([412, 'precondition_failed', { version: 2 }]);
    expect((await engram.memories.history('user-42', stored.id)).map((v) => v.action)).toEqual(['create', 'update']);
    const tagged = await engram.memories.update('user-42', stored.id, { tags: ['travel'] }, { ifMatch: updated.version });
    expect([tagged.version, tagged.tags, tagged.text]).toEqual([3, ['travel'], 'Alice prefers aisle seats']);
    expect((await engram.cubes.stats('user-42')).memories.total).toBe(1);
    const overview = await engram.cubes.overview('user-42');
    expect(overview).toMatchObject({ cubeId: first.id, memories: { total: 1, byState: { active: 1 } }, activation: { workingMemory: { state: 'off' } }, banks: [] });
    await engram.memories.delete('user-42', stored.id);
    await expect(engram.memories.get('user-42', stored.id)).rejects.toBeInstanceOf(EngramNotFoundError);
  });

  it('follows a name to the cube made again under it after the one it knew was deleted', async () => {
    const first = await engram.cubes.getOrCreate('user-again');
    await engram.memories.add('user-again', ['in the first cube']); // the name is now cached
    const other = new EngramClient({ url, apiKey });
    await other.cubes.delete('user-again');
    const second = await other.cubes.getOrCreate('user-again');
    expect(second.id).not.toBe(first.id);
    // It answered 404 "cube not found" for every call until the client was made again.
    await engram.memories.add('user-again', ['in the second cube']);
    expect((await engram.memories.list('user-again')).items.map((m) => m.text)).toEqual(['in the second cube']);
    expect((await engram.cubes.get('user-again')).id).toBe(second.id);
  });

  it('iterates every page of a cursor listing', async () => {
    await engram.cubes.getOrCreate('paged');
    await engram.memories.add('paged', Array.from({ length: 7 }, (_, i) => `memory number ${i}`));
    const seen: string[] = [];
    for await (const memory of engram.memories.iterate('paged', { limit: 2 })) seen.push(memory.text);
    expect(seen.sort()).toEqual(Array.from({ length: 7 }, (_, i) => `memory number ${i}`).sort());
    const cubes: string[] = [];
    for await (const cube of engram.cubes.iterate({ limit: 1 })) cubes.push(cube.name);
    expect(cubes).toEqual(expect.arrayContaining(['user-42', 'paged']));
  });

  it('retries a 429 after the Retry-After the server sent', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const client = new EngramClient({
      url,
      apiKey,
      sleep: async (ms) => void sleeps.push(ms),
      fetch: async (input, init) => (++calls === 1 ? new Response(JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } }), { status: 429, headers: { 'Retry-After': '2' } }) : fetch(input, init)),
    });
    expect((await client.cubes.list()).items.length).toBeGreaterThan(0);
    expect(sleeps).toEqual([2000]);
    expect(calls).toBe(2);
  });

  it('stores a write once when its answer is lost and the retry carries the same Idempotency-Key', async () => {
    const keys: string[] = [];
    let lost = false;
    const client = new EngramClient({
      url,
      apiKey,
      sleep: async () => undefined,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).endsWith('/memories')) return response;
        keys.push(new Headers(init?.headers).get('idempotency-key') ?? '');
        if (!lost) {
          lost = true; // the server committed, the answer never arrived
          return new Response('upstream went away', { status: 503 });
        }
        return response;
      },
    });
    await client.cubes.getOrCreate('idem');
    const before = (await engram.memories.list('idem')).items.length;
    const stored = await client.memories.add('idem', ['stored exactly once']);
    expect(stored).toHaveLength(1);
    expect((await engram.memories.list('idem')).items.length).toBe(before + 1);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives up after maxRetries with a typed error carrying the code', async () => {
    const client = new EngramClient({ url, apiKey, maxRetries: 2, sleep: async () => undefined, fetch: async () => new Response(JSON.stringify({ error: { code: 'unavailable', message: 'draining', requestId: 'r1' } }), { status: 503 }) });
    const error = await client.cubes.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngramUnavailableError);
    expect(error).toMatchObject({ status: 503, code: 'unavailable', message: 'draining', requestId: 'r1' });
  });

  it('throws typed errors with the API error code and field problems', async () => {
    const missing = await engram.memories.search('nobody', 'x').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(EngramNotFoundError);
    expect(missing).toMatchObject({ code: 'not_found' });
    const invalid = (await engram.memories.search('user-42', 'x', { topK: 5000 }).catch((e: unknown) => e)) as EngramValidationError;
    expect(invalid).toBeInstanceOf(EngramValidationError);
    expect(invalid.code).toBe('validation_failed');
    expect(invalid.problems.map((p) => p.field)).toEqual(['topK']);
    const denied = await new EngramClient({ url, apiKey: 'egk_wrong' }).cubes.list().catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(EngramAuthError);
    expect(denied).toBeInstanceOf(EngramApiError);
    expect((denied as EngramApiError).status).toBe(401);
  });

  it('ends a call whose signal aborts while it waits out a Retry-After, at once (it used to sleep up to 30 s first)', async () => {
    let calls = 0;
    // An hour's Retry-After that the client may wait in full: without the fix the call outlives the test's timeout.
    const client = new EngramClient({
      url,
      apiKey,
      maxRetryDelayMs: 3_600_000,
      fetch: async () => {
        calls++;
        return new Response(JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } }), { status: 429, headers: { 'Retry-After': '3600' } });
      },
    });
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const error = await client.memories.search('user-42', 'x', { signal: abort.signal }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(calls).toBe(1);
  });

  it('says that a request timed out, and after how long (it used to read as an unreachable server)', async () => {
    const hanging: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    const client = new EngramClient({ url, apiKey, timeoutMs: 50, maxRetries: 1, sleep: async () => undefined, fetch: hanging });
    const error = await client.cubes.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngramUnavailableError);
    expect(error).toMatchObject({ status: 0, code: 'network_error', message: expect.stringContaining('no answer within 50 ms (timeoutMs)') });
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeNull();
  });

  it('streams a chat completion as server-sent events', async () => {
    await engram.memories.add('user-42', ['Alice lives in Lisbon']);
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of engram.chat.stream({ model: 'tiny', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: 'hi' }], engram: { cube: 'user-42', memoryText: 'Alice lives in Lisbon' } })) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toMatch(/stop|length/);
    const streamed = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const whole = await engram.chat.complete({ model: 'tiny', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: 'hi' }], engram: { cube: 'user-42', memoryText: 'Alice lives in Lisbon' } });
    expect(streamed).toBe(whole.choices[0].message.content);
    const failed = await (async () => {
      for await (const _ of engram.chat.stream({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] })) void _;
    })().catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(EngramNotFoundError);
  });

  describe('builds', () => {
    // Asynchronous: the server answering the child runs in this process.
    const run = async (file: string, source: string) => {
      const script = path.join(os.tmpdir(), `engram-sdk-${process.pid}-${file}`);
      fs.writeFileSync(script, source);
      try {
        return await promisify(execFile)(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ENGRAM_API_KEY: apiKey }, encoding: 'utf8', timeout: 30_000 });
      } finally {
        fs.rmSync(script, { force: true });
      }
    };

    it('loads from CommonJS and from ESM and talks to engram', async () => {
      const cjs = await run('a.cjs', `const { EngramClient } = require(${JSON.stringify(path.join(PACKAGE, 'dist/cjs/index.js'))});
new EngramClient({ url: ${JSON.stringify(url)}, apiKey: process.env.ENGRAM_API_KEY }).cubes.list().then((p) => console.log('cjs', p.items.length));`);
      expect(cjs.stderr).toBe('');
      expect(cjs.stdout).toMatch(/^cjs [1-9]/);
      const esm = await run('a.mjs', `import { EngramClient } from ${JSON.stringify(pathToFileURL(path.join(PACKAGE, 'dist/esm/index.js')).href)};
console.log('esm', (await new EngramClient({ url: ${JSON.stringify(url)}, apiKey: process.env.ENGRAM_API_KEY }).cubes.list()).items.length);`);
      expect(esm.stderr).toBe('');
      expect(esm.stdout).toMatch(/^esm [1-9]/);
    });

    it('runs the README example as written', async () => {
      const readme = fs.readFileSync(path.join(PACKAGE, 'README.md'), 'utf8');
      const example = /```ts\n([\s\S]*?)```/.exec(readme)![1];
      expect(example.trim().split('\n')).toHaveLength(5);
      expect(example).toMatch(/'http:\/\/localhost:\d+'/); // the server's address, replaced by the test server's
      const source = example
        .replace("'@engram/client'", JSON.stringify(pathToFileURL(path.join(PACKAGE, 'dist/esm/index.js')).href))
        .replace(/'http:\/\/localhost:\d+'/, JSON.stringify(url))
        .replace('process.env.ENGRAM_API_KEY!', 'process.env.ENGRAM_API_KEY');
      const result = await run('readme.mjs', source);
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('window seats');
      expect(result.stdout).toContain('score');
    });
  });
});
