import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { MemoryEntity } from './memory.entity';

/**
 * How often search returned a memory, and when last (ADR 0129): a narrow row of its own, so
 * that counting a search's hits rewrites a few dozen bytes, not the memory's row with its text
 * and embedding and an entry in each of its indexes. A memory never returned has none.
 */
@Entity('memory_access')
export class MemoryAccessEntity {
  @PrimaryColumn({ name: 'memory_id', type: 'uuid' })
  memoryId: string;

  @OneToOne(() => MemoryEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'memory_id' })
  memory?: MemoryEntity;

  @Column({ name: 'access_count', type: 'int', default: 0 })
  accessCount: number;

  @Column({ name: 'last_accessed_at', type: 'timestamptz', nullable: true })
  lastAccessedAt: Date | null;
}
