import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createTinyModel } from '@engram/inference';
import { ALL_SCOPES } from '@engram/core';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/**
 * The cross-tenant matrix: every tenant route, called with credentials that must not
 * reach the target cube, is refused without data and without a hint that it exists.
 */
interface Route {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: (cubeId: string, memoryId: string, kvCacheId: string, bankId: string) => string;
  body?: object | ((cubeId: string, kvCacheId: string, bankId: string, memoryId: string) => object);
  write: boolean;
}

const CUBE_ROUTES: Route[] = [
  { method: 'get', path: (id) => `/v1/cubes/${id}`, write: false },
  { method: 'get', path: (id) => `/v1/cubes/${id}/stats`, write: false },
  { method: 'get', path: (id) => `/v1/cubes/${id}/export?include=vectors`, write: false },
  { method: 'patch', path: (id) => `/v1/cubes/${id}`, body: { description: 'hijacked' }, write: true },
  { method: 'post', path: (id) => `/v1/cubes/${id}/memories`, body: { items: [{ text: 'planted' }] }, write: true },
  { method: 'post', path: (id) => `/v1/cubes/${id}/messages`, body: { messages: [{ role: 'user', content: 'planted' }] }, write: true },
  { method: 'post', path: (id) => `/v1/cubes/${id}/search`, body: { query: 'victim-secret memory' }, write: false },
  { method: 'get', path: (id) => `/v1/cubes/${id}/memories`, write: false },
  { method: 'get', path: (id, m) => `/v1/cubes/${id}/memories/${m}`, write: false },
  { method: 'patch', path: (id, m) => `/v1/cubes/${id}/memories/${m}`, body: { text: 'hijacked' }, write: true },
  { method: 'get', path: (id, m) => `/v1/cubes/${id}/memories/${m}/history`, write: false },
  { method: 'post', path: (id, m) => `/v1/cubes/${id}/memories/${m}/restore`, write: true },
  { method: 'delete', path: (id, m) => `/v1/cubes/${id}/memories/${m}`, write: true },
  { method: 'post', path: (id) => `/v1/cubes/${id}/kv-caches`, body: { model: 'tiny', text: 'planted' }, write: true },
  { method: 'get', path: (id) => `/v1/cubes/${id}/kv-caches`, write: false },
  { method: 'delete', path: (id, _m, k) => `/v1/cubes/${id}/kv-caches/${k}`, write: true },
  { method: 'post', path: () => '/v1/chat/completions', body: (id, k) => ({ model: 'tiny', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }], engram: { cubeId: id, kvCacheIds: [k] } }), write: false },
  { method: 'post', path: () => '/v1/chat/completions', body: (id) => ({ model: 'tiny', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }], engram: { cubeId: id, memoryText: 'victim-secret memory' } }), write: false },
  { method: 'post', path: (id) => `/v1/cubes/${id}/banks`, body: { model: 'tiny', levels: 1, branching: 2, blockSizes: [1] }, write: true },
  { method: 'get', path: (id) => `/v1/cubes/${id}/banks`, write: false },
  { method: 'get', path: (id, _m, _k, b) => `/v1/cubes/${id}/banks/${b}`, write: false },
  { method: 'get', path: (id, _m, _k, b) => `/v1/cubes/${id}/banks/${b}/blocks/1/0`, write: false },
  { method: 'post', path: (id, _m, _k, b) => `/v1/cubes/${id}/banks/${b}/write`, body: (_id, _k, _b, m) => ({ memoryIds: [m] }), write: true },
  { method: 'delete', path: (id, _m, _k, b) => `/v1/cubes/${id}/banks/${b}`, write: true },
  { method: 'post', path: () => '/v1/chat/completions', body: (id, _k, b) => ({ model: 'tiny', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }], engram: { cubeId: id, bankId: b } }), write: false },
  { method: 'get', path: (id) => `/v1/cubes/${id}/lifecycle`, write: false },
  { method: 'put', path: (id) => `/v1/cubes/${id}/lifecycle`, body: { fusion: { enabled: false } }, write: true },
  { method: 'get', path: (id, m) => `/v1/cubes/${id}/lifecycle/events?memoryId=${m}`, write: false },
  { method: 'post', path: (id) => `/v1/cubes/${id}/lifecycle/run`, body: { dryRun: true }, write: false },
  { method: 'post', path: (id) => `/v1/cubes/${id}/lifecycle/run`, body: {}, write: true },
  { method: 'get', path: (id, m) => `/v1/cubes/${id}/lifecycle/runs/${m}`, write: false },
  { method: 'delete', path: (id) => `/v1/cubes/${id}`, write: true },
];

