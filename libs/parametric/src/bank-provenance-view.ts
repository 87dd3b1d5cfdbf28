// What a bank's files say about its blocks (ADR 0305): the blocks committed after a
// generation with their provenance (recovery when PostgreSQL fell behind the file), and
// occupancy per level. ParametricBank's methods delegate here.
import { statSync } from 'node:fs';
import { BlockFlag, blockParameters } from './bank/bank-layout';
import type { BlockRecord } from './bank/provenance';
import type { ParametricBank } from './parametric-bank';

/** A block committed after some generation (`changedSince`); `known: false` = no sidecar record of that commit, provenance assumed. */
export type ChangedBlock = BlockRecord & { locked: boolean; known: boolean };

/**
 * The blocks committed after `generation`, with their provenance: found by the slot
 * trailers of the tree's nodes (one small read each), so the answer holds even when the
 * sidecar was not saved after the last commit (a crash between the two). A block whose
 * sidecar record is not from its trailer's generation has unknown provenance and is
 * reported conservatively: stale, holding every text of its cluster, so that deleting
 * any of them finds it and a rewrite retrains it (ADR 0305).
 */
export function changedSince(bank: ParametricBank, generation: number): ChangedBlock[] {
  const changed: ChangedBlock[] = [];
  for (const { level, index: node } of bank.tree.nodes()) {
    const trailer = bank.file.readTrailer(level, node);
    if (trailer.generation <= generation) continue;
    const locked = (trailer.flags & BlockFlag.Locked) !== 0;
    const record = bank.provenance.get(level, node);
    if (record && record.generation === trailer.generation) {
      changed.push({ ...record, memoryIds: [...record.memoryIds], locked, known: true });
      continue;
    }
    // No record, and the sidecar was saved after that commit: a block holding no memory (locked while empty).
    if (!record && bank.provenance.generation >= trailer.generation) continue;
    const memoryIds = [...bank.tree.leaves].filter(([, leaf]) => bank.tree.contains(level, node, leaf)).map(([id]) => id);
    changed.push({ level, node, memoryIds, stale: true, generation: trailer.generation, steps: record?.steps ?? 0, finalLoss: null, writtenAt: new Date().toISOString(), locked, known: false });
  }
  return changed.sort((a, b) => a.level - b.level || a.node - b.node);
}

/** Occupancy and sizes per level, for `bank inspect` and the API. */
export function inspect(bank: ParametricBank): {
  generation: number;
  levels: Array<{ level: number; rank: number; nodes: number; treeNodes: number; writtenBlocks: number; staleBlocks: number; blockParameters: number }>;
  texts: number;
  deleted: number;
  fileBytes: number;
  parameters: number;
} {
  const h = bank.file.header;
  const records = [...bank.provenance.blocks.values()];
  const treeNodes = bank.tree.nodes();
  return {
    generation: bank.file.generation,
    levels: bank.file.layout.levels.map((l) => ({
      level: l.level,
      rank: l.rank,
      nodes: l.nodes,
      treeNodes: treeNodes.filter((n) => n.level === l.level).length,
      writtenBlocks: records.filter((r) => r.level === l.level).length,
      staleBlocks: records.filter((r) => r.level === l.level && r.stale).length,
      blockParameters: blockParameters(l.rank, h.hidden, h.layers),
    })),
    texts: bank.tree.leaves.size,
    deleted: bank.provenance.deleted.size,
    fileBytes: statSync(bank.file.path).size,
    parameters: bank.file.layout.levels.reduce((a, l) => a + l.nodes * blockParameters(l.rank, h.hidden, h.layers), 0),
  };
}
