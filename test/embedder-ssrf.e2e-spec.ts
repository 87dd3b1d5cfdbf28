import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Scope } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { CubeRepository } from '@engram/persistence';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/**
 * Issue 10, "a tenant can send the operator's key anywhere" (ADR 0104): the operator's key
 * goes only to endpoints the operator named; a tenant URL is refused unless allowed, and
 * then only reaches public addresses; redirects are not followed, answers are capped and
 * error bodies are not echoed. `hostile` stands for any host a tenant would like engram to
 * call: it must never see a request, let alone the key.
 */
interface Listener {
  url: string;
  port: number;
  requests: { method: string; url: string; auth?: string }[];
  close(): Promise<void>;
}

type Mode = 'ok' | 'redirect' | 'huge' | 'error';

const OPERATOR_KEY = 'sk-operator-secret-key';
const DIM = 32;

function listen(handler: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void): Promise<Listener> {
  const requests: Listener['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization });
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        requests,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    }),
  );
}

/** Bag-of-letters vectors, as the other OpenAI-compatible e2e uses. */
function embeddings(body: string): string {
  const parsed = JSON.parse(body) as { input: string[]; model: string };
  const data = parsed.input.map((text, index) => {
    const v = new Array<number>(DIM).fill(0);
    for (const ch of text.toLowerCase()) if (ch >= 'a' && ch <= 'z') v[ch.charCodeAt(0) - 97] += 1;
    return { object: 'embedding', index, embedding: v.map((x) => x / (Math.hypot(...v) || 1)) };
  });
  return JSON.stringify({ object: 'list', data, model: parsed.model });
}