describe('cross-tenant access', () => {
  let h: E2eHarness;
  let victimCube: { id: string; tenantId: string; name: string };
  let victimOtherCube: { id: string };
  let victimMemoryId: string;
  let victimKvCacheId: string;
  let victimBankId: string;
  let modelsDir: string;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    h = await createE2eHarness();
    victimCube = await h.factory.cube({ name: 'victim-secret' });
    victimOtherCube = await h.factory.cube({ tenantId: victimCube.tenantId });
    // The strongest outsiders: every scope (cubes:export included), only not for this cube.
    keys.otherTenant = (await h.factory.apiKey({ scopes: [...ALL_SCOPES] })).key;
    keys.scopedToOtherCube = (await h.factory.apiKey({ tenantId: victimCube.tenantId, cubeIds: [victimOtherCube.id], scopes: [...ALL_SCOPES] })).key;
    const revoked = await h.factory.apiKey({ tenantId: victimCube.tenantId });
    await h.http.delete(`/v1/admin/tenants/${victimCube.tenantId}/keys/${revoked.id}`).set({ Authorization: `Bearer ${h.adminToken}` }).expect(204);
    keys.revoked = revoked.key;
    keys.readOnly = (await h.factory.apiKey({ tenantId: victimCube.tenantId, scopes: ['memories:read' as never] })).key;
    keys.owner = (await h.factory.apiKey({ tenantId: victimCube.tenantId })).key;
    const stored = await h.http
      .post(`/v1/cubes/${victimCube.id}/memories`)
      .set('Authorization', `Bearer ${keys.owner}`)
      .send({ items: [{ text: 'victim-secret memory: the vault code is zorvex-quill' }] })
      .expect(201);
    victimMemoryId = stored.body.items[0].id;
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, vocab: 280, maxPositionEmbeddings: 128 });
    await h.http.post('/v1/admin/models').set({ Authorization: `Bearer ${h.adminToken}` }).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    const cache = await h.http.post(`/v1/cubes/${victimCube.id}/kv-caches`).set('Authorization', `Bearer ${keys.owner}`).send({ model: 'tiny', memoryIds: [victimMemoryId] }).expect(201);
    victimKvCacheId = cache.body.id;
    const bank = await h.http.post(`/v1/cubes/${victimCube.id}/banks`).set('Authorization', `Bearer ${keys.owner}`).send({ model: 'tiny', levels: 1, branching: 2, blockSizes: [1] }).expect(202);
    victimBankId = bank.body.bankId;
    await h.app.get(JobRunner).drain();
    // An expired key: created valid, then its expiry passes.
    const expiresAt = new Date(Date.now() + 1000);
    const expiring = await h.factory.apiKey({ tenantId: victimCube.tenantId, expiresAt });
    keys.expired = expiring.key;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now() + 50)));
  });

  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  const bodyOf = (route: Route, cubeId: string) => (typeof route.body === 'function' ? route.body(cubeId, victimKvCacheId, victimBankId, victimMemoryId) : route.body);

  const send = (route: Route, cubeId: string, key: string) => {
    const request = h.http[route.method](route.path(cubeId, victimMemoryId, victimKvCacheId, victimBankId)).set('Authorization', `Bearer ${key}`);
    return route.body ? request.send(bodyOf(route, cubeId)) : request;
  };

  const expectNoLeak = (body: unknown) => {
    const text = JSON.stringify(body);
    expect(text).not.toContain('victim-secret');
    expect(text).not.toContain(victimCube.tenantId);
    expect(text).not.toContain('zorvex'); // not hex: request ids in bodies are hex
  };

  describe.each(CUBE_ROUTES)('$method cube route', (route) => {
    it('answers 404 to another tenant, exactly as for a cube that does not exist', async () => {
      const res = await send(route, victimCube.id, keys.otherTenant);
      const missing = await send(route, '00000000-0000-4000-8000-000000000000', keys.otherTenant);
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'not_found', message: missing.body.error.message });
      expectNoLeak(res.body);
    });

    it('answers 404 to a key scoped to another cube of the same tenant', async () => {
      const res = await send(route, victimCube.id, keys.scopedToOtherCube);
      expect(res.status).toBe(404);
      expectNoLeak(res.body);
    });

    it('answers 401 to a revoked key', async () => {
      const res = await send(route, victimCube.id, keys.revoked);
      expect(res.status).toBe(401);
      expectNoLeak(res.body);
    });

    it('answers 401 to an expired key', async () => {
      const res = await send(route, victimCube.id, keys.expired);
      expect(res.status).toBe(401);
    });

    it('answers 401 to a made-up key and to no key', async () => {
      expect((await send(route, victimCube.id, 'egm_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(401);
      const url = route.path(victimCube.id, victimMemoryId, victimKvCacheId, victimBankId);
      const anonymous = route.body ? h.http[route.method](url).send(bodyOf(route, victimCube.id)) : h.http[route.method](url);
      expect((await anonymous).status).toBe(401);
    });

    if (route.write) {
      it('refuses a read-only key of the owner', async () => {
        const res = await send(route, victimCube.id, keys.readOnly);
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      });
    }
  });

  it('leaves the cube and its memories untouched after every refused write', async () => {
    const res = await h.http.get(`/v1/cubes/${victimCube.id}`).set('Authorization', `Bearer ${keys.owner}`).expect(200);
    expect(res.body).toMatchObject({ id: victimCube.id, name: 'victim-secret', description: null });
    const memories = await h.http.get(`/v1/cubes/${victimCube.id}/memories`).set('Authorization', `Bearer ${keys.owner}`).expect(200);
    expect(memories.body.items.map((m: { text: string; version: number }) => [m.text, m.version])).toEqual([['victim-secret memory: the vault code is zorvex-quill', 1]]);
    const caches = await h.http.get(`/v1/cubes/${victimCube.id}/kv-caches`).set('Authorization', `Bearer ${keys.owner}`).expect(200);
    expect(caches.body.items.map((c: { id: string }) => c.id)).toEqual([victimKvCacheId]);
    const banks = await h.http.get(`/v1/cubes/${victimCube.id}/banks`).set('Authorization', `Bearer ${keys.owner}`).expect(200);
    expect(banks.body.items.map((b: { id: string; state: string; generation: number }) => [b.id, b.state, b.generation])).toEqual([[victimBankId, 'ready', 1]]);
  });

  it('answers 404 for a memory id of another cube, even to the owner of both', async () => {
    const res = await h.http.get(`/v1/cubes/${victimOtherCube.id}/memories/${victimMemoryId}`).set('Authorization', `Bearer ${keys.owner}`);
    expect(res.status).toBe(404);
  });

  it('lists only the caller tenant cubes, and only the cubes a scoped key may see', async () => {
    const other = await h.http.get('/v1/cubes').set('Authorization', `Bearer ${keys.otherTenant}`).expect(200);
    expect(other.body.items.map((c: { id: string }) => c.id)).not.toContain(victimCube.id);
    const scoped = await h.http.get('/v1/cubes').set('Authorization', `Bearer ${keys.scopedToOtherCube}`).expect(200);
    expect(scoped.body.items.map((c: { id: string }) => c.id)).toEqual([victimOtherCube.id]);
  });

  it('keeps tenant keys off admin routes and the admin token off tenant routes', async () => {
    const tenantOnAdmin = await h.http.get('/v1/admin/tenants').set('Authorization', `Bearer ${keys.owner}`);
    expect(tenantOnAdmin.status).toBe(404);
    const adminOnTenant = await h.http.get(`/v1/cubes/${victimCube.id}`).set('Authorization', `Bearer ${h.adminToken}`);
    expect(adminOnTenant.status).toBe(404);
    expect(adminOnTenant.body.error.message).toMatch(/^not found for the admin token: tenant routes take an API key of the tenant/);
    expect((await h.http.get('/v1/cubes').set('Authorization', `Bearer ${h.adminToken}`).expect(404)).body.error.message).toMatch(/admin token/);
    const adminRoutes: [method: 'get' | 'put' | 'post', url: string][] = [
      ['get', '/v1/admin/lifecycle-defaults'],
      ['put', '/v1/admin/lifecycle-defaults'],
      ['get', `/v1/admin/tenants/${victimCube.tenantId}/lifecycle-defaults`],
      ['put', `/v1/admin/tenants/${victimCube.tenantId}/lifecycle-defaults`],
      ['get', `/v1/admin/cubes?tenantId=${victimCube.tenantId}`],
      ['post', `/v1/admin/cubes/${victimCube.id}/lifecycle/run`],
      ['get', '/v1/admin/scheduler'],
      ['post', '/v1/admin/scheduler/pause'],
      ['post', '/v1/admin/scheduler/resume'],
      ['post', `/v1/admin/jobs/${victimMemoryId}/retry`],
      ['post', `/v1/admin/jobs/${victimMemoryId}/cancel`],
    ];
    for (const [method, url] of adminRoutes) {
      const res = await h.http[method](url).set('Authorization', `Bearer ${keys.owner}`).send({});
      expect([url, res.status]).toEqual([url, 404]);
      expectNoLeak(res.body);
    }
    const lifecycle = await h.http.get(`/v1/cubes/${victimCube.id}/lifecycle`).set('Authorization', `Bearer ${keys.owner}`).expect(200);
    expect(lifecycle.body.overrides).toEqual({});
  });

  it('does not let a scoped key create cubes outside its list', async () => {
    const res = await h.http.post('/v1/cubes').set('Authorization', `Bearer ${keys.scopedToOtherCube}`).send({ name: 'sneaky' });
    expect(res.status).toBe(403);
  });
});
