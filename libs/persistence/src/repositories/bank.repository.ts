import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { BankEntity, BankReplaySettings, BankState } from '../entities';
import { queryRows } from './sql';
import { LockAttempt, withAdvisoryLock } from '../database/advisory-lock';

export type BankRecord = Readonly<Omit<BankEntity, 'cube' | 'model'>>;

export interface NewBank {
  id: string;
  cubeId: string;
  modelId: string;
  modelFingerprint: string;
  embedder: Record<string, unknown>;
  embedderFingerprint: string;
  levels: number;
  branching: number;
  ranks: number[];
  replay: BankReplaySettings;
  directory: string;
}

/** Parametric memory banks of cubes (metadata; blocks and tree are in the bank directory, block provenance in BankBlockRepository). */
@Injectable()
export class BankRepository {
  constructor(private readonly db: DataSource) {}

  async create(bank: NewBank): Promise<BankRecord> {
    await queryRows(this.db,
      `INSERT INTO banks (id, cube_id, model_id, model_fingerprint, embedder, embedder_fingerprint, levels, branching, ranks, replay, state, progress, directory)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9::int[], $10::jsonb, 'building', '{"phase":"queued"}'::jsonb, $11)`,
      [bank.id, bank.cubeId, bank.modelId, bank.modelFingerprint, JSON.stringify(bank.embedder), bank.embedderFingerprint, bank.levels, bank.branching, bank.ranks, JSON.stringify(bank.replay), bank.directory],
    );
    return this.db.getRepository(BankEntity).findOneByOrFail({ id: bank.id });
  }

  get(cubeId: string, id: string): Promise<BankRecord | null> {
    return this.db.getRepository(BankEntity).findOneBy({ cubeId, id });
  }

  /** A bank by id alone: for jobs, which carry no tenant. */
  getAny(id: string): Promise<BankRecord | null> {
    return this.db.getRepository(BankEntity).findOneBy({ id });
  }

  listByCube(cubeId: string, states?: BankState[]): Promise<BankRecord[]> {
    const where = states ? states.map((state) => ({ cubeId, state })) : { cubeId };
    return this.db.getRepository(BankEntity).find({ where, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  async hasAny(cubeId: string, tx: EntityManager | DataSource = this.db): Promise<boolean> {
    const rows = await queryRows<{ one: number }>(tx, 'SELECT 1 AS one FROM banks WHERE cube_id = $1 LIMIT 1', [cubeId]);
    return rows.length > 0;
  }

  async setJob(id: string, jobId: string): Promise<void> {
    await queryRows(this.db, 'UPDATE banks SET job_id = $2, updated_at = now() WHERE id = $1', [id, jobId]);
  }

  async setProgress(id: string, progress: Record<string, unknown>): Promise<void> {
    await queryRows(this.db, 'UPDATE banks SET progress = $2::jsonb, updated_at = now() WHERE id = $1', [id, JSON.stringify(progress)]);
  }

  /** Records a commit of the bank file (build done or blocks written): the bank is ready at `generation`. */
  async markReady(id: string, generation: number, progress: Record<string, unknown>): Promise<boolean> {
    const rows = await queryRows(this.db,
      `UPDATE banks SET state = 'ready', generation = $2, progress = $3::jsonb, error = NULL, updated_at = now()
        WHERE id = $1 RETURNING id`,
      [id, generation, JSON.stringify(progress)],
    );
    return rows.length > 0;
  }

  /** A build that cannot finish: the bank stays listed as failed, with the reason. */
  async markFailed(id: string, error: string): Promise<void> {
    await queryRows(this.db, `UPDATE banks SET state = 'failed', error = $2, updated_at = now() WHERE id = $1 AND state = 'building'`, [id, error.slice(0, 4000)]);
  }

  /** Records why a write did not complete; the bank keeps its previous generation. */
  async recordError(id: string, error: string): Promise<void> {
    await queryRows(this.db, 'UPDATE banks SET error = $2, updated_at = now() WHERE id = $1', [id, error.slice(0, 4000)]);
  }

  async delete(cubeId: string, id: string): Promise<BankRecord | null> {
    const row = await this.get(cubeId, id);
    if (!row) return null;
    const rows = await queryRows(this.db, 'DELETE FROM banks WHERE cube_id = $1 AND id = $2 RETURNING id', [cubeId, id]);
    return rows.length ? row : null;
  }

  /**
   * Runs `fn` holding a PostgreSQL advisory lock on the bank, so that at most one process
   * changes its files at a time (writes, forgetting). The lock lives on a connection of its
   * own, not in a pooled transaction: `fn` trains for minutes and uses the pool itself.
   */
  async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const attempt = await withAdvisoryLock(this.db, `engram.bank:${id}`, true, fn);
    if (!attempt.acquired) throw new Error(`bank ${id}: lock not acquired`);
    return attempt.value;
  }

  /** withLock without waiting: `acquired: false` (and `fn` not run) when another process holds the bank's lock. */
  tryWithLock<T>(id: string, fn: () => Promise<T>): Promise<LockAttempt<T>> {
    return withAdvisoryLock(this.db, `engram.bank:${id}`, false, fn);
  }
}
