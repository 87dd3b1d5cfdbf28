import { DataSource } from 'typeorm';
import { DeferredEmbeddingService } from '@engram/core';
import { DEFAULT_RANKING, SEMANTIC_DENSE_WEIGHT } from '@engram/plaintext';
import { PendingEmbeddingRepository } from '@engram/persistence';
import { createE2eHarness, E2eHarness } from '@engram/testing';

describe('a cube with the use-lite embedder', () => {
  let h: E2eHarness;
  let key: string;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const search = async (query: string) =>
    (await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query, topK: 3, explain: true }).expect(200)).body.results as {
      text: string;
      explain: { dense?: { similarity: number } };
    }[];

  beforeAll(async () => {
    h = await createE2eHarness();
    key = (await h.factory.apiKey()).key;
    cubeId = (await h.http.post('/v1/cubes').set(auth()).send({ name: 'semantic', settings: { embedder: 'use-lite' } }).expect(201)).body.id;
  });
  afterAll(() => h.close());

  it('finds a new memory lexically at once and semantically once it is embedded', async () => {
    const items = [{ text: 'I just adopted a beagle' }, { text: 'I work as a nurse at the city hospital' }, { text: 'My favourite colour is green' }];
    await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items }).expect(201);
    expect((await search('beagle'))[0].text).toBe('I just adopted a beagle');

    await h.app.get(DeferredEmbeddingService).idle();
    const hits = await search('what pet do I have?');
    expect(hits[0].text).toBe('I just adopted a beagle');
    expect(hits[0].explain.dense?.similarity).toBeGreaterThan(0.3);
  });

  it("fuses dense and lexical scores at use-lite's own dense weight, not the hash embedder's", async () => {
    const res = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'what pet do I have?', topK: 10, explain: true }).expect(200);
    const explains = (res.body.results as { explain: { dense: { similarity: number }; lexical: { bm25: number }; fusion: { document: number } } }[]).map((r) => r.explain);
    expect(explains).toHaveLength(3); // every memory is a candidate: the normalisers below see them all
    const fusedAt = (weight: number) => {
      const dense = explains.map((e) => e.dense.similarity);
      const lexical = explains.map((e) => e.lexical.bm25);
      const span = Math.max(Math.max(...dense) - Math.min(...dense), 0.2);
      const maxLexical = Math.max(...lexical);
      return explains.map((_, i) => weight * ((dense[i] - Math.min(...dense)) / span) + (1 - weight) * (maxLexical > 0 ? lexical[i] / maxLexical : 0));
    };
    const semantic = fusedAt(SEMANTIC_DENSE_WEIGHT);
    explains.forEach((e, i) => expect(e.fusion.document).toBeCloseTo(semantic[i], 6));
    expect(explains.some((e, i) => Math.abs(e.fusion.document - fusedAt(DEFAULT_RANKING.denseWeight)[i]) > 1e-3)).toBe(true);
  });

  it('embeds messages and memories added later, and a rewritten text again', async () => {
    const added = await h.http
      .post(`/v1/cubes/${cubeId}/messages`)
      .set(auth())
      .send({ sessionId: 's1', messages: [{ role: 'user', content: 'I am allergic to peanuts' }] })
      .expect(201);
    await h.app.get(DeferredEmbeddingService).idle();
    expect((await search('what food must I avoid?'))[0].text).toBe('I am allergic to peanuts');

    const id = added.body.ids[0] as string;
    await h.http.patch(`/v1/cubes/${cubeId}/memories/${id}`).set(auth()).send({ text: 'I play the cello in an orchestra' }).expect(200);
    const hits = await search('which musical instrument do I play?');
    expect(hits[0].text).toBe('I play the cello in an orchestra');
    expect(hits[0].explain.dense?.similarity).toBeGreaterThan(0.3);
  });

  it('embeds after a restart what an earlier process committed without a vector', async () => {
    // As if the process had stopped between the commit and the embedding.
    await h.app.get(DataSource).query(`UPDATE memories SET embedding = NULL, embedder_fingerprint = NULL WHERE cube_id = $1`, [cubeId]);
    const pending = h.app.get(PendingEmbeddingRepository);
    expect(await pending.countPending(cubeId)).toBe(4);
    expect(await pending.cubesWithPending()).toEqual([cubeId]);
    const deferred = h.app.get(DeferredEmbeddingService);
    await deferred.sweep();
    await deferred.idle();
    expect(await pending.countPending(cubeId)).toBe(0);
    const [row] = (await h.app.get(DataSource).query(`SELECT count(*)::int AS n FROM memories WHERE cube_id = $1 AND embedder_fingerprint = 'use-lite:512:v1'`, [cubeId])) as { n: number }[];
    expect(row.n).toBe(4);
  });
});

describe('the embedder of new cubes (ENGRAM_NEW_CUBE_EMBEDDER)', () => {
  let h: E2eHarness;
  let key: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  beforeAll(async () => {
    h = await createE2eHarness({ newCubeEmbedder: 'use-lite' });
    key = (await h.factory.apiKey()).key;
  });
  afterAll(() => h.close());

  it('writes use-lite into a new cube that names no embedder, and keeps it through a settings update', async () => {
    const created = await h.http.post('/v1/cubes').set(auth()).send({ name: 'default', settings: { team: 'a' } }).expect(201);
    expect(created.body.settings).toEqual({ team: 'a', embedder: 'use-lite' });
    const id = created.body.id as string;
    await h.http.post(`/v1/cubes/${id}/memories`).set(auth()).send({ items: [{ text: 'I just adopted a beagle' }] }).expect(201);
    const updated = await h.http.patch(`/v1/cubes/${id}`).set(auth()).send({ settings: { team: 'b' } }).expect(200);
    expect(updated.body.settings).toEqual({ team: 'b', embedder: 'use-lite' });
    await h.app.get(DeferredEmbeddingService).idle();
    const hits = (await h.http.post(`/v1/cubes/${id}/search`).set(auth()).send({ query: 'what pet do I have?', explain: true }).expect(200)).body.results;
    expect(hits[0].explain.dense.similarity).toBeGreaterThan(0.3);
  });

  it('keeps an embedder the cube names, and reads a cube without one as hash', async () => {
    const hash = await h.http.post('/v1/cubes').set(auth()).send({ name: 'hashed', settings: { embedder: 'hash' } }).expect(201);
    expect(hash.body.settings).toEqual({ embedder: 'hash' });
    // A cube stored before use-lite was the default has no embedder in its settings.
    const legacy = (await h.http.post('/v1/cubes').set(auth()).send({ name: 'legacy' }).expect(201)).body.id as string;
    await h.app.get(DataSource).query(`UPDATE cubes SET settings = '{}'::jsonb WHERE id = $1`, [legacy]);
    await h.http.post(`/v1/cubes/${legacy}/memories`).set(auth()).send({ items: [{ text: 'Alice lives in Paris' }] }).expect(201);
    const rows = (await h.app.get(DataSource).query(`SELECT embedder_fingerprint AS f FROM memories WHERE cube_id = $1`, [legacy])) as { f: string }[];
    expect(rows.map((r) => r.f)).toEqual([expect.stringMatching(/^hash:256:/)]);
  });
});
