import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';

export type LifecycleRunStatus = 'queued' | 'running' | 'done' | 'failed';

/** A requested lifecycle run of one cube (manual or operator), its outcome and its actions. */
@Entity('lifecycle_runs')
@Index('IDX_lifecycle_runs_cube', ['cubeId', 'createdAt'])
export class LifecycleRunEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'cube_id', type: 'uuid' })
  cubeId: string;

  @ManyToOne(() => CubeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'cube_id' })
  cube?: CubeEntity;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text', default: 'queued' })
  status: LifecycleRunStatus;

  /** key | admin */
  @Column({ name: 'requested_by_type', type: 'text' })
  requestedByType: string;

  @Column({ name: 'requested_by', type: 'text', nullable: true })
  requestedBy: string | null;

  @Column({ name: 'job_id', type: 'uuid', nullable: true })
  jobId: string | null;

  /** The actions applied (or skipped, with why). */
  @Column({ type: 'jsonb', default: () => "'[]'" })
  actions: Record<string, unknown>[];

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}
