import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTinyModel } from '@engram/inference';
import { JobRecord, JobRepository } from '@engram/persistence';
import { JobRunner } from '@engram/scheduler';
import { createE2eHarness, E2eHarness } from '@engram/testing';

/**
 * The operator's cancel of a running job: the worker reads it from the job's row,
 * the handler stops at its next training step without committing, the job ends cancelled
 * everywhere the operator looks, and a retry runs it once from what is committed.
 * Tiny model (1 layer, hidden 16) and a tiny bank keep it fast.
 */
describe('cancelling a running job', () => {
  let h: E2eHarness;
  let modelsDir: string;
  let key: string;
  let cubeId: string;
  let bankId: string;
  let memoryIds: string[];
  const auth = () => ({ Authorization: `Bearer ${key}` });
  const admin = () => ({ Authorization: `Bearer ${h.adminToken}` });
  const drain = () => h.app.get(JobRunner).drain();
  const job = async (id: string) => (await h.app.get(JobRepository).get(id)) as JobRecord;
  const getBank = async () => (await h.http.get(`/v1/cubes/${cubeId}/banks/${bankId}`).set(auth()).expect(200)).body;
  /** A write long enough to be cancelled early (2,400 training steps): every memory, many passes, no replay. */
  const startWrite = async () => {
    const res = await h.http.post(`/v1/cubes/${cubeId}/banks/${bankId}/write`).set(auth()).send({ memoryIds, epochs: 200, replay: { source: 'none' } }).expect(202);
    return res.body.jobId as string;
  };
  /** Polls the job's row until its handler reported a training step. */
  const untilTraining = async (jobId: string) => {
    for (;;) {
      const row = await job(jobId);
      const progress = row.progress as { phase?: string; done?: number; total?: number } | null;
      if (row.state !== 'running' && row.state !== 'queued') throw new Error(`job ended (${row.state}) before it trained`);
      if (progress?.phase === 'write' && (progress.done ?? 0) >= 1) return { done: progress.done!, total: progress.total! };
      await sleep(20);
    }
  };

  beforeAll(async () => {
    h = await createE2eHarness();
    modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-models-'));
    createTinyModel({ outDir: path.join(modelsDir, 'tiny'), layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 280, maxPositionEmbeddings: 128, seed: 1 });
    await h.http.post('/v1/admin/models').set(admin()).send({ path: path.join(modelsDir, 'tiny') }).expect(201);
    const owner = await h.factory.apiKey();
    key = owner.key;
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId })).id;
    const items = Array.from({ length: 96 }, (_, i) => ({ text: `Person ${i} was born in town ${i * 7} and keeps ${i + 2} goats.` }));
    memoryIds = (await h.http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items }).expect(201)).body.items.map((m: { id: string }) => m.id);
    bankId = (await h.http.post(`/v1/cubes/${cubeId}/banks`).set(auth()).send({ model: 'tiny', levels: 2, branching: 2, blockSizes: [2, 2] }).expect(202)).body.bankId;
    await drain();
    expect((await getBank()).state).toBe('ready');
  });
  afterAll(async () => {
    await h.close();
    fs.rmSync(modelsDir, { recursive: true, force: true });
  });

  it('stops a running bank write without committing it, and a retry writes it exactly once', async () => {
    const before = await getBank();
    const jobId = await startWrite();
    const running = drain();
    const seen = await untilTraining(jobId);

    const cancelled = await h.http.post(`/v1/admin/jobs/${jobId}/cancel`).set(admin()).expect(200);
    expect(cancelled.body).toMatchObject({ id: jobId, state: 'cancelled', lastError: 'cancelled by the operator', finishedAt: expect.any(String) });
    await running;

    // The worker stopped at a training step, well before the end, and committed nothing (a file ahead of
    // its row would show here too: reading the bank recovers it).
    const stopped = await job(jobId);
    const progress = stopped.progress as { done: number; total: number };
    expect(progress.total).toBe(seen.total);
    expect(progress.done).toBeLessThan(progress.total / 2); // thousands of steps: it stops within the first hundreds
    expect(stopped).toMatchObject({ state: 'cancelled', lastError: 'cancelled by the operator', attempts: 1 });
    const bank = await getBank();
    expect(bank).toMatchObject({ state: 'ready', generation: before.generation, progress: { phase: 'cancelled', jobId } });
    expect(bank.error).toContain('cancelled by the operator');
    expect(bank.occupancy.levels.map((l: { writtenBlocks: number }) => l.writtenBlocks)).toEqual(before.occupancy.levels.map((l: { writtenBlocks: number }) => l.writtenBlocks));

    // The same answer wherever the operator looks: a cancelled job, none running, and no failure.
    const scheduler = (await h.http.get('/v1/admin/scheduler').set(admin()).expect(200)).body;
    expect(scheduler.jobs['bank.write']).toMatchObject({ running: 0, cancelled: 1 });
    expect(scheduler.jobs['bank.write'].failed ?? 0).toBe(0);
    expect(scheduler.failures.map((j: { id: string }) => j.id)).not.toContain(jobId);
    const metrics = await h.http.get('/metrics').expect(200);
    expect(metrics.text).toContain('engram_jobs{name="bank.write",state="cancelled"} 1');
    expect(metrics.text).not.toMatch(/engram_jobs\{name="bank.write",state="failed"\} [1-9]/);
    expect(metrics.text).not.toMatch(/engram_jobs\{name="bank.write",state="running"\} [1-9]/);
    // Nothing left to cancel, and nothing ran after the cancel.
    await h.http.post(`/v1/admin/jobs/${jobId}/cancel`).set(admin()).expect(409);
    await drain(); // other jobs may come due (a cube's lifecycle tick); this one does not run
    expect((await getBank()).generation).toBe(before.generation);

    // A retry starts from the committed bank, runs once and commits one generation.
    const retried = await h.http.post(`/v1/admin/jobs/${jobId}/retry`).set(admin()).expect(200);
    expect(retried.body).toMatchObject({ state: 'queued', attempts: 0, lastError: null });
    expect(await drain()).toBeGreaterThanOrEqual(1);
    expect(await job(jobId)).toMatchObject({ state: 'completed', attempts: 1, lastError: null, progress: { phase: 'write', done: seen.total, total: seen.total } });
    const written = await getBank();
    expect(written).toMatchObject({ state: 'ready', generation: before.generation + 1, error: null, progress: { phase: 'written', jobId, memories: memoryIds.length } });
    // Done is done: neither a second retry nor a cancel applies it again.
    await h.http.post(`/v1/admin/jobs/${jobId}/retry`).set(admin()).expect(409);
    await h.http.post(`/v1/admin/jobs/${jobId}/cancel`).set(admin()).expect(409);
    await drain(); // other jobs may come due (a cube's lifecycle tick); this one does not run
    expect((await getBank()).generation).toBe(before.generation + 1);
  }, 300_000);

  it('cancels a queued write before it runs: nothing is trained', async () => {
    const before = await getBank();
    const jobId = await startWrite();
    const cancelled = await h.http.post(`/v1/admin/jobs/${jobId}/cancel`).set(admin()).expect(200);
    expect(cancelled.body).toMatchObject({ state: 'cancelled', lastError: 'cancelled by the operator', attempts: 0 });
    await drain(); // other jobs may come due (a cube's lifecycle tick); this one does not run
    expect(await job(jobId)).toMatchObject({ state: 'cancelled', attempts: 0, progress: null });
    expect((await getBank()).generation).toBe(before.generation);
  });
});
