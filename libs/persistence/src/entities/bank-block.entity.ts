import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { BankEntity } from './bank.entity';

/**
 * The provenance of one written block of a parametric bank (ADR 0305): which memories were
 * trained into it, whether it is stale (one of them changed or was deleted) or locked, and
 * the bank-file generation that wrote it. The weights stay in the bank file.
 */
@Entity('bank_blocks')
// "Which blocks hold memory X" (forgetting): `memory_ids @> ARRAY[X]`. TypeORM cannot
// declare a GIN index, so the migration creates it and the schema builder leaves it alone.
@Index('IDX_bank_blocks_memory_ids', { synchronize: false })
export class BankBlockEntity {
  @PrimaryColumn({ name: 'bank_id', type: 'uuid' })
  bankId: string;

  @ManyToOne(() => BankEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'bank_id' })
  bank?: BankEntity;

  @PrimaryColumn({ type: 'int' })
  level: number;

  @PrimaryColumn({ type: 'int' })
  node: number;

  @Column({ name: 'memory_ids', type: 'uuid', array: true })
  memoryIds: string[];

  @Column({ type: 'boolean', default: false })
  stale: boolean;

  @Column({ type: 'boolean', default: false })
  locked: boolean;

  /** The bank-file generation whose commit wrote the block. */
  @Column({ type: 'int' })
  generation: number;

  /** Training steps of that write; 0 when unknown (recovered from the file, ADR 0305). */
  @Column({ type: 'int', default: 0 })
  steps: number;

  /** Commits that wrote the block (1 for its first write; the dashboard's heat map). */
  @Column({ type: 'int', default: 1 })
  writes: number;

  @Column({ name: 'final_loss', type: 'double precision', nullable: true })
  finalLoss: number | null;

  @Column({ name: 'written_at', type: 'timestamptz' })
  writtenAt: Date;
}
