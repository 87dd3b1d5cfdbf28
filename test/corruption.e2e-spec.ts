import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CubeIndexManager } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { BankFile, journalPath } from '@engram/parametric';
import { JobRunner } from '@engram/scheduler';
import { createApp } from '@engram/server';
import { createE2eHarness, E2eHarness } from '@engram/testing';
import supertest from 'supertest';

/**
 * The corruption suite (issue 10): every derived file under the data directory — HNSW
 * snapshot (graph, vectors.bin, documents, rows, manifest), KV chunk blobs and entries,
 * the bank file and its journal — has bytes flipped in its middle, is cut in half, or is
 * emptied; the server then reads it again (cube index evicted, or a restart on the same
 * data directory and database) and must answer exactly as before (detected and rebuilt or
 * recomputed from PostgreSQL) or with a clear error envelope: never a different answer.
 */
type Corruption = 'flip' | 'truncate' | 'empty';
const CORRUPTIONS: readonly Corruption[] = ['flip', 'truncate', 'empty'];

/** Flips 16 bytes in the middle of the file, cuts it to half its length, or empties it. */
function corrupt(file: string, how: Corruption): void {
  const data = fs.readFileSync(file);
  if (how === 'empty') return fs.writeFileSync(file, Buffer.alloc(0));
  if (how === 'truncate') return fs.writeFileSync(file, data.subarray(0, Math.floor(data.length / 2)));
  const at = Math.max(0, Math.floor(data.length / 2) - 8);
  for (let i = at; i < Math.min(data.length, at + 16); i++) data[i] ^= 0xff;
  fs.writeFileSync(file, data);
}

function filesUnder(dir: string, suffix: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix)).map((f) => path.join(dir, f)).sort();
}

