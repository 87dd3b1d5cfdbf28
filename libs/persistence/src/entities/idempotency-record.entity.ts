import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';

/** The first response to a write sent with an Idempotency-Key, replayed on retries. */
@Entity('idempotency_records')
@Index('IDX_idempotency_records_created', ['createdAt'])
export class IdempotencyRecordEntity {
  /** Hash of (key id, route, cube, Idempotency-Key). */
  @PrimaryColumn({ type: 'text' })
  scope: string;

  @Column({ name: 'request_hash', type: 'text' })
  requestHash: string;

  @Column({ name: 'status_code', type: 'int' })
  statusCode: number;

  @Column({ type: 'jsonb' })
  response: unknown;

  /** The cube the write went to: its records go with it (purge) and erase scrubs them. */
  @Index('IDX_idempotency_records_cube')
  @Column({ name: 'cube_id', type: 'uuid', nullable: true })
  cubeId: string | null;

  @ManyToOne(() => CubeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'cube_id' })
  cube?: CubeEntity;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
