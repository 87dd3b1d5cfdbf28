import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { queryRows } from './sql';

/** An active memory that consolidation may write into a bank, with what its heat is computed from. */
export interface ConsolidationCandidate {
  id: string;
  text: string;
  version: number;
  accessCount: number;
  lastAccessedAt: Date | null;
  createdAt: Date;
  importance: number | null;
}

/** A memory's state and version, to find those that changed while a consolidation trained. */
export interface MemoryVersionState {
  id: string;
  state: string;
  version: number;
}

/**
 * The queries of consolidation into parametric memory (ADR 0403): which memories are
 * stable and hot enough to write, and marking the blocks that hold a changed memory stale
 * in every bank of its cube at once (before the bank.forget job marks them again under
 * the bank's lock).
 */
@Injectable()
export class ConsolidationRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Active, not superseded memories of the cube unchanged since `changedBefore`, read at
   * least `minAccesses` times, that no fresh (non-stale) block of the bank holds yet and the
   * bank never forgot; the most read first (the caller ranks them by heat).
   */
  async candidates(cubeId: string, bankId: string, rules: { minAccesses: number; changedBefore: Date; limit: number }): Promise<ConsolidationCandidate[]> {
    const rows = await queryRows<{ id: string; text: string; version: number; access_count: number; last_accessed_at: Date | null; created_at: Date; importance: number | null }>(
      this.db,
      `SELECT m.id, m.text, m.version, coalesce(a.access_count, 0) AS access_count, a.last_accessed_at, m.created_at, m.importance
         FROM memories m LEFT JOIN memory_access a ON a.memory_id = m.id
        WHERE m.cube_id = $1 AND m.state = 'active' AND m.superseded_by IS NULL
          AND coalesce(a.access_count, 0) >= $3 AND m.updated_at <= $4
          AND NOT EXISTS (SELECT 1 FROM bank_blocks b WHERE b.bank_id = $2 AND NOT b.stale AND b.memory_ids @> ARRAY[m.id])
          AND NOT EXISTS (SELECT 1 FROM bank_deleted_memories d WHERE d.bank_id = $2 AND d.memory_id = m.id)
        ORDER BY coalesce(a.access_count, 0) DESC, a.last_accessed_at DESC NULLS LAST, m.id
        LIMIT $5`,
      [cubeId, bankId, rules.minAccesses, rules.changedBefore, rules.limit],
    );
    return rows.map((r) => ({ id: r.id, text: r.text, version: Number(r.version), accessCount: Number(r.access_count), lastAccessedAt: r.last_accessed_at, createdAt: r.created_at, importance: r.importance }));
  }

  async versions(cubeId: string, ids: readonly string[]): Promise<MemoryVersionState[]> {
    if (!ids.length) return [];
    const rows = await queryRows<{ id: string; state: string; version: number }>(this.db, 'SELECT id, state, version FROM memories WHERE cube_id = $1 AND id = ANY($2::uuid[])', [cubeId, ids]);
    return rows.map((r) => ({ id: r.id, state: r.state, version: Number(r.version) }));
  }

  /** Marks stale, in every bank of the cube, the blocks holding any of these memories; returns how many. */
  async markStaleInCube(cubeId: string, memoryIds: readonly string[], tx: EntityManager | DataSource = this.db): Promise<number> {
    if (!memoryIds.length) return 0;
    const rows = await queryRows(
      tx,
      `UPDATE bank_blocks SET stale = true
        WHERE bank_id IN (SELECT id FROM banks WHERE cube_id = $1) AND NOT stale AND memory_ids && $2::uuid[]
        RETURNING node`,
      [cubeId, memoryIds],
    );
    return rows.length;
  }

  /** Levels (1-based) of a routed path whose block is stale: chat runs without them. */
  async staleLevels(bankId: string, path: readonly number[]): Promise<number[]> {
    if (!path.length) return [];
    const rows = await queryRows<{ level: number }>(
      this.db,
      `SELECT b.level FROM bank_blocks b JOIN unnest($2::int[]) WITH ORDINALITY AS p(node, level) ON b.level = p.level AND b.node = p.node
        WHERE b.bank_id = $1 AND b.stale ORDER BY b.level`,
      [bankId, [...path]],
    );
    return rows.map((r) => Number(r.level));
  }

  /**
   * Which of `memoryIds` had their text changed (a version whose text differs from the one
   * before) after a block of this bank holding them was written: an edit or a merge, whose
   * place in the bank's tree still reflects the old words.
   */
  async textChangedSinceWritten(bankId: string, memoryIds: readonly string[]): Promise<string[]> {
    if (!memoryIds.length) return [];
    const rows = await queryRows<{ id: string }>(
      this.db,
      `SELECT DISTINCT v.memory_id::text AS id
         FROM bank_blocks b
         JOIN memory_versions v ON v.memory_id = ANY(b.memory_ids) AND v.at > b.written_at
        WHERE b.bank_id = $1 AND v.memory_id = ANY($2::uuid[])
          AND v.old_values ? 'text' AND v.new_values ? 'text' AND v.old_values->>'text' IS DISTINCT FROM v.new_values->>'text'`,
      [bankId, [...memoryIds]],
    );
    return rows.map((r) => r.id);
  }

  /**
   * The blocks of a path as chat's routing by memory sees them (ADR 0403), one per level:
   * written or not, holding `memoryId`, stale, and whether the text of a memory of `inPrompt`
   * that the block holds changed after the block was written (a version whose text differs
   * from the one before; tags, pins or importance do not count).
   */
  async routeStates(bankId: string, path: readonly number[], memoryId: string, inPrompt: readonly string[]): Promise<Array<{ level: number; written: boolean; holds: boolean; stale: boolean; newer: boolean }>> {
    if (!path.length) return [];
    const rows = await queryRows<{ level: number; written: boolean; holds: boolean; stale: boolean; newer: boolean }>(
      this.db,
      `SELECT p.level::int AS level, b.node IS NOT NULL AS written,
              COALESCE(b.memory_ids @> ARRAY[$3]::uuid[], false) AS holds, COALESCE(b.stale, false) AS stale,
              COALESCE(EXISTS (SELECT 1 FROM memory_versions v
                                WHERE v.memory_id = ANY($4::uuid[]) AND v.memory_id = ANY(b.memory_ids) AND v.at > b.written_at
                                  AND v.old_values ? 'text' AND v.new_values ? 'text' AND v.old_values->>'text' IS DISTINCT FROM v.new_values->>'text'), false) AS newer
         FROM unnest($2::int[]) WITH ORDINALITY AS p(node, level)
         LEFT JOIN bank_blocks b ON b.bank_id = $1 AND b.level = p.level AND b.node = p.node
        ORDER BY p.level`,
      [bankId, [...path], memoryId, [...new Set([memoryId, ...inPrompt])]],
    );
    return rows.map((r) => ({ level: Number(r.level), written: r.written, holds: r.holds, stale: r.stale, newer: r.newer }));
  }
}
