import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BankConsolidation } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { BankBlockRepository } from '@engram/persistence';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';
import { DataSource } from 'typeorm';

/**
 * Chat uses the cube's consolidation bank by itself (issue 14, ADR 0403): no `engram.bankId`,
 * the bank of the cube's policy is routed by the memory retrieval ranked best and its blocks
 * are attached only while they hold that memory at its current value. An edit leaves the bank
 * out (the new text answers from the prompt) until the next run rewrites the blocks.
 * Tiny model (1 layer, hidden 16) and bank (2 levels × 2, rank 2).
 */
describe('chat with the consolidation bank', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
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
  const QUESTION = 'Where does Bruno Keller live and what does he study?';
  const drain = () => h.app.get(JobRunner).drain();
  const chat = async (engram: object = {}) =>
    (await h.http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 1, temperature: 0, messages: [{ role: 'user', content: QUESTION }], engram: { cubeId, ...engram } }).expect(200)).body.engram;
  const holding = async (memoryId: string) => (await h.app.get(BankBlockRepository).holding(memoryId)).filter((b) => b.bankId === bankId);

  beforeAll(async () => {
    h = await createE2eHarness();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 256, seed: 1 });
    await h.http.post('/v1/admin/models').set({ Authorization: `Bearer ${h.adminToken}` }).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    const owner = await h.factory.apiKey();
    key = owner.key;
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    for (const [name, text] of Object.entries(FACTS)) {
      ids[name] = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text }] }).expect(201)).body.items[0].id;
    }
    bankId = (await h.http.post(`/v1/cubes/${cubeId}/banks`).set(auth()).send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2], replay: { source: 'none' } }).expect(202)).body.bankId;
    await drain();
    const consolidation = { bankId, minAccesses: 0, minAgeHours: 0, maxPerRun: 10, thresholds: { minRecall: 0, maxPerplexityIncrease: 100 } };
    await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({ consolidation }).expect(200);
  }, 120_000);
  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('uses no bank before anything is consolidated, and says why', async () => {
    const engram = await chat();
    expect(engram.retrieval.memoryIds[0]).toBe(ids.bruno);
    expect(engram.bank).toMatchObject({ id: bankId, source: 'policy', used: false, reason: 'not-consolidated', routedBy: 'memory', memoryId: ids.bruno, rank: 0 });
  });

  it('attaches the blocks holding the best retrieved memory without being told the bank', async () => {
    await expect(h.app.get(BankConsolidation).run(cubeId, { epochs: 1 })).resolves.toMatchObject({ status: 'committed' });
    const blocks = await holding(ids.bruno);
    expect(blocks.length).toBe(2);
    const engram = await chat();
    const path = [...blocks].sort((a, b) => a.level - b.level).map((b) => b.node);
    expect(engram.bank).toEqual({ id: bankId, source: 'policy', used: true, reason: null, routedBy: 'memory', memoryId: ids.bruno, similarity: null, generation: expect.any(Number), path, rank: 4, staleLevels: [], leftOut: [] });
    // The blocks change the activations: nothing cached is reused.
    expect(engram.cachedTokens).toBe(0);
    // The request can turn it off, or name the bank itself.
    expect((await chat({ bankId: false })).bank).toBeUndefined();
    expect((await chat({ bankId: null })).bank).toBeUndefined();
    expect((await chat({ bankId })).bank).toMatchObject({ source: 'request', used: true, memoryId: ids.bruno });
    const bad = await h.http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', messages: [{ role: 'user', content: QUESTION }], engram: { cubeId, bankId: true } }).expect(400);
    expect(JSON.stringify(bad.body)).toContain('engram.bankId must be a UUID, null or false');
  }, 180_000);

  it('routes the policy’s bank by text when nothing is retrieved, and abstains on small talk', async () => {
    const hi = async () => (await h.http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 1, temperature: 0, messages: [{ role: 'user', content: 'hi' }], engram: { cubeId, retrieve: false } }).expect(200)).body.engram;
    const smallTalk = await hi();
    expect(smallTalk.bank).toMatchObject({ id: bankId, source: 'policy', used: false, reason: 'no-match', routedBy: 'text', rank: 0, path: [] });
    expect(smallTalk.bank.similarity).toBeLessThan(0.3);
    // The operator can make the bank speak whatever the text (-1: always route).
    const consolidation = { bankId, minAccesses: 0, minAgeHours: 0, maxPerRun: 10, minRouteSimilarity: -1, thresholds: { minRecall: 0, maxPerplexityIncrease: 100 } };
    await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({ consolidation }).expect(200);
    const routed = await hi();
    expect(routed.bank).toMatchObject({ source: 'policy', used: true, reason: null, routedBy: 'text', similarity: smallTalk.bank.similarity });
    expect(routed.bank.path).toHaveLength(2);
    await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({ consolidation: { ...consolidation, minRouteSimilarity: 1.5 } }).expect(400, /consolidation.minRouteSimilarity/);
    await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({ consolidation: { ...consolidation, minRouteSimilarity: 0.3 } }).expect(200);
  });

  it('leaves the bank out once the fact is edited (the new text is in the prompt), and uses it again after the rewrite', async () => {
    const edited = 'Bruno Keller lives in Zurich and studies geology.';
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${ids.bruno}`).set(auth()).send({ text: edited }).expect(200);
    expect((await holding(ids.bruno)).every((b) => b.stale)).toBe(true);
    const engram = await chat();
    expect(engram.bank).toMatchObject({ id: bankId, source: 'policy', used: false, reason: 'stale', routedBy: 'memory', memoryId: ids.bruno, rank: 0, staleLevels: [1, 2] });
    expect(engram.retrieval.memoryIds).toContain(ids.bruno);
    expect((await h.http.get(`/v1/cubes/${cubeId}/memories/${ids.bruno}`).set(auth()).expect(200)).body.text).toBe(edited);
    await drain(); // the edit's bank.forget job marks them again under the bank's lock
    await h.app.get(BankConsolidation).run(cubeId, { epochs: 1 });
    expect((await holding(ids.bruno)).every((b) => !b.stale)).toBe(true);
    expect((await chat()).bank).toMatchObject({ used: true, memoryId: ids.bruno, rank: 4 });
  }, 180_000);

  it('reuses the working memory’s KV with a block attached: the blocks act on the tokens after it', async () => {
    const consolidation = { bankId, minAccesses: 0, minAgeHours: 0, maxPerRun: 10, thresholds: { minRecall: 0, maxPerplexityIncrease: 100 } };
    await h.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(auth()).send({ consolidation, activation: { model: 'tiny', maxTokens: 64, debounceMs: 0 } }).expect(200);
    await drain();
    const engram = await chat();
    expect(engram.workingMemory).toMatchObject({ state: 'ready' });
    expect(engram.bank).toMatchObject({ used: true, memoryId: ids.bruno, rank: 4 });
    expect(engram.cachedTokens).toBe(engram.workingMemory.tokens);
    // The same request without the bank reuses the same prefix.
    expect((await chat({ bankId: false })).cachedTokens).toBe(engram.workingMemory.tokens);
  }, 120_000);

  it('keeps the bank for a memory whose tags changed (not its text)', async () => {
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${ids.bruno}`).set(auth()).send({ tags: ['geology'] }).expect(200);
    await drain();
    expect((await chat()).bank).toMatchObject({ used: true, memoryId: ids.bruno, rank: 4, leftOut: [] });
  });

  it('leaves a block out when the text of a retrieved memory it holds changed after it was written, even unmarked', async () => {
    // A text change the stale marking missed (a version written straight to the table): the block is older than the text.
    const [leaf] = (await holding(ids.bruno)).filter((b) => b.level === 2);
    const at = new Date(new Date(leaf.writtenAt).getTime() + 60_000);
    await h.app.get(DataSource).query(
      `INSERT INTO memory_versions (memory_id, version, action, actor_type, old_values, new_values, at) VALUES ($1, 99, 'update', 'system', $2::jsonb, $3::jsonb, $4)`,
      [ids.bruno, JSON.stringify({ text: 'Bruno Keller lives in Zurich and studies geology.' }), JSON.stringify({ text: 'Bruno Keller lives in Bern and studies geology.' }), at],
    );
    expect((await h.app.get(BankBlockRepository).get(bankId, 2, leaf.node))!.stale).toBe(false);
    const engram = await chat();
    expect(engram.bank).toMatchObject({ used: false, reason: 'stale', leftOut: [{ level: 1, why: 'memory-newer' }, { level: 2, why: 'memory-newer' }] });
  });
});