describe('derived files corrupted while serving', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const FACTS = [
    'Alice Moreau was born in Lyon in 1961.',
    'Alice Moreau works as a glassblower at Verrerie Nord.',
    'Bruno Keller lives in Basel and studies geology.',
    'Bruno Keller was born on a farm near Bern.',
    'Chen Wei plays the cello in the Harbin orchestra.',
    'Chen Wei moved to Harbin in 1999.',
    'Dora Silva grows coffee on a hillside near Quito.',
    'Emil Novak repairs clocks in a workshop in Graz.',
    'Farah Haddad teaches chemistry in Amman.',
    'Greta Lund restores violins in Malmo.',
  ];
  const QUERIES = ['Where was Alice born?', 'Who lives in Basel?', 'cello orchestra', 'coffee Quito', 'clocks Graz workshop', 'chemistry teacher'];
  const drain = () => h.app.get(JobRunner).drain();

  /** Ids of every query's results, in order: what a corrupted snapshot must not change. */
  const searchAll = async (http = h.http) => {
    const out: string[][] = [];
    for (const query of QUERIES) {
      const res = await http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query, topK: 5 }).expect(200);
      out.push(res.body.results.map((i: { id: string }) => i.id));
    }
    return out;
  };
  const chat = (http: ReturnType<typeof supertest>, engram: object) =>
    http.post('/v1/chat/completions').set(auth()).send({ model: 'tiny', max_tokens: 8, temperature: 0, messages: [{ role: 'user', content: 'Where was Alice born?' }], engram });
  /** A second app on the same data directory and database: nothing of the first one's RAM. */
  const withRestart = async <T>(fn: (http: ReturnType<typeof supertest>) => Promise<T>): Promise<T> => {
    const app = await createApp(h.config, { quiet: true, runWorker: false });
    await app.init();
    try {
      return await fn(supertest(app.getHttpServer()));
    } finally {
      await app.close();
    }
  };
  /** Either the answer before the corruption or a clear error envelope; returns which. */
  const identicalOrError = (res: supertest.Response, before: unknown, pick: (body: never) => unknown): 'identical' | 'error' => {
    if (res.status >= 400) {
      expect(res.body).toEqual({ error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }) });
      return 'error';
    }
    expect(res.status).toBe(200);
    expect(pick(res.body as never)).toEqual(before);
    return 'identical';
  };
  const outcomes: string[] = [];

  beforeAll(async () => {
    // indexGraphMinDocuments 0: the small test cube keeps an int8 HNSW graph, so its graph file is damaged too.
    h = await createE2eHarness({ kvChunkTokens: 8, indexGraphMinDocuments: 0 });
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 1 });
    await h.http.post('/v1/admin/models').set(admin()).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    const owner = await h.factory.apiKey();
    key = owner.key;
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const ids: string[] = [];
    for (const text of FACTS) ids.push((await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text }] }).expect(201)).body.items[0].id);
    // A deleted and an edited memory: a snapshot that resurrected or reverted them would be wrong.
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${ids[9]}`).set(auth()).expect(204);
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${ids[7]}`).set(auth()).send({ text: 'Emil Novak repairs bicycles in Linz.' }).expect(200);
    await drain();
  });
  afterAll(async () => {
    // CORRUPTION_TABLE=1 prints what was tried and what came of it (the table).
    if (process.env.CORRUPTION_TABLE && outcomes.length) console.log(`| file | corruption | outcome |\n|---|---|---|\n${outcomes.join('\n')}`);
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  describe('HNSW snapshot (cubes/<id>/hnsw)', () => {
    const dir = () => h.app.get(CubeIndexManager).snapshotDir(cubeId);
    let expected: string[][];
    let intact: Map<string, Buffer>;
    /** Evicts the index and waits for a save a rebuild started, so the next case begins from the intact files. */
    const reload = async () => {
      const manager = h.app.get(CubeIndexManager);
      manager.evict(cubeId);
      const answer = await searchAll();
      const loaded = (manager as unknown as { cubes: Map<string, Promise<{ saving: Promise<void> | null }>> }).cubes.get(cubeId);
      if (loaded) await (await loaded).saving;
      return answer;
    };

    beforeAll(async () => {
      expected = await searchAll(); // built from PostgreSQL
      // A restart saves the index; from then on loads use the snapshot.
      await h.app.get(CubeIndexManager).beforeApplicationShutdown();
      expect(fs.existsSync(path.join(dir(), 'manifest.json'))).toBe(true);
      intact = new Map(fs.readdirSync(dir()).map((f) => [f, fs.readFileSync(path.join(dir(), f))]));
      expect([...intact.keys()].sort()).toEqual(['documents.bin', 'entities.bin', 'graph.bin', 'lexical.bin', 'manifest.json', 'vectors.bin']);
      expect(await reload()).toEqual(expected); // the intact snapshot answers the same
    });

    const files = ['graph.bin', 'vectors.bin', 'manifest.json', 'documents.bin', 'lexical.bin', 'entities.bin'];
    for (const file of files) {
      for (const how of CORRUPTIONS) {
        it(`${file}, ${how}: the same results, rebuilt from PostgreSQL where needed`, async () => {
          fs.rmSync(dir(), { recursive: true, force: true });
          fs.mkdirSync(dir(), { recursive: true });
          for (const [name, data] of intact) fs.writeFileSync(path.join(dir(), name), data);
          corrupt(path.join(dir(), file), how);
          expect(await reload()).toEqual(expected);
          outcomes.push(`| hnsw/${file} | ${how} | identical results |`);
        });
      }
    }

    it('manifest.json damaged so that it still parses (a larger change sequence): later changes are not hidden', async () => {
      fs.rmSync(dir(), { recursive: true, force: true });
      fs.mkdirSync(dir(), { recursive: true });
      for (const [name, data] of intact) fs.writeFileSync(path.join(dir(), name), data);
      const manifestFile = path.join(dir(), 'manifest.json');
      const manifest = fs.readFileSync(manifestFile, 'utf8');
      const seq = /"changeSeq":(\d+)/.exec(manifest)!;
      // A digit more: still valid JSON, and a load would skip the changes up to that number.
      fs.writeFileSync(manifestFile, manifest.replace(seq[0], `"changeSeq":${seq[1]}0`));
      const added = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'Hugo Berg carves cello bodies in Harbin.' }] }).expect(201)).body.items[0].id;
      await drain();
      const answer = await reload();
      expect(answer.flat()).toContain(added);
      await h.http.delete(`/v1/cubes/${cubeId}/memories/${added}`).set(auth()).expect(204);
      await drain();
      expect(await reload()).toEqual(expected);
      outcomes.push('| hnsw/manifest.json | changeSeq × 10 (still parses) | identical: later change found |');
    });
  });

  describe('KV cache chunks and entries (kv/)', () => {
    let cacheId: string;
    let before: string;
    const kvDir = () => path.join(h.config.dataDir, 'kv');
    let intact: Map<string, Buffer>;
    const restore = () => {
      for (const [file, data] of intact) fs.writeFileSync(file, data);
    };
    const answer = (body: { choices: Array<{ message: { content: string } }> }) => body.choices[0].message.content;

    beforeAll(async () => {
      const text = FACTS[0];
      cacheId = (await h.http.post(`/v1/cubes/${cubeId}/kv-caches`).set(auth()).send({ model: 'tiny', text }).expect(201)).body.id;
      before = answer((await chat(h.http, { cubeId, kvCacheIds: [cacheId] }).expect(200)).body);
      const files = [...filesUnder(path.join(kvDir(), 'chunks'), '.ekv'), ...filesUnder(path.join(kvDir(), 'entries'), '.json')];
      expect(files.filter((f) => f.endsWith('.ekv')).length).toBeGreaterThanOrEqual(2);
      intact = new Map(files.map((f) => [f, fs.readFileSync(f)]));
      // A restart with intact files answers the same, from the chunks on disk.
      const restarted = (await withRestart((http) => chat(http, { cubeId, kvCacheIds: [cacheId] }).expect(200))).body;
      expect(answer(restarted)).toBe(before);
      expect(restarted.engram).toMatchObject({ cachedTokens: expect.any(Number), tiers: expect.arrayContaining(['disk']) });
      expect(restarted.engram.cachedTokens).toBeGreaterThan(0);
    });

    for (const how of CORRUPTIONS) {
      it(`every chunk blob, ${how}: refused, the same answer prefilled from the text`, async () => {
        restore();
        for (const file of intact.keys()) if (file.endsWith('.ekv')) corrupt(file, how);
        const res = await withRestart((http) => chat(http, { cubeId, kvCacheIds: [cacheId] }));
        outcomes.push(`| kv/chunks/*.ekv (all) | ${how} | ${identicalOrError(res, before, answer)} (${res.status}), ${res.body.engram?.cachedTokens} tokens from cache |`);
        expect(res.status).toBe(200);
        expect(res.body.engram.cachedTokens).toBe(0); // every chunk refused; recomputed, not trusted
        // The chunks are gone, not the cache: building it again stores them, under the same id.
        const again = await withRestart(async (http) => {
          expect((await http.post(`/v1/cubes/${cubeId}/kv-caches`).set(auth()).send({ model: 'tiny', text: FACTS[0] }).expect(201)).body.id).toBe(cacheId);
          return chat(http, { cubeId, kvCacheIds: [cacheId] }).expect(200);
        });
        expect(answer(again.body)).toBe(before);
        expect(again.body.engram.cachedTokens).toBeGreaterThan(0);
        restore();
      });

      it(`the entry manifest, ${how}: the same answer or a clear error`, async () => {
        restore();
        for (const file of intact.keys()) if (file.endsWith('.json')) corrupt(file, how);
        const res = await withRestart((http) => chat(http, { cubeId, kvCacheIds: [cacheId] }));
        outcomes.push(`| kv/entries/*.json | ${how} | ${identicalOrError(res, before, answer)} (${res.status}), ${res.body.engram?.cachedTokens} tokens from cache |`);
        restore();
      });
    }
  });

  describe('parametric bank (cubes/<id>/banks/<bank>)', () => {
    let bankId: string;
    let before: { content: string; bank: unknown };
    let bankFile: string;
    let intact: Buffer;
    const pick = (body: { choices: Array<{ message: { content: string } }>; engram: { bank: unknown } }) => ({ content: body.choices[0].message.content, bank: body.engram.bank });

    beforeAll(async () => {
      bankId = (await h.http.post(`/v1/cubes/${cubeId}/banks`).set(auth()).send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2] }).expect(202)).body.bankId;
      await drain();
      const bank = (await h.http.get(`/v1/cubes/${cubeId}/banks/${bankId}`).set(auth()).expect(200)).body;
      expect(bank.state).toBe('ready');
      const memoryIds = (await h.http.get(`/v1/cubes/${cubeId}/memories`).set(auth()).expect(200)).body.items.map((m: { id: string }) => m.id);
      await h.http.post(`/v1/cubes/${cubeId}/banks/${bankId}/write`).set(auth()).send({ memoryIds, epochs: 1, replay: { source: 'none' } }).expect(202);
      await drain();
      bankFile = path.join(h.config.dataDir, 'cubes', cubeId, 'banks', bankId, 'bank.bin');
      before = pick((await chat(h.http, { cubeId, bankId }).expect(200)).body);
      intact = fs.readFileSync(bankFile);
      expect(pick((await withRestart((http) => chat(http, { cubeId, bankId }).expect(200))).body)).toEqual(before);
    });

    for (const how of CORRUPTIONS) {
      it(`bank.bin, ${how}: the same answer or a clear error`, async () => {
        fs.writeFileSync(bankFile, intact);
        corrupt(bankFile, how);
        const res = await withRestart((http) => chat(http, { cubeId, bankId }));
        outcomes.push(`| banks/<id>/bank.bin | ${how} | ${identicalOrError(res, before, pick)} (${res.status}) |`);
        fs.writeFileSync(bankFile, intact);
      });
    }

    it('bank.bin, flipped bytes inside a block on the chat’s path: a clear error, not a different answer', async () => {
      fs.writeFileSync(bankFile, intact);
      const path0 = (before.bank as { path: number[] }).path;
      const file = BankFile.open(bankFile);
      const offset = file.slotOffset(2, path0[1]);
      file.close();
      const data = fs.readFileSync(bankFile);
      for (let i = offset + 64; i < offset + 80; i++) data[i] ^= 0xff;
      fs.writeFileSync(bankFile, data);
      const res = await withRestart((http) => chat(http, { cubeId, bankId }));
      outcomes.push(`| banks/<id>/bank.bin | flip inside a block on the path | ${identicalOrError(res, before, pick)} (${res.status}) |`);
      expect(res.status).toBe(500);
      fs.writeFileSync(bankFile, intact);
    });

    for (const sidecar of ['tree.json', 'provenance.json']) {
      for (const how of CORRUPTIONS) {
        it(`${sidecar}, ${how}: the same answer or a clear error`, async () => {
          const file = path.join(path.dirname(bankFile), sidecar);
          const saved = fs.readFileSync(file);
          corrupt(file, how);
          const res = await withRestart((http) => chat(http, { cubeId, bankId }));
          outcomes.push(`| banks/<id>/${sidecar} | ${how} | ${identicalOrError(res, before, pick)} (${res.status}) |`);
          // Chat routes with the tree; the provenance sidecar is only read by writes and recovery.
          if (sidecar === 'provenance.json') expect(res.status).toBe(200);
          fs.writeFileSync(file, saved);
        });
      }
    }

    it('tree.json with one bit of a centroid flipped (still parses): a clear error, not another route', async () => {
      const file = path.join(path.dirname(bankFile), 'tree.json');
      const saved = fs.readFileSync(file);
      const json = JSON.parse(saved.toString('utf8')) as { nodes: Array<{ level: number; index: number; centroid: string }> };
      const node = json.nodes.find((n) => n.level === 1 && n.index === (before.bank as { path: number[] }).path[0])!;
      let at = node.centroid.length >> 1;
      while (!/[B-Yb-y0-9]/.test(node.centroid[at])) at++;
      node.centroid = node.centroid.slice(0, at) + String.fromCharCode(node.centroid.charCodeAt(at) ^ 0x01) + node.centroid.slice(at + 1);
      fs.writeFileSync(file, JSON.stringify(json));
      const res = await withRestart((http) => chat(http, { cubeId, bankId }));
      outcomes.push(`| banks/<id>/tree.json | one bit of a centroid (still parses) | ${identicalOrError(res, before, pick)} (${res.status}) |`);
      expect(res.status).toBe(500);
      fs.writeFileSync(file, saved);
    });

    for (const how of CORRUPTIONS) {
      it(`bank.bin.journal of an unfinished commit, ${how}: dropped as torn, the same answer`, async () => {
        fs.writeFileSync(bankFile, intact);
        // A commit that stopped after its journal (a flag-only change of one block).
        const file = BankFile.open(bankFile);
        const path0 = (before.bank as { path: number[] }).path;
        expect(() => file.commit([{ level: 1, node: path0[0], locked: true }], { afterJournal: true })).toThrow('simulated crash');
        expect(fs.existsSync(journalPath(bankFile))).toBe(true);
        corrupt(journalPath(bankFile), how);
        const res = await withRestart((http) => chat(http, { cubeId, bankId }));
        outcomes.push(`| banks/<id>/bank.bin.journal | ${how} | ${identicalOrError(res, before, pick)} (${res.status}) |`);
        expect(res.status).toBe(200);
        expect(fs.existsSync(journalPath(bankFile))).toBe(false);
        fs.writeFileSync(bankFile, intact);
      });
    }
  });
});
