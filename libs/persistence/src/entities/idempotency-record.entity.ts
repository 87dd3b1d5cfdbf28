import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
