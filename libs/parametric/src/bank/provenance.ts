// Which memories were written into which block, which blocks are stale (a memory in them
// was deleted) and which memories are deleted. A JSON sidecar replaced atomically after
// each bank commit. The CLI keeps it as its record; the server keeps the record in
// PostgreSQL and reads this file only to recover from a crash after a commit (ADR 0305).
import { existsSync, readFileSync } from 'node:fs';
import { ParametricError, ParametricErrorCode } from '../parametric.error';
import { writeFileAtomic } from './atomic-file';

export interface BlockRecord {
  level: number;
  node: number;
  memoryIds: string[];
  stale: boolean;
  generation: number;
  steps: number;
  finalLoss: number | null;
  writtenAt: string;
}

interface ProvenanceJson {
  format: 'engram-bank-provenance';
  generation: number;
  blocks: BlockRecord[];
  deleted: string[];
}

export class Provenance {
  readonly blocks = new Map<string, BlockRecord>();
  readonly deleted = new Set<string>();
  generation = 0;

  static key(level: number, node: number): string {
    return `${level}:${node}`;
  }

  get(level: number, node: number): BlockRecord | undefined {
    return this.blocks.get(Provenance.key(level, node));
  }

  set(record: BlockRecord): void {
    this.blocks.set(Provenance.key(record.level, record.node), record);
  }

  staleBlocks(): BlockRecord[] {
    return [...this.blocks.values()].filter((b) => b.stale);
  }

  /** Blocks that hold `memoryId`. */
  holding(memoryId: string): BlockRecord[] {
    return [...this.blocks.values()].filter((b) => b.memoryIds.includes(memoryId));
  }

  /** Takes another record's blocks, deleted ids and generation (a server loads PostgreSQL's record into an opened bank). */
  replaceWith(other: { blocks: Iterable<BlockRecord>; deleted: Iterable<string>; generation: number }): void {
    this.blocks.clear();
    this.deleted.clear();
    for (const b of other.blocks) this.set({ ...b, memoryIds: [...b.memoryIds] });
    for (const d of other.deleted) this.deleted.add(d);
    this.generation = other.generation;
  }

  save(path: string): void {
    const json: ProvenanceJson = { format: 'engram-bank-provenance', generation: this.generation, blocks: [...this.blocks.values()], deleted: [...this.deleted] };
    writeFileAtomic(path, JSON.stringify(json));
  }

  static load(path: string): Provenance {
    const p = new Provenance();
    if (!existsSync(path)) return p;
    let json: ProvenanceJson;
    try {
      json = JSON.parse(readFileSync(path, 'utf8')) as ProvenanceJson;
    } catch (cause) {
      throw new ParametricError(ParametricErrorCode.BankCorrupt, `bank provenance ${path} cannot be read`, { cause });
    }
    if (json.format !== 'engram-bank-provenance') throw new ParametricError(ParametricErrorCode.BankCorrupt, `${path} is not an engram bank provenance file`);
    p.generation = json.generation;
    for (const b of json.blocks) p.set(b);
    for (const d of json.deleted) p.deleted.add(d);
    return p;
  }
}
