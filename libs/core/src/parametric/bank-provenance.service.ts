// The server's record of block provenance is PostgreSQL (bank_blocks,
// bank_deleted_memories); the bank file's generation swap happens first and the rows follow
// in one transaction with banks.generation. A crash between the two leaves the file ahead
// of the row: reads and jobs call `recover`, which copies what the file side holds into the
// rows (ADR 0305).
import { Injectable, Logger } from '@nestjs/common';
import { BankBlockRepository, BankRecord, BankRepository } from '@engram/persistence';
import { BankStore, FileSideChanges, ProvenanceRecord } from './bank.store';

@Injectable()
export class BankProvenance {
  private readonly logger = new Logger('BankProvenance');

  constructor(
    private readonly banks: BankRepository,
    private readonly blocks: BankBlockRepository,
    private readonly store: BankStore,
  ) {}

  /**
   * The bank as it should be read: when its file is ahead of the row (a commit whose
   * database update was lost), the rows are recovered first. Takes the bank's lock without
   * waiting: a process holding it is writing and records its commit itself.
   */
  async current(bank: BankRecord): Promise<BankRecord> {
    if (bank.state !== 'ready' || this.store.fileGeneration(bank) <= bank.generation) return bank;
    const attempt = await this.banks.tryWithLock(bank.id, async () => {
      const row = await this.banks.getAny(bank.id);
      return row ? this.recoverLocked(row) : null;
    });
    return (attempt.acquired ? attempt.value : null) ?? bank;
  }

  /** recover() for a caller holding the bank's lock (jobs, before they read the record). */
  async recoverLocked(bank: BankRecord): Promise<BankRecord> {
    if (bank.state !== 'ready') return bank;
    const changes = this.store.changedSince(bank, bank.generation);
    if (changes.generation <= bank.generation) return bank;
    const unknown = changes.blocks.filter((b) => !b.known).length;
    this.logger.warn(`bank ${bank.id}: file at generation ${changes.generation}, row at ${bank.generation}; recovering ${changes.blocks.length} block(s) from the file side (${unknown} without a sidecar record: stale, holding every text of their cluster)`);
    await this.record(bank.id, changes);
    return (await this.banks.getAny(bank.id)) ?? bank;
  }

  /** Records a commit's changes and moves the row to its generation, in one transaction; `progress` also marks a finished job. */
  async record(bankId: string, changes: FileSideChanges, progress?: Record<string, unknown>): Promise<boolean> {
    return this.blocks.commit(bankId, changes.generation, changes.blocks, changes.deleted, progress ? { progress } : undefined);
  }

  /** The bank's provenance as the library takes it (what a write trains on and rewrites). */
  async load(bank: BankRecord): Promise<ProvenanceRecord> {
    const [rows, deleted] = await Promise.all([this.blocks.list(bank.id), this.blocks.deletedIds(bank.id)]);
    return {
      blocks: rows.map((r) => ({
        level: r.level,
        node: r.node,
        memoryIds: [...r.memoryIds],
        stale: r.stale,
        generation: r.generation,
        steps: r.steps,
        finalLoss: r.finalLoss,
        writtenAt: r.writtenAt.toISOString(),
      })),
      deleted,
    };
  }
}
