import { JobName, JobQueueService } from '@engram/core';
import { JobRunner } from '@engram/scheduler';
import { createMediumHarness, MediumHarness } from '@engram/testing';
import { DataSource } from 'typeorm';

describe('the maintenance job', () => {
  let h: MediumHarness;
  const count = async (sql: string) => Number((await h.app.get(DataSource).query(sql))[0].n);

  beforeAll(async () => {
    h = await createMediumHarness({ idempotencyTtlMs: 3_600_000 }, true);
  });
  afterAll(() => h.close());

  it('removes expired idempotency records and ended rate-limit windows, keeps the rest, and queues its next run', async () => {
    const db = h.app.get(DataSource);
    await db.query(`INSERT INTO idempotency_records (scope, request_hash, status_code, response, created_at)
                    VALUES ('old', 'h', 201, '{"text":"an old response"}', now() - interval '2 hours'), ('fresh', 'h', 201, '{}', now())`);
    await db.query(`INSERT INTO rate_limit_windows (subject, window_start, count)
                    VALUES ('key:a', date_trunc('minute', now()) - interval '10 minutes', 5), ('key:a', date_trunc('minute', now()), 2)`);
    await h.app.get(JobQueueService).enqueueMaintenance(new Date());
    expect(await h.app.get(JobRunner).drain()).toBe(1);

    expect((await db.query(`SELECT scope FROM idempotency_records ORDER BY scope`)).map((r: { scope: string }) => r.scope)).toEqual(['fresh']);
    expect(await count(`SELECT count(*) AS n FROM rate_limit_windows`)).toBe(1);
    // The next run is queued for later (not runnable now), exactly once.
    expect(await count(`SELECT count(*) AS n FROM jobs WHERE name = '${JobName.Maintenance}' AND state = 'queued' AND run_after > now()`)).toBe(1);
    expect(await h.app.get(JobRunner).drain()).toBe(0);
  });
});
