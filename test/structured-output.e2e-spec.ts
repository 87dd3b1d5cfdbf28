import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { ModelRuntime } from '@engram/core';
import { createTinyModel } from '@engram/inference';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const PAIR = {
  type: 'object',
  additionalProperties: false,
  required: ['relation', 'merged_text'],
  properties: { relation: { type: 'string', enum: ['duplicate', 'update', 'contradiction', 'independent'] }, merged_text: { type: ['string', 'null'] } },
};

/**
 * Structured output (response_format) on engram's own chat endpoint, and engram serving as
 * the operator LLM of another engram's lifecycle (fusion in llm mode, extraction): the
 * answers of a tiny random model are documents of the schema because decoding is constrained.
 */
describe('structured output, and engram as its own lifecycle LLM', () => {
  let server: E2eHarness; // serves the model
  let modelsDir: string;
  let key: string;
  const constrained: boolean[] = [];
  const chat = (body: object) => server.http.post('/v1/chat/completions').set({ Authorization: `Bearer ${key}` }).send({ model: 'tiny', messages: [{ role: 'user', content: 'Kai likes tea. Kai enjoys tea.' }], ...body });

  beforeAll(async () => {
    server = await createE2eHarness();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 2, hidden: 32, heads: 4, kvHeads: 2, vocab: 300, maxPositionEmbeddings: 1024, seed: 8 });
    await server.http.post('/v1/admin/models').set({ Authorization: `Bearer ${server.adminToken}` }).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    key = (await server.factory.apiKey()).key;
    const runtime = server.app.get(ModelRuntime);
    const generate = runtime.generate.bind(runtime);
    jest.spyOn(runtime, 'generate').mockImplementation((lm, tokens, options) => {
      constrained.push(options.constraint !== undefined);
      return generate(lm, tokens, options);
    });
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('answers a document of the json_schema, streamed or not, and any JSON object for json_object', async () => {
    for (const seed of [1, 2, 3]) {
      const res = await chat({ temperature: 1, seed, max_tokens: 120, response_format: { type: 'json_schema', json_schema: { name: 'pair', strict: true, schema: PAIR } } }).expect(200);
      const answer = JSON.parse(res.body.choices[0].message.content);
      expect(Object.keys(answer).sort()).toEqual(['merged_text', 'relation']);
      expect(PAIR.properties.relation.enum).toContain(answer.relation);
      expect(res.body.choices[0].finish_reason).toBe('stop');
    }
    const object = await chat({ temperature: 0, max_tokens: 60, response_format: { type: 'json_object' } }).expect(200);
    const parsed = JSON.parse(object.body.choices[0].message.content);
    expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);

    const stream = await chat({ temperature: 1, seed: 4, max_tokens: 120, stream: true, response_format: { type: 'json_schema', json_schema: { name: 'pair', schema: PAIR } } }).expect(200);
    const content = stream.text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)).choices[0]?.delta?.content ?? '')
      .join('');
    expect(Object.keys(JSON.parse(content)).sort()).toEqual(['merged_text', 'relation']);

    // Text stays free: the same model does not answer JSON unconstrained.
    const free = await chat({ temperature: 0, max_tokens: 40 }).expect(200);
    expect(() => JSON.parse(free.body.choices[0].message.content)).toThrow();
  });

  it('names what is wrong with a response_format', async () => {
    const fields = async (body: object) => (await chat(body).expect(400)).body.error.details.map((d: { field: string }) => d.field);
    expect(await fields({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string', pattern: '^a' } } } } } })).toEqual([
      'response_format.json_schema.schema.properties.a.pattern',
    ]);
    // Every unsupported keyword at once, wherever it is, so one answer says all there is to change.
    const several = { type: 'object', properties: { a: { type: 'string', pattern: '^a', format: 'email' }, n: { type: 'number', multipleOf: 2 }, l: { type: 'array', items: { type: 'integer', minimum: 0 } } }, anyOf: [{ not: {} }] };
    expect(await fields({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: several } } })).toEqual(
      ['properties.a.pattern', 'properties.a.format', 'properties.n.multipleOf', 'properties.l.items.minimum', 'anyOf[0].not'].map((p) => `response_format.json_schema.schema.${p}`),
    );
    expect(await fields({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } })).toEqual(['response_format.json_schema.schema']);
    // A stop string would cut the document wherever it occurs in it (invalid JSON, finish_reason "stop").
    const stopped = await chat({ stop: ['}'], response_format: { type: 'json_object' } }).expect(400);
    expect(stopped.body.error.details).toEqual([{ field: 'stop', problems: [expect.stringContaining('ends when its JSON document is complete')] }]);
    await chat({ stop: [], max_tokens: 60, response_format: { type: 'json_object' } }).expect(200);
    expect(await fields({ response_format: { type: 'yaml' } })).toEqual(['response_format.type']);
    expect(await fields({ response_format: { type: 'json_schema', json_schema: { name: 'no spaces' , schema: PAIR } } })).toEqual(['response_format.json_schema.name']);
    // A budget the shortest document does not fit in.
    const tight = await chat({ max_tokens: 8, response_format: { type: 'json_schema', json_schema: { name: 'pair', schema: PAIR } } }).expect(400);
    expect(tight.body.error.message).toMatch(/response_format cannot be met.*raise max_tokens/);
  });

  it('serves another engram as its operator LLM: llm-mode fusion and extraction complete with valid answers', async () => {
    await server.app.listen(0, '127.0.0.1');
    const baseUrl = (await server.app.getUrl()).replace('[::1]', '127.0.0.1');
    const client = await createE2eHarness({ jobMaxAttempts: 1, llm: { baseUrl, model: 'tiny', apiKey: key, timeoutMs: 60_000, maxAttempts: 1, tenantDailyTokens: 1_000_000 } });
    try {
      const owner = await client.factory.apiKey();
      const own = { Authorization: `Bearer ${owner.key}` };
      const cube = (await client.factory.cube({ tenantId: owner.tenantId })).id;
      await client.http.put(`/v1/cubes/${cube}/lifecycle`).set(own).send({ fusion: { mode: 'llm' } }).expect(200);
      const calls = constrained.length;
      await client.http.post(`/v1/cubes/${cube}/memories`).set(own).send({ items: [{ text: 'Kai likes green tea' }] }).expect(201);
      await sleep(300);
      await client.app.get(JobRunner).drain();
      await client.http.post(`/v1/cubes/${cube}/memories`).set(own).send({ items: [{ text: 'Kai really enjoys green tea' }] }).expect(201);
      const turns = await client.http.post(`/v1/cubes/${cube}/messages`).set(own).send({ mode: 'extract', messages: [{ role: 'user', content: 'Ines lives in Porto.' }] }).expect(201);
      await sleep(300);
      await client.app.get(JobRunner).drain();

      const db = client.app.get(DataSource);
      const jobs = await db.query(`SELECT name, state, last_error FROM jobs WHERE name IN ('lifecycle.tick', 'lifecycle.extract') ORDER BY created_at`);
      expect(jobs.length).toBeGreaterThanOrEqual(2);
      for (const job of jobs) expect(job).toMatchObject({ state: 'completed', last_error: null });
      // The pair question and the extraction went to engram's own chat, constrained.
      expect(constrained.length - calls).toBeGreaterThanOrEqual(2);
      expect(constrained.slice(calls).every(Boolean)).toBe(true);
      const [{ tokens }] = await db.query(`SELECT COALESCE(sum((value #>> '{}')::bigint), 0)::int AS tokens FROM system_settings WHERE key LIKE $1`, [`llm.tokens:${owner.tenantId}:%`]);
      expect(tokens).toBeGreaterThan(0); // counted from the usage engram's chat reported
      // Raw turns are kept whatever the model extracted.
      for (const id of turns.body.ids) await client.http.get(`/v1/cubes/${cube}/memories/${id}`).set(own).expect(200);
    } finally {
      await client.close();
    }
  });
});
