import { request } from 'node:http';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { ArchiveManifest, readCubeArchive, Scope } from '@engram/core';
import { MemoryRepository } from '@engram/persistence';
import { JobRunner } from '@engram/scheduler';
import { craftArchive, craftManifest, createE2eHarness, E2eHarness } from '@engram/testing';

const ALL_SCOPES = [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite, Scope.CubesExport];

/** supertest hands binary bodies over as a Buffer with this parser. */
function binary(res: unknown, done: (error: Error | null, body: unknown) => void): void {
  const chunks: Buffer[] = [];
  const stream = res as NodeJS.ReadableStream;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

async function partsOf(archive: Buffer): Promise<{ manifest: ArchiveManifest; parts: Record<string, Buffer> }> {
  const parts: Record<string, Buffer> = {};
  const manifest = await readCubeArchive(Readable.from([archive]), 1 << 30, {
    manifest: async () => undefined,
    part: async (part, stream) => {
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      parts[part.name] = Buffer.concat(chunks);
    },
  });
  return { manifest, parts };
}

const MEMORIES = [
  { text: 'Alice moved to Lisbon in 2021', kind: 'fact', tags: ['alice', 'travel'], metadata: { topic: 'home' }, source: { id: 'msg-1', type: 'chat', sessionId: 's1' }, observedAt: '2024-03-01T10:00:00Z', importance: 0.8 },
  { text: 'Bob prefers green tea over coffee', kind: 'preference', tags: ['bob'], metadata: { topic: 'food' } },
  { text: 'Zoë aime le café crème à Montréal ☕', kind: 'fact', tags: ['zoë'] },
  { text: '東京の天気は晴れ、気温は二十度', kind: 'episode' },
  { text: 'To deploy, run make release then tag the commit', kind: 'procedure' },
  { text: 'Alice works as a nurse at the Lisbon city hospital', kind: 'fact', tags: ['alice'] },
  { text: 'The quarterly report is due on the first Monday of April', kind: 'fact' },
  { text: 'Bob dislikes long meetings before lunch', kind: 'preference', tags: ['bob'] },
];
const QUERIES = ['Where does Alice live?', 'what does Bob drink', 'café Montréal', 'deploy release', 'report deadline April', '東京 天気'];

describe('portable cubes: export and import', () => {
  let source: E2eHarness;
  let target: E2eHarness;
  let sourceKey: string;
  let sourceTenantId: string;
  let targetKey: string;
  let targetTenantId: string;
  let cubeId: string;
  let deletedId: string;
  let updatedId: string;
  let archive: Buffer;

  const as = (key: string) => ({ Authorization: `Bearer ${key}` });
  const search = (h: E2eHarness, key: string, id: string, query: string) => h.http.post(`/v1/cubes/${id}/search`).set(as(key)).send({ query, topK: 5 }).expect(200);
  const importArchive = (body: Buffer, name?: string, key = targetKey) =>
    target.http.post(`/v1/cubes/import${name ? `?name=${encodeURIComponent(name)}` : ''}`).set(as(key)).set('Content-Type', 'application/gzip').send(body);
  const cubesOfTarget = async () => {
    const rows: { n: string }[] = await target.app.get(DataSource).query(`SELECT count(*) AS n FROM cubes WHERE tenant_id = $1`, [targetTenantId]);
    const memories: { n: string }[] = await target.app.get(DataSource).query(`SELECT count(*) AS n FROM memories m JOIN cubes c ON c.id = m.cube_id WHERE c.tenant_id = $1`, [targetTenantId]);
    return { cubes: Number(rows[0].n), memories: Number(memories[0].n) };
  };

  beforeAll(async () => {
    [source, target] = await Promise.all([createE2eHarness(), createE2eHarness()]);
    const owner = await source.factory.apiKey({ scopes: ALL_SCOPES });
    sourceKey = owner.key;
    sourceTenantId = owner.tenantId;
    cubeId = (await source.http.post('/v1/cubes').set(as(sourceKey)).send({ name: 'assistant', description: 'the agent cube', settings: { embedder: { type: 'hash', dimension: 128 } } }).expect(201)).body.id;
    const added = await source.http.post(`/v1/cubes/${cubeId}/memories`).set(as(sourceKey)).send({ items: [...MEMORIES, { text: 'a memory the user deleted' }] }).expect(201);
    const ids: string[] = added.body.items.map((m: { id: string }) => m.id);
    updatedId = ids[1];
    deletedId = ids[ids.length - 1];
    await source.http.patch(`/v1/cubes/${cubeId}/memories/${updatedId}`).set(as(sourceKey)).send({ text: 'Bob prefers green tea over coffee, and oolong at night' }).expect(200);
    await source.http.delete(`/v1/cubes/${cubeId}/memories/${deletedId}`).set(as(sourceKey)).expect((r) => expect([200, 204]).toContain(r.status));
    const other = await target.factory.apiKey({ scopes: ALL_SCOPES });
    targetKey = other.key;
    targetTenantId = other.tenantId;
  });
  afterAll(async () => {
    await Promise.all([source?.close(), target?.close()]);
  });

  it('streams the cube as application/gzip with the manifest first and every part checksummed', async () => {
    const res = await source.http.get(`/v1/cubes/${cubeId}/export?include=vectors`).set(as(sourceKey)).buffer(true).parse(binary).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/gzip/);
    expect(res.headers['content-disposition']).toContain('assistant.engram.tar.gz');
    archive = res.body as Buffer;
    const { manifest, parts } = await partsOf(archive);
    expect(manifest).toMatchObject({ format: 'engram-cube-archive', formatVersion: 1, cube: { name: 'assistant', description: 'the agent cube', settings: { embedder: { type: 'hash', dimension: 128 } } } });
    expect(manifest.embedder).toEqual({ fingerprint: expect.stringMatching(/^hash:128:/), dimension: 128 });
    expect(manifest.counts).toMatchObject({ memories: MEMORIES.length, vectors: MEMORIES.length, versions: MEMORIES.length + 1 });
    expect(manifest.parts.map((p) => p.name).slice(0, 2)).toEqual(['memories.jsonl', 'vectors.f32']);
    expect(parts['vectors.f32'].length).toBe(MEMORIES.length * 128 * 4);
    const lines = parts['memories.jsonl'].toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    // The user's deletion travels: the deleted memory is not in the archive.
    expect(lines.map((l) => l.memory.id)).not.toContain(deletedId);
    const updated = lines.find((l) => l.memory.id === updatedId);
    expect(updated.versions.map((v: { version: number; action: string }) => [v.version, v.action])).toEqual([[1, 'create'], [2, 'update']]);
    expect(lines.find((l) => l.memory.text.startsWith('Zoë')).memory.tags).toEqual(['zoë']);
  });

  it('needs the cubes:export scope: a key that may read and write every memory may not take them all at once', async () => {
    const writer = await source.factory.apiKey({ tenantId: sourceTenantId, scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] });
    const res = await source.http.get(`/v1/cubes/${cubeId}/export`).set(as(writer.key)).expect(403);
    expect(res.body.error.message).toContain('cubes:export');
  });

  it('imports into another engram (its own database) and searches identically: same order, same scores, ids mapped', async () => {
    const res = await importArchive(archive, 'moved-in').expect(201);
    expect(res.body.cube).toMatchObject({ name: 'moved-in', description: 'the agent cube', settings: { embedder: { type: 'hash', dimension: 128 } } });
    expect(res.body.counts).toEqual({ memories: MEMORIES.length, versions: MEMORIES.length + 1, lifecycleEvents: 0, vectorsReused: MEMORIES.length, reembedded: 0, kvCaches: 0, banks: 0 });
    expect(res.body.skipped).toEqual([]);
    const imported = res.body.cube.id as string;
    for (const query of QUERIES) {
      const [a, b] = [await search(source, sourceKey, cubeId, query), await search(target, targetKey, imported, query)];
      const sideA = a.body.results.map((r: { text: string; score: number }) => [r.text, r.score]);
      const sideB = b.body.results.map((r: { text: string; score: number }) => [r.text, r.score]);
      expect(sideB.map((r: unknown[]) => r[0])).toEqual(sideA.map((r: unknown[]) => r[0]));
      sideB.forEach((r: [string, number], i: number) => expect(r[1]).toBeCloseTo(sideA[i][1], 6));
      // ids are new, and none of the source's ids leaked into the target.
      const sourceIds = new Set(a.body.results.map((r: { id: string }) => r.id));
      expect(b.body.results.filter((r: { id: string }) => sourceIds.has(r.id))).toEqual([]);
    }
    const list = await target.http.get(`/v1/cubes/${imported}/memories?limit=100`).set(as(targetKey)).expect(200);
    const bob = list.body.items.find((m: { text: string }) => m.text.startsWith('Bob prefers'));
    expect(bob).toMatchObject({ version: 2, text: 'Bob prefers green tea over coffee, and oolong at night' });
    const history = await target.http.get(`/v1/cubes/${imported}/memories/${bob.id}/history`).set(as(targetKey)).expect(200);
    const versions = Array.isArray(history.body) ? history.body : history.body.items;
    expect(versions.map((v: { action: string }) => v.action)).toEqual(['create', 'update']);
    const alice = list.body.items.find((m: { text: string }) => m.text === MEMORIES[0].text);
    expect(alice).toMatchObject({ tags: ['alice', 'travel'], metadata: { topic: 'home' }, source: { id: 'msg-1', type: 'chat', sessionId: 's1' }, observedAt: '2024-03-01T10:00:00.000Z' });
  });

  it('carries how often search returned each memory, and when last (memory_access, ADR 0129)', async () => {
    const aliceId = (await source.app.get(DataSource).query(`SELECT id FROM memories WHERE cube_id = $1 AND text = $2`, [cubeId, MEMORIES[0].text]))[0].id as string;
    await source.app.get(MemoryRepository).recordAccess(new Map([[aliceId, 4]]));
    const exported = (await source.http.get(`/v1/cubes/${cubeId}/export`).set(as(sourceKey)).buffer(true).parse(binary).expect(200)).body as Buffer;
    const lines = (await partsOf(exported)).parts['memories.jsonl'].toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    const line = lines.find((l) => l.memory.id === aliceId);
    expect(line.memory.access_count).toBeGreaterThanOrEqual(4);
    expect(Date.parse(line.memory.last_accessed_at)).not.toBeNaN();
    expect(lines.find((l) => l.memory.text.startsWith('Zoë')).memory).toMatchObject({ access_count: 0, last_accessed_at: null });
    const imported = (await importArchive(exported, 'with-heat').expect(201)).body.cube.id as string;
    const list = await target.http.get(`/v1/cubes/${imported}/memories?limit=100`).set(as(targetKey)).expect(200);
    const alice = list.body.items.find((m: { text: string }) => m.text === MEMORIES[0].text);
    expect(alice.accessCount).toBe(line.memory.access_count);
    expect(Date.parse(alice.lastAccessedAt)).toBe(Date.parse(line.memory.last_accessed_at));
    expect(list.body.items.find((m: { text: string }) => m.text.startsWith('Zoë'))).toMatchObject({ accessCount: 0, lastAccessedAt: null });
  });

  it('re-embeds when the archive carries no vectors, and finds the same memories', async () => {
    const res = await source.http.get(`/v1/cubes/${cubeId}/export`).set(as(sourceKey)).buffer(true).parse(binary).expect(200);
    const imported = await importArchive(res.body as Buffer, 'no-vectors').expect(201);
    expect(imported.body.counts).toMatchObject({ memories: MEMORIES.length, vectorsReused: 0, reembedded: MEMORIES.length });
    const a = await search(source, sourceKey, cubeId, QUERIES[0]);
    const b = await search(target, targetKey, imported.body.cube.id, QUERIES[0]);
    expect(b.body.results.map((r: { text: string }) => r.text)).toEqual(a.body.results.map((r: { text: string }) => r.text));
  });

  it('refuses a name that a live cube of the tenant already has (409) and imports under the archive name by default', async () => {
    const clash = await importArchive(archive, 'moved-in').expect(409);
    expect(clash.body.error.message).toContain('moved-in');
    const byDefault = await importArchive(archive).expect(201);
    expect(byDefault.body.cube.name).toBe('assistant');
  });

  it('leaves a delayed purge as a safety net for a crash mid-import, which spares the revealed cube', async () => {
    const cube = (await target.http.get('/v1/cubes?name=moved-in').set(as(targetKey)).expect(200)).body.items[0];
    const db = target.app.get(DataSource);
    const jobs: { id: string; late: boolean }[] = await db.query(`SELECT id, run_after > now() + interval '23 hours' AS late FROM jobs WHERE name = 'cube.purge' AND payload->>'cubeId' = $1`, [cube.id]);
    expect(jobs).toEqual([{ id: expect.any(String), late: true }]);
    await db.query(`UPDATE jobs SET run_after = now() WHERE id = $1`, [jobs[0].id]);
    await target.app.get(JobRunner).drain();
    expect((await db.query(`SELECT state FROM jobs WHERE id = $1`, [jobs[0].id]))[0].state).toBe('completed');
    await target.http.get(`/v1/cubes/${cube.id}`).set(as(targetKey)).expect(200);
    expect((await search(target, targetKey, cube.id, QUERIES[0])).body.results.length).toBeGreaterThan(0);
  });

  it('does not show an imported cube to another tenant', async () => {
    const stranger = await target.factory.apiKey({ scopes: ALL_SCOPES });
    const listed = await target.http.get('/v1/cubes').set(as(stranger.key)).expect(200);
    expect(listed.body.items).toEqual([]);
  });

  describe('bad archives: a clear 4xx and nothing left behind', () => {
    const memoriesBody = `${JSON.stringify({ memory: { id: 'a3a0c8a4-1111-4111-8111-111111111111', text: 'one' }, versions: [] })}\n${JSON.stringify({ memory: { id: 'b3a0c8a4-1111-4111-8111-111111111111', text: 'two' }, versions: [] })}\n`;
    const manifest = (overrides: Record<string, unknown> = {}, body = memoriesBody) => craftManifest([{ name: 'memories.jsonl', kind: 'memories', body, records: 2 }], overrides);
    let before: { cubes: number; memories: number };

    beforeEach(async () => {
      before = await cubesOfTarget();
    });
    afterEach(async () => {
      expect(await cubesOfTarget()).toEqual(before);
    });

    it('an access count that is not a count, or a last access that is not a time', async () => {
      for (const [field, value] of [['access_count', -1], ['access_count', 'many'], ['last_accessed_at', 'yesterday']] as const) {
        const body = `${JSON.stringify({ memory: { id: 'c3a0c8a4-1111-4111-8111-111111111111', text: 'one', [field]: value }, versions: [] })}\n`;
        const crafted = await craftArchive([{ name: 'manifest.json', body: craftManifest([{ name: 'memories.jsonl', kind: 'memories', body, records: 1 }]) }, { name: 'memories.jsonl', body }]);
        const res = await importArchive(crafted, 'bad-heat').expect(400);
        expect(res.body.error.message).toContain(`memories.jsonl line 1: memory.${field} must be`);
      }
    });

    /** One crafted archive of the given memory lines (and manifest overrides) must answer 400 with `message` in it. */
    const refuses = async (lines: unknown[], message: string, overrides: Record<string, unknown> = {}, name: string | null = 'bad-row') => {
      const body = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
      const crafted = await craftArchive([{ name: 'manifest.json', body: craftManifest([{ name: 'memories.jsonl', kind: 'memories', body, records: lines.length }], overrides) }, { name: 'memories.jsonl', body }]);
      const res = await importArchive(crafted, name ?? undefined);
      expect({ status: res.status, message: res.body.error?.message }).toEqual({ status: 400, message: expect.stringContaining(message) });
    };
    const memoryLine = (fields: Record<string, unknown>, versions: unknown[] = []) => ({ memory: { id: 'd3a0c8a4-1111-4111-8111-111111111111', text: 'a memory', ...fields }, versions });
    const goodLine = { memory: { id: 'e3a0c8a4-1111-4111-8111-111111111111', text: 'a good memory before the bad one' }, versions: [] };

    it('a memory row PostgreSQL cannot store or REST would refuse: named by line and field, after good lines too', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ text: 'a\u0000b' }, 'memories.jsonl line 2: memory.text must not contain the NUL character (U+0000)'],
        [{ metadata: { note: { deep: 'x\u0000' } } }, 'memories.jsonl line 2: memory.metadata.note.deep must not contain the NUL character'],
        [{ metadata: { 'k\u0000': 1 } }, 'memories.jsonl line 2: memory.metadata must not have a key that contains the NUL character'],
        [{ tags: ['ok', 'x\u0000'] }, 'memories.jsonl line 2: memory.tags[1] must not contain the NUL character'],
        [{ source: { id: 'x\u0000' } }, 'memories.jsonl line 2: memory.source.id must not contain the NUL character'],
        [{ text: 'a\ud800b' }, 'memories.jsonl line 2: memory.text must not contain a lone UTF-16 surrogate'],
        [{ metadata: { topic: '\udc00' } }, 'memories.jsonl line 2: memory.metadata.topic must not contain a lone UTF-16 surrogate'],
        [{ importance: 2 }, 'memories.jsonl line 2: memory.importance must be a number from 0 to 1'],
        [{ importance: -0.5 }, 'memories.jsonl line 2: memory.importance must be a number from 0 to 1'],
        [{ importance: 'high' }, 'memories.jsonl line 2: memory.importance must be a finite number'],
        [{ created_at: 'yesterday' }, 'memories.jsonl line 2: memory.created_at must be an ISO-8601 date-time'],
        [{ updated_at: '2024-02-30T10:00:00Z' }, 'memories.jsonl line 2: memory.updated_at must be an ISO-8601 date-time'],
        [{ valid_from: 12 }, 'memories.jsonl line 2: memory.valid_from must be an ISO-8601 date-time'],
        [{ valid_to: '2024-13-01T00:00:00Z' }, 'memories.jsonl line 2: memory.valid_to must be an ISO-8601 date-time'],
        [{ expires_at: 'in a week' }, 'memories.jsonl line 2: memory.expires_at must be an ISO-8601 date-time'],
        [{ observed_at: '0000-01-01T00:00:00Z' }, 'memories.jsonl line 2: memory.observed_at must be an ISO-8601 date-time'],
        [{ valid_from: '2024-05-01T00:00:00Z', valid_to: '2024-04-01T00:00:00Z' }, 'memories.jsonl line 2: memory.valid_from must not be later than memory.valid_to'],
        [{ tags: 'travel' }, 'memories.jsonl line 2: memory.tags must be a list'],
        [{ tags: ['ok', 3] }, 'memories.jsonl line 2: memory.tags must be a list, and each item must be a string'],
        [{ tags: Array.from({ length: 10_001 }, (_, i) => `t${i}`) }, 'memories.jsonl line 2: memory.tags must hold at most 10000 tags'],
        [{ tags: ['x'.repeat(129)] }, 'memories.jsonl line 2: memory.tags must be strings of at most 128 characters'],
        [{ version: 0 }, 'memories.jsonl line 2: memory.version must be a positive integer'],
        [{ version: 1.5 }, 'memories.jsonl line 2: memory.version must be an integer from'],
        [{ version: 2 ** 40 }, 'memories.jsonl line 2: memory.version must be an integer from'],
        [{ state: 'zombie' }, 'memories.jsonl line 2: memory.state must be one of: active, archived, expired, merged, superseded'],
        [{ erased_at: '2024-01-01T00:00:00Z' }, 'memories.jsonl line 2: memory.erased_at must be null'],
        [{ kind: 'rumour' }, 'memories.jsonl line 2: memory.kind must be one of: fact, episode, preference, procedure, message'],
        [{ kind: 7 }, 'memories.jsonl line 2: memory.kind must be a string'],
        [{ source: 'chat' }, 'memories.jsonl line 2: memory.source must be a JSON object'],
        [{ source: { type: 'x'.repeat(65) } }, 'memories.jsonl line 2: memory.source.type must be a string of at most 64 characters'],
        [{ metadata: ['a'] }, 'memories.jsonl line 2: memory.metadata must be a JSON object'],
        [{ metadata: 'note' }, 'memories.jsonl line 2: memory.metadata must be a JSON object'],
        [{ metadata: Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, i])) }, 'memories.jsonl line 2: memory.metadata must have at most 10000 keys'],
        [{ pinned: 'yes' }, 'memories.jsonl line 2: memory.pinned must be true or false'],
        [{ role: 'r'.repeat(65) }, 'memories.jsonl line 2: memory.role must be at most 64 characters'],
      ];
      for (const [fields, message] of cases) await refuses([goodLine, memoryLine(fields)], message);
    });

    it('metadata nested deeper than a REST body may be', async () => {
      let deep: unknown = 1;
      for (let i = 0; i < 2100; i++) deep = { d: deep };
      await refuses([memoryLine({ metadata: deep })], 'memories.jsonl line 1: memory.metadata');
    });

    it('a version row with a bad action, a bad time or no actor', async () => {
      const version = { version: 1, action: 'create', actor_type: 'key', at: '2024-01-01T00:00:00Z' };
      const cases: [Record<string, unknown>, string][] = [
        [{ action: 'teleport' }, 'memories.jsonl line 1: versions[0].action must be one of: create, update, delete, erase'],
        [{ action: null }, 'memories.jsonl line 1: versions[0].action is required'],
        [{ at: 'noon' }, 'memories.jsonl line 1: versions[0].at must be an ISO-8601 date-time'],
        [{ actor_type: undefined }, 'memories.jsonl line 1: versions[0].actor_type is required'],
        [{ actor_type: ' ' }, 'memories.jsonl line 1: versions[0].actor_type must be a non-empty string'],
        [{ version: -1 }, 'memories.jsonl line 1: versions[0].version must be a positive integer'],
        [{ reason: 'why\u0000' }, 'memories.jsonl line 1: versions[0].reason must not contain the NUL character'],
        [{ new_values: { text: '\ud83d' } }, 'memories.jsonl line 1: versions[0].new_values.text must not contain a lone UTF-16 surrogate'],
      ];
      for (const [fields, message] of cases) await refuses([memoryLine({}, [{ ...version, ...fields }])], message);
    });

    it('a manifest cube name or description that POST /v1/cubes would refuse', async () => {
      const cube = (fields: Record<string, unknown>) => ({ cube: { id: null, name: 'crafted', description: null, settings: {}, ...fields } });
      await refuses([goodLine], 'manifest.json: cube.name must not contain the NUL character', cube({ name: 'a\u0000b' }), null);
      await refuses([goodLine], 'manifest.json cube.name must be 1 to 200 characters', cube({ name: 'n'.repeat(201) }), null);
      await refuses([goodLine], 'manifest.json cube.name must be 1 to 200 characters', cube({ name: '   ' }), null);
      await refuses([goodLine], 'manifest.json: cube.description must be at most 2000 characters', cube({ description: 'd'.repeat(2001) }));
      await refuses([goodLine], 'manifest.json: cube.description must not contain the NUL character', cube({ description: 'a\u0000' }));
      await refuses([goodLine], 'manifest.json cube.description must be a string or null', cube({ description: 42 }));
      await refuses([goodLine], 'manifest.json: cube.settings.embedder must be an object', cube({ settings: { embedder: null } }));
      await refuses([goodLine], 'manifest.json: cube.settings.note must not contain the NUL character', cube({ settings: { note: '\u0000' } }));
    });

    it('a lifecycle policy that PUT /v1/cubes/{id}/lifecycle would refuse', async () => {
      const cases: [unknown, string][] = [
        [{ archiveAfterIdleDays: -5 }, 'manifest.json lifecyclePolicy.archiveAfterIdleDays: archiveAfterIdleDays must be a number of days above 0'],
        [{ ttl: 'zzz', activation: { model: 'nope' } }, 'manifest.json lifecyclePolicy.ttl: ttl must be { byKind?'],
        ['x', 'manifest.json lifecyclePolicy must be a JSON object or null'],
        [[1], 'manifest.json lifecyclePolicy must be a JSON object or null'],
        [{ retention: 3 }, 'manifest.json lifecyclePolicy.retention: unknown field'],
        [{ fusion: { threshold: 7 } }, 'manifest.json lifecyclePolicy.fusion.threshold: fusion.threshold must be a number above 0 and at most 1'],
        // Shape right, but this engram cannot run it: the same gates as PUT.
        [{ activation: { model: 'nope' } }, 'manifest.json lifecyclePolicy.activation.model: activation.model must name a registered model; "nope" is not one'],
        [{ fusion: { enabled: true, mode: 'llm' } }, 'manifest.json lifecyclePolicy.fusion.mode: "llm" needs an LLM endpoint'],
      ];
      for (const [policy, message] of cases) await refuses([goodLine], message, { lifecyclePolicy: policy });
    });

    it('checksum mismatch', async () => {
      const res = await importArchive(await craftArchive([{ name: 'manifest.json', body: manifest() }, { name: 'memories.jsonl', body: memoriesBody.replace('one', 'onE') }]), 'bad-1').expect(400);
      expect(res.body.error.message).toContain('checksum mismatch in part memories.jsonl');
    });

    it('truncated archive', async () => {
      const big = Array.from({ length: 300 }, (_, i) => JSON.stringify({ memory: { id: `m-${i}`, text: `memory number ${i} ${'x'.repeat(i % 50)}` }, versions: [] })).join('\n') + '\n';
      const whole = await craftArchive([{ name: 'manifest.json', body: manifest({}, big) }, { name: 'memories.jsonl', body: big }]);
      const res = await importArchive(whole.subarray(0, Math.floor(whole.length * 0.7)), 'bad-2').expect(400);
      expect(res.body.error.message).toMatch(/truncated/);
    });

    it('unknown format version', async () => {
      const res = await importArchive(await craftArchive([{ name: 'manifest.json', body: manifest({ formatVersion: 2 }) }, { name: 'memories.jsonl', body: memoriesBody }]), 'bad-3').expect(400);
      expect(res.body.error.message).toContain('unsupported archive format version 2');
    });

    it('a path that escapes the archive', async () => {
      const res = await importArchive(await craftArchive([{ name: 'manifest.json', body: manifest() }, { name: '../../etc/cron.d/x', body: memoriesBody }]), 'bad-4').expect(400);
      expect(res.body.error.message).toContain('escapes the archive');
    });

    it('a part larger than its manifest says', async () => {
      const lying = JSON.parse(manifest());
      lying.parts[0].bytes = 20;
      const res = await importArchive(await craftArchive([{ name: 'manifest.json', body: JSON.stringify(lying) }, { name: 'memories.jsonl', body: memoriesBody }]), 'bad-5').expect(400);
      expect(res.body.error.message).toContain('larger than its manifest says');
    });

    it('a bad line after good ones (the staged memories go too)', async () => {
      const body = `${memoriesBody}{"memory": {"id": "c"}}\n`;
      const res = await importArchive(await craftArchive([{ name: 'manifest.json', body: manifest({}, body) }, { name: 'memories.jsonl', body }]), 'bad-6').expect(400);
      expect(res.body.error.message).toContain('memories.jsonl line 3: memory.text must be a non-empty string');
    });

    it('two memories with one id, in one batch or in different batches (was a 500 on the primary key)', async () => {
      const hashCube = { cube: { id: null, name: 'crafted', description: null, settings: { embedder: { type: 'hash', dimension: 64 } } } };
      const repeated = 'memory.id "d3a0c8a4-1111-4111-8111-111111111111" is the id of an earlier memory of the archive';
      await refuses([goodLine, memoryLine({ text: 'first' }), memoryLine({ text: 'second' })], `memories.jsonl line 3: ${repeated}`, hashCube);
      const fillers = Array.from({ length: 600 }, (_, i) => ({ memory: { id: `filler-${i}`, text: `filler memory ${i}` }, versions: [] }));
      await refuses([memoryLine({ text: 'first' }), ...fillers, memoryLine({ text: 'again, 600 lines later' })], `memories.jsonl line 602: ${repeated}`, hashCube);
    });

    it('a line that is not UTF-8 (was stored with U+FFFD for its bytes)', async () => {
      const body = Buffer.concat([Buffer.from(`${JSON.stringify(goodLine)}\n`, 'utf8'), Buffer.from(`${JSON.stringify(memoryLine({ text: 'Likes café au lait' }))}\n`, 'latin1')]);
      const crafted = await craftArchive([{ name: 'manifest.json', body: craftManifest([{ name: 'memories.jsonl', kind: 'memories', body, records: 2 }]) }, { name: 'memories.jsonl', body }]);
      const res = await importArchive(crafted, 'latin1').expect(400);
      expect(res.body.error.message).toContain('memories.jsonl line 2 is not UTF-8 text');
    });

    it('not gzip, or not sent as an archive', async () => {
      expect((await importArchive(Buffer.from('hello'), 'bad-7').expect(400)).body.error.message).toMatch(/not a valid gzip stream/);
      const json = await target.http.post('/v1/cubes/import?name=bad-8').set(as(targetKey)).send({ memories: [] }).expect(415);
      expect(json.body.error.message).toContain('application/gzip');
    });
  });

  it('imports a valid lifecycle policy as the cube\'s own level, as PUT stores it', async () => {
    const body = `${JSON.stringify({ memory: { id: 'a4a0c8a4-1111-4111-8111-111111111111', text: 'one', created_at: '2024-03-01T10:00:00', valid_from: '2024-03-01T10:00:00.123456+02:00', valid_to: '2024-03-01T08:00:00.123456Z' }, versions: [{ version: 1, action: 'create', actor_type: 'import', at: null }] })}\n`;
    const lifecyclePolicy = { archiveAfterIdleDays: 30, ttl: { byKind: { episode: 7 } }, fusion: { threshold: 0.9 } };
    const crafted = await craftArchive([{ name: 'manifest.json', body: craftManifest([{ name: 'memories.jsonl', kind: 'memories', body, records: 1 }], { lifecyclePolicy }) }, { name: 'memories.jsonl', body }]);
    const res = await importArchive(crafted, 'with-policy').expect(201);
    const policy = await target.http.get(`/v1/cubes/${res.body.cube.id}/lifecycle`).set(as(targetKey)).expect(200);
    expect(policy.body.overrides).toEqual(lifecyclePolicy);
    const [memory] = (await target.http.get(`/v1/cubes/${res.body.cube.id}/memories`).set(as(targetKey)).expect(200)).body.items;
    // A time without an offset is UTC, as in REST; one with an offset keeps its microseconds.
    expect(memory.createdAt).toBe('2024-03-01T10:00:00.000Z');
    expect(memory.validFrom).toBe('2024-03-01T08:00:00.123Z');
  });

  it('imports a memory that lifecycle merges gave more tags, metadata keys and refs than one REST write may carry', async () => {
    const many = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    const merged = { tags: many(80, 't'), metadata: Object.fromEntries(many(150, 'k').map((k, i) => [k, i])), source: { refs: many(120, 'r'), mergedFrom: [{ id: 'x', source: {} }] } };
    const body = `${JSON.stringify({ memory: { id: 'c4a0c8a4-1111-4111-8111-111111111111', text: 'the survivor of many merges', ...merged } })}\n`;
    const crafted = await craftArchive([{ name: 'manifest.json', body: craftManifest([{ name: 'memories.jsonl', kind: 'memories', body, records: 1 }]) }, { name: 'memories.jsonl', body }]);
    const res = await importArchive(crafted, 'merged-survivor').expect(201);
    const [memory] = (await target.http.get(`/v1/cubes/${res.body.cube.id}/memories`).set(as(targetKey)).expect(200)).body.items;
    expect([memory.tags.length, Object.keys(memory.metadata).length, memory.source.refs.length]).toEqual([80, 150, 120]);
  });

  it('gives a cube whose archive names no settings what POST /v1/cubes gives one without settings', async () => {
    const rest = (await target.http.post('/v1/cubes').set(as(targetKey)).send({ name: 'made-by-rest' }).expect(201)).body.settings;
    const body = `${JSON.stringify({ memory: { id: 'b4a0c8a4-1111-4111-8111-111111111111', text: 'one' } })}\n`;
    for (const settings of [null, undefined]) {
      const crafted = await craftArchive([{ name: 'manifest.json', body: craftManifest([{ name: 'memories.jsonl', kind: 'memories', body, records: 1 }], { cube: { id: null, name: 'crafted', description: null, settings } }) }, { name: 'memories.jsonl', body }]);
      const res = await importArchive(crafted, `no-settings-${String(settings)}`).expect(201);
      expect(res.body.cube.settings).toEqual(rest);
    }
  });

  it('needs cubes:write and memories:write to import', async () => {
    const reader = await target.factory.apiKey({ scopes: [Scope.MemoriesRead, Scope.CubesExport] });
    await importArchive(archive, 'not-allowed', reader.key).expect(403);
  });
});

