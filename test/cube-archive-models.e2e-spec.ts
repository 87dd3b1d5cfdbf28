import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { readCubeArchive, Scope } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { JobRunner } from '@engram/scheduler';
import { craftArchive, createE2eHarness, E2eHarness, sha256Hex } from '@engram/testing';

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

  /** The entries of an archive (manifest first), to tamper with and craft again. */
  const entriesOf = async (archive: Buffer) => {
    const entries: { name: string; body: Buffer }[] = [];
    await readCubeArchive(Readable.from([archive]), 1 << 30, {
      manifest: async (m) => void entries.push({ name: 'manifest.json', body: Buffer.from(JSON.stringify(m)) }),
      part: async (part, stream) => {
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        entries.push({ name: part.name, body: Buffer.concat(chunks) });
      },
    });
    return entries;
  };
  /** The bank archive with one part changed, its manifest telling the truth about it (sizes and checksums). */
  const tampered = async (change: (parts: Map<string, Buffer>, manifest: Record<string, unknown>) => void) => {
    const entries = await entriesOf(bankArchive);
    const manifest = JSON.parse(entries[0].body.toString('utf8'));
    const parts = new Map(entries.slice(1).map((e) => [e.name, e.body]));
    change(parts, manifest);
    manifest.parts = manifest.parts.map((p: { name: string }) => ({ ...p, bytes: parts.get(p.name)!.length, sha256: sha256Hex(parts.get(p.name)!) }));
    return craftArchive([{ name: 'manifest.json', body: JSON.stringify(manifest) }, ...[...parts].map(([name, body]) => ({ name, body }))]);
  };
  const bankRow = (parts: Map<string, Buffer>, patch: Record<string, unknown>) => {
    const line = JSON.parse(parts.get('banks.jsonl')!.toString('utf8'));
    line.bank = { ...line.bank, ...patch };
    parts.set('banks.jsonl', Buffer.from(`${JSON.stringify(line)}\n`));
  };
  const leftovers = async () => {
    const cubesDir = path.join(target.config.dataDir, 'cubes');
    const rows = await target.app.get(DataSource).query(`SELECT (SELECT count(*) FROM cubes) AS cubes, (SELECT count(*) FROM banks) AS banks, (SELECT count(*) FROM bank_blocks) AS blocks`);
    return { dirs: fs.existsSync(cubesDir) ? fs.readdirSync(cubesDir).sort() : [], rows };
  };

  it('refuses a bank whose files do not open as the bank runtime opens them, or whose row does not match them; nothing is left behind', async () => {
    const cases: [(parts: Map<string, Buffer>, manifest: Record<string, unknown>) => void, RegExp][] = [
      [(parts) => parts.set('banks/0/bank.bin', parts.get('banks/0/bank.bin')!.subarray(0, 70_000)), /banks\/0: the bank does not open: banks\/0\/bank\.bin is 70000 bytes, its header describes \d+/],
      [(parts) => parts.set('banks/0/bank.bin', Buffer.alloc(1000)), /banks\/0: the bank does not open: banks\/0\/bank\.bin is 1000 bytes, shorter than the 65536-byte header region/],
      [(parts) => parts.set('banks/0/tree.json', Buffer.from('[1, 2]')), /banks\/0: the bank does not open: banks\/0\/tree\.json is not an engram bank tree/],
      [(parts) => parts.set('banks/0/tree.json', Buffer.from('{"format": "engram-bank-tree"}')), /banks\/0: the bank does not open/],
      [
        (parts) => {
          const tree = JSON.parse(parts.get('banks/0/tree.json')!.toString('utf8'));
          tree.nodes[0].count += 1; // the tree's own sha256 no longer covers it
          parts.set('banks/0/tree.json', Buffer.from(JSON.stringify(tree)));
        },
        /banks\/0\/tree\.json fails its own checksum/,
      ],
      [(parts, manifest) => {
        parts.delete('banks/0/tree.json');
        manifest.parts = (manifest.parts as { name: string }[]).filter((p) => p.name !== 'banks/0/tree.json');
      }, /banks\/0: the bank does not open: bank tree banks\/0\/tree\.json cannot be read/],
      [(parts) => bankRow(parts, { ranks: [1_000_000, 2] }), /banks\.jsonl line 1: bank\.ranks must hold one rank \(0 to 1024\) per level \(2\)/],
      [(parts) => bankRow(parts, { ranks: 'x' }), /banks\.jsonl line 1: bank\.ranks must be a list/],
      [(parts) => bankRow(parts, { levels: -1 }), /banks\.jsonl line 1: bank\.levels must be an integer from 1 to 6/],
      [(parts) => bankRow(parts, { branching: 1000 }), /banks\.jsonl line 1: bank\.branching must be an integer from 2 to 64/],
      [(parts) => bankRow(parts, { levels: 6, branching: 64, ranks: [1, 1, 1, 1, 1, 1] }), /banks\.jsonl line 1: bank\.levels and bank\.branching make \d+ blocks \(6 levels of branching 64\); at most 1200000/],
      [(parts) => bankRow(parts, { ranks: [2, 3] }), /banks\.jsonl line 1: bank\.ranks is \[2,3\], its bank file says \[2,2\]/],
      [(parts) => bankRow(parts, { generation: 99 }), /banks\.jsonl line 1: bank\.generation is 99, its bank file says \d+/],
      [(parts) => bankRow(parts, { embedder_fingerprint: 'another-embedder' }), /banks\/0: the bank does not open: .*routes with embedder/],
      [(parts) => bankRow(parts, { state: 'building' }), /banks\.jsonl line 1: bank\.state must be "ready"/],
      [(parts) => bankRow(parts, { replay: null }), /banks\.jsonl line 1: bank\.replay is required/],
    ];
    const before = await leftovers();
    for (const [change, message] of cases) {
      const res = await target.http.post('/v1/cubes/import?name=bad-bank').set(as(keys.target)).set('Content-Type', 'application/gzip').send(await tampered(change));
      expect({ status: res.status, message: res.body.error?.message }).toEqual({ status: 400, message: expect.stringMatching(message) });
      expect(await leftovers()).toEqual(before);
    }
  });

  it("refuses block rows outside the bank's tree", async () => {
    const block = (patch: Record<string, unknown>) => (parts: Map<string, Buffer>) => {
      const line = JSON.parse(parts.get('banks.jsonl')!.toString('utf8'));
      line.blocks[0] = { ...line.blocks[0], ...patch };
      parts.set('banks.jsonl', Buffer.from(`${JSON.stringify(line)}\n`));
    };
    for (const [change, message] of [
      [block({ level: 3 }), /banks\.jsonl line 1: blocks\[0\]\.level must be a level of the bank \(1 to 2\)/],
      [block({ node: 4 }), /banks\.jsonl line 1: blocks\[0\]\.node must be a node of level \d \(0 to \d\)/],
      [block({ written_at: 'later' }), /banks\.jsonl line 1: blocks\[0\]\.written_at must be an ISO-8601 date-time/],
    ] as const) {
      const res = await target.http.post('/v1/cubes/import?name=bad-block').set(as(keys.target)).set('Content-Type', 'application/gzip').send(await tampered(change));
      expect({ status: res.status, message: res.body.error?.message }).toEqual({ status: 400, message: expect.stringMatching(message) });
    }
  });

  it('carries a consolidation policy to the imported bank, and drops it, saying so, when the bank does not come in', async () => {
    const bankId = (await source.http.get(`/v1/cubes/${cubeId}/banks`).set(as(keys.source)).expect(200)).body.items[0].id;
    await source.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(as(keys.source)).send({ consolidation: { bankId, minAccesses: 2 }, archiveAfterIdleDays: 90 }).expect(200);
    const archive = (await source.http.get(`/v1/cubes/${cubeId}/export?include=banks`).set(as(keys.source)).buffer(true).parse(binary).expect(200)).body as Buffer;
    const imported = await target.http.post('/v1/cubes/import?name=consolidating').set(as(keys.target)).set('Content-Type', 'application/gzip').send(archive).expect(201);
    const newBank = (await target.http.get(`/v1/cubes/${imported.body.cube.id}/banks`).set(as(keys.target)).expect(200)).body.items[0].id;
    const policy = (await target.http.get(`/v1/cubes/${imported.body.cube.id}/lifecycle`).set(as(keys.target)).expect(200)).body;
    expect(policy.overrides).toEqual({ consolidation: { bankId: newBank, minAccesses: 2 }, archiveAfterIdleDays: 90 });
    // A key without banks:write restores no bank: the memories come in, the policy without its consolidation, and the answer says so.
    const noBanks = (await target.factory.apiKey({ scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] })).key;
    const res = await target.http.post('/v1/cubes/import?name=consolidating-2').set(as(noBanks)).set('Content-Type', 'application/gzip').send(archive).expect(201);
    expect(res.body.skipped).toEqual(expect.arrayContaining([{ part: 'manifest.json', reason: expect.stringContaining(`lifecyclePolicy.consolidation: bank ${bankId} was not restored`) }]));
    const kept = (await target.http.get(`/v1/cubes/${res.body.cube.id}/lifecycle`).set(as(noBanks)).expect(200)).body;
    expect(kept.overrides).toEqual({ archiveAfterIdleDays: 90 });
    await source.http.put(`/v1/cubes/${cubeId}/lifecycle`).set(as(keys.source)).send({}).expect(200);
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
