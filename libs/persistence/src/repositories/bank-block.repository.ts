import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BankBlockEntity } from '../entities';
import { queryRows } from './sql';

export type BankBlockRecord = Readonly<Omit<BankBlockEntity, 'bank'>>;

/** A block's provenance as a commit of the bank file left it (writtenAt as an ISO string or a Date). */
export interface BankBlockWrite {
  level: number;
  node: number;
  memoryIds: readonly string[];
  stale: boolean;
  locked: boolean;
  generation: number;
  steps: number;
  finalLoss: number | null;
  writtenAt: string | Date;
}

export interface BankBlockCounts {
  /** Written and stale blocks per level (levels without a written block are absent). */
  levels: Map<number, { written: number; stale: number }>;
  deleted: number;
}

interface BlockRow {
  level: number;
  node: number;
  memory_ids: string[];
  stale: boolean;
  locked: boolean;
  generation: number;
  steps: number;
  writes: number;
  final_loss: number | null;
  written_at: Date;
}

const toRecord = (bankId: string, r: BlockRow): BankBlockRecord => ({
  bankId,
  level: r.level,
  node: r.node,
  memoryIds: r.memory_ids,
  stale: r.stale,
  locked: r.locked,
  generation: r.generation,
  steps: r.steps,
  writes: r.writes,
  finalLoss: r.final_loss,
  writtenAt: r.written_at,
});

const BLOCK_COLUMNS = 'level, node, memory_ids, stale, locked, generation, steps, final_loss, written_at';
const READ_COLUMNS = `${BLOCK_COLUMNS}, writes`;

/**
 * Block provenance of parametric banks (ADR 0305): `bank_blocks` and
 * `bank_deleted_memories`. PostgreSQL is the server's record; `commit` moves a bank to a
 * new file generation in one transaction with the rows that generation wrote.
 */
@Injectable()
export class BankBlockRepository {
  constructor(private readonly db: DataSource) {}

  async get(bankId: string, level: number, node: number): Promise<BankBlockRecord | null> {
    const [row] = await queryRows<BlockRow>(this.db, `SELECT ${READ_COLUMNS} FROM bank_blocks WHERE bank_id = $1 AND level = $2 AND node = $3`, [bankId, level, node]);
    return row ? toRecord(bankId, row) : null;
  }

  async list(bankId: string): Promise<BankBlockRecord[]> {
    const rows = await queryRows<BlockRow>(this.db, `SELECT ${READ_COLUMNS} FROM bank_blocks WHERE bank_id = $1 ORDER BY level, node`, [bankId]);
    return rows.map((r) => toRecord(bankId, r));
  }

  /** The blocks of any bank that hold a memory (the GIN index on memory_ids answers it). */
  async holding(memoryId: string): Promise<BankBlockRecord[]> {
    const rows = await queryRows<BlockRow & { bank_id: string }>(
      this.db,
      `SELECT bank_id, ${READ_COLUMNS} FROM bank_blocks WHERE memory_ids @> ARRAY[$1]::uuid[] ORDER BY bank_id, level, node`,
      [memoryId],
    );
    return rows.map((r) => toRecord(r.bank_id, r));
  }

  async deletedIds(bankId: string): Promise<string[]> {
    const rows = await queryRows<{ memory_id: string }>(this.db, 'SELECT memory_id FROM bank_deleted_memories WHERE bank_id = $1 ORDER BY memory_id', [bankId]);
    return rows.map((r) => r.memory_id);
  }

  async counts(bankId: string): Promise<BankBlockCounts> {
    const perLevel = await queryRows<{ level: number; written: number; stale: number }>(
      this.db,
      `SELECT level, count(*)::int AS written, count(*) FILTER (WHERE stale)::int AS stale FROM bank_blocks WHERE bank_id = $1 GROUP BY level`,
      [bankId],
    );
    const [deleted] = await queryRows<{ n: number }>(this.db, 'SELECT count(*)::int AS n FROM bank_deleted_memories WHERE bank_id = $1', [bankId]);
    return { levels: new Map(perLevel.map((r) => [r.level, { written: r.written, stale: r.stale }])), deleted: deleted.n };
  }

