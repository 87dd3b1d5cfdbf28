// Erase means gone. A canary string goes in through every path that keeps text (memories,
// versions, messages, stored idempotent responses, KV caches, a bank write, the search
// snapshot); after erasing the memories — and separately after deleting a whole cube — it
// must be in no table, in no file under ENGRAM_DATA_DIR, and in no answer of the API.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTinyModel } from '@engram/inference';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/** Every row of every table whose text form contains `needle`, as "table: n". */
async function tablesHolding(url: string, needle: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const tables = (await client.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.t);
    const found: string[] = [];
    for (const t of tables) {
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${t}" x WHERE strpos(x::text, $1) > 0`, [needle]);
      if (rows[0].n > 0) found.push(`${t}: ${rows[0].n}`);
    }
    return found;
  } finally {
    await client.end();
  }
}

/** Files under `dir` whose bytes contain `needle` (UTF-8). */
function filesHolding(dir: string, needle: string): string[] {
  const bytes = Buffer.from(needle, 'utf8');
  const found: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && fs.readFileSync(full).includes(bytes)) found.push(path.relative(dir, full));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return found;
}

describe('erase and purge leave nothing', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
  let writerKey: string;
  let tenantId: string;
  // Letters outside hex, so no request id or hash can contain it by chance.
  const canary = () => `zqx-canary-${randomBytes(6).toString('hex')}-wvy`;
  const auth = (k = key) => ({ Authorization: `Bearer ${k}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const drain = () => h.app.get(JobRunner).drain();

  /** Writes `secret` through every path that keeps text; returns the ids of the memories that hold it. */
  async function plant(cubeId: string, secret: string, options: { bank: boolean }): Promise<string[]> {
    const added = await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).set('Idempotency-Key', `add-${secret}`)
      .send({ items: [{ text: `Dana keeps the spare key under the ${secret} flowerpot`, tags: [secret], metadata: { note: secret }, source: { id: secret } }] })
      .expect(201);
    const memoryId = added.body.items[0].id as string;
    // An edit: the version rows keep the old text.
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${memoryId}`).set(auth()).send({ text: `Dana moved the spare key: ${secret} drawer` }).expect(200);
    const messages = await h.http.post(`/v1/cubes/${cubeId}/messages`).set(auth()).set('Idempotency-Key', `msg-${secret}`)
      .send({ sessionId: 's1', messages: [{ role: 'user', content: `remember the word ${secret} for me` }] })
      .expect(201);
    const messageId = messages.body.ids[0] as string;
    // Unrelated memories the bank and the index keep.
    await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'The boiler is serviced every October.' }, { text: 'Oskar plays chess on Sundays.' }] }).expect(201);
    await h.http.post(`/v1/cubes/${cubeId}/kv-caches`).set(auth()).send({ model: 'tiny', memoryIds: [memoryId] }).expect(201);
    // The first search loads the index and writes its snapshot.
    await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: `spare key ${secret}` }).expect(200);
    if (options.bank) {
      const bank = await h.http.post(`/v1/cubes/${cubeId}/banks`).set(auth()).send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2], replay: { source: 'none' } }).expect(202);
      await drain();
      await h.http.post(`/v1/cubes/${cubeId}/banks/${bank.body.bankId}/write`).set(auth()).send({ memoryIds: [memoryId, messageId], epochs: 2 }).expect(202);
      await drain();
    }
    await waitForSnapshot(cubeId);
    expect(await tablesHolding(h.db.url, secret)).not.toEqual([]); // the canary really went in
    return [memoryId, messageId];
  }

  async function waitForSnapshot(cubeId: string): Promise<void> {
    const dir = path.join(h.config.dataDir, 'cubes', cubeId, 'hnsw');
    for (let i = 0; i < 100 && !fs.existsSync(dir); i++) await new Promise((r) => setTimeout(r, 50));
  }

  beforeAll(async () => {
    h = await createE2eHarness();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 1 });
    await h.http.post('/v1/admin/models').set(admin()).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    const owner = await h.factory.apiKey({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'memories:erase', 'banks:write'] as never });
    key = owner.key;
    tenantId = owner.tenantId;
    writerKey = (await h.factory.apiKey({ tenantId })).key;
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('erases memories for good: no table, no file, no answer holds their text; ids still resolve', async () => {
    const cubeId = (await h.factory.cube({ tenantId })).id;
    const secret = canary();
    const ids = await plant(cubeId, secret, { bank: true });

    for (const id of ids) await h.http.delete(`/v1/cubes/${cubeId}/memories/${id}`).query({ erase: true }).set(auth()).expect(204);
    await drain(); // bank: mark stale, then retrain the blocks without it
    // The next search drops the index that held the vectors and rebuilds it from PostgreSQL.
    const search = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: `spare key ${secret}` }).expect(200);
    expect(JSON.stringify(search.body)).not.toContain(secret);
    await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'boiler' }).expect(200);

    expect(await tablesHolding(h.db.url, secret)).toEqual([]);
    expect(filesHolding(h.config.dataDir, secret)).toEqual([]);
    for (const id of ids) {
      const got = await h.http.get(`/v1/cubes/${cubeId}/memories/${id}`).set(auth());
      expect(got.status).toBe(404); // deleted memories answer 404 on GET…
      const history = await h.http.get(`/v1/cubes/${cubeId}/memories/${id}/history`).set(auth()).expect(200); // …and their history still says who did what
      expect(history.body.items.map((v: { action: string }) => v.action)).toContain('erase');
      expect(JSON.stringify(history.body)).not.toContain(secret);
    }
    const listed = await h.http.get(`/v1/cubes/${cubeId}/memories`).query({ state: 'deleted' }).set(auth()).expect(200);
    expect(listed.body.items.map((m: { id: string }) => m.id).sort()).toEqual([...ids].sort());
    expect(listed.body.items.every((m: { text: string; erasedAt: string | null }) => m.text === '' && m.erasedAt !== null)).toBe(true);
    const audit = await h.http.get('/v1/admin/audit').query({ action: 'memory.erase' }).set(admin()).expect(200);
    expect(audit.body.items).toHaveLength(2);
    expect(JSON.stringify(audit.body)).not.toContain(secret);
    // The bank no longer holds it: no block's provenance names it and none is left stale.
    const banks = await h.http.get(`/v1/cubes/${cubeId}/banks`).set(auth()).expect(200);
    const bank = await h.http.get(`/v1/cubes/${cubeId}/banks/${banks.body.items[0].id}`).set(auth()).expect(200);
    expect(bank.body.occupancy.levels.every((l: { staleBlocks: number }) => l.staleBlocks === 0)).toBe(true);
    for (const node of [0, 1]) {
      const block = await h.http.get(`/v1/cubes/${cubeId}/banks/${bank.body.id}/blocks/1/${node}`).set(auth()).expect(200);
      for (const id of ids) expect(block.body.memoryIds).not.toContain(id);
    }
  });

  it('refuses to restore an erased memory, and erasing again changes nothing', async () => {
    const cubeId = (await h.factory.cube({ tenantId })).id;
    const id = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'short-lived' }] }).expect(201)).body.items[0].id;
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${id}`).query({ erase: 'true' }).set(auth()).expect(204);
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${id}`).query({ erase: 'true' }).set(auth()).expect(204);
    const restore = await h.http.post(`/v1/cubes/${cubeId}/memories/${id}/restore`).set(auth()).expect(409);
    expect(restore.body.error.message).toMatch(/erased/);
  });

  it('needs the memories:erase scope, and answers 404 for another tenant’s memory or a bad flag', async () => {
    const cubeId = (await h.factory.cube({ tenantId })).id;
    const id = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'kept' }] }).expect(201)).body.items[0].id;
    const noScope = await h.http.delete(`/v1/cubes/${cubeId}/memories/${id}`).query({ erase: true }).set(auth(writerKey)).expect(403);
    expect(noScope.body.error.message).toMatch(/memories:erase/);
    const stranger = await h.factory.apiKey({ scopes: ['memories:write', 'memories:erase'] as never });
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${id}`).query({ erase: true }).set(auth(stranger.key)).expect(404);
    await h.http.delete(`/v1/cubes/${cubeId}/memories/${id}`).query({ erase: 'yes' }).set(auth()).expect(400);
    expect((await h.http.get(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).expect(200)).body.text).toBe('kept');
  });

  it('purges a deleted cube: no table, no file holds its text', async () => {
    const cubeId = (await h.factory.cube({ tenantId })).id;
    const secret = canary();
    await plant(cubeId, secret, { bank: false });
    await h.http.delete(`/v1/cubes/${cubeId}`).set(auth()).expect(202);
    await drain();
    expect(await tablesHolding(h.db.url, secret)).toEqual([]);
    expect(filesHolding(h.config.dataDir, secret)).toEqual([]);
    expect(fs.existsSync(path.join(h.config.dataDir, 'cubes', cubeId))).toBe(false);
  });

  it('offboards a tenant: keys stop at once, every cube is purged, the tenant stays as a tombstone', async () => {
    const tenant = (await h.http.post('/v1/admin/tenants').set(admin()).send({ name: 'leaving-co' }).expect(201)).body;
    const leavingKey = (await h.http.post(`/v1/admin/tenants/${tenant.id}/keys`).set(admin()).send({ scopes: ['cubes:write', 'memories:read', 'memories:write'] }).expect(201)).body.key;
    const secret = canary();
    const cubes: string[] = [];
    for (const name of ['a', 'b']) {
      const cube = (await h.http.post('/v1/cubes').set(auth(leavingKey)).send({ name }).expect(201)).body.id as string;
      await h.http.post(`/v1/cubes/${cube}/memories`).set(auth(leavingKey)).set('Idempotency-Key', `k-${name}`).send({ items: [{ text: `the vault code is ${secret}` }] }).expect(201);
      await h.http.post(`/v1/cubes/${cube}/search`).set(auth(leavingKey)).send({ query: 'vault code' }).expect(200);
      cubes.push(cube);
    }
    // Lifecycle defaults of the tenant and a policy of one cube: both go with it.
    await h.http.put(`/v1/admin/tenants/${tenant.id}/lifecycle-defaults`).set(admin()).send({ archiveAfterIdleDays: 30 }).expect(200);
    await h.http.put(`/v1/cubes/${cubes[0]}/lifecycle`).set(auth(leavingKey)).send({ archiveAfterIdleDays: 7 }).expect(200);
    const policyScopes = async () =>
      (await h.app.get(DataSource).query(`SELECT scope FROM lifecycle_policies WHERE scope = ANY($1::text[]) ORDER BY scope`, [[`tenant:${tenant.id}`, ...cubes.map((c) => `cube:${c}`)]])).map((r: { scope: string }) => r.scope);
    expect(await policyScopes()).toEqual([`cube:${cubes[0]}`, `tenant:${tenant.id}`]);
    // Tenants cannot offboard anyone (the route does not exist for them).
    await h.http.delete(`/v1/admin/tenants/${tenant.id}`).set(auth(leavingKey)).expect(404);

    const res = await h.http.delete(`/v1/admin/tenants/${tenant.id}`).set(admin()).expect(200);
    expect(res.body).toEqual({ tenantId: tenant.id, keysRevoked: 1, cubeIds: expect.arrayContaining(cubes), purgeJobIds: [expect.any(String), expect.any(String)] });
    await h.http.get('/v1/cubes').set(auth(leavingKey)).expect(401);
    await drain();
    expect(await tablesHolding(h.db.url, secret)).toEqual([]);
    expect(filesHolding(h.config.dataDir, secret)).toEqual([]);
    for (const cube of cubes) expect(fs.existsSync(path.join(h.config.dataDir, 'cubes', cube))).toBe(false);
    expect(await policyScopes()).toEqual([]);

    const tenants = (await h.http.get('/v1/admin/tenants').set(admin()).expect(200)).body.items;
    expect(tenants.find((t: { id: string }) => t.id === tenant.id)).toMatchObject({ name: 'leaving-co', deletedAt: expect.any(String) });
    const audit = (await h.http.get('/v1/admin/audit').query({ tenantId: tenant.id }).set(admin()).expect(200)).body.items.map((e: { action: string }) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['tenant.create', 'cube.create', 'tenant.offboard', 'cube.purge']));
    await h.http.delete(`/v1/admin/tenants/${tenant.id}`).set(admin()).expect(404);
    await h.http.post(`/v1/admin/tenants/${tenant.id}/keys`).set(admin()).send({ scopes: ['memories:read'] }).expect(404);
    await h.http.post('/v1/admin/tenants').set(admin()).send({ name: 'leaving-co' }).expect(201); // the name is free again
  });
});
