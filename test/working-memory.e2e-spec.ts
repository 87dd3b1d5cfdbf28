import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { ActivationStore, ModelRuntime, WORKING_MEMORY_RAM_IDLE_MS, WORKING_MEMORY_DROP_IDLE_MS, WORKING_MEMORY_SOURCE, WorkingMemoryService } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { JobRepository, LifecycleRepository, ModelRepository, WorkingMemoryRepository } from '@engram/persistence';
import { JobRunner, LifecycleRunHandler } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/**
 * Promotion to activation memory: a cube's pinned and hottest memories kept as its
 * working-memory KV cache of the policy's model, rebuilt from the first changed chunk,
 * used by chat without the client naming it. Tiny model (context 512), 16-token chunks.
 */
describe('the working memory of a cube', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
  let tenantId: string;
  let cubeId: string;
  let colourId: string;
  const auth = (k = key) => ({ Authorization: `Bearer ${k}` });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const rows = () => h.app.get(WorkingMemoryRepository);
  const service = () => h.app.get(WorkingMemoryService);
  /** Lets the debounced lifecycle tick come due, then runs it and the rebuild it queues. */
  const settle = async () => {
    await sleep(300);
    await h.app.get(JobRunner).drain();
  };
  const chat = (engram: object = {}, content = 'What do you know about me?', cube = cubeId) =>
    h.http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 6, temperature: 0, messages: [{ role: 'user', content }], engram: { cubeId: cube, ...engram } });
  const add = async (texts: string[], extra: object = {}, cube = cubeId) =>
    (await h.http.post(`/v1/cubes/${cube}/memories`).set(auth()).send({ items: texts.map((text) => ({ text, ...extra })) }).expect(201)).body.items.map((m: { id: string }) => m.id) as string[];
  const putPolicy = (body: object, cube = cubeId) => h.http.put(`/v1/cubes/${cube}/lifecycle`).set(auth()).send(body);

  beforeAll(async () => {
    h = await createE2eHarness({ kvChunkTokens: 16 });
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, maxPositionEmbeddings: 512, seed: 5 });
    await h.http.post('/v1/admin/models').set({ Authorization: `Bearer ${h.adminToken}` }).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    const owner = await h.factory.apiKey();
    key = owner.key;
    tenantId = owner.tenantId;
    cubeId = (await h.factory.cube({ tenantId })).id;
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('refuses an activation policy naming no registered model, or larger than its context, naming the field', async () => {
    const cases: [object, string][] = [
      [{ activation: { model: 'no-such-model', maxTokens: 128 } }, 'activation.model'],
      [{ activation: { model: 'tiny' } }, 'activation.maxTokens'], // the default 1,024 tokens exceed a 512-token context
      [{ activation: { model: 'tiny', maxTokens: 513 } }, 'activation.maxTokens'],
      [{ activation: { model: 'tiny', maxTokens: 'lots' } }, 'activation.maxTokens'],
      [{ activation: { model: 'tiny', maxTokens: 128, debounceMs: -5 } }, 'activation.debounceMs'],
      [{ activation: { model: 'tiny', maxTokens: 128, pin: true } }, 'activation.pin'],
    ];
    for (const [body, field] of cases) {
      const res = await putPolicy(body);
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    expect((await h.http.get(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).expect(200)).body.effective.activation).toEqual({ model: null, maxTokens: 1024, debounceMs: 2000 });
  });

  it('is built from pinned and hot memories after a write, and the next chat reuses its KV', async () => {
    const [pinned] = await add(['My name is Ada Lovelace.'], { pinned: true });
    const ids = await add(['I just adopted a beagle named Rex.', 'I work as a nurse in Leeds.', 'My favourite colour is green.']);
    colourId = ids[2];
    await putPolicy({ activation: { model: 'tiny', maxTokens: 200, debounceMs: 0 } }).expect(200);
    await settle();
    const row = await rows().get(cubeId);
    expect(row).toMatchObject({ generation: 1, staleSince: null, prefilledTokens: row!.tokenCount, reusedTokens: 0 });
    expect(row!.sourceMemoryIds[0]).toBe(pinned);
    expect(new Set(row!.sourceMemoryIds)).toEqual(new Set([pinned, ...ids]));
    expect(row!.tokenCount).toBeLessThanOrEqual(200);

    const res = await chat().expect(200);
    expect(res.body.engram.workingMemory).toMatchObject({ state: 'ready', hit: true, tier: 'ram', cacheId: row!.entryId, generation: 1, reusedTokens: row!.tokenCount, memoryIds: row!.sourceMemoryIds });
    expect(res.body.engram.workingMemory.prefilledTokens).toBe(res.body.usage.prompt_tokens - row!.tokenCount);
    // What the working memory holds is not retrieved a second time.
    expect(res.body.engram.retrieval.memoryIds.filter((id: string) => row!.sourceMemoryIds.includes(id))).toEqual([]);
    expect(res.body.engram.memoryIds.slice(0, row!.sourceMemoryIds.length)).toEqual(row!.sourceMemoryIds);

    // Exact: the same answer and prompt as the working memory's text fully prefilled.
    const plain = await chat({ memoryText: row!.text, retrieve: false }).expect(200);
    const cached = await chat({ retrieve: false }).expect(200);
    expect(cached.body.choices[0].message.content).toBe(plain.body.choices[0].message.content);
    expect(cached.body.usage.prompt_tokens).toBe(plain.body.usage.prompt_tokens);
    expect(plain.body.engram.workingMemory).toBeUndefined();
    expect(cached.body.engram.cachedTokens).toBe(row!.tokenCount);
  });

  it('is left alone by workingMemory: false and by explicit kvCacheIds or memoryText', async () => {
    const off = await chat({ workingMemory: false }).expect(200);
    expect(off.body.engram.workingMemory).toBeUndefined();
    expect(off.body.engram.cachedTokens).toBe(0);
    const text = await chat({ memoryText: 'something else' }).expect(200);
    expect(text.body.engram.workingMemory).toBeUndefined();
    // A conversation that leaves it no room goes without it instead of failing.
    const lm = await h.app.get(ModelRuntime).load((await h.app.get(ModelRepository).getByName('tiny'))!);
    const room = 512 - (await rows().get(cubeId))!.tokenCount;
    let content = 'tell me all about it';
    while (lm.tokenizer.encode(content).length < room) content += ' and then tell me more';
    expect(lm.tokenizer.encode(content).length).toBeLessThan(480);
    const long = await chat({ retrieve: false }, content).expect(200);
    expect(long.body.engram.workingMemory).toMatchObject({ state: 'skipped', hit: false, cacheId: null });
    expect(long.body.usage.prompt_tokens).toBeLessThanOrEqual(512);
  });

  it('stops serving an edited memory at once and is rebuilt from the first changed chunk', async () => {
    const before = (await rows().get(cubeId))!;
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${colourId}`).set(auth()).send({ text: 'My favourite colour is deep purple.' }).expect(200);
    const stale = await chat({ retrieve: false }).expect(200);
    expect(stale.body.engram.workingMemory).toMatchObject({ state: 'stale', hit: false, cacheId: null });
    expect(stale.body.engram.cachedTokens).toBe(0);

    await settle();
    const after = (await rows().get(cubeId))!;
    expect(after).toMatchObject({ generation: before.generation + 1, staleSince: null });
    expect(after.text).toContain('deep purple');
    expect(after.text).not.toContain('green');
    expect(after.reusedTokens).toBeGreaterThan(0);
    expect(after.reusedTokens % 16).toBe(0); // whole chunks before the change
    expect(after.prefilledTokens).toBe(after.tokenCount - after.reusedTokens);
    expect(after.prefilledTokens).toBeLessThan(after.tokenCount);
    const res = await chat().expect(200);
    expect(res.body.engram.workingMemory).toMatchObject({ state: 'ready', hit: true, generation: after.generation, reusedTokens: after.tokenCount });
    // The old manifest went; one working-memory manifest is left.
    expect(h.app.get(ActivationStore).entriesOf(cubeId).filter((e) => e.sources.some((s) => s.memoryId === WORKING_MEMORY_SOURCE)).map((e) => e.id)).toEqual([after.entryId]);
  });

  it('drops a deleted memory within one debounce, reusing what came before it', async () => {
    const before = (await rows().get(cubeId))!;
    const victim = before.sourceMemoryIds[2];
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${victim}`).set(auth()).expect(204);
    expect((await chat().expect(200)).body.engram.workingMemory.state).toBe('stale');
    await settle();
    const after = (await rows().get(cubeId))!;
    expect(after.sourceMemoryIds).not.toContain(victim);
    expect(after.reusedTokens).toBeGreaterThan(0);
    expect(after.prefilledTokens).toBeLessThan(after.tokenCount);
  });

  it('drops a superseded fact after the lifecycle tick that supersedes it', async () => {
    const [older] = await add(['Ada lives in London.'], { fact: { subject: 'Ada', predicate: 'lives in', object: 'London' } });
    await settle();
    expect((await rows().get(cubeId))!.sourceMemoryIds).toContain(older);
    const [newer] = await add(['Ada lives in Paris.'], { fact: { subject: 'Ada', predicate: 'lives in', object: 'Paris' } });
    await settle();
    const row = (await rows().get(cubeId))!;
    expect(row.sourceMemoryIds).not.toContain(older);
    expect(row.sourceMemoryIds).toContain(newer);
    expect(row.text).not.toContain('London');
  });

  it('stops serving a fact that a requested lifecycle run supersedes at once, and drops it on the rebuild', async () => {
    const [older] = await add(['Ada works in Leeds.'], { fact: { subject: 'Ada', predicate: 'works in', object: 'Leeds' } });
    await settle();
    expect((await rows().get(cubeId))!.sourceMemoryIds).toContain(older);
    const [newer] = await add(['Ada works in York.'], { fact: { subject: 'Ada', predicate: 'works in', object: 'York' } });
    // The requested run supersedes it before the write's tick comes due: its job is run alone, the tick not drained.
    const { runId } = (await h.http.post(`/v1/cubes/${cubeId}/lifecycle/run`).set(auth()).send({}).expect(202)).body;
    const run = await h.app.get(LifecycleRepository).getRun(cubeId, runId);
    const job = await h.app.get(JobRepository).get(run!.jobId!);
    await h.app.get(LifecycleRunHandler).handle(job!, { heartbeat: async () => undefined, lost: false, cancelled: false, signal: new AbortController().signal });
    expect((await h.http.get(`/v1/cubes/${cubeId}/memories/${older}`).set(auth()).expect(200)).body).toMatchObject({ state: 'superseded', supersededBy: newer });
    expect((await rows().get(cubeId))!.staleSince).not.toBeNull();
    expect((await chat().expect(200)).body.engram.workingMemory.state).toBe('stale');
    await settle();
    const row = (await rows().get(cubeId))!;
    expect(row.sourceMemoryIds).not.toContain(older);
    expect(row.text).not.toContain('Ada works in Leeds'); // another memory (the nurse's) may name Leeds too
  });

  it('keeps the old cache serving when a rebuild crashes before its swap, and the new one when it crashes after', async () => {
    const before = (await rows().get(cubeId))!;
    await add(['I play the cello on Sundays.']);
    await sleep(300);
    await expect(
      service().refresh(cubeId, {
        afterBuild: () => {
          throw new Error('crash after the build');
        },
      }),
    ).rejects.toThrow('crash after the build');
    expect(await rows().get(cubeId)).toMatchObject({ generation: before.generation, entryId: before.entryId, text: before.text });
    const old = await chat({ retrieve: false }).expect(200);
    expect(old.body.engram.workingMemory).toMatchObject({ state: 'ready', hit: true, cacheId: before.entryId, reusedTokens: before.tokenCount });

    await expect(
      service().refresh(cubeId, {
        afterSwap: () => {
          throw new Error('crash after the swap');
        },
      }),
    ).rejects.toThrow('crash after the swap');
    const swapped = (await rows().get(cubeId))!;
    expect(swapped.generation).toBe(before.generation + 1);
    expect(swapped.text).toContain('cello');
    const fresh = await chat({ retrieve: false }).expect(200);
    expect(fresh.body.engram.workingMemory).toMatchObject({ state: 'ready', hit: true, cacheId: swapped.entryId, reusedTokens: swapped.tokenCount });

    // The next rebuild finds nothing to change and deletes the manifest the crash left behind.
    await sleep(5);
    expect(await service().refresh(cubeId)).toMatchObject({ status: 'unchanged' });
    await h.app.get(JobRunner).drain();
    expect(h.app.get(ActivationStore).entriesOf(cubeId).filter((e) => e.sources.some((s) => s.memoryId === WORKING_MEMORY_SOURCE)).map((e) => e.id)).toEqual([swapped.entryId]);
  });

  it('moves a cold cache out of RAM, then drops it, and the next chat has it rebuilt', async () => {
    const row = (await rows().get(cubeId))!;
    const activation = h.app.get(ActivationStore);
    expect(await activation.tierOf(row.entryId)).toBe('ram');
    const lastUse = (row.lastUsedAt ?? row.builtAt).getTime();
    expect(await service().sweep(new Date(lastUse + WORKING_MEMORY_RAM_IDLE_MS + 1000))).toEqual({ demoted: 1, dropped: 0 });
    expect(await activation.tierOf(row.entryId)).toBe('disk');
    const fromDisk = await chat({ retrieve: false }).expect(200);
    expect(fromDisk.body.engram.workingMemory).toMatchObject({ hit: true, tier: 'disk', reusedTokens: row.tokenCount });

    const used = (await rows().get(cubeId))!;
    expect(await service().sweep(new Date((used.lastUsedAt ?? used.builtAt).getTime() + WORKING_MEMORY_DROP_IDLE_MS + 1000))).toMatchObject({ dropped: 1 });
    expect(await rows().get(cubeId)).toBeNull();
    expect(activation.hasEntry(row.entryId)).toBe(false);
    const cold = await chat({ retrieve: false }).expect(200);
    expect(cold.body.engram.workingMemory).toMatchObject({ state: 'building', hit: false, cacheId: null });
    await h.app.get(JobRunner).drain();
    const rebuilt = await chat({ retrieve: false }).expect(200);
    expect(rebuilt.body.engram.workingMemory).toMatchObject({ state: 'ready', hit: true });
  });

  it('shows the cube across kinds in GET /overview, and its rebuilds in the scheduler view and /metrics', async () => {
    await h.http.post(`/v1/cubes/${cubeId}/lifecycle/run`).set(auth()).send({}).expect(202);
    await h.app.get(JobRunner).drain();
    const row = (await rows().get(cubeId))!;
    const res = await h.http.get(`/v1/cubes/${cubeId}/overview`).set(auth()).expect(200);
    const o = res.body;
    expect(o.memories).toMatchObject({ byState: expect.objectContaining({ deleted: 1, superseded: 2 }), pinned: 1 }); // London by a tick, Leeds by a requested run
    expect(o.memories.total).toBe(Object.values(o.memories.byState as Record<string, number>).reduce((a, b) => a + b, 0));
    expect(o.memories.textBytes).toBeGreaterThan(0);
    const active = o.memories.byState.active as number;
    expect(o.heat.buckets.map((b: { count: number }) => b.count).reduce((a: number, b: number) => a + b, 0)).toBe(active);
    expect(o.heat.buckets[0]).toMatchObject({ min: 0, max: 0.25 });
    expect(o.heat.buckets.at(-1)).toMatchObject({ min: 4, max: null });
    expect(o.activation.workingMemory).toMatchObject({
      state: 'ready',
      model: 'tiny',
      cacheId: row.entryId,
      tier: 'ram',
      generation: row.generation,
      memories: row.sourceMemoryIds.length,
      tokens: row.tokenCount,
      maxTokens: 200,
      lastBuild: { reusedTokens: row.reusedTokens, prefilledTokens: row.prefilledTokens, ms: row.buildMs },
    });
    expect(o.activation.bytesByTier.ram).toBeGreaterThanOrEqual(row.bytes);
    expect(o.banks).toEqual([]);
    expect(o.scheduler.lastRuns[0]).toMatchObject({ status: 'done' });
    expect(o.scheduler.pendingChanges).toBe(0);

    const stranger = await h.factory.apiKey();
    expect((await h.http.get(`/v1/cubes/${cubeId}/overview`).set(auth(stranger.key))).status).toBe(404);

    const scheduler = await h.http.get('/v1/admin/scheduler').set({ Authorization: `Bearer ${h.adminToken}` }).expect(200);
    expect(scheduler.body.migration.jobs['activation.refresh'].completed).toBeGreaterThan(0);
    expect(scheduler.body.migration.workingMemory).toMatchObject({ caches: 1, stale: 0 });
    expect(scheduler.body.migration.workingMemory.thisProcess.builds).toBeGreaterThan(0);
    const metrics = await h.http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/engram_migration_jobs\{name="activation.refresh",state="completed"\} [1-9]/);
    expect(metrics.text).toMatch(/engram_working_memory\{stat="caches"\} 1/);
    expect(metrics.text).toMatch(/engram_working_memory_process\{stat="reusedTokens"\} [1-9]/);
  });

  it('leaves the text of an erased memory nowhere in it', async () => {
    const eraser = await h.factory.apiKey({ tenantId, scopes: ['memories:read', 'memories:write', 'memories:erase', 'inference:run'] as never });
    const row = (await rows().get(cubeId))!;
    const victim = row.sourceMemoryIds[row.sourceMemoryIds.length - 1];
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${victim}?erase=true`).set(auth(eraser.key)).expect(204);
    expect(await rows().get(cubeId)).toBeNull();
    expect(h.app.get(ActivationStore).hasEntry(row.entryId)).toBe(false);
    await settle();
    await h.app.get(JobRunner).drain();
    const rebuilt = await chat({ retrieve: false }).expect(200);
    expect(rebuilt.body.engram.workingMemory.memoryIds).not.toContain(victim);
  });

  it('does not swap in a first cache built from a memory erased while it was being built', async () => {
    const eraser = await h.factory.apiKey({ tenantId, scopes: ['memories:read', 'memories:write', 'memories:erase', 'inference:run'] as never });
    await h.app.get(JobRunner).drain();
    const [locker] = await add(['My locker code is 4417 at the Zephyr gym.'], { pinned: true });
    await settle();
    // No row: the erase below finds nothing to drop, so only the swap's own check can keep the text out.
    await service().drop(cubeId);
    expect(await rows().get(cubeId)).toBeNull();
    const outcome = await service().refresh(cubeId, {
      afterBuild: async () => {
        await h.http.delete(`/v1/cubes/${cubeId}/memories/${locker}?erase=true`).set(auth(eraser.key)).expect(204);
      },
    });
    expect(outcome).toMatchObject({ status: 'retry' });
    expect(await rows().get(cubeId)).toBeNull();
    const manifests = h.app.get(ActivationStore).entriesOf(cubeId).filter((e) => e.sources.some((s) => s.memoryId === WORKING_MEMORY_SOURCE));
    expect(manifests).toEqual([]);
    await settle();
    await h.app.get(JobRunner).drain();
    const rebuilt = (await rows().get(cubeId))!;
    expect(rebuilt.sourceMemoryIds).not.toContain(locker);
    expect(rebuilt.text).not.toContain('Zephyr');
  });

  it('ranks memories last touched decades ago (an imported history) as cold instead of failing the overview and the rebuild', async () => {
    const cube = (await h.factory.cube({ tenantId })).id;
    const [old, recent] = await add(['We met at the conference in 2001.', 'I moved to Leeds last week.'], {}, cube);
    await h.app.get(DataSource).query(`UPDATE memories SET created_at = '2001-06-01T00:00:00Z' WHERE id = $1`, [old]);
    const o = (await h.http.get(`/v1/cubes/${cube}/overview`).set(auth()).expect(200)).body;
    expect(o.heat.buckets[0].count).toBe(1); // the 2001 memory: heat ~0
    const candidates = await rows().candidates(cube, 10, new Date());
    expect(candidates.map((c) => c.id)).toEqual([recent, old]);
    expect(candidates[1].heat).toBeLessThan(1e-300);
  });

  it('is dropped when the policy turns it off', async () => {
    await putPolicy({ activation: { model: null } }).expect(200);
    await h.app.get(JobRunner).drain();
    expect(await rows().get(cubeId)).toBeNull();
    expect((await chat().expect(200)).body.engram.workingMemory).toBeUndefined();
  });
});
