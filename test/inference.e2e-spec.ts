import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChatCompletionRequestDto, ChatCompletionService, ModelRuntime, RequestContext } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { KvCacheRepository } from '@engram/persistence';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/**
 * Models, KV caches and chat completions over HTTP, on tiny models the test writes
 * itself (2 layers, hidden 32, context 192) so the whole file runs in seconds.
 */
describe('models, KV caches and chat completions over HTTP', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
  let ownerCtx: RequestContext;
  let readOnlyKey: string;
  let tenantId: string;
  let cubeId: string;
  let otherCubeId: string;
  const auth = (k = key) => ({ Authorization: `Bearer ${k}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const MEMORY = 'Alice lives in Paris and works as an engineer. Bob prefers tea over coffee in the morning.';
  const QUESTION = [{ role: 'user', content: 'Where does Alice live?' }];

  const tinyModel = (name: string, seed: number) => {
    const dir = path.join(modelsDir, name);
    createTinyModel({ outDir: dir, layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, maxPositionEmbeddings: 192, seed });
    return dir;
  };
  const chat = (body: object, k = key) => h.http.post('/v1/chat/completions').set(auth(k)).send({ model: 'tiny', max_tokens: 8, temperature: 0, ...body });
  const buildCache = (body: object, cube = cubeId) => h.http.post(`/v1/cubes/${cube}/kv-caches`).set(auth()).send({ model: 'tiny', ...body });
  const listCaches = async (cube = cubeId) => (await h.http.get(`/v1/cubes/${cube}/kv-caches`).set(auth()).expect(200)).body.items as { id: string; tier: string; bytes: number; tokens: number }[];
  const addMemory = async (text: string, cube = cubeId) => (await h.http.post(`/v1/cubes/${cube}/memories`).set(auth()).send({ items: [{ text }] }).expect(201)).body.items[0].id as string;

  beforeAll(async () => {
    h = await createE2eHarness({ kvChunkTokens: 16 });
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    tinyModel('tiny', 1);
    tinyModel('tiny-other', 2);
    const owner = await h.factory.apiKey();
    key = owner.key;
    ownerCtx = owner.ctx;
    tenantId = owner.tenantId;
    readOnlyKey = (await h.factory.apiKey({ tenantId, scopes: ['memories:read' as never] })).key;
    cubeId = (await h.factory.cube({ tenantId })).id;
    otherCubeId = (await h.factory.cube({ tenantId })).id;
    await h.http.post('/v1/admin/models').set(admin()).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    await h.http.post('/v1/admin/models').set(admin()).send({ name: 'tiny-other', path: path.join(modelsDir, 'tiny-other') }).expect(201);
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  describe('the model registry', () => {
    it('registers model directories by name with their fingerprint, and lists them', async () => {
      const res = await h.http.post('/v1/admin/models').set(admin()).send({ name: 'tiny-again', path: path.join(modelsDir, 'tiny') }).expect(201);
      expect(res.body).toMatchObject({ name: 'tiny-again', format: 'safetensors', fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/), config: { layers: 2, hiddenSize: 32, contextLength: 192 } });
      const list = await h.http.get('/v1/admin/models').set(admin()).expect(200);
      expect(list.body.items.map((m: { name: string }) => m.name)).toEqual(['tiny', 'tiny-again', 'tiny-other']);
      expect(list.body.items[0].fingerprint).toBe(res.body.fingerprint);
    });

    it('resolves a relative path under ENGRAM_MODELS_DIR, not the working directory, and never above it', async () => {
      const relativeDir = `${path.basename(modelsDir)}/tiny`; // the harness's models dir is the system temp folder
      const res = await h.http.post('/v1/admin/models').set(admin()).send({ name: 'tiny-relative', path: relativeDir }).expect(201);
      expect(res.body.fingerprint).toBe((await h.http.get('/v1/admin/models').set(admin())).body.items.find((m: { name: string }) => m.name === 'tiny').fingerprint);
      for (const bad of ['../etc', 'nowhere-at-all', '.']) {
        const refused = await h.http.post('/v1/admin/models').set(admin()).send({ name: `bad-${bad.length}`, path: bad });
        expect(refused.status).toBe(422);
        expect(refused.body.error.message).toMatch(/ENGRAM_MODELS_DIR/);
        expect(refused.body.error.message).not.toContain(process.cwd());
      }
    });

    it('refuses a second model under a taken name', async () => {
      const res = await h.http.post('/v1/admin/models').set(admin()).send({ name: 'tiny', path: path.join(modelsDir, 'tiny-other') });
      expect(res.status).toBe(409);
    });

    it('answers 422 for a missing directory and for one with missing files, registering nothing', async () => {
      const missing = await h.http.post('/v1/admin/models').set(admin()).send({ name: 'ghost', path: path.join(modelsDir, 'nope') });
      expect(missing.status).toBe(422);
      expect(missing.body.error.code).toBe('model_invalid');
      const broken = path.join(modelsDir, 'broken');
      fs.cpSync(path.join(modelsDir, 'tiny'), broken, { recursive: true });
      fs.rmSync(path.join(broken, 'tokenizer.json'));
      const res = await h.http.post('/v1/admin/models').set(admin()).send({ path: broken });
      expect(res.status).toBe(422);
      expect(res.body.error.message).toContain('tokenizer.json');
      const list = await h.http.get('/v1/admin/models').set(admin()).expect(200);
      expect(list.body.items.map((m: { name: string }) => m.name)).not.toContain('broken');
    });

    it('keeps tenant keys off the model registry', async () => {
      expect((await h.http.get('/v1/admin/models').set(auth())).status).toBe(404);
      expect((await h.http.post('/v1/admin/models').set(auth()).send({ path: modelsDir })).status).toBe(404);
    });

    it('tells a tenant a registered model cannot be loaded without naming where its files are', async () => {
      const dir = tinyModel('tiny-moved', 3);
      await h.http.post('/v1/admin/models').set(admin()).send({ name: 'tiny-moved', path: dir }).expect(201);
      fs.renameSync(dir, `${dir}-elsewhere`);
      const res = await chat({ model: 'tiny-moved', messages: QUESTION });
      expect([res.status, res.body.error.code]).toEqual([422, 'model_invalid']);
      expect(res.body.error.message).toBe('model "tiny-moved" cannot be loaded: its directory does not exist; an operator must fix or import it again');
      expect(JSON.stringify(res.body)).not.toContain(modelsDir);
    });
  });

  describe('KV caches', () => {
    it('builds a cache from text and lists it with its tier and size', async () => {
      const cube = (await h.factory.cube({ tenantId })).id;
      const res = await buildCache({ text: MEMORY }, cube).expect(201);
      expect(res.body).toMatchObject({ id: expect.any(String), cubeId: cube, model: 'tiny', tier: 'ram', sourceMemoryIds: [] });
      expect(res.body.tokens).toBeGreaterThan(16);
      // 2 layers × key+value × 2 kv heads × head dim 8 × float32 per token
      expect(res.body.bytes).toBe(res.body.tokens * 2 * 2 * 2 * 8 * 4);
      const metrics = await h.http.get('/metrics').expect(200);
      expect(metrics.text).toMatch(/engram_kv_cache_tier\{tier="ram",stat="bytes"\} [1-9]/);
      const items = await listCaches(cube);
      expect(items).toEqual([expect.objectContaining({ id: res.body.id, tier: 'ram', bytes: res.body.bytes, tokens: res.body.tokens })]);
    });

    it('builds the same cache once however often it is asked for', async () => {
      const first = await buildCache({ text: 'The meeting is on Monday at ten.' }).expect(201);
      const again = await buildCache({ text: 'The meeting is on Monday at ten.' }).expect(201);
      expect(again.body.id).toBe(first.body.id);
      await h.http.delete(`/v1/cubes/${cubeId}/kv-caches/${first.body.id}`).set(auth()).expect(204);
    });

    it('builds a cache from active memories of the cube and records them as its sources', async () => {
      const a = await addMemory('Alice lives in Paris.');
      const b = await addMemory('Bob prefers tea.');
      const res = await buildCache({ memoryIds: [a, b] }).expect(201);
      expect(res.body.sourceMemoryIds).toEqual([a, b]);
      await h.http.delete(`/v1/cubes/${cubeId}/kv-caches/${res.body.id}`).set(auth()).expect(204);
      expect((await h.http.delete(`/v1/cubes/${cubeId}/kv-caches/${res.body.id}`).set(auth())).status).toBe(404);
    });

    it('rejects bad requests with clear errors', async () => {
      const otherCubeMemory = await addMemory('a memory of the other cube', otherCubeId);
      const cases: [object, number, string][] = [
        [{ model: 'no-such-model', text: MEMORY }, 404, 'not_found'],
        [{ text: MEMORY, memoryIds: [otherCubeMemory] }, 400, 'validation_failed'],
        [{}, 400, 'validation_failed'],
        [{ memoryIds: [otherCubeMemory] }, 404, 'not_found'],
        [{ memoryIds: [] }, 400, 'validation_failed'],
        [{ text: '   ' }, 400, 'validation_failed'],
        [{ text: MEMORY, pin: true }, 400, 'validation_failed'],
        [{ text: 'word '.repeat(400) }, 400, 'validation_failed'],
      ];
      for (const [body, status, code] of cases) {
        const res = await buildCache(body);
        expect([JSON.stringify(body).slice(0, 60), res.status, res.body.error?.code]).toEqual([JSON.stringify(body).slice(0, 60), status, code]);
      }
      const res = await buildCache({ memoryIds: [otherCubeMemory] });
      expect(res.body.error.message).not.toContain('other cube');
    });

    it('refuses to build with a read-only key', async () => {
      const res = await h.http.post(`/v1/cubes/${cubeId}/kv-caches`).set(auth(readOnlyKey)).send({ model: 'tiny', text: MEMORY });
      expect(res.status).toBe(403);
    });
  });

  describe('chat completions', () => {
    it('answers an OpenAI-shaped completion with usage', async () => {
      const res = await chat({ messages: QUESTION }).expect(200);
      expect(res.body).toMatchObject({
        id: expect.stringMatching(/^chatcmpl-/),
        object: 'chat.completion',
        model: 'tiny',
        choices: [{ index: 0, message: { role: 'assistant', content: expect.any(String) }, finish_reason: expect.stringMatching(/^(stop|length)$/) }],
        usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), prompt_tokens_details: { cached_tokens: 0 } },
        engram: { cubeId: null, cachedTokens: 0 },
      });
      expect(res.body.usage.total_tokens).toBe(res.body.usage.prompt_tokens + res.body.usage.completion_tokens);
    });

    it('accepts the neutral settings OpenAI clients send by default and tool messages with their tool_call_id; refuses other values by name', async () => {
      const plain = await chat({ messages: QUESTION }).expect(200);
      const defaults = await chat({ messages: QUESTION, frequency_penalty: 0, presence_penalty: 0, logprobs: false, n: 1, top_p: 1 }).expect(200);
      expect(defaults.body.choices[0].message.content).toBe(plain.body.choices[0].message.content);
      await chat({ messages: [...QUESTION, { role: 'tool', content: '{"city":"Paris"}', tool_call_id: 'call_1' }] }).expect(200);
      for (const [field, value, message] of [['presence_penalty', 0.5, 'presence_penalty is not supported: only 0 (no penalty)'], ['frequency_penalty', -1, 'frequency_penalty is not supported: only 0 (no penalty)'], ['logprobs', true, 'logprobs is not supported: only false']] as const) {
        const refused = await chat({ messages: QUESTION, [field]: value }).expect(400);
        expect(refused.body.error.details).toEqual([{ field, problems: [message] }]);
      }
      // OpenAI's SDKs send the system message as role "developer" for newer models: the same prompt as "system".
      const asSystem = await chat({ messages: [{ role: 'system', content: MEMORY }, ...QUESTION], max_tokens: 12 }).expect(200);
      const asDeveloper = await chat({ messages: [{ role: 'developer', content: MEMORY }, ...QUESTION], max_tokens: 12 }).expect(200);
      expect([asDeveloper.body.choices[0].message.content, asDeveloper.body.usage.prompt_tokens]).toEqual([asSystem.body.choices[0].message.content, asSystem.body.usage.prompt_tokens]);
      const badId = await chat({ messages: [{ role: 'tool', content: 'x', tool_call_id: 7 }] }).expect(400);
      expect(badId.body.error.details).toEqual([{ field: 'messages.0.tool_call_id', problems: ['tool_call_id must be a string'] }]);
    });

    it('gives the same greedy answer with an injected KV cache as with the memory as plain text', async () => {
      const cache = await buildCache({ text: MEMORY }).expect(201);
      const plain = await chat({ messages: [{ role: 'system', content: MEMORY }, ...QUESTION], max_tokens: 12 }).expect(200);
      // Retrieval off: the cube holds memories of earlier tests, and this compares the cache with its text alone.
      const cached = await chat({ messages: QUESTION, max_tokens: 12, engram: { cubeId, kvCacheIds: [cache.body.id], retrieve: false } }).expect(200);
      expect(cached.body.choices[0].message.content).toBe(plain.body.choices[0].message.content);
      expect(cached.body.usage.prompt_tokens).toBe(plain.body.usage.prompt_tokens);
      expect(cached.body.engram.cachedTokens).toBe(cache.body.tokens);
      expect(cached.body.usage.prompt_tokens_details.cached_tokens).toBe(cache.body.tokens);
      expect(cached.body.engram.tiers.length).toBeGreaterThan(0);
      expect(cached.body.engram.tiers.every((t: string) => t === 'ram')).toBe(true);
      const byText = await chat({ messages: QUESTION, max_tokens: 12, engram: { cubeId, memoryText: MEMORY, retrieve: false } }).expect(200);
      expect(byText.body.choices[0].message.content).toBe(plain.body.choices[0].message.content);
      expect(byText.body.engram).toMatchObject({ cachedTokens: cache.body.tokens, kvCacheIds: [cache.body.id] });
    });

    it('counts the chunks chat found in each tier as hits of the cube, apart from its other cubes', async () => {
      const hitRates = async (cube = cubeId) => (await h.http.get(`/v1/cubes/${cube}/kv-caches`).set(auth()).expect(200)).body.hitRates;
      const cache = (await buildCache({ text: MEMORY }).expect(201)).body;
      const [before, otherBefore] = [await hitRates(), await hitRates(otherCubeId)];
      await chat({ messages: QUESTION, engram: { cubeId, kvCacheIds: [cache.id], retrieve: false } }).expect(200);
      const after = await hitRates();
      const chunks = Math.ceil(cache.tokens / 16);
      expect(after.hits).toEqual({ ram: before.hits.ram + chunks, disk: before.hits.disk, object: before.hits.object });
      expect(after.misses).toBe(before.misses);
      expect(after.lookups).toBe(before.lookups + chunks);
      expect(after.hitRate).toBeCloseTo((after.hits.ram + after.hits.disk + after.hits.object) / after.lookups, 10);
      expect(after.since).toBe(before.since);
      expect(await hitRates(otherCubeId)).toEqual(otherBefore);
    });

    it('reuses several KV caches in one prompt (later ones re-rotated, a fraction recomputed); recompute 1 answers exactly like the plain text', async () => {
      const [textA, textB] = ['Alice lives in Paris.', 'Bob prefers tea in the morning.'];
      const a = await buildCache({ text: textA }).expect(201);
      const b = await buildCache({ text: textB }).expect(201);
      const plain = await chat({ messages: [{ role: 'system', content: textA }, { role: 'system', content: textB }, ...QUESTION], max_tokens: 12 }).expect(200);
      const both = { cubeId, kvCacheIds: [a.body.id, b.body.id], retrieve: false };
      const exact = await chat({ messages: QUESTION, max_tokens: 12, engram: { ...both, recompute: 1 } }).expect(200);
      expect(exact.body.choices[0].message.content).toBe(plain.body.choices[0].message.content);
      expect(exact.body.usage.prompt_tokens).toBe(plain.body.usage.prompt_tokens);
      // The template opens every rendering with BOS: the prompt holds it once, so the second
      // cache is placed without its first token (its KV rows from position 1 on).
      const placedB = b.body.tokens - 1;
      const prefilled = plain.body.usage.prompt_tokens - a.body.tokens - placedB;
      expect(exact.body.engram.blend).toEqual({ recompute: 1, kvCacheIds: [a.body.id, b.body.id], exactTokens: a.body.tokens, reusedTokens: 0, recomputedTokens: placedB, prefilledTokens: prefilled });
      expect(exact.body.engram.cachedTokens).toBe(a.body.tokens);

      const blended = await chat({ messages: QUESTION, max_tokens: 12, engram: both }).expect(200);
      const recomputed = Math.round(0.15 * placedB);
      expect(blended.body.engram.blend).toMatchObject({ recompute: 0.15, exactTokens: a.body.tokens, reusedTokens: placedB - recomputed, recomputedTokens: recomputed });
      expect(blended.body.engram.cachedTokens).toBe(a.body.tokens + placedB - recomputed);
      expect(blended.body.usage.prompt_tokens_details.cached_tokens).toBe(blended.body.engram.cachedTokens);

      const hitRates = async () => (await h.http.get(`/v1/cubes/${cubeId}/kv-caches`).set(auth()).expect(200)).body.hitRates;
      const before = await hitRates();
      const none = await chat({ messages: QUESTION, max_tokens: 12, engram: { ...both, recompute: 0 } }).expect(200);
      expect(none.body.engram.blend).toMatchObject({ reusedTokens: placedB, recomputedTokens: 0 });
      // Every chunk of both caches was found in RAM: hits of this cube.
      expect((await hitRates()).hits.ram).toBe(before.hits.ram + Math.ceil(a.body.tokens / 16) + Math.ceil(b.body.tokens / 16));
      for (const bad of [1.5, -0.1, 'half']) {
        const res = await chat({ messages: QUESTION, engram: { ...both, recompute: bad } });
        expect([res.status, JSON.stringify(res.body.error)]).toEqual([400, expect.stringContaining('recompute')]);
      }
    });

    it('does not reuse a cache of another cube for memory text, even of the same tenant', async () => {
      const res = await chat({ messages: QUESTION, engram: { cubeId: otherCubeId, memoryText: MEMORY } }).expect(200);
      expect(res.body.engram.cachedTokens).toBe(0);
    });

    it('streams server-sent events that add up to the same answer, then [DONE]', async () => {
      const plain = await chat({ messages: QUESTION, max_tokens: 10 }).expect(200);
      const res = await chat({ messages: QUESTION, max_tokens: 10, stream: true, stream_options: { include_usage: true } })
        .buffer(true)
        .parse((response, done) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (part: string) => (text += part));
          response.on('end', () => done(null, text));
        })
        .expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      const events = (res.body as string).split('\n\n').filter(Boolean);
      expect(events.every((e) => e.startsWith('data: '))).toBe(true);
      expect(events.at(-1)).toBe('data: [DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
      expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
      expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);
      // As OpenAI streams with include_usage: usage null on every chunk, then one chunk with no choices that carries it.
      const usageChunk = chunks.at(-1);
      expect(usageChunk).toMatchObject({ choices: [], usage: plain.body.usage });
      const answer = chunks.slice(0, -1);
      expect(answer.every((c) => c.usage === null && c.choices.length === 1)).toBe(true);
      const last = answer.at(-1);
      expect(last.choices[0].finish_reason).toBe(plain.body.choices[0].finish_reason);
      expect(last.engram).toMatchObject({ cachedTokens: 0, memoryIds: [] });
      expect(answer.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(plain.body.choices[0].message.content);
    });

    it('rejects an unknown model, a prompt over the context, and bad fields', async () => {
      const unknown = await chat({ model: 'gpt-4', messages: QUESTION });
      expect([unknown.status, unknown.body.error.message]).toEqual([404, expect.stringMatching(/^model "gpt-4" not found: the models here: .*tiny.*; an operator registers one/)]);
      const long = await chat({ messages: [{ role: 'user', content: 'memory '.repeat(300) }] });
      expect(long.status).toBe(400);
      expect(long.body.error.code).toBe('context_length_exceeded');
      // Streaming too: nothing is sent before the answer starts, so it is the same JSON 400, not a 200 stream ending in an error event.
      const longStream = await chat({ messages: [{ role: 'user', content: 'memory '.repeat(300) }], stream: true });
      expect([longStream.status, longStream.headers['content-type'], longStream.body.error?.code]).toEqual([400, expect.stringMatching(/^application\/json/), 'context_length_exceeded']);
      expect((await chat({ messages: [] })).status).toBe(400);
      const byName = await chat({ messages: QUESTION, engram: { cubeId: 'assistant' } }).expect(400);
      expect(byName.body.error.details).toEqual([{ field: 'engram.cubeId', problems: [expect.stringMatching(/must be a cube id \(a UUID\); GET \/v1\/cubes\?name=<name> finds a cube by its name/)] }]);
      expect((await chat({ messages: QUESTION, temperature: 3 })).status).toBe(400);
      expect((await chat({ messages: QUESTION, frequency_penalty: 1 })).status).toBe(400);
      expect((await chat({ messages: QUESTION, engram: { cubeId, memoryText: MEMORY, kvCacheIds: [cubeId] } })).status).toBe(400);
      expect((await chat({ messages: QUESTION, stop: 'x' })).status).toBe(200);
      const parts = await chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Where does ' }, { type: 'text', text: 'Alice live?' }] }] }).expect(200);
      const plain = await chat({ messages: QUESTION }).expect(200);
      expect(parts.body.choices[0].message.content).toBe(plain.body.choices[0].message.content);
      expect((await chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] })).status).toBe(400);
    });

    it('answers a prompt over the context as that (400), not as a spent token budget (429), and refuses a huge conversation from its length', async () => {
      const small = await h.factory.apiKey();
      await h.http.put(`/v1/admin/tenants/${small.tenantId}/quotas`).set(admin()).send({ inferenceTokensPerMinute: 50 }).expect(200);
      const over = await chat({ messages: [{ role: 'user', content: 'memory '.repeat(300) }] }, small.key);
      expect([over.status, over.body.error.code]).toEqual([400, 'context_length_exceeded']);
      // 4.5 MB of messages: refused before it is tokenized (that took seconds of the event loop per pass).
      const huge = await chat({ messages: Array.from({ length: 150 }, () => ({ role: 'user', content: 'ab '.repeat(10000) })) });
      expect([huge.status, huge.body.error.code]).toEqual([400, 'context_length_exceeded']);
      expect(huge.body.error.message).toMatch(/^the messages' 4500000 characters \(at least \d+ tokens\) exceeds the model's context length of 192$/);
    });

    it('stops generating when the client goes away', async () => {
      const abort = new AbortController();
      const chunks: unknown[] = [];
      const dto = Object.assign(new ChatCompletionRequestDto(), { model: 'tiny', messages: QUESTION, max_tokens: 64, stream: true });
      const done = h.app.get(ChatCompletionService).complete(ownerCtx, dto, {
        signal: abort.signal,
        onChunk: (chunk) => {
          chunks.push(chunk);
          abort.abort(); // the connection closed after the first event
        },
      });
      await expect(done).rejects.toMatchObject({ code: 'ABORTED' });
      expect(chunks).toHaveLength(1);
    });

    it('aborts generation when the HTTP client disconnects mid-stream', async () => {
      const runtime = h.app.get(ModelRuntime);
      let signal: AbortSignal | undefined;
      const spy = jest.spyOn(runtime, 'generate').mockImplementation(async (_lm, _prompt, options) => {
        signal = options.signal;
        options.onToken?.({ tokenId: 1, text: 'a' });
        await new Promise((resolve) => options.signal?.addEventListener('abort', resolve));
        throw Object.assign(new Error('cancelled'), { code: 'ABORTED' });
      });
      const server = h.app.getHttpServer() as http.Server;
      if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        await new Promise<void>((resolve, reject) => {
          const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/chat/completions', headers: { ...auth(), 'content-type': 'application/json' } }, (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          });
          req.on('error', () => undefined);
          req.end(JSON.stringify({ model: 'tiny', messages: QUESTION, stream: true }));
          setTimeout(() => reject(new Error('no event arrived')), 5000);
        });
        for (let i = 0; i < 50 && !signal?.aborted; i++) await new Promise((r) => setTimeout(r, 20));
        expect(signal?.aborted).toBe(true);
      } finally {
        spy.mockRestore();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('refuses a cache built by another model', async () => {
      const cache = await buildCache({ model: 'tiny-other', text: MEMORY }).expect(201);
      const res = await chat({ messages: QUESTION, engram: { cubeId, kvCacheIds: [cache.body.id] } });
      expect(res.status).toBe(409);
    });

    it('answers 404 for a cache of another cube and for another tenant’s cube', async () => {
      const cache = (await buildCache({ text: MEMORY }).expect(201)).body;
      const res = await chat({ messages: QUESTION, engram: { cubeId: otherCubeId, kvCacheIds: [cache.id] } });
      expect(res.status).toBe(404);
      const stranger = (await h.factory.apiKey()).key;
      const denied = await chat({ messages: QUESTION, engram: { cubeId, kvCacheIds: [cache.id] } }, stranger);
      expect(denied.status).toBe(404);
      expect(JSON.stringify(denied.body)).not.toContain(cache.id);
    });

    it('finds a cache whose id is written in capitals, as DELETE does (a UUID reads the same either way)', async () => {
      const cache = (await buildCache({ text: MEMORY }).expect(201)).body;
      const res = await chat({ messages: QUESTION, engram: { cubeId: cubeId.toUpperCase(), kvCacheIds: [cache.id.toUpperCase()] } }).expect(200);
      expect(res.body.engram).toMatchObject({ kvCacheIds: [cache.id], cachedTokens: expect.any(Number) });
      expect(res.body.engram.cachedTokens).toBeGreaterThan(0);
    });
  });

  describe('provenance and purge', () => {
    it('drops a cache when a source memory is updated or deleted', async () => {
      const a = await addMemory('Carol lives in Rome.');
      const b = await addMemory('Dave lives in Oslo.');
      const fromA = (await buildCache({ memoryIds: [a] }).expect(201)).body.id;
      const fromB = (await buildCache({ memoryIds: [b] }).expect(201)).body.id;
      await h.http.patch(`/v1/cubes/${cubeId}/memories/${a}`).set(auth()).send({ tags: ['x'] }).expect(200);
      expect((await listCaches()).map((c) => c.id)).toEqual(expect.arrayContaining([fromA, fromB]));
      await h.http.patch(`/v1/cubes/${cubeId}/memories/${a}`).set(auth()).send({ text: 'Carol moved to Milan.' }).expect(200);
      expect((await listCaches()).map((c) => c.id)).not.toContain(fromA);
      expect((await chat({ messages: QUESTION, engram: { cubeId, kvCacheIds: [fromA] } })).status).toBe(404);
      await h.http.delete(`/v1/cubes/${cubeId}/memories/${b}`).set(auth()).expect(204);
      expect((await listCaches()).map((c) => c.id)).not.toContain(fromB);
      expect((await buildCache({ memoryIds: [b] })).status).toBe(404);
    });

    it('drops a cache when the lifecycle supersedes a source memory with a newer fact', async () => {
      const addFact = async (text: string, object: string) =>
        (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text, fact: { subject: 'Erin', predicate: 'lives in', object } }] }).expect(201)).body.items[0].id as string;
      const older = await addFact('Erin lives in Lima.', 'Lima');
      const kept = (await buildCache({ text: 'Erin likes long walks.' }).expect(201)).body.id;
      const fromOlder = (await buildCache({ memoryIds: [older] }).expect(201)).body.id;
      const newer = await addFact('Erin lives in Quito.', 'Quito');
      await new Promise((r) => setTimeout(r, 300)); // the write's debounced lifecycle tick comes due
      await h.app.get(JobRunner).drain();
      expect((await h.http.get(`/v1/cubes/${cubeId}/memories/${older}`).set(auth()).expect(200)).body).toMatchObject({ state: 'superseded', supersededBy: newer });
      const ids = (await listCaches()).map((c) => c.id);
      expect(ids).not.toContain(fromOlder);
      expect(ids).toContain(kept);
      expect(await h.app.get(KvCacheRepository).getMany(cubeId, [fromOlder])).toEqual([]);
      expect((await chat({ messages: QUESTION, engram: { cubeId, kvCacheIds: [fromOlder] } })).status).toBe(404);
    });

    it('removes the caches of a deleted cube, rows and blobs, when the purge runs', async () => {
      const cube = (await h.factory.cube({ tenantId })).id;
      await buildCache({ text: 'A cube that will be deleted.' }, cube).expect(201);
      const entries = path.join(h.config.dataDir, 'kv', 'entries');
      const before = fs.readdirSync(entries).length;
      await h.http.delete(`/v1/cubes/${cube}`).set(auth()).expect(202);
      expect(await h.app.get(JobRunner).drain()).toBeGreaterThanOrEqual(1);
      expect(fs.readdirSync(entries).length).toBe(before - 1);
      expect(await h.app.get(KvCacheRepository).listByCube(cube)).toEqual([]);
    });
  });
});
