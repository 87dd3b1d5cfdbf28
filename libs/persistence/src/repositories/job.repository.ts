import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from './sql';
import { JobEntity, JobState } from '../entities';
import { JobRecord } from './records';

export interface NewJob {
  name: string;
  payload: Record<string, unknown>;
  tenantId: string | null;
  singletonKey?: string | null;
  maxAttempts: number;
  runAfter?: Date;
}

/**
 * Why an operator-cancelled job ended. On a row that is still `running` the same text is the
 * cancel request its worker reads with its heartbeat: the row stays its worker's
 * until the handler stops, so the job ends either cancelled (nothing committed) or completed
 * (it committed before it saw the request), never both.
 */
export const JOB_CANCELLED = 'cancelled by the operator';

/** Insert-or-find rounds of `enqueue` (each lost only to a worker freeing the key in between). */
const ENQUEUE_ATTEMPTS = 5;

/** What a heartbeat found: the lease renewed, renewed with a cancel request pending, or lost to another worker. */
export type JobLease = 'held' | 'cancelling' | 'lost';

/**
 * The PostgreSQL job queue. Claiming uses FOR UPDATE SKIP LOCKED so any number of
 * workers can poll; a claim is a lease, and a job whose worker died is claimed again
 * once its lease runs out.
 */
