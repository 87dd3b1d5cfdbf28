import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An OpenAI-compatible chat endpoint on 127.0.0.1 whose answers each test decides. */
class FakeLlm {
  readonly requests: { auth: string | undefined; body: { model: string; messages: { role: string; content: string }[]; response_format: { json_schema: { name: string } } } }[] = [];
  failWith: 'none' | '500' | 'garbage' = 'none';
  tokensPerCall = 100;
  pair: (older: string, newer: string) => { relation: string; merged_text: string | null } = () => ({ relation: 'independent', merged_text: null });
  private server!: http.Server;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = JSON.parse(raw);
        this.requests.push({ auth: req.headers.authorization, body });
        if (req.url !== '/v1/chat/completions') return void res.writeHead(404).end();
        if (this.failWith === '500') return void res.writeHead(500).end('{"error":"down"}');
        if (this.failWith === 'garbage') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { content: 'I think they are the same!' } }] }));
        const user = body.messages[body.messages.length - 1].content as string;
        let answer: unknown;
        if (body.response_format.json_schema.name === 'engram_pair') {
          const { older, newer } = JSON.parse(user);
          answer = this.pair(older, newer);
        } else {
          // Facts: "<Name> lives in <City>" wherever a user turn says so.
          const facts = [...user.matchAll(/user: .*?\b([A-Z][a-z]+) (?:lives|moved) (?:in|to) ([A-Z][a-z]+)/g)].map((m) => ({ text: `${m[1]} lives in ${m[2]}`, subject: m[1], predicate: 'lives in', object: m[2] }));
          answer = { facts };
        }
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: JSON.stringify(answer) } }], usage: { total_tokens: this.tokensPerCall } }));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('lifecycle with the operator LLM', () => {
  const llm = new FakeLlm();
  let h: E2eHarness;
  let key: string;
  let tenantId: string;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const drain = async () => {
    await sleep(300);
    await h.app.get(JobRunner).drain();
  };
  const list = async (cube: string, query: Record<string, string>) => (await h.http.get(`/v1/cubes/${cube}/memories`).query(query).set(auth()).expect(200)).body.items;

  beforeAll(async () => {
    const baseUrl = await llm.start();
    h = await createE2eHarness({ jobMaxAttempts: 2, llm: { baseUrl, model: 'fake-model', apiKey: 'sk-operator', timeoutMs: 2000, maxAttempts: 2, tenantDailyTokens: 1000 } });
    const owner = await h.factory.apiKey();
    key = owner.key;
    tenantId = owner.tenantId;
    cubeId = (await h.factory.cube({ tenantId })).id;
  });
  afterAll(async () => {
    await h.close();
    await llm.stop();
  });

  it('keeps the raw turns and adds the extracted facts, linked to them, with schema-constrained calls', async () => {
    const res = await h.http.post(`/v1/cubes/${cubeId}/messages`).set(auth()).send({ mode: 'extract', sessionId: 's1', messages: [{ role: 'user', content: 'Hi! Ines lives in Porto these days.' }, { role: 'assistant', content: 'Nice!' }] }).expect(201);
    await drain();
    const facts = await list(cubeId, { kind: 'fact' });
    expect(facts).toEqual([expect.objectContaining({ text: 'Ines lives in Porto', fact: { subject: 'Ines', predicate: 'lives in', object: 'Porto' }, source: expect.objectContaining({ type: 'extraction', refs: res.body.ids }) })]);
    expect((await list(cubeId, { kind: 'message' })).length).toBe(2);
    const call = llm.requests[llm.requests.length - 1];
    expect(call).toMatchObject({ auth: 'Bearer sk-operator', body: { model: 'fake-model', response_format: { type: 'json_schema', json_schema: { name: 'engram_facts' } } } });

    // A later extraction with a new value supersedes the older fact.
    await h.http.post(`/v1/cubes/${cubeId}/messages`).set(auth()).send({ mode: 'extract', sessionId: 's2', messages: [{ role: 'user', content: 'Ines moved to Lyon last month.' }] }).expect(201);
    await drain();
    await drain();
    const current = await list(cubeId, { kind: 'fact' });
    expect(current.map((m: { text: string }) => m.text)).toEqual(['Ines lives in Lyon']);
    const old = await list(cubeId, { kind: 'fact', state: 'superseded' });
    expect(old).toEqual([expect.objectContaining({ text: 'Ines lives in Porto', supersededBy: current[0].id })]);
  });

  it('retries an LLM that is down or answers garbage, keeps the turns, and shows the failure to the operator', async () => {
    for (const failure of ['500', 'garbage'] as const) {
      llm.failWith = failure;
      const before = llm.requests.length;
      const res = await h.http.post(`/v1/cubes/${cubeId}/messages`).set(auth()).send({ mode: 'extract', messages: [{ role: 'user', content: `Jonas lives in Graz (${failure})` }] }).expect(201);
      await drain();
      const db = h.app.get(DataSource);
      await db.query(`UPDATE jobs SET run_after = now() WHERE name = 'lifecycle.extract' AND state = 'queued'`);
      await drain();
      // Two attempts of the job, each with two calls (the client's own retry).
      expect(llm.requests.length - before).toBe(4);
      const [job] = await db.query(`SELECT state, attempts, last_error FROM jobs WHERE name = 'lifecycle.extract' AND payload->'memoryIds' = $1::jsonb`, [JSON.stringify(res.body.ids)]);
      expect(job).toMatchObject({ state: 'failed', attempts: 2 });
      expect(job.last_error).toMatch(failure === '500' ? /answered 500/ : /not JSON/);
      expect((await h.http.get(`/v1/cubes/${cubeId}/memories/${res.body.ids[0]}`).set(auth()).expect(200)).body).toMatchObject({ state: 'active', version: 1 });
      const scheduler = await h.http.get('/v1/admin/scheduler').set({ Authorization: `Bearer ${h.adminToken}` }).expect(200);
      expect(scheduler.body.lifecycleFailures).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'lifecycle.extract', lastError: job.last_error })]));
    }
    llm.failWith = 'none';
    expect((await list(cubeId, { kind: 'fact' })).map((m: { text: string }) => m.text)).toEqual(['Ines lives in Lyon']);
  });

  it('in llm mode supersedes on an update and merges a duplicate', async () => {
    // A tenant of its own: the budget of the first one went on the failures above.
    const owner = await h.factory.apiKey();
    const own = () => ({ Authorization: `Bearer ${owner.key}` });
    const cube = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    await h.http.put(`/v1/cubes/${cube}/lifecycle`).set(own()).send({ fusion: { mode: 'llm' } }).expect(200);
    llm.pair = (older, newer) =>
      older.includes('Globex') && newer.includes('Initech') ? { relation: 'update', merged_text: null } : older.includes('tea') ? { relation: 'duplicate', merged_text: 'Kai likes and really enjoys green tea' } : { relation: 'independent', merged_text: null };
    const add = async (text: string) => (await h.http.post(`/v1/cubes/${cube}/memories`).set(own()).send({ items: [{ text }] }).expect(201)).body.items[0];
    const job = await add('Kai works at Globex');
    const tea = await add('Kai likes green tea');
    await drain();
    const newJob = await add('Kai works at Initech now');
    const sameTea = await add('Kai really enjoys green tea');
    await drain();
    expect((await h.http.get(`/v1/cubes/${cube}/memories/${job.id}`).set(own())).body).toMatchObject({ state: 'superseded', supersededBy: newJob.id });
    expect((await h.http.get(`/v1/cubes/${cube}/memories/${sameTea.id}`).set(own())).body).toMatchObject({ state: 'merged', mergedInto: tea.id });
    const events = await h.http.get(`/v1/cubes/${cube}/lifecycle/events`).set(own()).expect(200);
    expect(events.body.items.map((e: { action: string; actorId: string }) => [e.action, e.actorId]).sort()).toEqual([['merge', 'fusion.llm'], ['supersede', 'fusion.llm']]);

    // The survivor now says both once: the endpoint's merged text, a new version, searchable, with a new vector.
    const survivor = (await h.http.get(`/v1/cubes/${cube}/memories/${tea.id}`).set(own()).expect(200)).body;
    expect(survivor).toMatchObject({ text: 'Kai likes and really enjoys green tea', state: 'active', version: 2 });
    const merge = events.body.items.find((e: { action: string }) => e.action === 'merge');
    expect(merge.reason).toMatchObject({ rule: 'duplicate', textRewritten: true });
    expect(merge.before[tea.id]).toMatchObject({ text: 'Kai likes green tea' });
    const history = (await h.http.get(`/v1/cubes/${cube}/memories/${tea.id}/history`).set(own()).expect(200)).body.items;
    expect(history[history.length - 1]).toMatchObject({ action: 'absorb', oldValues: expect.objectContaining({ text: 'Kai likes green tea' }), newValues: expect.objectContaining({ text: 'Kai likes and really enjoys green tea' }) });
    const hits = (await h.http.post(`/v1/cubes/${cube}/search`).set(own()).send({ query: 'enjoys green tea', topK: 3 }).expect(200)).body.results;
    expect(hits[0]).toMatchObject({ id: tea.id });
    const db = h.app.get(DataSource);
    const vectorOf = async () => (await db.query(`SELECT embedding IS NOT NULL AS has FROM memories WHERE id = $1`, [tea.id]))[0].has as boolean;
    for (let i = 0; i < 50 && !(await vectorOf()); i++) await sleep(100);
    expect(await vectorOf()).toBe(true);

    // Undoing the merge gives the survivor its own text back (nobody edited it since).
    await h.http.post(`/v1/cubes/${cube}/memories/${sameTea.id}/restore`).set(own()).expect(200);
    expect((await h.http.get(`/v1/cubes/${cube}/memories/${tea.id}`).set(own()).expect(200)).body).toMatchObject({ text: 'Kai likes green tea', version: 3 });
    expect((await h.http.get(`/v1/cubes/${cube}/memories/${sameTea.id}`).set(own()).expect(200)).body).toMatchObject({ text: 'Kai really enjoys green tea', state: 'active', mergedInto: null });
    for (let i = 0; i < 50 && !(await vectorOf()); i++) await sleep(100);
    expect(await vectorOf()).toBe(true);
  });

  it('stops calling the LLM once the tenant\'s daily token budget is spent', async () => {
    const owner = await h.factory.apiKey();
    const cube = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    llm.tokensPerCall = 600;
    const send = () => h.http.post(`/v1/cubes/${cube}/messages`).set({ Authorization: `Bearer ${owner.key}` }).send({ mode: 'extract', messages: [{ role: 'user', content: 'Pia lives in Bern' }] }).expect(201);
    // Until no extraction of the tenant waits: on a loaded machine a call can time out and its retry come due a second later.
    const settle = async () => {
      for (let i = 0; i < 30; i++) {
        await drain();
        const [{ n }] = await h.app.get(DataSource).query(`SELECT count(*)::int AS n FROM jobs WHERE name = 'lifecycle.extract' AND tenant_id = $1 AND state IN ('queued', 'running')`, [owner.tenantId]);
        if (n === 0) return;
      }
      throw new Error('extraction jobs still waiting after 30 drains');
    };
    await send();
    await settle();
    await send();
    await settle();
    const before = llm.requests.length;
    await send();
    await drain();
    llm.tokensPerCall = 100;
    // Two calls (1,200 tokens) spent the 1,000-token budget; the third job fails without a call.
    expect(llm.requests.length - before).toBe(0);
    const failed = await h.app.get(DataSource).query(`SELECT last_error FROM jobs WHERE name = 'lifecycle.extract' AND tenant_id = $1 AND last_error IS NOT NULL`, [owner.tenantId]);
    expect(failed.map((j: { last_error: string }) => j.last_error)).toEqual([expect.stringMatching(/token budget .* is spent \(1200 of 1000\)/)]);
  });
});
