import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AccessRecorder, BankConsolidation } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { ParametricBank } from '@engram/parametric';
import { BankBlockRepository, BankRepository } from '@engram/persistence';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';
import { DataSource } from 'typeorm';

/**
 * Consolidation into parametric memory (ADR 0403) over HTTP and the scheduler: the cube
 * policy names a bank, a run writes the stable, hot memories into it (verified before the
 * commit), an edit or a supersession marks their blocks stale at once (chat leaves them
 * out) and the next run rewrites them with the current value; a generation that misses
 * the thresholds is rolled back; crashes leave the old or the new generation.
 * Tiny model (1 layer, hidden 16) and bank (2 levels × 2, rank 2).
 */
describe('consolidation into parametric memory', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
  let tenantId: string;
  let cubeId: string;
  let bankId: string;
  const ids: Record<string, string> = {};
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const FACTS: Record<string, string> = {
    alice1: 'Alice Moreau was born in Lyon in 1961.',
    alice2: 'Alice Moreau works as a glassblower at Verrerie Nord.',
    bruno: 'Bruno Keller lives in Basel and studies geology.',
    chen: 'Chen Wei plays the cello in the Harbin orchestra.',
  };
  const drain = () => h.app.get(JobRunner).drain();
  const settle = async () => {
    await new Promise((resolve) => setTimeout(resolve, 400)); // the lifecycle tick's debounce
    await drain();
  };
  const policy = (consolidation: object, cube = cubeId) => h.http.put(`/v1/cubes/${cube}/lifecycle`).set(auth()).send({ consolidation });
  const bank = async () => (await h.http.get(`/v1/cubes/${cubeId}/banks/${bankId}`).set(auth()).expect(200)).body;
  const blocksHolding = async (memoryId: string) => (await h.app.get(BankBlockRepository).holding(memoryId)).filter((b) => b.bankId === bankId);
  const events = async () => (await h.http.get(`/v1/cubes/${cubeId}/lifecycle/events`).query({ action: 'consolidate' }).set(auth()).expect(200)).body.items;
  const runLifecycle = async () => {
    await h.http.post(`/v1/cubes/${cubeId}/lifecycle/run`).set(auth()).send({}).expect(202);
    await drain();
  };
  const chat = async (content: string) =>
    (await h.http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 1, temperature: 0, messages: [{ role: 'user', content }], engram: { cubeId, bankId, retrieve: false } }).expect(200)).body.engram.bank;
  const search = async (query: string, times: number) => {
    const seen: string[] = [];
    for (let i = 0; i < times; i++) seen.push(...(await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query, topK: 2 }).expect(200)).body.results.map((r: { id: string }) => r.id));
    await h.app.get(AccessRecorder).flush();
    return seen;
  };
  const PASSING = { minRecall: 0, maxPerplexityIncrease: 100 };

  beforeAll(async () => {
    h = await createE2eHarness();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    for (const [name, seed] of [['tiny', 1], ['tiny-other', 2]] as const) {
      createTinyModel({ outDir: path.join(modelsDir, name), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed });
      await h.http.post('/v1/admin/models').set({ Authorization: `Bearer ${h.adminToken}` }).send({ path: path.join(modelsDir, name) }).expect(201);
    }
    const owner = await h.factory.apiKey();
    key = owner.key;
    tenantId = owner.tenantId;
    cubeId = (await h.factory.cube({ tenantId })).id;
    for (const [name, text] of Object.entries(FACTS)) {
      ids[name] = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text }] }).expect(201)).body.items[0].id;
    }
    bankId = (await h.http.post(`/v1/cubes/${cubeId}/banks`).set(auth()).send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2], replay: { source: 'none' } }).expect(202)).body.bankId;
    await drain();
    expect((await bank()).state).toBe('ready');
  }, 120_000);
  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  describe('bad input', () => {
    it('refuses a bank the cube cannot use, with 400 naming consolidation.bankId', async () => {
      const other = (await h.factory.cube({ tenantId })).id;
      const unknown = await policy({ bankId: '33333333-3333-4333-8333-333333333333' }).expect(400);
      expect(JSON.stringify(unknown.body)).toContain('consolidation.bankId');
      // A bank of another cube of the same tenant is not this cube's.
      expect(JSON.stringify((await policy({ bankId }, other).expect(400)).body)).toContain('consolidation.bankId');
      expect(JSON.stringify((await policy({ bankId: 'bank-1' }).expect(400)).body)).toContain('consolidation.bankId');
      const bad = await policy({ bankId, minAccesses: -1, thresholds: { minRecall: 2 } }).expect(400);
      expect(JSON.stringify(bad.body)).toContain('consolidation.minAccesses');
      expect(JSON.stringify(bad.body)).toContain('consolidation.thresholds.minRecall');
      const defaults = await h.http.put('/v1/admin/lifecycle-defaults').set({ Authorization: `Bearer ${h.adminToken}` }).send({ consolidation: { bankId } }).expect(400);
      expect(JSON.stringify(defaults.body)).toContain('consolidation.bankId');
    });

    it('refuses a bank built for another fingerprint of the model', async () => {
      const db = h.app.get(DataSource);
      await db.query(`UPDATE banks SET model_fingerprint = 'an-older-export' WHERE id = $1`, [bankId]);
      try {
        const res = await policy({ bankId }).expect(400);
        expect(JSON.stringify(res.body)).toContain('consolidation.bankId');
        expect(JSON.stringify(res.body)).toContain('fingerprint');
      } finally {
        await db.query(`UPDATE banks SET model_fingerprint = (SELECT fingerprint FROM models WHERE id = banks.model_id) WHERE id = $1`, [bankId]);
      }
    });

    it('refuses a bank of another model than the cube’s working memory runs', async () => {
      const res = await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({ activation: { model: 'tiny-other', maxTokens: 64 }, consolidation: { bankId } }).expect(400);
      expect(res.body.error.details.map((p: { field: string }) => p.field)).toEqual(['consolidation.bankId']);
      expect(JSON.stringify(res.body)).toContain('working memory');
      await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({ activation: { model: 'tiny', maxTokens: 64 }, consolidation: { bankId } }).expect(200);
      await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({}).expect(200);
    });
  });

  it('writes the hot, stable memories into the bank on a run, verified, with provenance and an event', async () => {
    const res = await policy({ bankId, minAccesses: 2, minAgeHours: 0, maxPerRun: 10, thresholds: PASSING }).expect(200);
    expect(res.body.effective.consolidation).toMatchObject({ bankId, minAccesses: 2, thresholds: PASSING });
    const seen = await search('Alice Moreau', 3);
    const hot = Object.values(ids).filter((id) => seen.filter((s) => s === id).length >= 2);
    expect(hot).toEqual(expect.arrayContaining([ids.alice1, ids.alice2]));
    const before = (await bank()).generation;
    await runLifecycle();
    const after = await bank();
    expect(after.generation).toBe(before + 1);
    expect(after.progress).toMatchObject({ phase: 'consolidated', written: hot.length, rewritten: 0 });
    for (const id of hot) expect((await blocksHolding(id)).length).toBeGreaterThanOrEqual(1);
    const cold = Object.values(ids).filter((id) => !hot.includes(id));
    for (const id of cold) expect(await blocksHolding(id)).toEqual([]);
    const [event] = await events();
    expect(event).toMatchObject({ action: 'consolidate', actorType: 'policy', actorId: 'consolidation' });
    expect(event.memoryIds.sort()).toEqual([...hot].sort());
    expect(event.reason).toMatchObject({ outcome: 'committed', bankId, written: hot.length, thresholds: PASSING, verification: { recall: expect.any(Number), anchorRecall: expect.any(Number), perplexityIncrease: expect.any(Number) } });
    expect(event.after.bank.generation).toBe(before + 1);
  }, 180_000);

  it('does nothing on a run with nothing new or stale', async () => {
    const before = await bank();
    await expect(h.app.get(BankConsolidation).run(cubeId)).resolves.toMatchObject({ status: 'nothing' });
    expect((await bank()).generation).toBe(before.generation);
    expect(await events()).toHaveLength(1);
  });

  it('marks the blocks of an edited memory stale at once (chat leaves them out) and rewrites them with the new text on the next run', async () => {
    const routedBefore = await chat('Where was Alice Moreau born?');
    expect(routedBefore.staleLevels).toEqual([]);
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${ids.alice2}`).set(auth()).send({ text: 'Alice Moreau works as a luthier in Lyon.' }).expect(200);
    // No job has run yet: the marking is part of the edit.
    const stale = await blocksHolding(ids.alice2);
    expect(stale.length).toBeGreaterThanOrEqual(1);
    expect(stale.every((b) => b.stale)).toBe(true);
    // The old text routes to the leaf it was written into: the stale blocks of that path are left out.
    const routed = await chat(FACTS.alice2);
    const onPath = stale.filter((b) => routed.path[b.level - 1] === b.node).map((b) => b.level);
    expect(onPath.length).toBeGreaterThanOrEqual(1);
    expect(routed.staleLevels).toEqual(onPath.sort());
    expect(routed.rank).toBe(4 - 2 * onPath.length);
    const generation = (await bank()).generation;
    await runLifecycle();
    const rewritten = await blocksHolding(ids.alice2);
    expect(rewritten.length).toBeGreaterThanOrEqual(1);
    expect(rewritten.every((b) => !b.stale && b.generation === generation + 1)).toBe(true);
    // It is held at the leaf its new words route to (re-placed when they route elsewhere), not kept among texts like the old one.
    const newPath = (await chat('Alice Moreau works as a luthier in Lyon.')).path;
    expect(rewritten.find((b) => b.level === 2)?.node).toBe(newPath[1]);
    const [event] = await events();
    expect(event.reason).toMatchObject({ outcome: 'committed', rewritten: expect.any(Number), replaced: expect.any(Number) });
    expect(event.memoryIds).toContain(ids.alice2);
    expect(event.before.bank.staleBlocks.length).toBe(stale.length);
  }, 180_000);

  it('marks the blocks of a superseded fact stale when the lifecycle supersedes it, and rewrites them without it, with the fact that took its place', async () => {
    const add = async (text: string, object: string, validFrom: string) =>
      (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text, fact: { subject: 'Dana', predicate: 'lives in', object }, validFrom }] }).expect(201)).body.items[0].id as string;
    const old = await add('Dana lives in Porto.', 'Porto', '2020-01-01T00:00:00Z');
    await settle();
    await search('Dana Porto', 2);
    await runLifecycle();
    expect((await blocksHolding(old)).length).toBeGreaterThanOrEqual(1);
    const current = await add('Dana lives in Oslo now.', 'Oslo', '2023-06-01T00:00:00Z');
    await settle(); // the tick supersedes the older fact
    expect((await h.http.get(`/v1/cubes/${cubeId}/memories/${old}`).set(auth()).expect(200)).body).toMatchObject({ state: 'superseded', supersededBy: current });
    expect((await blocksHolding(old)).every((b) => b.stale)).toBe(true);
    await runLifecycle();
    expect(await blocksHolding(old)).toEqual([]);
    expect((await h.app.get(BankBlockRepository).list(bankId)).some((b) => b.stale)).toBe(false);
    // The current value is written in its place, though the new fact is neither hot nor old enough to be a candidate (ADR 0405).
    const successor = await blocksHolding(current);
    expect(successor.length).toBeGreaterThanOrEqual(1);
    expect(successor.every((b) => !b.stale)).toBe(true);
    const [event] = await events();
    expect(event.memoryIds).toContain(current);
    expect(event.reason).toMatchObject({ outcome: 'committed', successors: 1 });
  }, 180_000);

  it('writes the fact at the end of a chain of supersessions in place of the consolidated one it started from', async () => {
    const add = async (text: string, object: string, validFrom: string) =>
      (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text, fact: { subject: 'Emil', predicate: 'works at', object }, validFrom }] }).expect(201)).body.items[0].id as string;
    const first = await add('Emil works at the Rome observatory.', 'Rome', '2019-01-01T00:00:00Z');
    await settle();
    await search('Emil Rome observatory', 2);
    await runLifecycle();
    expect((await blocksHolding(first)).length).toBeGreaterThanOrEqual(1);
    const second = await add('Emil works at the Milan observatory.', 'Milan', '2021-01-01T00:00:00Z');
    await settle();
    const third = await add('Emil works at the Turin observatory now.', 'Turin', '2024-01-01T00:00:00Z');
    await settle();
    const state = async (id: string) => (await h.http.get(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).expect(200)).body;
    expect(await state(first)).toMatchObject({ state: 'superseded', supersededBy: second });
    expect(await state(second)).toMatchObject({ state: 'superseded', supersededBy: third });
    await runLifecycle();
    expect(await blocksHolding(first)).toEqual([]);
    expect(await blocksHolding(second)).toEqual([]);
    expect((await blocksHolding(third)).length).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('marks the blocks of a memory merged into a newer duplicate stale, and rewrites them without it, with the memory it was merged into', async () => {
    await search('Chen Wei cello Harbin', 2);
    await runLifecycle();
    expect((await blocksHolding(ids.chen)).length).toBeGreaterThanOrEqual(1);
    // Contains every word of the consolidated memory and one more: rules-mode fusion keeps the containing text.
    const survivor = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'Chen Wei plays the cello in the Harbin orchestra beautifully.' }] }).expect(201)).body.items[0].id;
    await settle();
    expect((await h.http.get(`/v1/cubes/${cubeId}/memories/${ids.chen}`).set(auth()).expect(200)).body).toMatchObject({ state: 'merged', mergedInto: survivor });
    expect((await blocksHolding(ids.chen)).every((b) => b.stale)).toBe(true);
    await runLifecycle();
    expect(await blocksHolding(ids.chen)).toEqual([]);
    expect((await blocksHolding(survivor)).length).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('rolls back a generation that misses the thresholds: the previous one keeps serving and the stale blocks stay out of chat', async () => {
    await policy({ bankId, minAccesses: 2, minAgeHours: 0, maxPerRun: 10, thresholds: { minRecall: 1, maxPerplexityIncrease: 0 } }).expect(200);
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${ids.alice1}`).set(auth()).send({ text: 'Alice Moreau was born in Nantes in 1962.' }).expect(200);
    const before = await bank();
    const file = fs.readFileSync(path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId, 'bank.bin'));
    await expect(h.app.get(BankConsolidation).run(cubeId)).resolves.toMatchObject({ status: 'rolled-back', why: expect.stringContaining('minRecall') });
    const after = await bank();
    expect(after.generation).toBe(before.generation);
    expect(after.progress).toMatchObject({ phase: 'consolidation-rolled-back' });
    expect(fs.readFileSync(path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId, 'bank.bin')).equals(file)).toBe(true);
    expect((await blocksHolding(ids.alice1)).every((b) => b.stale)).toBe(true);
    const [event] = await events();
    expect(event.reason).toMatchObject({ outcome: 'rolled-back', why: expect.stringContaining('minRecall') });
    expect((await chat('Where was Alice Moreau born?')).generation).toBe(before.generation);
    await policy({ bankId, minAccesses: 2, minAgeHours: 0, maxPerRun: 10, thresholds: PASSING }).expect(200);
  }, 180_000);

  describe('crash mid-consolidation', () => {
    const fileGeneration = () => Number(fs.readFileSync(path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId, 'bank.bin')).subarray(0, 65536).toString('latin1').match(/"generation":(\d+)/)![1]);

    it('leaves the old generation when it dies before the commit', async () => {
      const before = await bank();
      const spy = jest.spyOn(ParametricBank.prototype, 'consolidateAsync').mockRejectedValueOnce(new Error('simulated crash while training'));
      try {
        await expect(h.app.get(BankConsolidation).run(cubeId)).rejects.toThrow('simulated crash');
      } finally {
        spy.mockRestore();
      }
      expect(fileGeneration()).toBe(before.generation);
      expect((await bank()).generation).toBe(before.generation);
      expect((await blocksHolding(ids.alice1)).every((b) => b.stale)).toBe(true);
      expect((await chat('Where was Alice Moreau born?')).generation).toBe(before.generation);
    }, 180_000);

    it('leaves the new generation when it dies inside the commit, recovered on the next read and rewritten by the next run', async () => {
      const before = await bank();
      await expect(h.app.get(BankConsolidation).run(cubeId, { faults: { afterSlots: 1 } })).rejects.toThrow();
      const routed = await chat('Where was Alice Moreau born?'); // opens the file (the complete journal is replayed) and recovers the rows first
      expect(fileGeneration()).toBe(before.generation + 1);
      expect(routed.generation).toBe(before.generation + 1);
      expect((await h.app.get(BankRepository).getAny(bankId))!.generation).toBe(before.generation + 1);
      // Provenance of that commit is unknown (no sidecar record): its blocks are stale until the next run rewrites them.
      await expect(h.app.get(BankConsolidation).run(cubeId)).resolves.toMatchObject({ status: 'committed', generation: before.generation + 2 });
      expect((await h.app.get(BankBlockRepository).list(bankId)).some((b) => b.stale)).toBe(false);
      expect((await blocksHolding(ids.alice1)).every((b) => !b.stale)).toBe(true);
    }, 240_000);
  });

  it('does not consolidate into a bank through another tenant’s cube', async () => {
    const stranger = await h.factory.apiKey();
    const theirs = (await h.factory.cube({ tenantId: stranger.tenantId })).id;
    const res = await h.http.put(`/v1/cubes/${theirs}/lifecycle`).set({ Authorization: `Bearer ${stranger.key}` }).send({ consolidation: { bankId } }).expect(400);
    expect(JSON.stringify(res.body)).toContain('consolidation.bankId');
    expect((await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set({ Authorization: `Bearer ${stranger.key}` }).send({ consolidation: { bankId } })).status).toBe(404);
  });
});