@Injectable()
export class JobRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Enqueues a job; with a singleton key, an existing job with that key is returned instead.
   * The insert and the look-up of the job holding the key are two statements: a worker that
   * starts that job between them frees its key (`releaseSingleton`), so the look-up finds
   * nothing and the insert is tried again, now without a conflict.
   */
  async enqueue(job: NewJob, tx?: EntityManager): Promise<JobRecord> {
    // `tx`: queued by the write that needs it, so the job commits (or not) with it (ADR 0530).
    const db = tx ?? this.db;
    const repo = db.getRepository(JobEntity);
    for (let attempt = 0; attempt < ENQUEUE_ATTEMPTS; attempt++) {
      const rows = await queryRows<{ id: string }>(db,
        `INSERT INTO jobs (name, payload, tenant_id, singleton_key, max_attempts, run_after)
         VALUES ($1, $2::jsonb, $3, $4, $5, COALESCE($6, now()))
         ON CONFLICT (singleton_key) WHERE singleton_key IS NOT NULL DO NOTHING
         RETURNING id`,
        [job.name, JSON.stringify(job.payload), job.tenantId, job.singletonKey ?? null, job.maxAttempts, job.runAfter ?? null],
      );
      const found = rows.length ? await repo.findOneBy({ id: rows[0].id }) : await repo.findOneBy({ singletonKey: job.singletonKey ?? undefined });
      if (found) return found;
    }
    throw new Error(`job ${job.name} was neither inserted nor found after ${ENQUEUE_ATTEMPTS} attempts`);
  }

  /** Claims the next runnable job among `names` for `leaseMs`, or returns null. */
  async claim(workerId: string, names: string[], leaseMs: number): Promise<JobRecord | null> {
    // A job whose lease ran out after its last allowed attempt is failed, one with a cancel request its dead worker never saw cancelled; neither runs again.
    await queryRows(this.db,
      `UPDATE jobs SET state = CASE WHEN last_error = $2 THEN 'cancelled' ELSE 'failed' END, finished_at = now(), locked_by = NULL, locked_until = NULL,
              last_error = COALESCE(last_error, 'lease expired after the last attempt'), updated_at = now()
        WHERE state = 'running' AND locked_until < now() AND (attempts >= max_attempts OR last_error = $2) AND name = ANY($1)`,
      [names, JOB_CANCELLED],
    );
    const rows = await queryRows<{ id: string }>(this.db,
      `UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1,
              locked_until = now() + ($2::int * interval '1 millisecond'), updated_at = now()
        WHERE id = (
          SELECT id FROM jobs
           WHERE name = ANY($3)
             AND ((state = 'queued' AND run_after <= now())
               OR (state = 'running' AND locked_until < now() AND attempts < max_attempts AND last_error IS DISTINCT FROM $4))
           ORDER BY run_after, created_at
           FOR UPDATE SKIP LOCKED
           LIMIT 1)
        RETURNING id`,
      [workerId, leaseMs, names, JOB_CANCELLED],
    );
    if (!rows.length) return null;
    return this.db.getRepository(JobEntity).findOneBy({ id: rows[0].id });
  }

  /** Extends the lease of a job this worker still holds; says whether the operator asked it to stop or it was lost. */
  async heartbeat(jobId: string, workerId: string, leaseMs: number, progress?: Record<string, unknown>): Promise<JobLease> {
    const rows = await queryRows<{ cancelling: boolean }>(this.db,
      `UPDATE jobs SET locked_until = now() + ($3::int * interval '1 millisecond'),
              progress = COALESCE($4::jsonb, progress), updated_at = now()
        WHERE id = $1 AND locked_by = $2 AND state = 'running' RETURNING last_error IS NOT DISTINCT FROM $5 AS cancelling`,
      [jobId, workerId, leaseMs, progress ? JSON.stringify(progress) : null, JOB_CANCELLED],
    );
    if (!rows.length) return 'lost';
    return rows[0].cancelling ? 'cancelling' : 'held';
  }

  async complete(jobId: string, workerId: string): Promise<boolean> {
    const rows = await queryRows(this.db,
      `UPDATE jobs SET state = 'completed', locked_by = NULL, locked_until = NULL, last_error = NULL,
              finished_at = now(), updated_at = now()
        WHERE id = $1 AND locked_by = $2 AND state = 'running' RETURNING id`,
      [jobId, workerId],
    );
    return rows.length > 0;
  }

  /**
   * Records a failure: back to the queue after `retryInMs`, or `failed` once attempts are spent.
   * A job the operator cancelled ends `cancelled` with the cancel as its error, whatever stopped it.
   */
  async fail(jobId: string, workerId: string, error: string, retryInMs: number): Promise<JobState | null> {
    const rows = await queryRows<{ state: JobState }>(this.db,
      `UPDATE jobs SET
              state = CASE WHEN last_error = $5 THEN 'cancelled' WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
              run_after = now() + ($4::int * interval '1 millisecond'),
              finished_at = CASE WHEN attempts >= max_attempts OR last_error = $5 THEN now() ELSE NULL END,
              last_error = CASE WHEN last_error = $5 THEN last_error ELSE $3 END,
              locked_by = NULL, locked_until = NULL, updated_at = now()
        WHERE id = $1 AND locked_by = $2 AND state = 'running' RETURNING state`,
      [jobId, workerId, error.slice(0, 4000), retryInMs, JOB_CANCELLED],
    );
    return rows.length ? rows[0].state : null;
  }

  get(id: string): Promise<JobRecord | null> {
    return this.db.getRepository(JobEntity).findOneBy({ id });
  }

  async countsByState(): Promise<{ name: string; state: JobState; count: number }[]> {
    const rows = await queryRows<{ name: string; state: JobState; count: string }>(this.db,
      'SELECT name, state, count(*)::int AS count FROM jobs GROUP BY name, state',
    );
    return rows.map((r) => ({ name: r.name, state: r.state, count: Number(r.count) }));
  }

  /**
   * Frees a running job's singleton key, so the next enqueue with that key makes a new job
   * (a debounced tick that starts lets the writes that arrive meanwhile queue the next one).
   */
  async releaseSingleton(jobId: string): Promise<void> {
    await this.db.query(`UPDATE jobs SET singleton_key = NULL, updated_at = now() WHERE id = $1`, [jobId]);
  }

  /**
   * Operator retry of a failed (or cancelled) job: back to the queue with its attempts and
   * progress reset, so it runs from the start on what is committed now (a cancel's error goes
   * too: it would stop the new run); null when it was neither failed nor cancelled.
   */
  async retry(jobId: string): Promise<JobRecord | null> {
    const rows = await queryRows<{ id: string }>(this.db,
      `UPDATE jobs SET state = 'queued', attempts = 0, run_after = now(), finished_at = NULL, locked_by = NULL, locked_until = NULL,
              last_error = CASE WHEN last_error = $2 THEN NULL ELSE last_error END, progress = NULL, updated_at = now()
        WHERE id = $1 AND state IN ('failed', 'cancelled') RETURNING id`,
      [jobId, JOB_CANCELLED],
    );
    return rows.length ? this.get(jobId) : null;
  }

  /**
   * Operator cancel. A queued job, or a running one whose lease ran out (no worker holds it),
   * ends at once: `cancelled`, with JOB_CANCELLED as its error. A running job keeps its state and its worker and
   * gets JOB_CANCELLED as a request: the worker's next heartbeat reads it, its handler stops at
   * its next checkpoint without committing, and the runner ends the job (`fail` keeps the
   * cancel as its error, and ends it `cancelled`); a handler that committed first completes it. Null when already finished.
   */
  async cancel(jobId: string): Promise<JobRecord | null> {
    const rows = await queryRows<{ id: string }>(this.db,
      `UPDATE jobs SET
              state = CASE WHEN state = 'queued' OR locked_until < now() THEN 'cancelled' ELSE state END,
              finished_at = CASE WHEN state = 'queued' OR locked_until < now() THEN now() ELSE finished_at END,
              locked_by = CASE WHEN state = 'queued' OR locked_until < now() THEN NULL ELSE locked_by END,
              locked_until = CASE WHEN state = 'queued' OR locked_until < now() THEN NULL ELSE locked_until END,
              last_error = $2, singleton_key = NULL, updated_at = now()
        WHERE id = $1 AND state IN ('queued', 'running') RETURNING id`,
      [jobId, JOB_CANCELLED],
    );
    return rows.length ? this.get(jobId) : null;
  }

  /** The latest failed jobs, newest first. */
  async recentFailures(limit: number, names?: string[]): Promise<JobRecord[]> {
    const rows = await queryRows<{ id: string }>(this.db,
      `SELECT id FROM jobs WHERE state = 'failed' AND ($2::text[] IS NULL OR name = ANY($2::text[])) ORDER BY finished_at DESC NULLS LAST LIMIT $1`,
      [limit, names ?? null],
    );
    if (!rows.length) return [];
    const found = await this.db.getRepository(JobEntity).findBy(rows.map((r) => ({ id: r.id })));
    const byId = new Map(found.map((j) => [j.id, j]));
    return rows.map((r) => byId.get(r.id)!).filter(Boolean);
  }

  /** Seconds the oldest runnable queued job of each name has waited (queue lag). */
  async queueLag(): Promise<{ name: string; oldestWaitingMs: number }[]> {
    const rows = await queryRows<{ name: string; ms: number }>(this.db,
      `SELECT name, EXTRACT(EPOCH FROM (now() - min(run_after))) * 1000 AS ms FROM jobs WHERE state = 'queued' AND run_after <= now() GROUP BY name`,
    );
    return rows.map((r) => ({ name: r.name, oldestWaitingMs: Math.max(0, Number(r.ms)) }));
  }
}