describe('portable cubes: the import limit', () => {
  let h: E2eHarness;
  afterAll(() => h?.close());

  it('refuses an archive over ENGRAM_IMPORT_LIMIT with 413, by its length or as it streams', async () => {
    h = await createE2eHarness({ importLimitBytes: 2048 });
    const key = (await h.factory.apiKey()).key;
    const body = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ memory: { id: `m-${i}`, text: `memory ${i} ${Math.random()}` } })).join('\n');
    const archive = await craftArchive([{ name: 'manifest.json', body: craftManifest([{ name: 'memories.jsonl', kind: 'memories', body }]) }, { name: 'memories.jsonl', body }]);
    expect(archive.length).toBeGreaterThan(2048);
    const res = await h.http.post('/v1/cubes/import?name=big').set({ Authorization: `Bearer ${key}` }).set('Content-Type', 'application/gzip').send(archive).expect(413);
    expect(res.body.error.message).toContain('ENGRAM_IMPORT_LIMIT');
    // Without a Content-Length the limit is enforced while the body streams in.
    const server = h.app.getHttpServer() as import('node:http').Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as import('node:net').AddressInfo;
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/cubes/import?name=big', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      for (let i = 0; i < archive.length; i += 512) req.write(archive.subarray(i, i + 512));
      req.end();
    });
    server.close();
    expect(chunked.status).toBe(413);
    expect(chunked.body).toContain('ENGRAM_IMPORT_LIMIT');
    const cubes: { n: string }[] = await h.app.get(DataSource).query(`SELECT count(*) AS n FROM cubes`);
    expect(Number(cubes[0].n)).toBe(0);
  });
});
