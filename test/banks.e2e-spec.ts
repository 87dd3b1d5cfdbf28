import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BankJobs } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { ParametricBank } from '@engram/parametric';
import { BankBlockRepository, BankRepository, JobRecord, JobRepository } from '@engram/persistence';
import { JobRunner } from '@engram/scheduler';
import { createApp } from '@engram/server';
import { createE2eHarness, E2eHarness } from '@engram/testing';
import supertest from 'supertest';

/**
 * Parametric memory banks over HTTP: build (a job), status and occupancy, provenance of a
 * block, write (a job), chat with a bank, forgetting on memory delete, delete and purge.
 * Tiny model (1 layer, hidden 16) and tiny banks (2 levels × 2 children, rank 2) keep it fast.
 */
describe('parametric memory banks over HTTP', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
  let tenantId: string;
  let cubeId: string;
  let bankId: string;
  const memoryIds: string[] = [];
  const auth = (k = key) => ({ Authorization: `Bearer ${k}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const FACTS = [
    'Alice Moreau was born in Lyon in 1961.',
    'Alice Moreau works as a glassblower at Verrerie Nord.',
    'Bruno Keller lives in Basel and studies geology.',
    'Bruno Keller was born on a farm near Bern.',
    'Chen Wei plays the cello in the Harbin orchestra.',
    'Chen Wei moved to Harbin in 1999.',
  ];
  const TINY_BANK = { model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2] };
  const drain = () => h.app.get(JobRunner).drain();
  const banksOf = (cube = cubeId) => `/v1/cubes/${cube}/banks`;
  const getBank = async (id = bankId, cube = cubeId) => (await h.http.get(`${banksOf(cube)}/${id}`).set(auth()).expect(200)).body;
  const block = async (level: number, node: number, id = bankId) => (await h.http.get(`${banksOf()}/${id}/blocks/${level}/${node}`).set(auth()).expect(200)).body;
  const addMemory = async (text: string, cube = cubeId) => (await h.http.post(`/v1/cubes/${cube}/memories`).set(auth()).send({ items: [{ text }] }).expect(201)).body.items[0].id as string;
  /** The blocks (level 1) holding a memory, found through the provenance route. */
  const level1Holding = async (memoryId: string) => {
    const found = [];
    for (const node of [0, 1]) {
      const b = await block(1, node);
      if (b.memoryIds.includes(memoryId)) found.push(b);
    }
    return found;
  };

  beforeAll(async () => {
    h = await createE2eHarness();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 1 });
    createTinyModel({ outDir: path.join(modelsDir, 'tiny-other'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 2 });
    await h.http.post('/v1/admin/models').set(admin()).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    await h.http.post('/v1/admin/models').set(admin()).send({ path: path.join(modelsDir, 'tiny-other') }).expect(201);
    const owner = await h.factory.apiKey();
    key = owner.key;
    tenantId = owner.tenantId;
    cubeId = (await h.factory.cube({ tenantId })).id;
    for (const text of FACTS) memoryIds.push(await addMemory(text));
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('builds a bank from the cube’s active memories as a job, with progress and occupancy per level', async () => {
    const res = await h.http.post(banksOf()).set(auth()).send(TINY_BANK).expect(202);
    expect(res.body).toEqual({ bankId: expect.any(String), jobId: expect.any(String), state: 'building' });
    bankId = res.body.bankId;
    expect(await getBank()).toMatchObject({ id: bankId, state: 'building', model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2], jobId: res.body.jobId, progress: { phase: 'queued' } });
    expect((await getBank()).replay).toEqual({ source: 'anchor', perStep: 8, weight: 20, samples: 128 });
    expect(await drain()).toBeGreaterThanOrEqual(1);
    const bank = await getBank();
    expect(bank).toMatchObject({ state: 'ready', error: null, progress: { phase: 'ready', texts: FACTS.length } });
    expect(bank.occupancy).toMatchObject({ texts: FACTS.length, deleted: 0 });
    expect(bank.occupancy.levels).toEqual([
      expect.objectContaining({ level: 1, rank: 2, nodes: 2, writtenBlocks: 0, staleBlocks: 0 }),
      expect.objectContaining({ level: 2, rank: 2, nodes: 4, writtenBlocks: 0 }),
    ]);
    expect(fs.existsSync(path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId, 'bank.bin'))).toBe(true);
    const job = await h.app.get(JobRepository).get(res.body.jobId);
    expect(job?.state).toBe('completed');
    const list = await h.http.get(banksOf()).set(auth()).expect(200);
    expect(list.body.items.map((b: { id: string; state: string }) => [b.id, b.state])).toEqual([[bankId, 'ready']]);
  });

  it('does not build the same bank twice when its job runs again', async () => {
    const before = await getBank();
    const job = await h.app.get(JobRepository).get(before.jobId);
    await h.app.get(BankJobs).build(job!, { heartbeat: async () => undefined });
    const after = await getBank();
    expect(after).toMatchObject({ state: 'ready', generation: before.generation, progress: before.progress });
    expect(after.occupancy).toEqual(before.occupancy);
  });

  it('reports an unwritten block as empty', async () => {
    expect(await block(1, 0)).toMatchObject({ bankId, level: 1, node: 0, rank: 2, written: false, stale: false, locked: false, memoryIds: [], generation: null });
  });

  it('writes memories into the blocks of their path as a job and records their provenance', async () => {
    const before = (await getBank()).generation;
    // The second id in capitals: a UUID reads the same either way (it was accepted, then not written).
    const res = await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ memoryIds: [memoryIds[0], memoryIds[1].toUpperCase()], epochs: 2 }).expect(202);
    expect(res.body).toMatchObject({ bankId, jobId: expect.any(String) });
    expect(await drain()).toBeGreaterThanOrEqual(1);
    const bank = await getBank();
    expect(bank.generation).toBeGreaterThan(before);
    expect(bank.progress).toMatchObject({ phase: 'written', memories: 2, gradient: 'onnx', finalLoss: expect.any(Number) });
    // Replay by default: sequences sampled from the model, cached in the bank directory.
    expect(bank.progress.replay).toEqual({ source: 'anchor', perStep: 8, weight: 20, samples: 128, sequences: 128, cached: false });
    expect(fs.existsSync(path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId, 'replay.json'))).toBe(true);
    expect(bank.occupancy.levels[0].writtenBlocks + bank.occupancy.levels[1].writtenBlocks).toBeGreaterThanOrEqual(2);
    const holding = await level1Holding(memoryIds[0]);
    expect(holding).toHaveLength(1);
    expect(holding[0]).toMatchObject({ written: true, stale: false, generation: bank.generation, steps: expect.any(Number) });
  }, 180_000); // a training job: 10–35 s alone, longer on a busy machine

  it('answers a chat with the bank: routes by the best retrieved memory, attaches its blocks and reports the path', async () => {
    const res = await h.http
      .post('/v1/chat/completions')
      .set(auth())
      .send({ model: 'tiny', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: 'Where was Alice Moreau born?' }], engram: { cubeId, bankId } })
      .expect(200);
    const bank = await getBank();
    const best = res.body.engram.retrieval.memoryIds[0];
    expect([memoryIds[0], memoryIds[1]]).toContain(best); // an Alice fact, written above
    const [held] = await level1Holding(best);
    expect(res.body.engram.bank).toEqual({ id: bankId, source: 'request', used: true, reason: null, routedBy: 'memory', memoryId: best, similarity: null, generation: bank.generation, path: [held.node, expect.any(Number)], rank: 4, staleLevels: [], leftOut: [] });
    expect(res.body.engram.bank.path[0]).toBeLessThan(2);
    expect(res.body.engram.cachedTokens).toBe(0);
  });

  it('marks the blocks of an edited memory stale but keeps the memory writable', async () => {
    const [before] = await level1Holding(memoryIds[1]);
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${memoryIds[1]}`).set(auth()).send({ text: 'Alice Moreau works as a luthier in Lyon.' }).expect(200);
    await drain();
    expect(await block(1, before.node)).toMatchObject({ stale: true });
    expect((await getBank()).occupancy.deleted).toBe(0);
    await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ memoryIds: [memoryIds[1]], rewriteStale: true, epochs: 1 }).expect(202);
    await drain();
    const [after] = await level1Holding(memoryIds[1]);
    expect(after).toMatchObject({ stale: false });
    expect((await getBank()).progress.replay).toMatchObject({ source: 'anchor', sequences: 128, cached: true });
  });

  it('maps every written block with its write count and staleness (the dashboard heat map)', async () => {
    const map = (await h.http.get(`${banksOf()}/${bankId}/blocks`).set(auth()).expect(200)).body;
    const bank = await getBank();
    expect(map).toMatchObject({ bankId, generation: bank.generation });
    expect(map.levels).toEqual(bank.occupancy.levels);
    expect(map.blocks.length).toBe(bank.occupancy.levels.reduce((n: number, l: { writtenBlocks: number }) => n + l.writtenBlocks, 0));
    for (const cell of map.blocks) {
      const one = await block(cell.level, cell.node);
      expect(cell).toEqual({ level: one.level, node: one.node, writes: expect.any(Number), memories: one.memoryIds.length, stale: one.stale, locked: one.locked, generation: one.generation, writtenAt: one.writtenAt });
      expect(cell.writes).toBeGreaterThanOrEqual(1);
    }
    // The block of the edited memory was written, went stale, and was written again.
    const [rewritten] = await level1Holding(memoryIds[1]);
    expect(map.blocks.find((c: { level: number; node: number }) => c.level === 1 && c.node === rewritten.node)).toMatchObject({ stale: false, writes: expect.any(Number) });
    expect(map.blocks.find((c: { level: number; node: number }) => c.level === 1 && c.node === rewritten.node).writes).toBeGreaterThanOrEqual(2);
    // Another tenant's key finds nothing there.
    const stranger = (await h.factory.apiKey()).key;
    await h.http.get(`${banksOf()}/${bankId}/blocks`).set(auth(stranger)).expect(404);
  });

  it('writes with the replay a write asks for, its other settings from the bank, and keeps the bank’s own', async () => {
    await addMemory('Greta Lund restores violins in Malmo.'); // in the cube, not in the bank
    await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ memoryIds: [memoryIds[2]], epochs: 1, replay: { source: 'memories', perStep: 2 } }).expect(202);
    await drain();
    const bank = await getBank();
    expect(bank.error).toBeNull();
    // The cube's memories, the one outside the bank included (routed for replay, not assigned).
    expect(bank.progress.replay).toEqual({ source: 'memories', perStep: 2, weight: 20, samples: 128, sequences: FACTS.length + 1, cached: false });
    expect(bank.replay).toEqual({ source: 'anchor', perStep: 8, weight: 20, samples: 128 });
    expect(bank.occupancy.texts).toBe(FACTS.length);
  });

  it('re-places a memory edited since the bank placed it by its new words, and writes it there (as consolidation does)', async () => {
    const id = memoryIds[5]; // placed by the build, never written
    const bankDir = path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId);
    const leafOf = (memoryId: string) => {
      const opened = ParametricBank.open(bankDir); // read anew: the job saves the tree
      try {
        return opened.tree.leaves.get(memoryId);
      } finally {
        opened.close();
      }
    };
    const routedPath = async (content: string): Promise<number[]> =>
      (await h.http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 1, messages: [{ role: 'user', content }], engram: { cubeId, bankId, retrieve: false } }).expect(200)).body.engram.bank.path;
    const placed = leafOf(id);
    expect(placed).toBeDefined();
    // New words that route to another leaf than the old ones were placed in (no duplicate of another memory: the lifecycle would merge them).
    let text: string | null = null;
    let newPath: number[] = [];
    for (const candidate of ['Alice Moreau sings in Lyon.', 'Bruno Keller hikes near Basel.', 'Alice Moreau teaches glassblowing.', 'Bruno Keller farms near Bern.', 'Chen Wei teaches cello.']) {
      newPath = await routedPath(candidate);
      if (newPath[1] !== placed) {
        text = candidate;
        break;
      }
    }
    expect(text).not.toBeNull();
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).send({ text }).expect(200);
    await drain();
    await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ memoryIds: [id], epochs: 1 }).expect(202);
    await drain();
    const bank = await getBank();
    expect(bank.error).toBeNull();
    expect(leafOf(id)).toBe(newPath[1]);
    // Written at the new place, not into the block of the old leaf (among texts like the old words).
    expect(await block(2, newPath[1])).toMatchObject({ written: true, stale: false, memoryIds: expect.arrayContaining([id]) });
    expect((await block(2, placed!)).memoryIds).not.toContain(id);
    expect(bank.progress).toMatchObject({ phase: 'written', memories: 1, replaced: 1 });
  }, 180_000);

  it('re-places a written memory edited since, in a tree saved before placement fingerprints, by its versions', async () => {
    const id = memoryIds[5]; // written at its new place by the test above
    const bankDir = path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId);
    const treeFile = path.join(bankDir, 'tree.json');
    const leafOf = (memoryId: string) => {
      const opened = ParametricBank.open(bankDir);
      try {
        return opened.tree.leaves.get(memoryId);
      } finally {
        opened.close();
      }
    };
    // An older tree: the same leaves, no record of the words each text was placed by.
    const older = ParametricBank.open(bankDir);
    older.tree.placedBy.clear();
    older.tree.save(treeFile);
    older.close();
    expect(JSON.parse(fs.readFileSync(treeFile, 'utf8')).placedBy).toBeUndefined();
    const placed = leafOf(id)!;
    const kept = leafOf(memoryIds[4]); // unwritten until the crash tests below, which count on that
    let text: string | null = null;
    let newPath: number[] = [];
    for (const candidate of ['Chen Wei teaches cello.', 'Bruno Keller farms near Bern.', 'Alice Moreau teaches glassblowing.', 'Bruno Keller hikes near Basel.', 'Alice Moreau sings in Lyon.', 'Greta Lund sings in Malmo.', 'Dana rows in Porto.']) {
      newPath = (await h.http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 1, messages: [{ role: 'user', content: candidate }], engram: { cubeId, bankId, retrieve: false } }).expect(200)).body.engram.bank.path;
      if (newPath[1] !== placed && newPath[1] !== kept) {
        text = candidate;
        break;
      }
    }
    expect(text).not.toBeNull();
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).send({ text }).expect(200);
    await drain();
    await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ memoryIds: [id], epochs: 1 }).expect(202);
    await drain();
    expect(leafOf(id)).toBe(newPath[1]);
    expect(await block(2, newPath[1])).toMatchObject({ written: true, stale: false, memoryIds: expect.arrayContaining([id]) });
    // The words of every text are recorded again.
    expect(Object.keys(JSON.parse(fs.readFileSync(treeFile, 'utf8')).placedBy ?? {})).toContain(id);
  }, 180_000);

  it('marks the blocks of a deleted memory stale, and a rewrite retrains them without it', async () => {
    const [before] = await level1Holding(memoryIds[0]);
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${memoryIds[0]}`).set(auth()).expect(204);
    expect(await drain()).toBeGreaterThanOrEqual(1);
    const stale = await block(1, before.node);
    expect(stale).toMatchObject({ stale: true });
    expect((await getBank()).occupancy).toMatchObject({ deleted: 1 });
    await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ rewriteStale: true, epochs: 1 }).expect(202);
    await drain();
    const rewritten = await block(1, before.node);
    expect(rewritten.stale).toBe(false);
    expect(rewritten.memoryIds).not.toContain(memoryIds[0]);
    expect(rewritten.generation).toBeGreaterThan(before.generation);
  });

  describe('block provenance in PostgreSQL (ADR 0305)', () => {
    const dirOf = () => path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId);
    const sidecar = () => path.join(dirOf(), 'provenance.json');
    const allBlocks = async (http = h.http) => {
      const out = [];
      for (const [level, nodes] of [[1, 2], [2, 4]]) {
        for (let node = 0; node < nodes; node++) out.push((await http.get(`${banksOf()}/${bankId}/blocks/${level}/${node}`).set(auth()).expect(200)).body);
      }
      return out;
    };
    /** Runs a write job's work directly, once, with no retry to hide a crash. */
    const writeOnce = (ids: string[]) =>
      h.app.get(BankJobs).write(
        { id: '00000000-0000-4000-8000-0000000000aa', attempts: 1, maxAttempts: 1, payload: { bankId, cubeId, memoryIds: ids, rewriteStale: false, epochs: 1, replay: { source: 'none', perStep: 8, weight: 20, samples: 128 } } } as unknown as JobRecord,
        { heartbeat: async () => undefined },
      );
    const fileGeneration = () => fs.readFileSync(path.join(dirOf(), 'bank.bin')).subarray(0, 65536).toString('latin1').match(/"generation":(\d+)/)![1];

    it('answers provenance and occupancy after a restart, from the rows, with the bank directory’s sidecar gone', async () => {
      const blocks = await allBlocks();
      const occupancy = (await getBank()).occupancy;
      expect(blocks.some((b) => b.written)).toBe(true);
      fs.rmSync(sidecar());
      const restarted = await createApp(h.config, { quiet: true, runWorker: false });
      await restarted.init();
      try {
        const http = supertest(restarted.getHttpServer());
        expect(await allBlocks(http)).toEqual(blocks);
        expect((await http.get(`${banksOf()}/${bankId}`).set(auth()).expect(200)).body.occupancy).toEqual(occupancy);
      } finally {
        await restarted.close();
      }
    });

    it('records a memory delete as stale flags in bank_blocks and the memory as forgotten, without touching the bank directory', async () => {
      const rows = h.app.get(BankBlockRepository);
      const holding = await rows.holding(memoryIds[2]);
      expect(holding.length).toBeGreaterThanOrEqual(1);
      expect(holding.every((b) => b.bankId === bankId && !b.stale)).toBe(true);
      const files = fs.readdirSync(dirOf()).map((f) => [f, fs.statSync(path.join(dirOf(), f)).mtimeMs]);
      await h.http.delete(`/v1/cubes/${cubeId}/memories/${memoryIds[2]}`).set(auth()).expect(204);
      await drain();
      expect((await rows.holding(memoryIds[2])).map((b) => [b.level, b.node, b.stale])).toEqual(holding.map((b) => [b.level, b.node, true]));
      expect(await rows.deletedIds(bankId)).toEqual(expect.arrayContaining([memoryIds[0], memoryIds[2]]));
      expect(fs.readdirSync(dirOf()).map((f) => [f, fs.statSync(path.join(dirOf(), f)).mtimeMs])).toEqual(files);
      for (const b of holding) expect(await block(b.level, b.node)).toMatchObject({ stale: true, memoryIds: expect.arrayContaining([memoryIds[2]]) });
    });

    it('recovers the rows of a commit whose database update was lost (file committed, rows not), from the sidecar', async () => {
      const row = await h.app.get(BankRepository).getAny(bankId);
      jest.spyOn(h.app.get(BankBlockRepository), 'commit').mockRejectedValueOnce(new Error('simulated crash after the file commit'));
      await expect(writeOnce([memoryIds[3]])).rejects.toThrow('simulated crash');
      expect((await h.app.get(BankRepository).getAny(bankId))!.generation).toBe(row!.generation);
      expect(Number(fileGeneration())).toBe(row!.generation + 1);
      const holding = await level1Holding(memoryIds[3]); // the read recovers first
      expect(holding).toEqual([expect.objectContaining({ written: true, stale: false, generation: row!.generation + 1, steps: expect.any(Number), finalLoss: expect.any(Number) })]);
      expect((await getBank()).generation).toBe(row!.generation + 1);
    });

    it('recovers a commit that left no sidecar record either: its blocks become stale, holding every text of their cluster', async () => {
      const row = await h.app.get(BankRepository).getAny(bankId);
      const untouched = (await allBlocks()).filter((b) => b.written);
      const before = fs.readFileSync(sidecar());
      jest.spyOn(h.app.get(BankBlockRepository), 'commit').mockRejectedValueOnce(new Error('simulated crash after the file commit'));
      await expect(writeOnce([memoryIds[4]])).rejects.toThrow('simulated crash');
      fs.writeFileSync(sidecar(), before); // the crash came before the sidecar was saved
      const path4 = (await h.http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 1, messages: [{ role: 'user', content: FACTS[4] }], engram: { cubeId, bankId } }).expect(200)).body.engram.bank;
      expect(path4.generation).toBe(row!.generation + 1); // chat recovered the rows before routing
      const recovered = (await allBlocks()).filter((b) => b.generation === row!.generation + 1);
      expect(recovered.length).toBeGreaterThanOrEqual(1);
      for (const b of recovered) expect(b).toMatchObject({ stale: true, steps: 0, finalLoss: null, memoryIds: expect.arrayContaining([memoryIds[4]]) });
      for (const b of untouched.filter((u) => !recovered.some((r) => r.level === u.level && r.node === u.node))) expect(await block(b.level, b.node)).toEqual(b);
      // A rewrite retrains them from what the cube still holds.
      await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ rewriteStale: true, epochs: 1, replay: { source: 'none' } }).expect(202);
      await drain();
      for (const b of recovered) expect(await block(b.level, b.node)).toMatchObject({ stale: false, steps: expect.any(Number) });
    });
  });

  describe('bad input', () => {
    it('answers 404 for an unknown model and refuses unknown fields and bad geometry with 400', async () => {
      expect((await h.http.post(banksOf()).set(auth()).send({ ...TINY_BANK, model: 'nope' })).status).toBe(404);
      const unknownField = await h.http.post(banksOf()).set(auth()).send({ ...TINY_BANK, dtype: 'f64' });
      expect(unknownField.status).toBe(400);
      expect((await h.http.post(banksOf()).set(auth()).send({ ...TINY_BANK, blockSizes: [2, 2, 2] })).status).toBe(400);
      expect((await h.http.post(banksOf()).set(auth()).send({ ...TINY_BANK, branching: 1 })).status).toBe(400);
      const badEmbedder = await h.http.post(banksOf()).set(auth()).send({ ...TINY_BANK, embedder: { type: 'hash', dimension: 3 } });
      expect(badEmbedder.status).toBe(400);
      expect(badEmbedder.body.error.details).toEqual([{ field: 'embedder', problems: [expect.stringMatching(/^embedder\.dimension must be/)] }]); // the bank's field, not a cube's
      expect((await h.http.post(banksOf()).set(auth()).send({ ...TINY_BANK, embedder: 'bogus' })).body.error.details[0].field).toBe('embedder');
      expect((await h.http.post(banksOf()).set(auth()).send({ ...TINY_BANK, blockSizes: [0, 0] })).status).toBe(400);
      expect((await h.http.get(banksOf()).set(auth()).expect(200)).body.items).toHaveLength(1);
    });

    it('refuses replay settings out of range or of the wrong shape with 400, saying which field', async () => {
      const bad: Array<[unknown, string]> = [
        [{ source: 'web' }, 'replay.source must be one of anchor, memories, none'],
        [{ perStep: 0 }, 'perStep'],
        [{ perStep: 65 }, 'perStep'],
        [{ weight: -1 }, 'weight'],
        [{ samples: 1.5 }, 'samples'],
        [{ samples: 5000 }, 'samples'],
        [{ temperature: 2 }, 'temperature'],
        ['anchor', 'replay must be a JSON object'],
      ];
      for (const [replay, problem] of bad) {
        const res = await h.http.post(banksOf()).set(auth()).send({ ...TINY_BANK, replay });
        expect(res.status).toBe(400);
        expect(JSON.stringify(res.body)).toContain(problem);
        expect((await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ memoryIds: [memoryIds[1]], replay })).status).toBe(400);
      }
      expect((await h.http.get(banksOf()).set(auth()).expect(200)).body.items).toHaveLength(1);
    });

    it('refuses to build a bank of a cube without active memories', async () => {
      const empty = (await h.factory.cube({ tenantId })).id;
      const res = await h.http.post(banksOf(empty)).set(auth()).send(TINY_BANK);
      expect(res.status).toBe(409);
    });

    it('answers 409 to a chat with a bank built for another model', async () => {
      const res = await h.http
        .post('/v1/chat/completions')
        .set(auth())
        .send({ model: 'tiny-other', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }], engram: { cubeId, bankId } });
      expect(res.status).toBe(409);
      expect(res.body.error.message).toContain('another model');
    });

    it('answers 404 to a write of a memory of another cube or of a deleted memory, 400 to an empty write', async () => {
      const other = (await h.factory.cube({ tenantId })).id;
      const foreign = await addMemory('Dora lives in Quito.', other);
      const res = await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ memoryIds: [foreign] });
      expect(res.status).toBe(404);
      expect((await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({ memoryIds: [memoryIds[0]] })).status).toBe(404);
      expect((await h.http.post(`${banksOf()}/${bankId}/write`).set(auth()).send({})).status).toBe(400);
    });

    it('answers 404 for an unknown bank and for a block outside the bank', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      expect((await h.http.get(`${banksOf()}/${unknown}`).set(auth())).status).toBe(404);
      expect((await h.http.post(`${banksOf()}/${unknown}/write`).set(auth()).send({ memoryIds: [memoryIds[1]] })).status).toBe(404);
      expect((await h.http.delete(`${banksOf()}/${unknown}`).set(auth())).status).toBe(404);
      expect((await h.http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }], engram: { cubeId, bankId: unknown } })).status).toBe(404);
      expect((await h.http.get(`${banksOf()}/${bankId}/blocks/3/0`).set(auth())).status).toBe(404);
      expect((await h.http.get(`${banksOf()}/${bankId}/blocks/1/2`).set(auth())).status).toBe(404);
      expect((await h.http.get(`${banksOf()}/${bankId}/blocks/x/0`).set(auth())).status).toBe(404);
    });
  });

  it('does not reach a bank of another tenant through the caller’s own cube', async () => {
    const stranger = await h.factory.apiKey();
    const own = (await h.factory.cube({ tenantId: stranger.tenantId })).id;
    expect((await h.http.get(`${banksOf(own)}/${bankId}`).set(auth(stranger.key))).status).toBe(404);
    expect((await h.http.get(`${banksOf(own)}/${bankId}/blocks/1/0`).set(auth(stranger.key))).status).toBe(404);
    expect((await h.http.delete(`${banksOf(own)}/${bankId}`).set(auth(stranger.key))).status).toBe(404);
    const chat = await h.http
      .post('/v1/chat/completions')
      .set(auth(stranger.key))
      .send({ model: 'tiny', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }], engram: { cubeId: own, bankId } });
    expect(chat.status).toBe(404);
    expect(JSON.stringify(chat.body)).not.toContain(bankId);
    expect((await getBank()).state).toBe('ready');
  });

  it('deletes a bank, its row and its directory', async () => {
    const dir = path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId);
    expect(fs.existsSync(dir)).toBe(true);
    await h.http.delete(`${banksOf()}/${bankId}`).set(auth()).expect(204);
    expect(fs.existsSync(dir)).toBe(false);
    expect((await h.http.get(`${banksOf()}/${bankId}`).set(auth())).status).toBe(404);
  });

  it('removes the banks of a deleted cube when the purge runs', async () => {
    const cube = (await h.factory.cube({ tenantId })).id;
    await addMemory('Emil repairs clocks in Graz.', cube);
    const id = (await h.http.post(banksOf(cube)).set(auth()).send({ ...TINY_BANK, embedder: { type: 'hash', dimension: 64 } }).expect(202)).body.bankId;
    await drain();
    expect(await getBank(id, cube)).toMatchObject({ state: 'ready', embedderFingerprint: expect.stringContaining('64') });
    await h.http.delete(`/v1/cubes/${cube}`).set(auth()).expect(202);
    await drain();
    expect(fs.existsSync(path.join(h.config.dataDir, 'cubes', cube))).toBe(false);
    expect(await h.app.get(BankRepository).listByCube(cube)).toEqual([]);
  });
});
