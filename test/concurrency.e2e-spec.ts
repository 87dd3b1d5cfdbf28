// More concurrent clients than pool connections, on one cube: the shape that once wedged
// the whole server (a unit of work holding the cube's lock while waiting for a second pool
// connection). Real sockets, so /health is probed the way a load balancer would.
import { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { createE2eHarness, E2eHarness } from '@engram/testing';

interface Probe {
  stop(): Promise<{ answered: number; failed: number; statuses: string[] }>;
}

/** Polls /health every 25 ms until stopped; each probe must answer within 2 s. */
function probeHealth(base: string): Probe {
  let running = true;
  let answered = 0;
  let failed = 0;
  const statuses: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2_000) });
        const body = (await res.json()) as { status: string };
        if (res.status === 200) answered += 1;
        else failed += 1;
        statuses.push(body.status);
      } catch {
        failed += 1;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { answered, failed, statuses };
    },
  };
}

describe('concurrent writes with a small pool', () => {
  let h: E2eHarness;
  let base: string;
  let key: string;
  let cubeId: string;
  const headers = () => ({ Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' });
  const post = (path: string, body: unknown, timeoutMs = 30_000) =>
    fetch(`${base}${path}`, { method: 'POST', headers: headers(), body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });

  beforeAll(async () => {
    h = await createE2eHarness({ dbPoolSize: 4, dbLockTimeoutMs: 1_000, dbAcquireTimeoutMs: 2_000 });
    await h.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(h.app.getHttpServer().address() as AddressInfo).port}`;
    const owner = await h.factory.apiKey();
    key = owner.key;
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
  });
  afterAll(() => h.close());

  it('acknowledges 64 single adds and 16 batches to one cube at once, and health answers throughout', async () => {
    const probe = probeHealth(base);
    const singles = Array.from({ length: 64 }, (_, i) => post(`/v1/cubes/${cubeId}/memories`, { items: [{ text: `single memory number ${i}` }] }));
    const batches = Array.from({ length: 16 }, (_, b) =>
      post(`/v1/cubes/${cubeId}/memories`, { items: Array.from({ length: 20 }, (_, i) => ({ text: `batch ${b} item ${i}` })) }),
    );
    const responses = await Promise.all([...singles, ...batches]);
    const health = await probe.stop();

    expect(responses.map((r) => r.status)).toEqual(Array(80).fill(201));
    expect(health.failed).toBe(0);
    expect(health.answered).toBeGreaterThan(0);
    const rows = await queryDirect(h.db.url, `SELECT count(*)::int AS n FROM memories WHERE cube_id = $1`, [cubeId]);
    expect(rows[0].n).toBe(64 + 16 * 20);
    // The audit row is part of each write's transaction: one per acknowledged request.
    const audit = await queryDirect(h.db.url, `SELECT count(*)::int AS n FROM audit_events WHERE target_id = $1 AND action = 'memory.add'`, [cubeId]);
    expect(audit[0].n).toBe(80);
  });

  it('serves concurrent edits, deletes and searches on the same cube', async () => {
    const list = await fetch(`${base}/v1/cubes/${cubeId}/memories?limit=60`, { headers: headers() });
    const ids = ((await list.json()) as { items: { id: string }[] }).items.map((m) => m.id);
    expect(ids.length).toBe(60);
    const probe = probeHealth(base);
    const work = ids.map((id, i) => {
      if (i % 3 === 0) return fetch(`${base}/v1/cubes/${cubeId}/memories/${id}`, { method: 'DELETE', headers: headers(), signal: AbortSignal.timeout(30_000) });
      if (i % 3 === 1) return fetch(`${base}/v1/cubes/${cubeId}/memories/${id}`, { method: 'PATCH', headers: headers(), body: JSON.stringify({ text: `edited ${i}` }), signal: AbortSignal.timeout(30_000) });
      return post(`/v1/cubes/${cubeId}/search`, { query: `memory number ${i}`, topK: 3 });
    });
    const statuses = (await Promise.all(work)).map((r) => r.status);
    const health = await probe.stop();
    expect(statuses.filter((s) => s >= 300)).toEqual([]);
    expect(health.failed).toBe(0);
    const edits = await queryDirect(h.db.url, `SELECT count(*)::int AS n FROM audit_events WHERE action IN ('memory.update', 'memory.delete') AND details->>'cubeId' = $1`, [cubeId]);
    expect(edits[0].n).toBe(40);
  });

  it('answers 503 with Retry-After instead of hanging when a lock is held too long, then recovers', async () => {
    // A stuck writer elsewhere holds the cube's write lock.
    const stuck = new Client({ connectionString: h.db.url });
    await stuck.connect();
    await stuck.query('BEGIN');
    await stuck.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7))`, [cubeId]);
    try {
      const probe = probeHealth(base);
      const started = Date.now();
      const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => post(`/v1/cubes/${cubeId}/memories`, { items: [{ text: `blocked ${i}` }] }, 20_000)));
      const health = await probe.stop();
      expect(responses.map((r) => r.status)).toEqual(Array(8).fill(503));
      expect(responses.every((r) => r.headers.get('retry-after') === '1')).toBe(true);
      const body = (await responses[0].json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('unavailable');
      expect(body.error.message).toMatch(/retry/);
      expect(Date.now() - started).toBeLessThan(15_000); // bounded by the lock and acquire timeouts, not by the client giving up
      expect(health.failed).toBe(0);
    } finally {
      await stuck.query('ROLLBACK');
      await stuck.end();
    }
    const after = await post(`/v1/cubes/${cubeId}/memories`, { items: [{ text: 'after the stuck writer went away' }] });
    expect(after.status).toBe(201);
    const rejected = await queryDirect(h.db.url, `SELECT count(*)::int AS n FROM memories WHERE cube_id = $1 AND text LIKE 'blocked %'`, [cubeId]);
    expect(rejected[0].n).toBe(0); // a 503 stored nothing
  });
});

async function queryDirect(url: string, sql: string, params: unknown[]): Promise<{ n: number }[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ n: number }>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
