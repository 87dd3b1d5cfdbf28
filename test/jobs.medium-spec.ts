import { CubeService, JobName } from '@engram/core';
import { CubeRepository, JOB_CANCELLED, JobRecord, JobRepository } from '@engram/persistence';
import { JobControl, JobRunner } from '@engram/scheduler';
import { createMediumHarness, MediumHarness } from '@engram/testing';
import { DataSource } from 'typeorm';
import * as fs from 'node:fs';
import * as path from 'node:path';

describe('the job queue and the cube purge job', () => {
  let h: MediumHarness;

  beforeAll(async () => {
    h = await createMediumHarness({ jobLeaseMs: 300 }, true);
  });
  afterAll(() => h.close());

  async function deletedCubeWithFiles() {
    const owner = await h.factory.apiKey();
    const cube = await h.factory.cube({ tenantId: owner.tenantId });
    const dir = path.join(h.config.dataDir, 'cubes', cube.id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'index.bin'), 'derived data');
    const { purgeJobId } = await h.app.get(CubeService).delete(owner.ctx, cube.id);
    return { cube, dir, purgeJobId };
  }

  it('hard-deletes a soft-deleted cube and its files', async () => {
    const { cube, dir, purgeJobId } = await deletedCubeWithFiles();
    expect(await h.app.get(CubeRepository).getAny(cube.id)).not.toBeNull();
    expect(await h.app.get(JobRunner).drain()).toBeGreaterThanOrEqual(1);
    expect(await h.app.get(CubeRepository).getAny(cube.id)).toBeNull();
    expect(fs.existsSync(dir)).toBe(false);
    expect((await h.app.get(JobRepository).get(purgeJobId))?.state).toBe('completed');
  });

  it('queues one purge job however often the cube is deleted', async () => {
    const jobs = h.app.get(JobRepository);
    const first = await jobs.enqueue({ name: JobName.CubePurge, payload: { cubeId: 'x' }, tenantId: null, singletonKey: 'same', maxAttempts: 3 });
    const second = await jobs.enqueue({ name: JobName.CubePurge, payload: { cubeId: 'x' }, tenantId: null, singletonKey: 'same', maxAttempts: 3 });
    expect(second.id).toBe(first.id);
  });

  it('queues the job when a worker starts the job holding the singleton key between the insert and the look-up', async () => {
    const db = h.app.get(DataSource);
    const key = 'raced-by-a-worker';
    const held = await h.app.get(JobRepository).enqueue({ name: JobName.CubePurge, payload: { cubeId: 'y' }, tenantId: null, singletonKey: key, maxAttempts: 3 });
    // The repository on the real database; after its insert meets the key, a worker starts the
    // job holding it and frees the key (JobRunner → releaseSingleton) before the look-up runs.
    let raced = 0;
    const racing = new Proxy(db, {
      get(target, prop) {
        if (prop === 'query') {
          return async (sql: string, params?: unknown[]) => {
            const out = await target.query(sql, params);
            if (!raced && sql.includes('INSERT INTO jobs') && Array.isArray(out) && out.length === 0) {
              raced += 1;
              await target.query(`UPDATE jobs SET state = 'running', singleton_key = NULL WHERE id = $1`, [held.id]);
            }
            return out;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const queued = await new JobRepository(racing).enqueue({ name: JobName.CubePurge, payload: { cubeId: 'y' }, tenantId: null, singletonKey: key, maxAttempts: 3 });
    expect(raced).toBe(1);
    expect(queued).toMatchObject({ state: 'queued', singletonKey: key });
    expect(queued.id).not.toBe(held.id);
  });

  it('is idempotent: running the purge again after it finished changes nothing and succeeds', async () => {
    const { cube, purgeJobId } = await deletedCubeWithFiles();
    const runner = h.app.get(JobRunner);
    await runner.drain();
    const job = (await h.app.get(JobRepository).get(purgeJobId))!;
    // Replay the same job by hand, as a retry after a lost acknowledgement would.
    const handler = (runner as unknown as { handlers: Map<string, { handle: (j: unknown, c: unknown) => Promise<void> }> }).handlers.get(JobName.CubePurge)!;
    await expect(handler.handle(job, { heartbeat: async () => undefined, lost: false, cancelled: false, signal: new AbortController().signal })).resolves.toBeUndefined();
    expect(await h.app.get(CubeRepository).getAny(cube.id)).toBeNull();
  });

  it('finishes a purge whose worker died mid-job once the lease runs out', async () => {
    const { cube, purgeJobId } = await deletedCubeWithFiles();
    const jobs = h.app.get(JobRepository);
    // A first worker claims the job and dies without finishing it.
    const claimed = await jobs.claim('dead-worker', [JobName.CubePurge], 300);
    expect(claimed?.id).toBe(purgeJobId);
    const runner = h.app.get(JobRunner);
    // While the lease holds, nobody else runs it (periodic jobs that come due may run: not counted).
    await runner.drain();
    expect(await jobs.get(purgeJobId)).toMatchObject({ state: 'running', attempts: 1 });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await runner.drain()).toBeGreaterThanOrEqual(1);
    const job = await jobs.get(purgeJobId);
    expect(job).toMatchObject({ state: 'completed', attempts: 2 });
    expect(await h.app.get(CubeRepository).getAny(cube.id)).toBeNull();
  });

  it('retries a failing job with backoff and fails it once attempts are spent', async () => {
    const jobs = h.app.get(JobRepository);
    const job = await jobs.enqueue({ name: 'test.always-fails', payload: {}, tenantId: null, maxAttempts: 2 });
    const first = await jobs.claim('w', ['test.always-fails'], 1000);
    expect(await jobs.fail(first!.id, 'w', 'boom', 0)).toBe('queued');
    const second = await jobs.claim('w', ['test.always-fails'], 1000);
    expect(second?.id).toBe(job.id);
    expect(await jobs.fail(second!.id, 'w', 'boom again', 0)).toBe('failed');
    expect(await jobs.claim('w', ['test.always-fails'], 1000)).toBeNull();
    expect(await jobs.get(job.id)).toMatchObject({ state: 'failed', attempts: 2, lastError: 'boom again' });
  });

  describe('an operator cancel', () => {
    const claimNew = async (name: string, workerId = 'w1', leaseMs = 10_000) => {
      const jobs = h.app.get(JobRepository);
      const job = await jobs.enqueue({ name, payload: {}, tenantId: null, maxAttempts: 3 });
      expect((await jobs.claim(workerId, [name], leaseMs))?.id).toBe(job.id);
      return job;
    };
    /** A runner of its own with one handler, polling nothing (drain only). */
    const runnerWith = (handler: { name: string; handle(job: JobRecord, control: JobControl): Promise<void> }) =>
      new JobRunner(h.app.get(JobRepository), [handler], h.config, false);

    it('asks a running job to stop through its row; the job ends cancelled, not queued again, and a retry runs it afresh', async () => {
      const jobs = h.app.get(JobRepository);
      const job = await claimNew('test.cancel-running');
      expect(await jobs.cancel(job.id)).toMatchObject({ state: 'running', lastError: JOB_CANCELLED, lockedBy: 'w1' });
      expect(await jobs.heartbeat(job.id, 'w1', 10_000)).toBe('cancelling');
      // Attempts are left, but a cancelled job is not retried with backoff.
      expect(await jobs.fail(job.id, 'w1', 'This operation was aborted', 0)).toBe('cancelled');
      expect(await jobs.get(job.id)).toMatchObject({ state: 'cancelled', lastError: JOB_CANCELLED, lockedBy: null, finishedAt: expect.any(Date) });
      expect((await jobs.recentFailures(50)).map((j) => j.id)).not.toContain(job.id);
      expect(await jobs.cancel(job.id)).toBeNull();
      expect(await jobs.retry(job.id)).toMatchObject({ state: 'queued', attempts: 0, lastError: null, progress: null });
      expect((await jobs.claim('w2', ['test.cancel-running'], 10_000))?.id).toBe(job.id);
      expect(await jobs.heartbeat(job.id, 'w2', 10_000)).toBe('held');
    });

    it('keeps the result of a job that completed before it saw the cancel', async () => {
      const jobs = h.app.get(JobRepository);
      const job = await claimNew('test.cancel-too-late');
      await jobs.cancel(job.id);
      expect(await jobs.complete(job.id, 'w1')).toBe(true);
      expect(await jobs.get(job.id)).toMatchObject({ state: 'completed', lastError: null });
      expect(await jobs.cancel(job.id)).toBeNull();
      expect(await jobs.retry(job.id)).toBeNull();
    });

    it('ends a cancelled job whose worker died instead of running it again', async () => {
      const jobs = h.app.get(JobRepository);
      const job = await claimNew('test.cancel-dead-worker', 'dead-worker', 300);
      expect(await jobs.cancel(job.id)).toMatchObject({ state: 'running' });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await jobs.claim('w2', ['test.cancel-dead-worker'], 10_000)).toBeNull();
      expect(await jobs.get(job.id)).toMatchObject({ state: 'cancelled', lastError: JOB_CANCELLED, attempts: 1 });
      // With the lease already gone, the cancel itself ends it.
      const orphan = await claimNew('test.cancel-orphan', 'dead-worker', 300);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await jobs.cancel(orphan.id)).toMatchObject({ state: 'cancelled', lastError: JOB_CANCELLED, lockedBy: null });
    });

    it('stops a running handler at its next heartbeat when the row is cancelled from another process', async () => {
      const jobs = h.app.get(JobRepository);
      const job = await jobs.enqueue({ name: 'test.cancel-loop', payload: {}, tenantId: null, maxAttempts: 3 });
      let steps = 0;
      let seen: { cancelled: boolean; lost: boolean; aborted: boolean } | null = null;
      const ran = await runnerWith({
        name: 'test.cancel-loop',
        async handle(_job, control) {
          try {
            for (;;) {
              steps += 1;
              if (steps === 3) await jobs.cancel(job.id); // the operator, through the database only
              await control.heartbeat({ steps });
            }
          } finally {
            seen = { cancelled: control.cancelled, lost: control.lost, aborted: control.signal.aborted };
          }
        },
      }).drain();
      expect(ran).toBe(1);
      expect(steps).toBe(3);
      expect(seen).toEqual({ cancelled: true, lost: false, aborted: true });
      expect(await jobs.get(job.id)).toMatchObject({ state: 'cancelled', lastError: JOB_CANCELLED, attempts: 1, progress: { steps: 3 } });
    });

    it('completes a handler that finished before it looked at the cancel', async () => {
      const jobs = h.app.get(JobRepository);
      const job = await jobs.enqueue({ name: 'test.cancel-ignored', payload: {}, tenantId: null, maxAttempts: 3 });
      await runnerWith({
        name: 'test.cancel-ignored',
        async handle() {
          await jobs.cancel(job.id);
        },
      }).drain();
      expect(await jobs.get(job.id)).toMatchObject({ state: 'completed', lastError: null });
    });
  });

  it('does not purge a cube that is live', async () => {
    const cube = await h.factory.cube();
    await h.app.get(JobRepository).enqueue({ name: JobName.CubePurge, payload: { cubeId: cube.id, tenantId: cube.tenantId }, tenantId: cube.tenantId, maxAttempts: 1 });
    await h.app.get(JobRunner).drain();
    expect(await h.app.get(CubeRepository).getAny(cube.id)).not.toBeNull();
  });
});
