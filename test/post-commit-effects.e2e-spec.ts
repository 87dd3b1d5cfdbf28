// What follows a memory write (ADR 0530): the rows derived from it — stale marks of bank blocks
// and working memories, jobs, KV cache rows — commit with the write or not at all, and what
// is not a row (KV files) is cleaned up after the commit without failing the request. A 5xx
// therefore means nothing was stored, and a 2xx is never turned into a 5xx by the cleanup.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { createTinyModel } from '@engram/inference';
import { JobQueueService } from '@engram/core';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

describe('effects after a memory write', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
  let tenantId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => h.app.get(DataSource).query(text, params) as Promise<T[]>;
  const drain = () => h.app.get(JobRunner).drain();

  async function memoryWithCache(text: string): Promise<{ cubeId: string; memoryId: string; entryId: string }> {
    const cubeId = (await h.factory.cube({ tenantId })).id;
    const memoryId = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text }] }).expect(201)).body.items[0].id as string;
    await h.http.post(`/v1/cubes/${cubeId}/kv-caches`).set(auth()).send({ model: 'tiny', memoryIds: [memoryId] }).expect(201);
    const [row] = await sql<{ entry_id: string }>('SELECT entry_id FROM kv_caches WHERE cube_id = $1', [cubeId]);
    return { cubeId, memoryId, entryId: row.entry_id };
  }

  beforeAll(async () => {
    h = await createE2eHarness();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 1 });
    await h.http.post('/v1/admin/models').set(admin()).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    const owner = await h.factory.apiKey({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'memories:erase', 'banks:write'] as never });
    key = owner.key;
    tenantId = owner.tenantId;
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('a KV cache file that cannot be deleted after the commit does not turn a committed edit, delete or erase into a 5xx', async () => {
    for (const change of ['edit', 'delete', 'erase'] as const) {
      const { cubeId, memoryId, entryId } = await memoryWithCache(`The ${change} test: the gate code is 4711`);
      // A real fault of the file system: the cache's manifest path is now a directory that
      // cannot be removed as a file (root included), so deleting the entry throws.
      const manifest = path.join(h.config.dataDir, 'kv', 'entries', `${entryId}.json`);
      expect(fs.existsSync(manifest)).toBe(true);
      fs.rmSync(manifest);
      fs.mkdirSync(manifest);
      fs.writeFileSync(path.join(manifest, 'keep'), 'x');
      try {
        const url = `/v1/cubes/${cubeId}/memories/${memoryId}`;
        if (change === 'edit') {
          const res = await h.http.patch(url).set(auth()).set('If-Match', '1').send({ text: 'The gate code is 9000 now' });
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject({ text: 'The gate code is 9000 now', version: 2 });
        } else {
          const res = await h.http.delete(url).query(change === 'erase' ? { erase: true } : {}).set(auth());
          expect(res.status).toBe(204);
          await h.http.get(url).set(auth()).expect(404);
        }
        // Its row went with the change: no chat can use the cache any more.
        expect(await sql('SELECT 1 FROM kv_caches WHERE cube_id = $1', [cubeId])).toEqual([]);
        expect((await h.http.get(`/v1/cubes/${cubeId}/kv-caches`).set(auth()).expect(200)).body.items).toEqual([]);
      } finally {
        fs.rmSync(manifest, { recursive: true, force: true });
      }
    }
  });

  it('an edit whose derived rows cannot be written stores nothing, so the retry applies it once', async () => {
    const { cubeId, memoryId } = await memoryWithCache('Mara parks on level 3');
    const url = `/v1/cubes/${cubeId}/memories/${memoryId}`;
    // The KV cache rows cannot be deleted: the table is not there.
    await sql('ALTER TABLE kv_caches RENAME TO kv_caches_away');
    try {
      const failed = await h.http.patch(url).set(auth()).set('If-Match', '1').send({ text: 'Mara parks on level 5' });
      expect(failed.status).toBeGreaterThanOrEqual(500);
    } finally {
      await sql('ALTER TABLE kv_caches_away RENAME TO kv_caches');
    }
    // Nothing of it was stored: not the text, not a version, not the audit row.
    const current = (await h.http.get(url).set(auth()).expect(200)).body;
    expect(current).toMatchObject({ text: 'Mara parks on level 3', version: 1 });
    expect((await h.http.get(`${url}/history`).set(auth()).expect(200)).body.items).toHaveLength(1);
    expect(await sql('SELECT 1 FROM kv_caches WHERE cube_id = $1', [cubeId])).toHaveLength(1);
    // The client's retry with the same If-Match applies it (it is not a 412), once.
    const retried = await h.http.patch(url).set(auth()).set('If-Match', '1').send({ text: 'Mara parks on level 5' }).expect(200);
    expect(retried.body).toMatchObject({ text: 'Mara parks on level 5', version: 2 });
    expect(await sql('SELECT 1 FROM kv_caches WHERE cube_id = $1', [cubeId])).toEqual([]);
  });

  it('marks the bank blocks holding an edited memory stale in the edit’s transaction, with the job that rewrites them', async () => {
    const cubeId = (await h.factory.cube({ tenantId })).id;
    const added = await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth())
      .send({ items: [{ text: 'Ilse waters the ferns on Fridays' }, { text: 'The boiler is serviced every October.' }] })
      .expect(201);
    const memoryId = added.body.items[0].id as string;
    const bank = await h.http.post(`/v1/cubes/${cubeId}/banks`).set(auth()).send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2], replay: { source: 'none' } }).expect(202);
    await drain();
    await h.http.post(`/v1/cubes/${cubeId}/banks/${bank.body.bankId}/write`).set(auth()).send({ memoryIds: [memoryId], epochs: 1 }).expect(202);
    await drain();
    const staleBlocks = async () =>
      (await sql<{ n: number }>('SELECT count(*)::int AS n FROM bank_blocks WHERE bank_id = $1 AND stale AND $2::uuid = ANY(memory_ids)', [bank.body.bankId, memoryId]))[0].n;
    const forgetJobs = async () =>
      (await sql<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE name = 'bank.forget' AND payload->>'memoryId' = $1`, [memoryId]))[0].n;
    expect(await sql('SELECT 1 FROM bank_blocks WHERE bank_id = $1 AND $2::uuid = ANY(memory_ids)', [bank.body.bankId, memoryId])).not.toEqual([]);
    expect(await staleBlocks()).toBe(0);
    const forgetsBefore = await forgetJobs();
    const url = `/v1/cubes/${cubeId}/memories/${memoryId}`;

    // The job that rewrites the blocks cannot be queued: neither the edit nor the stale mark is stored.
    await sql('ALTER TABLE jobs RENAME TO jobs_away');
    let failed;
    try {
      failed = await h.http.patch(url).set(auth()).send({ text: 'Ilse waters the ferns on Tuesdays' });
    } finally {
      await sql('ALTER TABLE jobs_away RENAME TO jobs');
    }
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect((await h.http.get(url).set(auth()).expect(200)).body).toMatchObject({ text: 'Ilse waters the ferns on Fridays', version: 1 });
    expect(await staleBlocks()).toBe(0);

    // Applied: the text, the stale mark and the job, together.
    await h.http.patch(url).set(auth()).send({ text: 'Ilse waters the ferns on Tuesdays' }).expect(200);
    expect(await staleBlocks()).toBeGreaterThan(0);
    expect(await forgetJobs()).toBe(forgetsBefore + 1);
  });

  it('the lifecycle sweep fuses a write whose tick was never queued (a crash right after the commit)', async () => {
    const cubeId = (await h.factory.cube({ tenantId })).id;
    await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'Nils takes the 7:40 train' }] }).expect(201);
    // The process died before the tick was queued: no tick job, and no tick ever ran.
    await sql(`DELETE FROM jobs WHERE name = 'lifecycle.tick' AND payload->>'cubeId' = $1`, [cubeId]);
    const processed = async () => Number((await sql<{ s: string }>('SELECT processed_seq AS s FROM cube_lifecycle_state WHERE cube_id = $1', [cubeId]))[0]?.s ?? 0);
    const [{ latest }] = await sql<{ latest: string }>('SELECT max(change_seq) AS latest FROM memories WHERE cube_id = $1', [cubeId]);
    expect(await processed()).toBeLessThan(Number(latest));

    await h.app.get(JobQueueService).enqueueLifecycleSweep(new Date());
    await sql(`UPDATE jobs SET run_after = now() WHERE name = 'lifecycle.sweep' AND state = 'queued'`);
    await drain();
    expect(await processed()).toBeGreaterThanOrEqual(Number(latest));
  });
});

describe('effects after storing messages', () => {
  let h: E2eHarness;
  let key: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => h.app.get(DataSource).query(text, params) as Promise<T[]>;

  beforeAll(async () => {
    // An operator LLM is configured (never called here: the extraction job is only queued).
    h = await createE2eHarness({ llm: { baseUrl: 'http://127.0.0.1:9', model: 'fake-model', apiKey: 'sk-operator', timeoutMs: 2000, maxAttempts: 1, tenantDailyTokens: 1000 } });
    key = (await h.factory.apiKey()).key;
  });
  afterAll(async () => {
    await h.close();
  });

  it('queues the extraction with the turns: a failure stores neither, so a retry without Idempotency-Key stores them once', async () => {
    const owner = await h.factory.apiKey();
    key = owner.key;
    const cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const body = { mode: 'extract', sessionId: 's1', messages: [{ role: 'user', content: 'Hi! Ines lives in Porto.' }, { role: 'assistant', content: 'Nice!' }] };
    await sql('ALTER TABLE jobs RENAME TO jobs_away');
    let failed;
    try {
      failed = await h.http.post(`/v1/cubes/${cubeId}/messages`).set(auth()).send(body);
    } finally {
      await sql('ALTER TABLE jobs_away RENAME TO jobs');
    }
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(await sql('SELECT 1 FROM memories WHERE cube_id = $1', [cubeId])).toEqual([]);

    const stored = await h.http.post(`/v1/cubes/${cubeId}/messages`).set(auth()).send(body).expect(201);
    expect(await sql('SELECT 1 FROM memories WHERE cube_id = $1', [cubeId])).toHaveLength(2);
    const jobs = await sql<{ payload: { memoryIds: string[] } }>(`SELECT payload FROM jobs WHERE name = 'lifecycle.extract' AND payload->>'cubeId' = $1`, [cubeId]);
    expect(jobs.map((j) => j.payload.memoryIds)).toEqual([stored.body.ids]);
  });
});
