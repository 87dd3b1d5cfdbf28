import { CubeService, JobName } from '@engram/core';
import { CubeRepository, JobRepository } from '@engram/persistence';
import { JobRunner } from '@engram/scheduler';
import { createMediumHarness, MediumHarness } from '@engram/testing';
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

  it('is idempotent: running the purge again after it finished changes nothing and succeeds', async () => {
    const { cube, purgeJobId } = await deletedCubeWithFiles();
    const runner = h.app.get(JobRunner);
    await runner.drain();
    const job = (await h.app.get(JobRepository).get(purgeJobId))!;
    // Replay the same job by hand, as a retry after a lost acknowledgement would.
    const handler = (runner as unknown as { handlers: Map<string, { handle: (j: unknown, c: unknown) => Promise<void> }> }).handlers.get(JobName.CubePurge)!;
    await expect(handler.handle(job, { heartbeat: async () => undefined, lost: false })).resolves.toBeUndefined();
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

  it('does not purge a cube that is live', async () => {
    const cube = await h.factory.cube();
    await h.app.get(JobRepository).enqueue({ name: JobName.CubePurge, payload: { cubeId: cube.id, tenantId: cube.tenantId }, tenantId: cube.tenantId, maxAttempts: 1 });
    await h.app.get(JobRunner).drain();
    expect(await h.app.get(CubeRepository).getAny(cube.id)).not.toBeNull();
  });
});
