import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NestExpressApplication } from '@nestjs/platform-express';
import { ActivationStore, WORKING_MEMORY_SOURCE, WorkingMemoryService } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { WorkingMemoryRepository } from '@engram/persistence';
import { JobRunner } from '@engram/scheduler';
import { createApp } from '@engram/server';
import { createE2eHarness, E2eHarness } from '@engram/testing';
import supertest from 'supertest';

/**
 * The working memory within the tenant's KV bytes quota (ADR 0004), and rebuilt by one
 * worker at a time when two app instances share the database and the KV store (ADR 0402).
 * Tiny model (context 512, 2 layers × 2 KV heads × head dim 8: 256 KV bytes a token).
 */
describe('the working memory under a KV quota and with two workers', () => {
  let h: E2eHarness;
  let replica: NestExpressApplication;
  let modelsDir: string;
  let key: string;
  let tenantId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const rows = () => h.app.get(WorkingMemoryRepository);
  /** Lets the debounced lifecycle tick come due, then runs it and the rebuild it queues. */
  const settle = async () => {
    await sleep(300);
    await h.app.get(JobRunner).drain();
  };
  const chat = (cubeId: string, http = h.http) =>
    http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: 'What do you know about me?' }], engram: { cubeId, retrieve: false } });
  const add = async (cubeId: string, texts: string[]) =>
    (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: texts.map((text) => ({ text })) }).expect(201)).body.items.map((m: { id: string }) => m.id) as string[];
  const workingManifests = (app: NestExpressApplication, cubeId: string) =>
    app.get(ActivationStore).entriesOf(cubeId).filter((e) => e.sources.some((s) => s.memoryId === WORKING_MEMORY_SOURCE)).map((e) => e.id);
  const usage = async () => (await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).expect(200)).body.usage.kvBytes as number;
  async function cubeWithWorkingMemory(texts: string[]): Promise<string> {
    const cubeId = (await h.factory.cube({ tenantId })).id;
    await add(cubeId, texts);
    await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({ activation: { model: 'tiny', maxTokens: 300, debounceMs: 0 } }).expect(200);
    await settle();
    expect(await rows().get(cubeId)).toMatchObject({ generation: 1 });
    return cubeId;
  }

  beforeAll(async () => {
    h = await createE2eHarness({ kvChunkTokens: 16 });
    replica = await createApp(h.config, { quiet: true, runWorker: false });
    await replica.init();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, maxPositionEmbeddings: 512, seed: 5 });
    await h.http.post('/v1/admin/models').set(admin()).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    const owner = await h.factory.apiKey();
    key = owner.key;
    tenantId = owner.tenantId;
  });
  afterEach(async () => {
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({}).expect(200);
  });
  afterAll(async () => {
    await replica.close();
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('counts the working memory in the tenant’s KV bytes, and does not build one that would pass the quota', async () => {
    const cubeId = await cubeWithWorkingMemory(['My name is Ada Lovelace.', 'I keep two beagles.', 'I work as a nurse in Leeds.']);
    const first = (await rows().get(cubeId))!;
    expect(first.bytes).toBe(first.tokenCount * 256);
    expect(await usage()).toBe(first.bytes);
    const cache = (await h.http.post(`/v1/cubes/${cubeId}/kv-caches`).set(auth()).send({ model: 'tiny', text: 'A note the client keeps as a cache.' }).expect(201)).body;
    expect(await usage()).toBe(first.bytes + cache.bytes);

    // Less room than the tenant uses now: a client cache is refused, naming the working memory's bytes as used.
    const limit = first.bytes + cache.bytes - 1;
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ kvBytes: limit }).expect(200);
    const refused = await h.http.post(`/v1/cubes/${cubeId}/kv-caches`).set(auth()).send({ model: 'tiny', text: 'Another one.' }).expect(429);
    expect(refused.body.error.details).toMatchObject({ quota: 'kvBytes', used: first.bytes + cache.bytes });

    // A new memory makes the working memory larger than the room: not built, the old set goes, chat prefills.
    await add(cubeId, ['On Sundays I play the cello with friends from the hospital orchestra.']);
    await settle();
    expect(await rows().get(cubeId)).toBeNull();
    expect(workingManifests(h.app, cubeId)).toEqual([]);
    expect(await usage()).toBe(cache.bytes);
    const res = await chat(cubeId).expect(200);
    expect(res.body.engram.workingMemory).toMatchObject({ state: 'over_quota', cacheId: null, hit: false, tokens: 0 });
    expect(res.body.engram.cachedTokens).toBe(0);
    const overview = (await h.http.get(`/v1/cubes/${cubeId}/overview`).set(auth()).expect(200)).body.activation.workingMemory;
    expect(overview).toMatchObject({ state: 'over_quota', cacheId: null, overQuota: { usedBytes: cache.bytes, limitBytes: limit } });
    expect(overview.overQuota.neededBytes).toBeGreaterThan(first.bytes);
    expect(overview.overQuota.neededBytes % 256).toBe(0);
    expect((await h.http.get('/metrics').expect(200)).text).toMatch(/engram_working_memory\{stat="overQuota"\} 1/);
    // Nothing else breaks: writes, search, the client's cache.
    await add(cubeId, ['I drink my coffee black.']);
    await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'cello' }).expect(200);
    expect((await h.http.get(`/v1/cubes/${cubeId}/kv-caches`).set(auth()).expect(200)).body.items.map((c: { id: string }) => c.id)).toEqual([cache.id]);

    // The operator raises the quota: the next change builds it again, and the refusal is gone.
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({}).expect(200);
    await add(cubeId, ['My favourite colour is green.']);
    await settle();
    const rebuilt = (await rows().get(cubeId))!;
    expect(rebuilt.text).toContain('cello');
    expect(await usage()).toBe(rebuilt.bytes + cache.bytes);
    expect((await chat(cubeId).expect(200)).body.engram.workingMemory).toMatchObject({ state: 'ready', hit: true, reusedTokens: rebuilt.tokenCount });
    expect((await h.http.get(`/v1/cubes/${cubeId}/overview`).set(auth()).expect(200)).body.activation.workingMemory).toMatchObject({ state: 'ready', overQuota: null });
    expect((await h.http.get('/metrics').expect(200)).text).toMatch(/engram_working_memory\{stat="overQuota"\} 0/);
  });

  it('rebuilds one cube in one worker at a time: a rebuild that read the memories before a change never replaces the one after it', async () => {
    const cubeId = await cubeWithWorkingMemory(['Bea lives in Oslo.', 'Bea teaches chemistry.']);
    const [y] = await add(cubeId, ['Bea swims in the fjord every morning.']);
    // The other instance starts a rebuild (it reads Y) and is slow to finish it.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let built!: () => void;
    const buildDone = new Promise<void>((r) => (built = r));
    const slow = replica.get(WorkingMemoryService).refresh(cubeId, {
      afterBuild: async () => {
        built();
        await held;
      },
    });
    await buildDone;
    // Meanwhile X is written; its tick and the rebuild it queues run in this instance's worker.
    const [x] = await add(cubeId, ['Bea adopted a grey cat named Pepper.']);
    await settle();
    release();
    expect(await slow).toMatchObject({ status: 'built', generation: 2 });
    // The rebuild that came second waited for it and runs now.
    await sleep(1_100);
    await h.app.get(JobRunner).drain();
    const row = (await rows().get(cubeId))!;
    expect(row.sourceMemoryIds).toEqual(expect.arrayContaining([x, y]));
    expect(row.generation).toBe(3);
    expect(workingManifests(h.app, cubeId)).toEqual([row.entryId]);
    // The served cache is one whole generation: the instance that built it reuses all of its tokens, and so does the
    // other, from the shared disk (its whole chunks, and the partial tail through the manifest it reads anew; ADR 0202).
    expect((await chat(cubeId).expect(200)).body.engram.workingMemory).toMatchObject({ state: 'ready', hit: true, cacheId: row.entryId, reusedTokens: row.tokenCount });
    const other = (await chat(cubeId, supertest(replica.getHttpServer())).expect(200)).body.engram.workingMemory;
    expect(other).toMatchObject({ state: 'ready', hit: true, cacheId: row.entryId, reusedTokens: row.tokenCount });
  });

  it('does not bring back a working memory dropped while it was being rebuilt', async () => {
    const cubeId = await cubeWithWorkingMemory(['Cai builds boats in Bergen.']);
    await add(cubeId, ['Cai sails on weekends.']);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let built!: () => void;
    const buildDone = new Promise<void>((r) => (built = r));
    const slow = replica.get(WorkingMemoryService).refresh(cubeId, {
      afterBuild: async () => {
        built();
        await held;
      },
    });
    await buildDone;
    await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({ activation: { model: null } }).expect(200);
    expect(await rows().get(cubeId)).toBeNull();
    release();
    expect(await slow).toMatchObject({ status: 'retry' });
    expect(await rows().get(cubeId)).toBeNull();
    expect(workingManifests(replica, cubeId)).toEqual([]);
    await settle();
    expect(await rows().get(cubeId)).toBeNull();
    expect((await chat(cubeId).expect(200)).body.engram.workingMemory).toBeUndefined();
  });
});
