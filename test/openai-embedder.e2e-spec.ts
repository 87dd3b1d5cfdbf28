import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/** A small OpenAI-compatible /v1/embeddings server: bag-of-letters vectors, so similar words are close. */
function startEmbeddingServer(): Promise<{ url: string; requests: { auth?: string; model: string }[]; close(): Promise<void> }> {
  const requests: { auth?: string; model: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { input: string[]; model: string };
      requests.push({ auth: req.headers.authorization, model: parsed.model });
      const data = parsed.input.map((text, index) => {
        const v = new Array(32).fill(0);
        for (const ch of text.toLowerCase()) if (ch >= 'a' && ch <= 'z') v[ch.charCodeAt(0) - 97] += 1;
        const norm = Math.hypot(...v) || 1;
        return { object: 'embedding', index, embedding: v.map((x) => x / norm) };
      });
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ object: 'list', data, model: parsed.model }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

describe('a cube with an OpenAI-compatible embedder', () => {
  let h: E2eHarness;
  let key: string;
  let server: Awaited<ReturnType<typeof startEmbeddingServer>>;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    server = await startEmbeddingServer();
    // The operator names the endpoint (loopback is fine for the operator); tenants choose the name.
    h = await createE2eHarness({ embedders: { tiny: { baseUrl: server.url, model: 'tiny-embed', dimension: 32, apiKey: 'sk-test-123' } } });
    key = (await h.factory.apiKey()).key;
    const cube = await h.http
      .post('/v1/cubes')
      .set(auth())
      .send({ name: 'remote', settings: { embedder: { type: 'openai', name: 'tiny' } } })
      .expect(201);
    cubeId = cube.body.id;
  });
  afterAll(async () => {
    await h.close();
    await server.close().catch(() => undefined);
  });

  it('embeds through the endpoint with the configured key and finds memories', async () => {
    await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'zebra zoo' }, { text: 'apple banana' }] }).expect(201);
    const res = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'zebras', topK: 1 }).expect(200);
    expect(res.body.results[0].text).toBe('zebra zoo');
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    expect(server.requests.every((r) => r.auth === 'Bearer sk-test-123' && r.model === 'tiny-embed')).toBe(true);
  });

  it('refuses a name the operator did not configure', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).send({ name: 'bad', settings: { embedder: { type: 'openai', name: 'other' } } });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].problems[0]).toMatch(/must name an embedding endpoint of this server \(this server names: tiny\)/);
  });

  it('answers 503 and stores nothing when the endpoint is down', async () => {
    await server.close();
    const res = await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'never stored' }] });
    expect(res.status).toBe(503);
    expect(res.body.error.message).toBe('the cube\'s embedder is unavailable: could not reach embedding endpoint "tiny"; nothing was stored');
    const list = await h.http.get(`/v1/cubes/${cubeId}/memories`).set(auth()).expect(200);
    expect(list.body.items.map((m: { text: string }) => m.text)).not.toContain('never stored');
  });
});
