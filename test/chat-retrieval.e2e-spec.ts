import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AccessRecorder, DeferredEmbeddingService, ModelRuntime, RETRIEVED_MEMORY_HEADER } from '@engram/core';
import { createTinyModel, LanguageModel } from '@engram/inference';
import { MemoryRepository } from '@engram/persistence';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/**
 * Chat that remembers by itself: with `engram.cubeId`, the memories relevant to the last
 * turns are searched and put in the prompt, reported by id and counted as accesses.
 * The prompts are read from the real runtime (a spy that calls through).
 */
describe('chat retrieves the memories of its cube', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
  let tenantId: string;
  let cubeId: string;
  const prompts: { lm: LanguageModel; tokens: readonly number[] }[] = [];
  const auth = (k = key) => ({ Authorization: `Bearer ${k}` });
  const chat = (body: object, k = key) => h.http.post('/v1/chat/completions').set(auth(k)).send({ model: 'tiny', max_tokens: 4, temperature: 0, ...body });
  const ask = (content: string, engram: object = {}, cube = cubeId) => chat({ messages: [{ role: 'user', content }], engram: { cubeId: cube, ...engram } });
  const lastPrompt = () => {
    const { lm, tokens } = prompts[prompts.length - 1];
    return lm.tokenizer.decode(tokens, false);
  };
  const add = async (texts: (string | { text: string; tags: string[] })[], cube = cubeId) => {
    const items = texts.map((t) => (typeof t === 'string' ? { text: t } : t));
    const res = await h.http.post(`/v1/cubes/${cube}/memories`).set(auth()).send({ items }).expect(201);
    await h.app.get(DeferredEmbeddingService).idle();
    return res.body.items.map((m: { id: string }) => m.id) as string[];
  };

  beforeAll(async () => {
    h = await createE2eHarness();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, maxPositionEmbeddings: 512, seed: 3 });
    await h.http.post('/v1/admin/models').set({ Authorization: `Bearer ${h.adminToken}` }).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    const owner = await h.factory.apiKey();
    key = owner.key;
    tenantId = owner.tenantId;
    cubeId = (await h.http.post('/v1/cubes').set(auth()).send({ name: 'me', settings: { embedder: 'use-lite' } }).expect(201)).body.id;
    const runtime = h.app.get(ModelRuntime);
    const generate = runtime.generate.bind(runtime);
    jest.spyOn(runtime, 'generate').mockImplementation((lm, tokens, options) => {
      prompts.push({ lm, tokens });
      return generate(lm, tokens, options);
    });
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('answers "what pet do I have?" with the beagle in the prompt, reports its id and counts the access', async () => {
    const [beagle, nurse, colour] = await add(['I just adopted a beagle', 'I work as a nurse at the city hospital', 'My favourite colour is green']);
    const res = await ask('what pet do I have?').expect(200);
    expect(lastPrompt()).toContain('I just adopted a beagle');
    expect(lastPrompt()).toContain(RETRIEVED_MEMORY_HEADER);
    expect(res.body.engram.retrieval.memoryIds[0]).toBe(beagle);
    expect(res.body.engram.memoryIds).toEqual(res.body.engram.retrieval.memoryIds);
    expect(res.body.engram.retrieval.tokens).toBeGreaterThan(0);
    expect(new Set(res.body.engram.retrieval.memoryIds)).toEqual(new Set([beagle, nurse, colour]));

    await h.app.get(AccessRecorder).flush();
    const row = await h.app.get(MemoryRepository).get(cubeId, beagle);
    expect(row?.accessCount).toBe(1);
    expect(row?.lastAccessedAt).not.toBeNull();
  });

  it('takes topK, maxTokens and filters, and counts only what it put in the prompt', async () => {
    const [tagged] = await add([{ text: 'I keep a goldfish named Bubbles', tags: ['pets'] }]);
    const one = await ask('what pet do I have?', { retrieve: { topK: 1 } }).expect(200);
    expect(one.body.engram.retrieval.memoryIds).toHaveLength(1);

    const filtered = await ask('what pet do I have?', { retrieve: { filters: { tags: ['pets'] } } }).expect(200);
    expect(filtered.body.engram.retrieval.memoryIds).toEqual([tagged]);
    expect(lastPrompt()).toContain('goldfish');
    expect(lastPrompt()).not.toContain('beagle');

    await h.app.get(AccessRecorder).flush();
    const before = (await h.app.get(MemoryRepository).get(cubeId, tagged))!.accessCount;
    const tight = await ask('what pet do I have?', { retrieve: { maxTokens: 3 } }).expect(200);
    expect(tight.body.engram.retrieval).toEqual({ memoryIds: [], tokens: 0 });
    expect(lastPrompt()).not.toContain(RETRIEVED_MEMORY_HEADER);
    await h.app.get(AccessRecorder).flush();
    expect((await h.app.get(MemoryRepository).get(cubeId, tagged))!.accessCount).toBe(before);

    const small = await ask('what pet do I have?', { retrieve: { maxTokens: 60 } }).expect(200);
    expect(small.body.engram.retrieval.tokens).toBeLessThanOrEqual(60);
    expect(small.body.engram.retrieval.memoryIds.length).toBeGreaterThan(0);
  });

  it('is turned off by retrieve: false, and needs no memory of the cube to answer', async () => {
    const off = await ask('what pet do I have?', { retrieve: false }).expect(200);
    expect(off.body.engram.retrieval).toBeUndefined();
    expect(off.body.engram.memoryIds).toEqual([]);
    expect(lastPrompt()).not.toContain('beagle');
    const empty = (await h.factory.cube({ tenantId })).id;
    const none = await ask('what pet do I have?', {}, empty).expect(200);
    expect(none.body.engram.retrieval).toEqual({ memoryIds: [], tokens: 0 });
  });

  it('never exceeds the context: the conversation and part of the completion come first', async () => {
    const long = 'tell me everything about my life '.repeat(12);
    const res = await chat({ max_tokens: 64, messages: [{ role: 'user', content: long }], engram: { cubeId, retrieve: { maxTokens: 100_000 } } }).expect(200);
    expect(res.body.usage.prompt_tokens).toBeLessThanOrEqual(512 - 64);
  });

  it('rejects bad retrieval options naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ topK: 0 }, 'engram.retrieve.topK'],
      [{ topK: 51 }, 'engram.retrieve.topK'],
      [{ maxTokens: 'many' }, 'engram.retrieve.maxTokens'],
      [{ filters: { kind: 'pet' } }, 'engram.retrieve.filters.kind'],
      ['yes', 'engram.retrieve'],
      [{ nope: 1 }, 'nope'],
    ];
    for (const [retrieve, field] of cases) {
      const res = await ask('what pet do I have?', { retrieve });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain(field);
    }
  });

  it('does not retrieve from another tenant’s cube (404)', async () => {
    const stranger = await h.factory.apiKey();
    const res = await ask('what pet do I have?', {}, cubeId).set(auth(stranger.key));
    expect(res.status).toBe(404);
  });
});
