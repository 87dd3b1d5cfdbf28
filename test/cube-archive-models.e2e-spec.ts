import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { readCubeArchive, Scope } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { JobRunner } from '@engram/scheduler';
import { craftArchive, createE2eHarness, E2eHarness } from '@engram/testing';

const SCOPES = [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite, Scope.CubesExport, Scope.InferenceRun, Scope.BanksWrite];
const MEMORIES = ['Alice lives in Paris and works as an engineer.', 'Bob prefers tea over coffee in the morning.'];
const QUESTION = [{ role: 'user', content: 'Where does Alice live?' }];

function binary(res: unknown, done: (error: Error | null, body: unknown) => void): void {
  const chunks: Buffer[] = [];
  const stream = res as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

describe('portable cubes with KV caches: export from one engram, import into another', () => {
  let source: E2eHarness;
  let target: E2eHarness;
  let modelsDir: string;
  const keys = { source: '', target: '' };
  let cubeId: string;
  let cacheId: string;
  let bankArchive: Buffer;
  const as = (key: string) => ({ Authorization: `Bearer ${key}` });
  const admin = (h: E2eHarness) => ({ Authorization: `Bearer ${h.adminToken}` });
  const chat = (h: E2eHarness, key: string, model: string, engram: object) =>
    h.http.post('/v1/chat/completions').set(as(key)).send({ model, max_tokens: 12, temperature: 0, messages: QUESTION, engram }).expect(200);

  beforeAll(async () => {
    [source, target] = await Promise.all([createE2eHarness({ kvChunkTokens: 16 }), createE2eHarness({ kvChunkTokens: 16 })]);
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, maxPositionEmbeddings: 192, seed: 1 });
    createTinyModel({ outDir: path.join(modelsDir, 'tiny-other'), layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, maxPositionEmbeddings: 192, seed: 2 });
    // Banks train blocks: the smallest anchor keeps the test quick.
    createTinyModel({ outDir: path.join(modelsDir, 'tiny-bank'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 3 });
    await source.http.post('/v1/admin/models').set(admin(source)).send({ name: 'tiny-bank', path: path.join(modelsDir, 'tiny-bank') }).expect(201);
    await target.http.post('/v1/admin/models').set(admin(target)).send({ name: 'tiny-bank-here', path: path.join(modelsDir, 'tiny-bank') }).expect(201);
    await source.http.post('/v1/admin/models').set(admin(source)).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    await source.http.post('/v1/admin/models').set(admin(source)).send({ name: 'tiny-other', path: path.join(modelsDir, 'tiny-other') }).expect(201);
    // The target knows the same weights under another name, and not tiny-other at all.
    await target.http.post('/v1/admin/models').set(admin(target)).send({ name: 'tiny-here', path: path.join(modelsDir, 'tiny') }).expect(201);
    keys.source = (await source.factory.apiKey({ scopes: SCOPES })).key;
    keys.target = (await target.factory.apiKey({ scopes: SCOPES })).key;
    cubeId = (await source.http.post('/v1/cubes').set(as(keys.source)).send({ name: 'with-caches' }).expect(201)).body.id;
    const ids = (await source.http.post(`/v1/cubes/${cubeId}/memories`).set(as(keys.source)).send({ items: MEMORIES.map((text) => ({ text })) }).expect(201)).body.items.map((m: { id: string }) => m.id);
    cacheId = (await source.http.post(`/v1/cubes/${cubeId}/kv-caches`).set(as(keys.source)).send({ model: 'tiny', memoryIds: ids }).expect(201)).body.id;
    await source.http.post(`/v1/cubes/${cubeId}/kv-caches`).set(as(keys.source)).send({ model: 'tiny-other', text: 'free text for another model' }).expect(201);
  });
  afterAll(async () => {
    await Promise.all([source?.close(), target?.close()]);
    if (modelsDir) fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('answers the same greedy completion with the imported KV cache, recomputed by the model with the same fingerprint', async () => {
    const before = await chat(source, keys.source, 'tiny', { cubeId, kvCacheIds: [cacheId] });
    expect(before.body.engram.cachedTokens).toBeGreaterThan(0);
    const archive = await source.http.get(`/v1/cubes/${cubeId}/export?include=vectors,kv`).set(as(keys.source)).buffer(true).parse(binary).expect(200);
    const imported = await target.http.post('/v1/cubes/import').set(as(keys.target)).set('Content-Type', 'application/gzip').send(archive.body as Buffer).expect(201);
    expect(imported.body.counts).toMatchObject({ memories: 2, kvCaches: 1, vectorsReused: 2 });
    expect(imported.body.skipped).toEqual([{ part: 'kv-caches.jsonl', reason: expect.stringMatching(/^1 KV cache\(s\) of model fingerprint .*: no model with that fingerprint is registered here$/) }]);
    const newCube = imported.body.cube.id as string;
    const caches = (await target.http.get(`/v1/cubes/${newCube}/kv-caches`).set(as(keys.target)).expect(200)).body.items;
    expect(caches).toHaveLength(1);
    const sourceCache = (await source.http.get(`/v1/cubes/${cubeId}/kv-caches`).set(as(keys.source)).expect(200)).body.items.find((c: { id: string }) => c.id === cacheId);
    expect(caches[0]).toMatchObject({ model: 'tiny-here', tokens: sourceCache.tokens, bytes: sourceCache.bytes });
    const after = await chat(target, keys.target, 'tiny-here', { cubeId: newCube, kvCacheIds: [caches[0].id] });
    expect(after.body.choices[0].message.content).toBe(before.body.choices[0].message.content);
    expect(after.body.engram.cachedTokens).toBe(before.body.engram.cachedTokens);
    // The imported cache's sources are the imported memories: editing one drops the cache.
    const memories = (await target.http.get(`/v1/cubes/${newCube}/memories`).set(as(keys.target)).expect(200)).body.items;
    await target.http.patch(`/v1/cubes/${newCube}/memories/${memories[0].id}`).set(as(keys.target)).send({ text: 'Alice moved to Lyon.' }).expect(200);
    expect((await target.http.get(`/v1/cubes/${newCube}/kv-caches`).set(as(keys.target)).expect(200)).body.items).toEqual([]);
  });

  it('answers the same greedy completion with the imported parametric bank (files, rows and block provenance)', async () => {
    const memoryIds = (await source.http.get(`/v1/cubes/${cubeId}/memories`).set(as(keys.source)).expect(200)).body.items.map((m: { id: string }) => m.id);
    const bankId = (await source.http.post(`/v1/cubes/${cubeId}/banks`).set(as(keys.source)).send({ model: 'tiny-bank', levels: 2, branching: 2, blockSizes: [2, 2], replay: { source: 'none' } }).expect(202)).body.bankId;
    await source.app.get(JobRunner).drain();
    await source.http.post(`/v1/cubes/${cubeId}/banks/${bankId}/write`).set(as(keys.source)).send({ memoryIds, epochs: 2, replay: { source: 'none' } }).expect(202);
    await source.app.get(JobRunner).drain();
    const ask = (h: E2eHarness, key: string, model: string, cube: string, bank: string) =>
      h.http.post('/v1/chat/completions').set(as(key)).send({ model, max_tokens: 6, temperature: 0, messages: [{ role: 'user', content: 'Where does Alice live?' }], engram: { cubeId: cube, bankId: bank } }).expect(200);
    const before = await ask(source, keys.source, 'tiny-bank', cubeId, bankId);
    expect(before.body.engram.bank.rank).toBe(4);
    const sourceBank = (await source.http.get(`/v1/cubes/${cubeId}/banks/${bankId}`).set(as(keys.source)).expect(200)).body;

    const archive = await source.http.get(`/v1/cubes/${cubeId}/export?include=banks,kv`).set(as(keys.source)).buffer(true).parse(binary).expect(200);
    bankArchive = archive.body as Buffer;
    const imported = await target.http.post('/v1/cubes/import?name=with-bank').set(as(keys.target)).set('Content-Type', 'application/gzip').send(archive.body as Buffer).expect(201);
    expect(imported.body.counts).toMatchObject({ memories: 2, banks: 1 });
    const newCube = imported.body.cube.id as string;
    const banks = (await target.http.get(`/v1/cubes/${newCube}/banks`).set(as(keys.target)).expect(200)).body.items;
    expect(banks).toHaveLength(1);
    expect(banks[0]).toMatchObject({ state: 'ready', model: 'tiny-bank-here', generation: sourceBank.generation, levels: 2, branching: 2, blockSizes: [2, 2] });
    const after = await ask(target, keys.target, 'tiny-bank-here', newCube, banks[0].id);
    expect(after.body.choices[0].message.content).toBe(before.body.choices[0].message.content);
    // Routed by the best retrieved memory: the imported cube's copy of it.
    expect(after.body.engram.bank).toEqual({ ...before.body.engram.bank, id: banks[0].id, memoryId: expect.any(String) });
    // Block provenance names the imported memories: forgetting one marks its blocks stale there.
    const importedIds = (await target.http.get(`/v1/cubes/${newCube}/memories`).set(as(keys.target)).expect(200)).body.items.map((m: { id: string }) => m.id);
    expect(importedIds).toContain(after.body.engram.bank.memoryId);
    const path0 = after.body.engram.bank.path;
    const block = (await target.http.get(`/v1/cubes/${newCube}/banks/${banks[0].id}/blocks/1/${path0[0]}`).set(as(keys.target)).expect(200)).body;
    expect(block.written).toBe(true);
    expect(block.memoryIds.every((id: string) => importedIds.includes(id))).toBe(true);
  });

  it('restores banks only for a key that may write banks (banks:write); the rest of the archive comes in', async () => {
    const noBanks = (await target.factory.apiKey({ scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] })).key;
    const res = await target.http.post('/v1/cubes/import?name=no-banks').set(as(noBanks)).set('Content-Type', 'application/gzip').send(bankArchive).expect(201);
    expect(res.body.counts).toMatchObject({ memories: 2, banks: 0 });
    expect(res.body.skipped).toContainEqual({ part: 'banks.jsonl', reason: 'bank 0: this API key lacks the scope banks:write' });
  });

  it('leaves no rows, KV blobs or bank files behind when a bank file fails its checksum', async () => {
    const entries: { name: string; body: Buffer }[] = [];
    await readCubeArchive(Readable.from([bankArchive]), 1 << 30, {
      manifest: async (m) => void entries.push({ name: 'manifest.json', body: Buffer.from(JSON.stringify(m)) }),
      part: async (part, stream) => {
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        entries.push({ name: part.name, body: Buffer.concat(chunks) });
      },
    });
    const bin = entries.find((e) => e.name.endsWith('/bank.bin'))!;
    bin.body = Buffer.from(bin.body);
    bin.body[bin.body.length - 1] ^= 0xff;
    const cubesDir = path.join(target.config.dataDir, 'cubes');
    const kvFiles = () => (fs.existsSync(path.join(target.config.dataDir, 'kv')) ? (fs.readdirSync(path.join(target.config.dataDir, 'kv'), { recursive: true }) as string[]).sort() : []);
    const before = { kv: kvFiles(), dirs: fs.existsSync(cubesDir) ? fs.readdirSync(cubesDir).sort() : [], rows: await target.app.get(DataSource).query(`SELECT (SELECT count(*) FROM cubes) AS cubes, (SELECT count(*) FROM kv_caches) AS kv, (SELECT count(*) FROM banks) AS banks`) };
    const res = await target.http.post('/v1/cubes/import?name=tampered').set(as(keys.target)).set('Content-Type', 'application/gzip').send(await craftArchive(entries)).expect(400);
    expect(res.body.error.message).toMatch(/checksum mismatch in part banks\/0\/bank.bin/);
    const after = { kv: kvFiles(), dirs: fs.existsSync(cubesDir) ? fs.readdirSync(cubesDir).sort() : [], rows: await target.app.get(DataSource).query(`SELECT (SELECT count(*) FROM cubes) AS cubes, (SELECT count(*) FROM kv_caches) AS kv, (SELECT count(*) FROM banks) AS banks`) };
    expect(after).toEqual(before);
  });
});
