import { DataSource } from 'typeorm';
import { LifecycleEngine } from '@engram/core';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('memory lifecycle over HTTP', () => {
  let h: E2eHarness;
  let key: string;
  let tenantId: string;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const add = (items: object[], cube = cubeId) => h.http.post(`/v1/cubes/${cube}/memories`).set(auth()).send({ items }).expect(201);
  const get = (id: string, cube = cubeId) => h.http.get(`/v1/cubes/${cube}/memories/${id}`).set(auth()).expect(200);
  /** Lets the debounced ticks come due, then runs every queued job. */
  const settle = async () => {
    await sleep(300);
    await h.app.get(JobRunner).drain();
  };
  const newCube = async () => (await h.factory.cube({ tenantId })).id;

  beforeAll(async () => {
    h = await createE2eHarness();
    const owner = await h.factory.apiKey();
    key = owner.key;
    tenantId = owner.tenantId;
    cubeId = await newCube();
  });
  afterAll(() => h.close());

  it('merges a reworded duplicate into the older memory, keeps the hard negative, and the merged id keeps resolving', async () => {
    const [original] = (await add([{ text: 'Alice moved to Lisbon in 2021', tags: ['home'], source: { refs: ['msg-1'] } }])).body.items;
    const [dup, negative] = (await add([{ text: 'In 2021, alice moved to lisbon!', tags: ['travel'], metadata: { lang: 'en' }, source: { refs: ['msg-2'] } }, { text: 'Alice moved to Berlin in 2021' }])).body.items;
    await settle();

    const merged = await get(dup.id);
    expect(merged.body).toMatchObject({ state: 'merged', mergedInto: original.id });
    const survivor = await get(original.id);
    expect(survivor.body).toMatchObject({ state: 'active', text: 'Alice moved to Lisbon in 2021', metadata: { lang: 'en' } });
    expect(survivor.body.tags.sort()).toEqual(['home', 'travel']);
    expect(survivor.body.source.refs.sort()).toEqual(['msg-1', 'msg-2']);
    expect((await get(negative.id)).body.state).toBe('active');

    const search = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'Alice moved in 2021', topK: 10 }).expect(200);
    expect(search.body.results.map((r: { id: string }) => r.id).sort()).toEqual([original.id, negative.id].sort());
    const withMerged = await h.http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'Alice moved in 2021', topK: 10, filters: { state: ['merged'] } }).expect(200);
    expect(withMerged.body.results.map((r: { id: string }) => r.id)).toEqual([dup.id]);

    const events = await h.http.get(`/v1/cubes/${cubeId}/lifecycle/events`).query({ memoryId: dup.id }).set(auth()).expect(200);
    expect(events.body.items).toEqual([
      expect.objectContaining({ action: 'merge', actorType: 'policy', actorId: 'fusion.rules', memoryIds: expect.arrayContaining([dup.id, original.id]), reason: expect.objectContaining({ rule: 'same-content', targetId: original.id }) }),
    ]);
    expect(events.body.items[0].before[dup.id]).toMatchObject({ state: 'active' });
    expect(events.body.items[0].after[dup.id]).toMatchObject({ state: 'merged', mergedInto: original.id });
  });

  it('never merges conversation turns: the same words said in two sessions stay two turns of their sessions', async () => {
    const cube = await newCube();
    const turns = (sessionId: string) => ({ sessionId, messages: [{ role: 'user', content: 'Please book the table for Friday.' }, { role: 'assistant', content: 'Sure, done.' }, { role: 'user', content: 'Thanks!' }] });
    await h.http.post(`/v1/cubes/${cube}/messages`).set(auth()).send(turns('monday')).expect(201);
    await h.http.post(`/v1/cubes/${cube}/messages`).set(auth()).send(turns('friday')).expect(201);
    await settle();
    for (const sessionId of ['monday', 'friday']) {
      const listed = await h.http.get(`/v1/cubes/${cube}/memories`).query({ sessionId }).set(auth()).expect(200);
      expect(listed.body.items.map((m: { state: string; text: string }) => [m.state, m.text])).toEqual([
        ['active', 'Please book the table for Friday.'],
        ['active', 'Sure, done.'],
        ['active', 'Thanks!'],
      ]);
    }
  });

  it('restores a merged memory, undoes the merge on the survivor, and does not merge it again', async () => {
    const cube = await newCube();
    const [a] = (await add([{ text: 'Bob adopted a cat named Miso', tags: ['pets'] }], cube)).body.items;
    const [b] = (await add([{ text: 'bob adopted a cat named miso.', tags: ['bob'] }], cube)).body.items;
    await settle();
    expect((await get(b.id, cube)).body.state).toBe('merged');

    const restored = await h.http.post(`/v1/cubes/${cube}/memories/${b.id}/restore`).set(auth()).expect(200);
    expect(restored.body).toMatchObject({ state: 'active', mergedInto: null });
    expect((await get(a.id, cube)).body.tags).toEqual(['pets']);
    await h.http.post(`/v1/cubes/${cube}/memories/${b.id}/restore`).set(auth()).expect(409);

    await add([{ text: 'Something unrelated about the weather' }], cube);
    await h.http.post(`/v1/cubes/${cube}/lifecycle/run`).set(auth()).send({}).expect(202);
    await settle();
    expect((await get(b.id, cube)).body.state).toBe('active');
    const history = await h.http.get(`/v1/cubes/${cube}/memories/${b.id}/history`).set(auth()).expect(200);
    expect(history.body.items.map((v: { action: string }) => v.action)).toEqual(['create', 'merge', 'restore']);
  });

  it('does not fuse the same pair twice, with two workers ticking the same cube at once', async () => {
    const cube = await newCube();
    const originals = (await add(['Ola keeps bees in Trondheim', 'Ravi collects vinyl records', 'Sofia runs the Boston marathon'].map((text) => ({ text })), cube)).body.items;
    const copies = (await add(['ola keeps bees in trondheim!', 'By the way, Ravi collects vinyl records.', 'sofia runs the boston marathon'].map((text) => ({ text })), cube)).body.items;
    const engine = h.app.get(LifecycleEngine);
    const [first, second] = await Promise.all([engine.tick(cube), engine.tick(cube)]);
    const applied = [...first.actions, ...second.actions].filter((a) => a.status === 'applied');
    expect(applied.map((a) => a.memoryIds[0]).sort()).toEqual(copies.map((m: { id: string }) => m.id).sort());
    for (const [i, copy] of copies.entries()) expect((await get(copy.id, cube)).body).toMatchObject({ state: 'merged', mergedInto: originals[i].id, version: 2 });
    const events = await h.http.get(`/v1/cubes/${cube}/lifecycle/events`).query({ action: 'merge' }).set(auth()).expect(200);
    expect(events.body.items).toHaveLength(3);
    await settle();
    expect((await h.http.get(`/v1/cubes/${cube}/lifecycle/events`).set(auth()).expect(200)).body.items).toHaveLength(3);
  });

  it('queues the cube’s tick on a delete and a restore, so the change feed is read without waiting for another write', async () => {
    const cube = await newCube();
    const [kept, victim] = (await add([{ text: 'Dana grows tomatoes on her balcony' }, { text: 'Dana learned Portuguese in Porto' }], cube)).body.items;
    await settle();
    const pending = async () => (await h.http.get(`/v1/cubes/${cube}/overview`).set(auth()).expect(200)).body.scheduler.pendingChanges as number;
    expect(await pending()).toBe(0);
    await h.http.delete(`/v1/cubes/${cube}/memories/${victim.id}`).set(auth()).expect(204);
    expect(await pending()).toBe(1);
    await settle();
    expect(await pending()).toBe(0);
    await h.http.post(`/v1/cubes/${cube}/memories/${victim.id}/restore`).set(auth()).expect(200);
    expect(await pending()).toBe(1);
    await settle();
    expect(await pending()).toBe(0);
    expect((await get(kept.id, cube)).body.state).toBe('active');
  });

  it('never touches a pinned memory', async () => {
    const cube = await newCube();
    await add([{ text: 'Carol is allergic to peanuts' }], cube);
    const [pinned] = (await add([{ text: 'carol is allergic to peanuts', pinned: true }], cube)).body.items;
    await settle();
    expect((await get(pinned.id, cube)).body).toMatchObject({ state: 'active', pinned: true });
  });

  it('supersedes an older fact with the same subject and predicate; validAt still finds the history', async () => {
    const cube = await newCube();
    const [old] = (await add([{ text: 'Dana lives in Porto', fact: { subject: 'Dana', predicate: 'lives in', object: 'Porto' }, validFrom: '2020-01-01T00:00:00Z' }], cube)).body.items;
    const [current] = (await add([{ text: 'Dana lives in Oslo now', fact: { subject: ' dana ', predicate: 'Lives  In', object: 'Oslo' }, validFrom: '2023-06-01T00:00:00Z' }], cube)).body.items;
    await settle();
    const stale = await get(old.id, cube);
    expect(stale.body).toMatchObject({ state: 'superseded', supersededBy: current.id, validTo: '2023-06-01T00:00:00.000Z', fact: { subject: 'Dana', predicate: 'lives in', object: 'Porto' } });
    const now = await h.http.post(`/v1/cubes/${cube}/search`).set(auth()).send({ query: 'Where does Dana live?', topK: 5 }).expect(200);
    expect(now.body.results.map((r: { id: string }) => r.id)).toEqual([current.id]);
    const then = await h.http.post(`/v1/cubes/${cube}/search`).set(auth()).send({ query: 'Where does Dana live?', topK: 5, filters: { validAt: '2021-01-01T00:00:00Z' } }).expect(200);
    expect(then.body.results.map((r: { id: string }) => r.id)).toEqual([old.id]);
  });

  it('keeps both values of a multi-valued predicate', async () => {
    const cube = await newCube();
    await h.http.put(`/v1/cubes/${cube}/lifecycle`).set(auth()).send({ invalidation: { multiValued: ['speaks'] } }).expect(200);
    const [a] = (await add([{ text: 'Eve speaks French', fact: { subject: 'Eve', predicate: 'speaks', object: 'French' }, validFrom: '2020-01-01T00:00:00Z' }], cube)).body.items;
    await add([{ text: 'Eve speaks Spanish', fact: { subject: 'Eve', predicate: 'speaks', object: 'Spanish' }, validFrom: '2022-01-01T00:00:00Z' }], cube);
    await settle();
    expect((await get(a.id, cube)).body.state).toBe('active');
  });

  it('refuses extraction when the operator configured no LLM, naming the field', async () => {
    const res = await h.http.post(`/v1/cubes/${cubeId}/messages`).set(auth()).send({ mode: 'extract', messages: [{ role: 'user', content: 'hello' }] }).expect(400);
    expect(res.body.error.details[0].field).toBe('mode');
    await h.http.post(`/v1/cubes/${cubeId}/messages`).set(auth()).send({ mode: 'summarise', messages: [{ role: 'user', content: 'hello' }] }).expect(400);
  });

  it('refuses a fact without subject or predicate, naming the field', async () => {
    const res = await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'x', fact: { subject: 'Eve', object: 'y' } }] }).expect(400);
    expect(JSON.stringify(res.body.error.details)).toContain('items.0.fact.predicate');
  });

  it('validates policies (400 naming the field) and answers the effective policy, inherited field by field', async () => {
    const cube = await newCube();
    const bad = await h.http.put(`/v1/cubes/${cube}/lifecycle`).set(auth()).send({ fusion: { threshold: 3 }, ttl: { byKind: { nope: 1 } } }).expect(400);
    expect(bad.body.error.details.map((p: { field: string }) => p.field).sort()).toEqual(['fusion.threshold', 'ttl.byKind.nope']);
    await h.http.put(`/v1/cubes/${cube}/lifecycle`).set(auth()).send({ surprise: true }).expect(400);
    const llm = await h.http.put(`/v1/cubes/${cube}/lifecycle`).set(auth()).send({ fusion: { mode: 'llm' } }).expect(400);
    expect(llm.body.error.details[0].field).toBe('fusion.mode');

    await h.http.put('/v1/admin/lifecycle-defaults').set(admin()).send({ archiveAfterIdleDays: 365, ttl: { byKind: { message: 90 } } }).expect(200);
    await h.http.put(`/v1/admin/tenants/${tenantId}/lifecycle-defaults`).set(admin()).send({ ttl: { byKind: { message: 30 } }, fusion: { threshold: 0.9 } }).expect(200);
    const put = await h.http.put(`/v1/cubes/${cube}/lifecycle`).set(auth()).send({ fusion: { enabled: false }, ttl: { byTag: { temp: 1 } } }).expect(200);
    expect(put.body.effective).toEqual({
      ttl: { byKind: { message: 30 }, byTag: { temp: 1 } },
      archiveAfterIdleDays: 365,
      fusion: { enabled: false, mode: 'rules', threshold: 0.9 },
      invalidation: { enabled: true, multiValued: [] },
      extraction: { enabled: false },
      consolidation: { bankId: null, minAccesses: 3, minAgeHours: 24, maxPerRun: 64, minRouteSimilarity: 0.3, thresholds: { minRecall: 0.5, maxPerplexityIncrease: 0.05 } },
      activation: { model: null, maxTokens: 1024, debounceMs: 2000 },
    });
    const got = await h.http.get(`/v1/cubes/${cube}/lifecycle`).set(auth()).expect(200);
    expect(got.body).toEqual(put.body);
    const tenantDefaults = await h.http.get(`/v1/admin/tenants/${tenantId}/lifecycle-defaults`).set(admin()).expect(200);
    expect(tenantDefaults.body.effective.ttl.byKind).toEqual({ message: 30 });
    await h.http.put('/v1/admin/lifecycle-defaults').set(admin()).send({}).expect(200);
    await h.http.put(`/v1/admin/tenants/${tenantId}/lifecycle-defaults`).set(admin()).send({}).expect(200);
  });

  it('plans without changing anything on a dry run, then runs and reports the run', async () => {
    const cube = await newCube();
    const [expiring] = (await add([{ text: 'The door code is 4411 until Friday', expiresAt: new Date(Date.now() - 1000).toISOString() }], cube)).body.items;
    const dry = await h.http.post(`/v1/cubes/${cube}/lifecycle/run`).set(auth()).send({ dryRun: true }).expect(200);
    expect(dry.body.actions).toEqual([{ type: 'expire', memoryIds: [expiring.id], reason: expect.objectContaining({ policy: 'ttl', rule: 'expiresAt' }) }]);
    expect((await get(expiring.id, cube)).body.state).toBe('active');

    const started = await h.http.post(`/v1/cubes/${cube}/lifecycle/run`).set(auth()).send({}).expect(202);
    const queued = await h.http.get(`/v1/cubes/${cube}/lifecycle/runs/${started.body.runId}`).set(auth()).expect(200);
    expect(queued.body.status).toBe('queued');
    await settle();
    const done = await h.http.get(`/v1/cubes/${cube}/lifecycle/runs/${started.body.runId}`).set(auth()).expect(200);
    expect(done.body).toMatchObject({ status: 'done', actions: [expect.objectContaining({ type: 'expire', memoryIds: [expiring.id], status: 'applied' })] });
    expect((await get(expiring.id, cube)).body.state).toBe('expired');
    const restored = await h.http.post(`/v1/cubes/${cube}/memories/${expiring.id}/restore`).set(auth()).expect(200);
    expect(restored.body).toMatchObject({ state: 'active', expiresAt: null });
  });

  it('sweeps TTLs in batches, leaves pinned memories, and lets a person\'s edit made after planning win', async () => {
    const cube = await newCube();
    await h.http.put(`/v1/cubes/${cube}/lifecycle`).set(auth()).send({ ttl: { byTag: { temp: 0.00001 } } }).expect(200);
    const stored = (await add([1, 2, 3, 4].map((i) => ({ text: `temporary note number ${i}`, tags: ['temp'], pinned: i === 4 })), cube)).body.items;
    await sleep(1100);
    const engine = h.app.get(LifecycleEngine);
    const cubeRecord = (await engine.liveCube(cube))!;
    const plan = (await engine.plan(cubeRecord)).filter((a) => a.type === 'expire');
    expect(plan.map((a) => a.memoryIds[0]).sort()).toEqual(stored.slice(0, 3).map((m: { id: string }) => m.id).sort());
    // A person edits one memory between the plan and its application: that action is skipped.
    await h.http.patch(`/v1/cubes/${cube}/memories/${stored[0].id}`).set(auth()).send({ text: 'temporary note number 1, edited' }).expect(200);
    const applied = await engine.execute(cubeRecord, plan, null, false);
    expect(applied.find((a) => a.memoryIds[0] === stored[0].id)).toMatchObject({ status: 'skipped', why: expect.stringContaining('changed since the plan') });
    expect((await get(stored[0].id, cube)).body).toMatchObject({ state: 'active', text: 'temporary note number 1, edited' });
    // The periodic sweep takes the rest in one batch; the pinned memory stays.
    const swept = await engine.sweep(cube);
    expect(swept.filter((a) => a.status === 'applied').map((a) => a.memoryIds[0])).toEqual([stored[0].id]);
    expect((await get(stored[3].id, cube)).body.state).toBe('active');
    const events = await h.http.get(`/v1/cubes/${cube}/lifecycle/events`).query({ action: 'expire' }).set(auth()).expect(200);
    expect(events.body.items.map((e: { actorId: string; memoryIds: string[] }) => [e.actorId, e.memoryIds.length])).toEqual([['ttl', 1], ['ttl', 1], ['ttl', 1]]);
  });

  it('answers 404 to a run on a deleted cube and to an unknown run', async () => {
    const cube = await newCube();
    await h.http.put(`/v1/cubes/${cube}/lifecycle`).set(auth()).send({ archiveAfterIdleDays: 30 }).expect(200);
    await h.http.delete(`/v1/cubes/${cube}`).set(auth()).expect(202);
    await h.http.post(`/v1/cubes/${cube}/lifecycle/run`).set(auth()).send({ dryRun: true }).expect(404);
    await h.http.post(`/v1/admin/cubes/${cube}/lifecycle/run`).set(admin()).send({}).expect(404);
    // The purge takes the cube's policy level with it.
    await h.app.get(JobRunner).drain();
    expect(await h.app.get(DataSource).query(`SELECT scope FROM lifecycle_policies WHERE scope = $1`, [`cube:${cube}`])).toEqual([]);
    await h.http.get(`/v1/cubes/${cubeId}/lifecycle/runs/00000000-0000-4000-8000-000000000000`).set(auth()).expect(404);
  });

  it('leaves each memory old or new when the worker dies inside an action', async () => {
    const cube = await newCube();
    const [a] = (await add([{ text: 'Frank drives a red Volvo' }], cube)).body.items;
    const [b] = (await add([{ text: 'frank drives a red volvo' }], cube)).body.items;
    const db = h.app.get(DataSource);
    // The transaction dies after the memories are updated and before the event is written.
    await db.query(`CREATE OR REPLACE FUNCTION engram_test_crash() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'worker killed'; END $$ LANGUAGE plpgsql`);
    await db.query(`CREATE TRIGGER engram_test_crash BEFORE INSERT ON lifecycle_events FOR EACH ROW EXECUTE FUNCTION engram_test_crash()`);
    try {
      await settle();
    } finally {
      await db.query(`DROP TRIGGER engram_test_crash ON lifecycle_events`);
    }
    for (const m of [a, b]) expect((await get(m.id, cube)).body).toMatchObject({ state: 'active', version: 1, mergedInto: null, tags: [] });
    const versions = await db.query(`SELECT count(*)::int AS n FROM memory_versions WHERE memory_id = ANY($1::uuid[])`, [[a.id, b.id]]);
    expect(versions[0].n).toBe(2);
    // The retry, once the worker is healthy again, applies it whole.
    await db.query(`UPDATE jobs SET run_after = now() WHERE state = 'queued'`);
    await settle();
    expect((await get(b.id, cube)).body).toMatchObject({ state: 'merged', mergedInto: a.id });
  });

  it('gives the operator cubes across tenants with counts, the scheduler, pause and resume, and job control', async () => {
    const cubes = await h.http.get('/v1/admin/cubes').query({ tenantId }).set(admin()).expect(200);
    const row = cubes.body.items.find((c: { id: string }) => c.id === cubeId);
    expect(row.counts).toMatchObject({ active: expect.any(Number), merged: 1 });
    await h.http.get('/v1/admin/cubes').query({ tenantId: 'nope' }).set(admin()).expect(400);

    const scheduler = await h.http.get('/v1/admin/scheduler').set(admin()).expect(200);
    expect(scheduler.body).toMatchObject({ paused: { global: false, tenants: [] }, jobs: expect.objectContaining({ 'lifecycle.tick': expect.any(Object) }) });
    expect(scheduler.body.actionsLastHour).toEqual(expect.arrayContaining([expect.objectContaining({ policy: 'fusion.rules', action: 'merge' })]));
    const metrics = await h.http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/engram_lifecycle_actions_last_hour\{policy="fusion.rules",action="merge"\} [1-9]/);
    // Restores by an API key count under "key": no key id in a label (a series per key, and an id on a public endpoint).
    expect(metrics.text).toMatch(/engram_lifecycle_actions_last_hour\{policy="key",action="restore"\} [1-9]/);
    expect(metrics.text).not.toMatch(/policy="[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(metrics.text).toMatch(/engram_lifecycle_decision_lag_ms\{quantile="0.99"\} \d/);
    expect(metrics.text).toContain('engram_scheduler_paused{scope="instance"} 0');

    await h.http.post('/v1/admin/scheduler/pause').set(admin()).send({ tenantId }).expect(200);
    const cube = await newCube();
    await add([{ text: 'Gina plays the cello' }], cube);
    const [dup] = (await add([{ text: 'gina plays the cello' }], cube)).body.items;
    await settle();
    expect((await get(dup.id, cube)).body.state).toBe('active');
    const paused = await h.http.post('/v1/admin/scheduler/resume').set(admin()).send({ tenantId }).expect(200);
    expect(paused.body.tenants).toEqual([]);
    await sleep(5200);
    await h.app.get(JobRunner).drain();
    expect((await get(dup.id, cube)).body.state).toBe('merged');

    const run = await h.http.post(`/v1/admin/cubes/${cube}/lifecycle/run`).set(admin()).send({}).expect(202);
    const jobs = await h.app.get(DataSource).query(`SELECT job_id FROM lifecycle_runs WHERE id = $1`, [run.body.runId]);
    const cancelled = await h.http.post(`/v1/admin/jobs/${jobs[0].job_id}/cancel`).set(admin()).expect(200);
    expect(cancelled.body).toMatchObject({ state: 'cancelled', lastError: 'cancelled by the operator' });
    await h.http.post(`/v1/admin/jobs/${jobs[0].job_id}/cancel`).set(admin()).expect(409);
    const retried = await h.http.post(`/v1/admin/jobs/${jobs[0].job_id}/retry`).set(admin()).expect(200);
    expect(retried.body).toMatchObject({ state: 'queued', attempts: 0 });
    await h.app.get(JobRunner).drain();
    const done = await h.http.get(`/v1/cubes/${cube}/lifecycle/runs/${run.body.runId}`).set(auth()).expect(200);
    expect(done.body.status).toBe('done');
    // The operator follows the run it started on its own route; a tenant key cannot use that route.
    const followed = await h.http.get(`/v1/admin/cubes/${cube}/lifecycle/runs/${run.body.runId}`).set(admin()).expect(200);
    expect(followed.body).toEqual(done.body);
    await h.http.get(`/v1/admin/cubes/${cube}/lifecycle/runs/${run.body.runId}`).set(auth()).expect(404);
    await h.http.get(`/v1/admin/cubes/${cube}/lifecycle/runs/00000000-0000-4000-8000-000000000000`).set(admin()).expect(404);
    const audit = await h.http.get('/v1/admin/audit').set(admin()).expect(200);
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['scheduler.pause', 'scheduler.resume', 'job.cancel', 'job.retry', 'cube.lifecycle_run']));
  });
});
