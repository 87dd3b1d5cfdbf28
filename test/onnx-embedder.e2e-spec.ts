import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTinyEncoder } from '@engram/inference';
import { createE2eHarness, E2eHarness } from '@engram/testing';

describe('a cube with a local onnx embedder', () => {
  let h: E2eHarness;
  let key: string;
  let cubeId: string;
  const root = mkdtempSync(join(tmpdir(), 'engram-onnx-e2e-'));
  const modelDir = join(root, 'tiny-encoder');
  const auth = () => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    createTinyEncoder({ outDir: modelDir, hidden: 32, heads: 4, layers: 1, seed: 11 });
    h = await createE2eHarness();
    key = (await h.factory.apiKey()).key;
    const cube = await h.http.post('/v1/cubes').set(auth()).send({ name: 'local-onnx', settings: { embedder: { type: 'onnx', path: modelDir } } }).expect(201);
    cubeId = cube.body.id;
  });
  afterAll(async () => {
    await h.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('embeds with the model and finds the matching memory', async () => {
    const items = [{ text: 'Alice lives in Paris' }, { text: 'Bob prefers tea over coffee' }, { text: 'the flight to Tokyo was cancelled' }];
    await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items }).expect(201);
    const res = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'where does Alice live', topK: 1 }).expect(200);
    expect(res.body.results[0].text).toBe('Alice lives in Paris');
    const list = await h.http.get(`/v1/cubes/${cubeId}/memories`).set(auth()).expect(200);
    expect(list.body.items).toHaveLength(3);
  });

  it('searches the dense index with the model vectors (an identical text has similarity ≈ 1)', async () => {
    const res = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'Bob prefers tea over coffee', topK: 1, explain: true }).expect(200);
    expect(res.body.results[0].text).toBe('Bob prefers tea over coffee');
    expect(res.body.results[0].explain.dense.similarity).toBeGreaterThan(0.995); // int8-quantized index
  });

  it('refuses a path that is not a directory', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).send({ name: 'bad', settings: { embedder: { type: 'onnx', path: join(root, 'missing') } } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/must name an existing model directory inside the models folder/);
  });

  it('refuses unknown fields of the onnx embedder', async () => {
    const res = await h.http.post('/v1/cubes').set(auth()).send({ name: 'bad2', settings: { embedder: { type: 'onnx', path: modelDir, dimension: 32 } } });
    expect(res.status).toBe(400);
  });
});