  /**
   * Marks the blocks of a bank that hold a memory stale; `deleted` also records the memory
   * as forgotten (never trained again). One transaction; returns the blocks marked.
   */
  markStale(bankId: string, memoryId: string, deleted: boolean): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = await queryRows(tx, 'UPDATE bank_blocks SET stale = true WHERE bank_id = $1 AND memory_ids @> ARRAY[$2]::uuid[] RETURNING node', [bankId, memoryId]);
      if (deleted) await queryRows(tx, 'INSERT INTO bank_deleted_memories (bank_id, memory_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [bankId, memoryId]);
      return rows.length;
    });
  }

  /**
   * Records a commit of the bank file in one transaction: the blocks it wrote (upserted),
   * memories it forgot, and the bank row at `generation` (never moved back). With
   * `ready`, the row also becomes ready with that progress and no error (a finished job);
   * without, only the generation moves (a recovery). False when the bank is gone.
   */
  commit(bankId: string, generation: number, blocks: readonly BankBlockWrite[], deleted: readonly string[] = [], ready?: { progress: Record<string, unknown> }): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const bank = await queryRows(tx, 'SELECT id FROM banks WHERE id = $1 FOR UPDATE', [bankId]);
      if (!bank.length) return false;
      if (blocks.length) {
        await queryRows(
          tx,
          `INSERT INTO bank_blocks (bank_id, ${BLOCK_COLUMNS})
           SELECT $1, b.level, b.node, b.memory_ids, b.stale, b.locked, b.generation, b.steps, b.final_loss, b.written_at
             FROM jsonb_to_recordset($2::jsonb) AS b(level int, node int, memory_ids uuid[], stale boolean, locked boolean, generation int, steps int, final_loss double precision, written_at timestamptz)
           ON CONFLICT (bank_id, level, node) DO UPDATE SET
             memory_ids = EXCLUDED.memory_ids, stale = EXCLUDED.stale, locked = EXCLUDED.locked, generation = EXCLUDED.generation,
             steps = EXCLUDED.steps, final_loss = EXCLUDED.final_loss, written_at = EXCLUDED.written_at, writes = bank_blocks.writes + 1`,
          [bankId, JSON.stringify(blocks.map((b) => ({
            level: b.level,
            node: b.node,
            memory_ids: b.memoryIds,
            stale: b.stale,
            locked: b.locked,
            generation: b.generation,
            steps: b.steps,
            final_loss: b.finalLoss,
            written_at: b.writtenAt instanceof Date ? b.writtenAt.toISOString() : b.writtenAt,
          })))],
        );
      }
      if (deleted.length) {
        await queryRows(tx, 'INSERT INTO bank_deleted_memories (bank_id, memory_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING', [bankId, deleted]);
      }
      if (ready) {
        await queryRows(tx, `UPDATE banks SET state = 'ready', generation = GREATEST(generation, $2), progress = $3::jsonb, error = NULL, updated_at = now() WHERE id = $1`, [bankId, generation, JSON.stringify(ready.progress)]);
      } else {
        await queryRows(tx, 'UPDATE banks SET generation = GREATEST(generation, $2), updated_at = now() WHERE id = $1', [bankId, generation]);
      }
      return true;
    });
  }

  /** A (re)built bank: no block written, nothing forgotten; the row becomes ready at `generation`. */
  reset(bankId: string, generation: number, progress: Record<string, unknown>): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await queryRows(tx, `UPDATE banks SET state = 'ready', generation = $2, progress = $3::jsonb, error = NULL, updated_at = now() WHERE id = $1 RETURNING id`, [bankId, generation, JSON.stringify(progress)]);
      if (!rows.length) return false;
      await queryRows(tx, 'DELETE FROM bank_blocks WHERE bank_id = $1', [bankId]);
      await queryRows(tx, 'DELETE FROM bank_deleted_memories WHERE bank_id = $1', [bankId]);
      return true;
    });
  }
}