describe('embedding endpoints and the operator key (issue 10)', () => {
  let hostile: Listener;
  let operator: Listener;
  let mode: Mode = 'ok';
  let hugeBytesWritten = 0;

  beforeAll(async () => {
    hostile = await listen((_req, res) => res.end('{}'));
    operator = await listen((_req, res, body) => {
      switch (mode) {
        case 'ok':
          res.setHeader('content-type', 'application/json');
          return res.end(embeddings(body));
        case 'redirect':
          res.writeHead(307, { location: `${hostile.url}/v1/embeddings` });
          return res.end();
        case 'error':
          res.writeHead(500, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ error: { message: 'SECRET-UPSTREAM-DETAIL internal host db-7.corp:5432' } }));
        case 'huge': {
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = Buffer.alloc(64 * 1024, ' ');
          const pump = (): void => {
            while (hugeBytesWritten < 256 * 1024 * 1024 && !res.destroyed) {
              hugeBytesWritten += chunk.length;
              if (!res.write(chunk)) {
                res.once('drain', pump);
                return;
              }
            }
            res.end();
          };
          res.write('{"data":[');
          return pump();
        }
      }
    });
  });
  afterAll(async () => {
    await hostile.close();
    await operator.close();
  });
  afterEach(() => {
    mode = 'ok';
    // Whatever a test did, the hostile host saw nothing: no request, no key.
    expect(hostile.requests).toEqual([]);
  });

  const endpoints = () => ({ local: { baseUrl: `${operator.url}/v1`, model: 'tiny-embed', dimension: DIM, apiKey: OPERATOR_KEY } });

  /** Tenant URLs that point back into the server's own network, however they are spelled. */
  const internalUrls = () => [
    hostile.url,
    `http://localhost:${hostile.port}`,
    `http://[::1]:${hostile.port}`,
    `http://127.1:${hostile.port}`,
    `http://0x7f000001:${hostile.port}`,
    `http://2130706433:${hostile.port}`,
    `http://[::ffff:127.0.0.1]:${hostile.port}`,
    `http://0.0.0.0:${hostile.port}`,
    'http://169.254.169.254/latest/meta-data',
    'http://10.0.0.1:8080',
    'http://[fd00:ec2::254]',
  ];

  describe('tenant URLs off (the default)', () => {
    let h: E2eHarness;
    let key: string;
    let tenantId: string;
    let cubeId: string;
    const auth = () => ({ Authorization: `Bearer ${key}` });
    const addMemory = (cube: string, text: string) => h.http.post(`/v1/cubes/${cube}/memories`).set(auth()).send({ items: [{ text }] });
    const legacyCube = async (embedder: Record<string, unknown>) => {
      const result = await h.app.get(CubeRepository).create({ tenantId, name: `legacy-${Math.random().toString(36).slice(2)}`, description: null, settings: { embedder } });
      if (!result.ok) throw new Error('could not insert the legacy cube');
      return result.cube.id;
    };

    beforeAll(async () => {
      h = await createE2eHarness({ embedders: endpoints() });
      const owner = await h.factory.apiKey();
      key = owner.key;
      tenantId = owner.tenantId;
      cubeId = (await h.http.post('/v1/cubes').set(auth()).send({ name: 'named', settings: { embedder: { type: 'openai', name: 'local' } } }).expect(201)).body.id;
    });
    afterAll(() => h.close());

    it('sends the operator key to the endpoint the operator named, and only there', async () => {
      operator.requests.length = 0;
      await addMemory(cubeId, 'zebra zoo').expect(201);
      expect(operator.requests).toEqual([{ method: 'POST', url: '/v1/embeddings', auth: `Bearer ${OPERATOR_KEY}` }]);
    });

    it('refuses any embedding URL from a tenant at cube creation (400), and calls none', async () => {
      for (const baseUrl of [...internalUrls(), 'https://api.openai.com', `${operator.url}/v1`]) {
        const res = await h.http.post('/v1/cubes').set(auth()).send({ name: 'url', settings: { embedder: { type: 'openai', baseUrl, model: 'tiny-embed', dimension: DIM } } });
        expect(res.status).toBe(400);
        expect(res.body.error.details).toEqual([{ field: 'settings.embedder', problems: [expect.stringMatching(/does not call embedding URLs chosen by tenants.*this server names: local/)] }]);
      }
    });

    it('refuses a tenant URL as a bank embedder too (a key that may build banks)', async () => {
      const modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-ssrf-models-'));
      try {
        createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 1 });
        await h.http.post('/v1/admin/models').set({ Authorization: `Bearer ${h.adminToken}` }).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
        const writer = await h.factory.apiKey({ tenantId, scopes: [Scope.BanksWrite] });
        const res = await h.http
          .post(`/v1/cubes/${cubeId}/banks`)
          .set({ Authorization: `Bearer ${writer.key}` })
          .send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2], embedder: { type: 'openai', baseUrl: hostile.url, model: 'm', dimension: DIM } });
        expect(res.status).toBe(400);
        expect(JSON.stringify(res.body)).toMatch(/does not call embedding URLs chosen by tenants/);
      } finally {
        fs.rmSync(modelsDir, { recursive: true, force: true });
      }
    });

    it('does not follow a redirect from the operator endpoint (503, nothing stored)', async () => {
      mode = 'redirect';
      const res = await addMemory(cubeId, 'never stored after a redirect');
      expect(res.status).toBe(503);
      expect(res.body.error.message).toBe('the cube\'s embedder is unavailable: embedding endpoint "local" answered HTTP 307, a redirect; redirects are not followed; nothing was stored');
    });

    it('cuts off a huge answer while it streams (503, nothing stored)', async () => {
      mode = 'huge';
      hugeBytesWritten = 0;
      const res = await addMemory(cubeId, 'never stored after a huge answer');
      expect(res.status).toBe(503);
      expect(res.body.error.message).toMatch(/^the cube's embedder is unavailable: embedding endpoint "local" answered more than \d+ bytes; the answer was cut off/);
      expect(hugeBytesWritten).toBeLessThan(256 * 1024 * 1024);
      const list = await h.http.get(`/v1/cubes/${cubeId}/memories`).set(auth()).expect(200);
      expect(list.body.items.map((m: { text: string }) => m.text)).toEqual(['zebra zoo']);
    });

    it('answers the status of a failed endpoint without echoing its body', async () => {
      mode = 'error';
      const res = await addMemory(cubeId, 'never stored after an error');
      expect(res.status).toBe(503);
      expect(res.body.error.message).toBe('the cube\'s embedder is unavailable: embedding endpoint "local" answered HTTP 500; nothing was stored');
      expect(JSON.stringify(res.body)).not.toMatch(/SECRET|db-7|127\.0\.0\.1/);
    });

    it('keeps a cube from before ADR 0104 working when the operator names its URL (same model and dimension)', async () => {
      const legacy = await legacyCube({ type: 'openai', baseUrl: `${operator.url}/`, model: 'tiny-embed', dimension: DIM });
      operator.requests.length = 0;
      await addMemory(legacy, 'apple banana').expect(201);
      expect(operator.requests.map((r) => r.auth)).toEqual([`Bearer ${OPERATOR_KEY}`]);
    });

    it('tells what to configure for a cube from before ADR 0104 whose URL nobody named, and calls nothing', async () => {
      const legacy = await legacyCube({ type: 'openai', baseUrl: hostile.url, model: 'tiny-embed', dimension: DIM });
      const res = await addMemory(legacy, 'never sent');
      expect(res.status).toBe(503);
      expect(res.body.error.message).toMatch(/does not call embedding URLs chosen by tenants; the operator can name it in ENGRAM_EMBEDDERS .* or set ENGRAM_ALLOW_TENANT_EMBEDDER_URLS/);
    });
  });

  describe('tenant URLs allowed (ENGRAM_ALLOW_TENANT_EMBEDDER_URLS)', () => {
    let h: E2eHarness;
    let key: string;
    let tenantId: string;
    const auth = () => ({ Authorization: `Bearer ${key}` });
    const createCube = (baseUrl: string) => h.http.post('/v1/cubes').set(auth()).send({ name: 'tenant-url', settings: { embedder: { type: 'openai', baseUrl, model: 'tiny-embed', dimension: DIM } } });

    beforeAll(async () => {
      h = await createE2eHarness({ embedders: endpoints(), allowTenantEmbedderUrls: true, jobMaxAttempts: 1 });
      const owner = await h.factory.apiKey();
      key = owner.key;
      tenantId = owner.tenantId;
    });
    afterAll(() => h.close());

    it('refuses, with 400 at cube creation, a URL that is or resolves to a loopback, private, link-local or metadata address', async () => {
      for (const baseUrl of internalUrls()) {
        const res = await createCube(baseUrl);
        expect({ baseUrl, status: res.status }).toEqual({ baseUrl, status: 400 });
        expect(res.body.error.details[0].problems[0]).toMatch(/an? (loopback|IPv4-mapped loopback|unspecified .*|cloud metadata|private|unique-local) address; only public addresses may be reached/);
      }
      expect((await createCube('http://embed.invalid')).body.error.details[0].problems[0]).toBe('settings.embedder.baseUrl: embed.invalid does not resolve');
    });

    it('refuses a URL whose query, fragment or credentials would change where the request goes', async () => {
      for (const baseUrl of ['https://api.openai.com/v1?', 'https://api.openai.com#', `http://attacker.example/?${hostile.url}`, 'https://user:pass@api.openai.com', 'file:///etc/passwd']) {
        const res = await createCube(baseUrl);
        expect(res.status).toBe(400);
        expect(res.body.error.details[0].problems[0]).toMatch(/^settings\.embedder\.baseUrl (must not contain a query or fragment|must not contain credentials|must be an http or https URL)/);
      }
    });

    it('checks a stored tenant URL again at connect time, and never sends it the key', async () => {
      const result = await h.app.get(CubeRepository).create({ tenantId, name: 'stored-url', description: null, settings: { embedder: { type: 'openai', baseUrl: hostile.url, model: 'tiny-embed', dimension: DIM } } });
      if (!result.ok) throw new Error('could not insert the cube');
      const res = await h.http.post(`/v1/cubes/${result.cube.id}/memories`).set(auth()).send({ items: [{ text: 'never sent' }] });
      expect(res.status).toBe(503);
      expect(res.body.error.message).toMatch(/127\.0\.0\.1 is a loopback address; only public addresses may be reached/);
    });

    it('keeps the bank error as bare as the 503: status, no body', async () => {
      const modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-ssrf-models-'));
      try {
        createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 1 });
        await h.http.post('/v1/admin/models').set({ Authorization: `Bearer ${h.adminToken}` }).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
        const cube = (await h.http.post('/v1/cubes').set(auth()).send({ name: 'bank-cube', settings: { embedder: { type: 'openai', name: 'local' } } }).expect(201)).body.id;
        await h.http.post(`/v1/cubes/${cube}/memories`).set(auth()).send({ items: [{ text: 'alpha' }, { text: 'beta' }, { text: 'gamma' }] }).expect(201);
        mode = 'error';
        const bankId = (await h.http.post(`/v1/cubes/${cube}/banks`).set(auth()).send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2] }).expect(202)).body.bankId;
        await h.app.get(JobRunner).drain();
        const bank = (await h.http.get(`/v1/cubes/${cube}/banks/${bankId}`).set(auth()).expect(200)).body;
        expect(bank.state).toBe('failed');
        expect(bank.error).toMatch(/embedding endpoint "local" answered HTTP 500/);
        expect(bank.error).not.toMatch(/SECRET|db-7/);
      } finally {
        fs.rmSync(modelsDir, { recursive: true, force: true });
      }
    });
  });
});
