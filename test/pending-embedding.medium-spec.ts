import { DataSource } from 'typeorm';
import { MemoryService } from '@engram/core';
import { PendingEmbeddingRepository } from '@engram/persistence';
import { createMediumHarness, MediumHarness, TestKey } from '@engram/testing';

/**
 * Deferred embedding (ADR 0106) reads the memories still waiting for a vector: at boot for
 * every cube, then per cube in change order. Those reads are served by the partial index
 * on `embedding IS NULL`, not by a scan of every memory of every cube.
 */
describe('memories waiting for a vector', () => {
  let h: MediumHarness;
  let owner: TestKey;
  let waiting: string;
  let embedded: string;
  let db: DataSource;

  beforeAll(async () => {
    h = await createMediumHarness();
    db = h.app.get(DataSource);
    owner = await h.factory.apiKey();
    waiting = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    embedded = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const items = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ text: `${prefix} memory number ${i}` }));
    for (let b = 0; b < 3; b++) await h.app.get(MemoryService).add(owner.ctx, embedded, { items: items(1000, `embedded ${b}`) });
    await h.app.get(MemoryService).add(owner.ctx, waiting, { items: items(20, 'waiting') });
    // The hash embedder embeds at once: these rows are made to wait as a neural embedder's would.
    await db.query(`UPDATE memories SET embedding = NULL WHERE cube_id = $1`, [waiting]);
    await db.query(`ANALYZE memories`);
  });
  afterAll(() => h.close());

  it('finds the cubes with pending memories and only those', async () => {
    const repo = h.app.get(PendingEmbeddingRepository);
    expect(await repo.cubesWithPending()).toEqual([waiting]);
    expect(await repo.countPending(waiting)).toBe(20);
    expect(await repo.countPending(embedded)).toBe(0);
    expect((await repo.pending(waiting, 0, 5)).map((p) => p.text)).toEqual([0, 1, 2, 3, 4].map((i) => `waiting memory number ${i}`));
  });

  it.each([
    ['the boot sweep', `SELECT DISTINCT m.cube_id FROM memories m JOIN cubes c ON c.id = m.cube_id WHERE m.embedding IS NULL AND m.state <> 'deleted' AND c.deleted_at IS NULL`, []],
    ['a cube catching up', `SELECT id FROM memories WHERE cube_id = $1 AND change_seq > $2 AND embedding IS NULL AND state <> 'deleted' ORDER BY change_seq LIMIT 100`, ['W', 0]],
    ['the pending count', `SELECT count(*) FROM memories WHERE cube_id = $1 AND embedding IS NULL AND state <> 'deleted'`, ['W']],
  ])('%s reads the partial index on embedding IS NULL', async (_name, sql, params) => {
    const plan = await db.transaction(async (tx) => {
      // Seq scans off, so that on this small table the planner still shows which index it can use.
      await tx.query(`SET LOCAL enable_seqscan = off`);
      const rows: { 'QUERY PLAN': string }[] = await tx.query(`EXPLAIN ${sql}`, (params as unknown[]).map((p) => (p === 'W' ? waiting : p)));
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('IDX_memories_pending_embedding');
  });
});
