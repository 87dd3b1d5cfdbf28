// Forgetting in a bank (ADR 0301, 0305): marking the blocks of deleted memories stale,
// zeroing a block, locking one against training. Rewriting stale blocks is a write
// (bank-write.ts). ParametricBank's methods delegate here.
import { join } from 'node:path';
import { PROVENANCE_FILE } from './bank/bank-paths';
import type { ParametricBank } from './parametric-bank';

/** Marks the blocks holding these memories stale and records them as deleted. */
export function deleteMemories(bank: ParametricBank, memoryIds: readonly string[]): Array<{ level: number; node: number }> {
  const touched: Array<{ level: number; node: number }> = [];
  for (const id of memoryIds) {
    bank.provenance.deleted.add(id);
    for (const b of bank.provenance.holding(id)) {
      b.stale = true;
      touched.push({ level: b.level, node: b.node });
    }
  }
  bank.provenance.save(join(bank.dir, PROVENANCE_FILE));
  return touched;
}

/** Forgetting without retraining: the block's weights become zero (no effect). */
export function zero(bank: ParametricBank, level: number, node: number): number {
  const rank = bank.file.level(level).rank;
  const { hidden, layers } = bank.file.header;
  const n = layers * rank * hidden;
  const generation = bank.file.commit([{ level, node, block: { rank, gate: new Float32Array(n), up: new Float32Array(n), down: new Float32Array(n) }, force: true }]);
  const rec = bank.provenance.get(level, node);
  if (rec) {
    rec.memoryIds = [];
    rec.stale = false;
    rec.generation = generation;
  }
  bank.afterCommit(generation, [{ level, node }]);
  return generation;
}

/** A locked block is never trained again (until unlocked). */
export function lock(bank: ParametricBank, level: number, node: number, locked = true): number {
  const generation = bank.file.commit([{ level, node, locked }]);
  const rec = bank.provenance.get(level, node);
  if (rec) rec.generation = generation; // the record stays the one of the block's current trailer (changedSince)
  bank.afterCommit(generation, [{ level, node }]);
  return generation;
}
