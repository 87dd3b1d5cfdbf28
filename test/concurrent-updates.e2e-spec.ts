// Two PATCHes of one memory at once: each is decided on the row as it is under its lock, not
// on the copy read before the lock, so the second one neither vanishes nor stores what a
// single PATCH would refuse. The race is made deterministic by holding the cube's write lock
// from another connection and releasing it once both requests wait on it (PostgreSQL grants
// a lock's waiters in the order they queued).
import { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { CubeRepository } from '@engram/persistence';
import { createE2eHarness, E2eHarness } from '@engram/testing';

describe('concurrent updates of one memory', () => {
  let h: E2eHarness;
  let base: string;
  let key: string;
  let cubeId: string;
  let db: Client;
  const headers = () => ({ Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' });
  const call = async (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { method, headers: { ...headers(), ...extra }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> & { error?: { code: string; message: string } } };
  };

  /** Requests waiting for an advisory lock (the cube's write lock). */
  async function waiting(): Promise<number> {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    return rows[0].n;
  }
  async function untilWaiting(n: number): Promise<void> {
    for (let i = 0; i < 200 && (await waiting()) < n; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await waiting()).toBe(n);
  }

  /** Runs `first` and then `second` while the cube's lock is held, so both read the memory before either writes. */
  async function race<A, B>(first: () => Promise<A>, second: () => Promise<B>): Promise<[A, B]> {
    const holder = new Client({ connectionString: h.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, [cubeId]);
      const a = first();
      await untilWaiting(1);
      const b = second();
      await untilWaiting(2);
      await holder.query('COMMIT');
      return [await a, await b];
    } finally {
      await holder.end();
    }
  }

  beforeAll(async () => {
    h = await createE2eHarness({ dbLockTimeoutMs: 15_000 });
    await h.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(h.app.getHttpServer().address() as AddressInfo).port}`;
    const owner = await h.factory.apiKey({ scopes: ['cubes:write', 'memories:read', 'memories:write', 'memories:erase'] as never });
    key = owner.key;
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId, settings: { embedder: 'hash' } })).id;
    db = new Client({ connectionString: h.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await h.close();
  });

  async function memory(text: string): Promise<string> {
    const added = await call('POST', `/v1/cubes/${cubeId}/memories`, { items: [{ text }] });
    expect(added.status).toBe(201);
    return (added.body.items as { id: string }[])[0].id;
  }

  it('keeps the later of two text edits when it sets the text back to what it was', async () => {
    const id = await memory('The meeting is on Monday');
    const [first, second] = await race(
      () => call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { text: 'The meeting is on Friday' }),
      () => call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { text: 'The meeting is on Monday' }),
    );
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.body).toMatchObject({ text: 'The meeting is on Friday', version: 2 });
    // It was read as "Monday" before the first edit committed: still a change when it is applied.
    expect(second.body).toMatchObject({ text: 'The meeting is on Monday', version: 3 });
    const now = await call('GET', `/v1/cubes/${cubeId}/memories/${id}`);
    expect(now.body.text).toBe('The meeting is on Monday');
    const history = await call('GET', `/v1/cubes/${cubeId}/memories/${id}/history`);
    expect((history.body.items as { newValues: { text: string } | null }[]).map((v) => v.newValues?.text)).toEqual([
      'The meeting is on Monday',
      'The meeting is on Friday',
      'The meeting is on Monday',
    ]);
    // The index follows the text that won.
    const found = await call('POST', `/v1/cubes/${cubeId}/search`, { query: 'meeting Friday Monday', topK: 5, explain: true });
    expect((found.body.results as { id: string; text: string }[]).filter((r) => r.id === id).map((r) => r.text)).toEqual(['The meeting is on Monday']);
  });

  it('refuses the second of two edits that together would make validFrom later than validTo', async () => {
    const id = await memory('Bob worked at Initech');
    const [from, to] = await race(
      () => call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { validFrom: '2025-01-01T00:00:00Z' }),
      () => call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { validTo: '2024-01-01T00:00:00Z' }),
    );
    expect(from.status).toBe(200);
    expect(to.status).toBe(400);
    expect(JSON.stringify(to.body.error)).toMatch(/validFrom must be before validTo/);
    const now = await call('GET', `/v1/cubes/${cubeId}/memories/${id}`);
    expect(now.body).toMatchObject({ validFrom: '2025-01-01T00:00:00.000Z', validTo: null, version: 2 });
  });

  it('answers 409, not 404, when the memory was archived between the read and the write', async () => {
    const id = await memory('Carol prefers tea');
    const [, edit] = await race(
      async () => {
        // Another writer of the cube (the lifecycle sweep, say) archives it; it holds the lock first.
        const archiver = new Client({ connectionString: h.db.url });
        await archiver.connect();
        const done = archiver.query(
          `BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('${cubeId}', 7));
           UPDATE memories SET state = 'archived', version = version + 1, change_seq = nextval('engram_change_seq') WHERE id = '${id}'; COMMIT;`,
        );
        return done.finally(() => archiver.end());
      },
      () => call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { tags: ['drinks'] }),
    );
    expect(edit.status).toBe(409);
    expect(edit.body.error?.message).toMatch(/memory is archived; restore it/);
    const now = await call('GET', `/v1/cubes/${cubeId}/memories/${id}`);
    expect(now.body).toMatchObject({ state: 'archived', tags: [], version: 2 });
  });

  it('does not bring back a memory erased between the restore\'s read and its write', async () => {
    const id = await memory('Eve was born in Porto');
    expect((await call('DELETE', `/v1/cubes/${cubeId}/memories/${id}`)).status).toBe(204);
    const [erase, restore] = await race(
      () => call('DELETE', `/v1/cubes/${cubeId}/memories/${id}?erase=true`),
      () => call('POST', `/v1/cubes/${cubeId}/memories/${id}/restore`),
    );
    expect(erase.status).toBe(204);
    expect(restore.status).toBe(409);
    expect(restore.body.error?.message).toMatch(/erased memory cannot be restored/);
    const { rows } = await db.query<{ state: string; text: string; erased: boolean }>(`SELECT state, text, erased_at IS NOT NULL AS erased FROM memories WHERE id = $1`, [id]);
    expect(rows).toEqual([{ state: 'deleted', text: '', erased: true }]);
    expect((await call('GET', `/v1/cubes/${cubeId}/memories/${id}`)).status).toBe(404);
  });

  it('answers 404 for an add whose cube was deleted and purged while it waited for the cube\'s lock', async () => {
    const doomed = (await call('POST', '/v1/cubes', { name: `doomed-${Date.now()}`, settings: { embedder: 'hash' } })).body.id as string;
    const holder = new Client({ connectionString: h.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, [doomed]);
      // The add passed its access check and waits to write...
      const add = call('POST', `/v1/cubes/${doomed}/memories`, { items: [{ text: 'Written into a cube being deleted' }] });
      await untilWaiting(1);
      // ...while the cube is deleted and the purge job removes its row.
      expect((await call('DELETE', `/v1/cubes/${doomed}`)).status).toBe(202);
      expect(await h.app.get(CubeRepository).hardDeleteSoftDeleted(doomed)).toBe(true);
      await holder.query('COMMIT');
      const res = await add;
      expect([res.status, res.body.error?.code, res.body.error?.message]).toEqual([404, 'not_found', 'cube not found']);
    } finally {
      await holder.end();
    }
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM memories WHERE cube_id = $1`, [doomed]);
    expect(rows[0].n).toBe(0);
  });

  describe('If-Match (ADR 0520)', () => {
    it('lets only one of two read-modify-writes from the same version through', async () => {
      const id = await memory('Frank likes jazz');
      const read = await call('GET', `/v1/cubes/${cubeId}/memories/${id}`);
      expect(read.body.version).toBe(1);
      // Two clients read version 1 and each writes back the metadata with its own key added.
      const [first, second] = await race(
        () => call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { metadata: { genre: 'jazz' } }, { 'If-Match': '1' }),
        () => call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { metadata: { instrument: 'sax' } }, { 'If-Match': '"1"' }),
      );
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ version: 2, metadata: { genre: 'jazz' } });
      expect(second.status).toBe(412);
      expect(second.body.error).toMatchObject({ code: 'precondition_failed', message: expect.stringMatching(/version 2, not 1/), details: { version: 2 } });
      const now = await call('GET', `/v1/cubes/${cubeId}/memories/${id}`);
      expect(now.body).toMatchObject({ version: 2, metadata: { genre: 'jazz' } });
      // Read again, reapplied: through.
      const retried = await call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { metadata: { genre: 'jazz', instrument: 'sax' } }, { 'If-Match': String(now.body.version) });
      expect(retried.status).toBe(200);
      expect(retried.body).toMatchObject({ version: 3, metadata: { genre: 'jazz', instrument: 'sax' } });
    });

    it('takes * as any version and refuses a header that is not a version', async () => {
      const id = await memory('Grace runs on Sundays');
      expect((await call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { tags: ['sport'] }, { 'If-Match': '*' })).status).toBe(200);
      for (const bad of ['W/"2"', 'abc', '0', '"2', '99999999999']) {
        const res = await call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { tags: ['x'] }, { 'If-Match': bad });
        expect([bad, res.status, res.body.error?.code]).toEqual([bad, 400, 'validation_failed']);
        expect(res.body.error?.message).toMatch(/If-Match/);
      }
      const stale = await call('PATCH', `/v1/cubes/${cubeId}/memories/${id}`, { tags: ['x'] }, { 'If-Match': '1' });
      expect(stale.status).toBe(412);
      const now = await call('GET', `/v1/cubes/${cubeId}/memories/${id}`);
      expect(now.body).toMatchObject({ version: 2, tags: ['sport'] });
    });
  });
});
