import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { BankEntity } from './bank.entity';

/**
 * A memory a bank forgot (ADR 0305): deleted from the cube after it was written, so no
 * write or rewrite of the bank trains it again, even if the memory is restored.
 */
@Entity('bank_deleted_memories')
export class BankDeletedMemoryEntity {
  @PrimaryColumn({ name: 'bank_id', type: 'uuid' })
  bankId: string;

  @ManyToOne(() => BankEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'bank_id' })
  bank?: BankEntity;

  @PrimaryColumn({ name: 'memory_id', type: 'uuid' })
  memoryId: string;

  @Column({ name: 'deleted_at', type: 'timestamptz', default: () => 'now()' })
  deletedAt: Date;
}
