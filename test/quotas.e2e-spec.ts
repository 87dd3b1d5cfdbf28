// Per-key rate limits (429 + Retry-After, one count across replicas) and per-tenant quotas
// the operator sets: cubes, memories, inference tokens per minute.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createTinyModel } from '@engram/inference';
import { JobRunner } from '@engram/scheduler';
import { createApp } from '@engram/server';
import { createE2eHarness, E2eHarness } from '@engram/testing';
import supertest from 'supertest';

function binary(res: unknown, done: (error: Error | null, body: unknown) => void): void {
  const chunks: Buffer[] = [];
  const stream = res as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

/** Waits for a fresh minute when the current one is nearly over, so one test stays in one window. */
async function earlyInTheMinute(): Promise<void> {
  const second = new Date().getUTCSeconds();
  if (second > 45) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
}

describe('rate limits and quotas', () => {
  let h: E2eHarness;
  let replica: NestExpressApplication;
  let modelsDir: string;
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

  async function tenantWithKey(body: object = {}): Promise<{ tenantId: string; key: string }> {
    const tenant = (await h.http.post('/v1/admin/tenants').set(admin()).send({ name: `t-${Math.random().toString(36).slice(2)}` }).expect(201)).body;
    const key = (await h.http.post(`/v1/admin/tenants/${tenant.id}/keys`).set(admin()).send({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'inference:run'], ...body }).expect(201)).body.key;
    return { tenantId: tenant.id, key };
  }

  beforeAll(async () => {
    h = await createE2eHarness({ rateLimitPerMinute: 1_000 });
    replica = await createApp(h.config, { quiet: true, runWorker: false });
    await replica.init();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 1 });
    await h.http.post('/v1/admin/models').set(admin()).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
  });
  afterAll(async () => {
    await replica.close();
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('limits a key to its requests per minute across replicas, with 429 and Retry-After', async () => {
    const { key } = await tenantWithKey({ rateLimitPerMinute: 6 });
    const other = await tenantWithKey();
    const second = supertest(replica.getHttpServer());
    await earlyInTheMinute();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await (i % 2 ? second : h.http).get('/v1/cubes').set(bearer(key))).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    const limited = await second.get('/v1/cubes').set(bearer(key));
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringMatching(/6 requests/) });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await h.http.get('/v1/cubes').set(bearer(key))).status).toBe(429);
    // Another key, and the operator, are not affected.
    await h.http.get('/v1/cubes').set(bearer(other.key)).expect(200);
    await h.http.get('/v1/admin/tenants').set(admin()).expect(200);
    const listed = (await h.http.get(`/v1/admin/tenants/${other.tenantId}/keys`).set(admin()).expect(200)).body.items[0];
    expect(listed.rateLimitPerMinute).toBeNull();
  });

  it('enforces the cube and memory quotas the operator sets, storing nothing past them', async () => {
    const { tenantId, key } = await tenantWithKey();
    const set = await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ cubes: 1, memories: 3 }).expect(200);
    expect(set.body.limits).toMatchObject({ cubes: 1, memories: 3 });
    expect(set.body.overrides).toEqual({ cubes: 1, memories: 3 });
    const cube = (await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'only' }).expect(201)).body.id;
    const second = await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'second' }).expect(429);
    expect(second.body.error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'cubes', limit: 1, used: 1 } });
    // A duplicate name is a conflict whatever the quota says (it was "quota exceeded" at the limit); ifExists: return still returns it.
    const taken = await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'only' }).expect(409);
    expect(taken.body.error).toMatchObject({ code: 'conflict', message: 'a cube named "only" already exists' });
    expect((await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'only', ifExists: 'return' }).expect(200)).body.id).toBe(cube);
    await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).send({ items: [{ text: 'one' }, { text: 'two' }] }).expect(201);
    const over = await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).send({ items: [{ text: 'three' }, { text: 'four' }] }).expect(429);
    expect(over.body.error.details).toMatchObject({ quota: 'memories', limit: 3, used: 2 });
    await h.http.post(`/v1/cubes/${cube}/messages`).set(bearer(key)).send({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }).expect(429);
    const report = (await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).expect(200)).body;
    expect(report.usage).toMatchObject({ cubes: 1, memories: 2 });
    // Back to the defaults: the tenant may grow again.
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({}).expect(200);
    await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).send({ items: [{ text: 'three' }, { text: 'four' }] }).expect(201);
    await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'second' }).expect(201);
  });

  it('lets concurrent writes of one server fill the memory quota, not pass it', async () => {
    const { tenantId, key } = await tenantWithKey();
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ memories: 5 }).expect(200);
    const cube = (await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'race' }).expect(201)).body.id;
    // Ten batches of five at once: each used to recount the stored memories before any committed, and six passed (30 stored).
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).send({ items: Array.from({ length: 5 }, (_, j) => ({ text: `batch ${i} item ${j}` })) }).then((r) => r.status)),
    );
    expect(statuses.filter((st) => st === 201)).toHaveLength(1);
    expect(statuses.filter((st) => st === 429)).toHaveLength(9);
    expect((await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).expect(200)).body.usage).toMatchObject({ memories: 5 });
  });

  it('takes a slot to restore a deleted memory, and replays a stored write retried at the limit', async () => {
    const { tenantId, key } = await tenantWithKey();
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ memories: 3 }).expect(200);
    const cube = (await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'full' }).expect(201)).body.id;
    const first = await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).set('Idempotency-Key', 'fill-1').send({ items: [{ text: 'one' }, { text: 'two' }, { text: 'three' }] }).expect(201);
    // The retry of a stored write answers as the write did, though the tenant is at its limit now (it was a 429).
    const again = await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).set('Idempotency-Key', 'fill-1').send({ items: [{ text: 'one' }, { text: 'two' }, { text: 'three' }] }).expect(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    // A new key is a new write: refused.
    await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).set('Idempotency-Key', 'fill-2').send({ items: [{ text: 'four' }] }).expect(429);
    // Delete one, add another, then restore the deleted one: the tenant would hold 4 (restore took no slot).
    const deleted = first.body.items[0].id;
    await h.http.delete(`/v1/cubes/${cube}/memories/${deleted}`).set(bearer(key)).expect(204);
    await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).send({ items: [{ text: 'four' }] }).expect(201);
    const restore = await h.http.post(`/v1/cubes/${cube}/memories/${deleted}/restore`).set(bearer(key)).expect(429);
    expect(restore.body.error.details).toMatchObject({ quota: 'memories', limit: 3, used: 3 });
    expect((await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).expect(200)).body.usage).toMatchObject({ memories: 3 });
    // With room again it comes back.
    await h.http.delete(`/v1/cubes/${cube}/memories/${first.body.items[1].id}`).set(bearer(key)).expect(204);
    await h.http.post(`/v1/cubes/${cube}/memories/${deleted}/restore`).set(bearer(key)).expect(200);
  });

  it('counts an imported cube and its memories against the quotas, storing nothing past them', async () => {
    const { tenantId, key } = await tenantWithKey({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'cubes:export'] });
    const cube = (await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'source', settings: { embedder: 'hash' } }).expect(201)).body.id;
    await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).send({ items: [{ text: 'one' }, { text: 'two' }] }).expect(201);
    const archive = (await h.http.get(`/v1/cubes/${cube}/export`).set(bearer(key)).buffer(true).parse(binary).expect(200)).body as Buffer;
    const importAs = (name: string) => h.http.post(`/v1/cubes/import?name=${name}`).set(bearer(key)).set('Content-Type', 'application/gzip').send(archive);
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ memories: 3 }).expect(200);
    const over = await importAs('copy').expect(429);
    expect(over.body.error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'memories', limit: 3, used: 2 } });
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ memories: 4, cubes: 2 }).expect(200);
    await importAs('copy').expect(201);
    const noCube = await importAs('copy-2').expect(429);
    expect(noCube.body.error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'cubes', limit: 2, used: 2 } });
    const report = (await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).expect(200)).body;
    expect(report.usage).toMatchObject({ cubes: 2, memories: 4 });
    expect((await h.http.get('/v1/cubes').set(bearer(key)).expect(200)).body.items.map((c: { name: string }) => c.name).sort()).toEqual(['copy', 'source']);
  });

  it('counts the KV caches an import rebuilds against the kvBytes quota', async () => {
    const { tenantId, key } = await tenantWithKey({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'cubes:export', 'inference:run'] });
    const cube = (await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'kv-source', settings: { embedder: 'hash' } }).expect(201)).body.id;
    await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).send({ items: [{ text: 'one' }] }).expect(201);
    await h.http.post(`/v1/cubes/${cube}/kv-caches`).set(bearer(key)).send({ model: 'tiny', text: 'a cache of free text' }).expect(201);
    const bytes = (await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).expect(200)).body.usage.kvBytes as number;
    expect(bytes).toBeGreaterThan(0);
    const archive = (await h.http.get(`/v1/cubes/${cube}/export?include=kv`).set(bearer(key)).buffer(true).parse(binary).expect(200)).body as Buffer;
    const importAs = (name: string) => h.http.post(`/v1/cubes/import?name=${name}`).set(bearer(key)).set('Content-Type', 'application/gzip').send(archive);
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ kvBytes: bytes + Math.floor(bytes / 2) }).expect(200);
    const over = await importAs('kv-copy').expect(429);
    expect(over.body.error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'kvBytes', used: bytes } });
    expect((await h.http.get('/v1/cubes').set(bearer(key)).expect(200)).body.items).toHaveLength(1);
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ kvBytes: bytes * 2 }).expect(200);
    expect((await importAs('kv-copy').expect(201)).body.counts).toMatchObject({ memories: 1, kvCaches: 1 });
  });

  it('refuses chat once the tenant’s tokens for the minute are spent, saying when to retry', async () => {
    const { tenantId, key } = await tenantWithKey();
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ inferenceTokensPerMinute: 60 }).expect(200);
    await earlyInTheMinute();
    const chat = () => h.http.post('/v1/chat/completions').set(bearer(key)).send({ model: 'tiny', max_tokens: 8, temperature: 0, messages: [{ role: 'user', content: 'hello there, how are you today?' }] });
    const first = await chat().expect(200);
    const spent = first.body.usage.total_tokens as number;
    expect(spent).toBeGreaterThan(0);
    let refused: supertest.Response | null = null;
    for (let i = 0; i < Math.ceil(60 / spent) + 1 && !refused; i++) {
      const res = await chat();
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(200);
    }
    expect(refused).not.toBeNull();
    expect(refused!.body.error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'inferenceTokensPerMinute', limit: 60 } });
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const report = (await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).expect(200)).body;
    expect(report.usage.inferenceTokensPerMinute).toBeGreaterThan(0);
  });

  it('says a prompt larger than the whole minute’s budget cannot run, without a Retry-After that could never help', async () => {
    const { tenantId, key } = await tenantWithKey();
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ inferenceTokensPerMinute: 10 }).expect(200);
    const res = await h.http.post('/v1/chat/completions').set(bearer(key)).send({ model: 'tiny', max_tokens: 8, messages: [{ role: 'user', content: 'hello there, how are you today?' }] }).expect(429);
    expect(res.body.error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'inferenceTokensPerMinute', limit: 10, requested: expect.any(Number) } });
    expect(res.body.error.message).toMatch(/^the prompt's \d+ tokens are more than the tenant's inference budget of 10 tokens per minute; shorten it, or ask the operator for a larger budget$/);
    expect(res.headers['retry-after']).toBeUndefined();
  });

  it('counts the bytes of the tenant’s bank files against its bank quota before a build is queued', async () => {
    const { tenantId, key } = await tenantWithKey({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'banks:write'] });
    const cube = (await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'banked' }).expect(201)).body.id;
    await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).send({ items: [{ text: 'Alice lives in Lyon' }, { text: 'Bob lives in Basel' }] }).expect(201);
    const bank = { model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2] };
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ bankBytes: 1024 }).expect(200);
    const refused = await h.http.post(`/v1/cubes/${cube}/banks`).set(bearer(key)).send(bank).expect(429);
    expect(refused.body.error.details).toMatchObject({ quota: 'bankBytes', limit: 1024, used: 0 });
    // A request that is wrong anyway is a 400 first, whatever the quota says.
    expect((await h.http.post(`/v1/cubes/${cube}/banks`).set(bearer(key)).send({ ...bank, embedder: 'bogus' }).expect(400)).body.error.details[0].field).toBe('embedder');
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({}).expect(200);
    await h.http.post(`/v1/cubes/${cube}/banks`).set(bearer(key)).send(bank).expect(202);
    const report = (await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).expect(200)).body;
    expect(report.usage.bankBytes).toBeGreaterThan(1024);
  });

  it('counts the banks an import restores against the bankBytes quota', async () => {
    const { tenantId, key } = await tenantWithKey({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'cubes:export', 'banks:write'] });
    const cube = (await h.http.post('/v1/cubes').set(bearer(key)).send({ name: 'bank-source', settings: { embedder: 'hash' } }).expect(201)).body.id;
    await h.http.post(`/v1/cubes/${cube}/memories`).set(bearer(key)).send({ items: [{ text: 'Alice lives in Lyon' }, { text: 'Bob lives in Basel' }] }).expect(201);
    const bankId = (await h.http.post(`/v1/cubes/${cube}/banks`).set(bearer(key)).send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2] }).expect(202)).body.bankId;
    await h.app.get(JobRunner).drain();
    expect((await h.http.get(`/v1/cubes/${cube}/banks/${bankId}`).set(bearer(key)).expect(200)).body.state).toBe('ready');
    const bytes = (await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).expect(200)).body.usage.bankBytes as number;
    const archive = (await h.http.get(`/v1/cubes/${cube}/export?include=banks`).set(bearer(key)).buffer(true).parse(binary).expect(200)).body as Buffer;
    const importAs = (name: string) => h.http.post(`/v1/cubes/import?name=${name}`).set(bearer(key)).set('Content-Type', 'application/gzip').send(archive);
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ bankBytes: bytes + Math.floor(bytes / 2) }).expect(200);
    const over = await importAs('bank-copy').expect(429);
    expect(over.body.error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'bankBytes', used: bytes } });
    expect((await h.http.get('/v1/cubes').set(bearer(key)).expect(200)).body.items).toHaveLength(1);
    await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ bankBytes: bytes * 2 }).expect(200);
    expect((await importAs('bank-copy').expect(201)).body.counts).toMatchObject({ banks: 1 });
  });

  it('keeps the quota routes to the operator and names bad values', async () => {
    const { tenantId, key } = await tenantWithKey();
    await h.http.get(`/v1/admin/tenants/${tenantId}/quotas`).set(bearer(key)).expect(404);
    const bad = await h.http.put(`/v1/admin/tenants/${tenantId}/quotas`).set(admin()).send({ cubes: -1, memories: 'many', tokens: 5 }).expect(400);
    expect(bad.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['cubes', 'memories', 'tokens']);
    await h.http.get('/v1/admin/tenants/00000000-0000-4000-8000-000000000000/quotas').set(admin()).expect(404);
    await h.http.post(`/v1/admin/tenants/${tenantId}/keys`).set(admin()).send({ scopes: ['memories:read'], rateLimitPerMinute: 0 }).expect(400);
  });
});
