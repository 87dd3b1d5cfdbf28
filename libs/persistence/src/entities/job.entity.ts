import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/** `cancelled`: an operator stopped it before it committed (ADR 0408); `failed`: its attempts ran out. */
export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

@Entity('jobs')
@Index('IDX_jobs_claim', ['state', 'runAfter'])
@Index('UQ_jobs_singleton', ['singletonKey'], { unique: true, where: '"singleton_key" IS NOT NULL' })
export class JobEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  payload: Record<string, unknown>;

  @Column({ type: 'text', default: 'queued' })
  state: JobState;

  @Column({ name: 'tenant_id', type: 'uuid', nullable: true })
  tenantId: string | null;

  /** Enqueuing twice with the same key yields one job. */
  @Column({ name: 'singleton_key', type: 'text', nullable: true })
  singletonKey: string | null;

  @Column({ type: 'int', default: 0 })
  attempts: number;

  @Column({ name: 'max_attempts', type: 'int', default: 5 })
  maxAttempts: number;

  @Column({ name: 'run_after', type: 'timestamptz', default: () => 'now()' })
  runAfter: Date;

  @Column({ name: 'locked_by', type: 'text', nullable: true })
  lockedBy: string | null;

  @Column({ name: 'locked_until', type: 'timestamptz', nullable: true })
  lockedUntil: Date | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  @Column({ type: 'jsonb', nullable: true })
  progress: Record<string, unknown> | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}
