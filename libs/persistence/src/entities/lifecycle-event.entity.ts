import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';

/**
 * One lifecycle transition (merge, supersede, expire, archive, restore …): which memories,
 * why (policy and scores), who (a policy name or a key id), and the values before and after,
 * so every change can be explained and undone.
 */
@Entity('lifecycle_events')
@Index('IDX_lifecycle_events_cube', ['cubeId', 'id'])
@Index('IDX_lifecycle_events_memory_ids', { synchronize: false })
export class LifecycleEventEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id: string;

  @Column({ name: 'cube_id', type: 'uuid' })
  cubeId: string;

  @ManyToOne(() => CubeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'cube_id' })
  cube?: CubeEntity;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'memory_ids', type: 'uuid', array: true })
  memoryIds: string[];

  /** merge | supersede | expire | archive | restore */
  @Column({ type: 'text' })
  action: string;

  /** { policy, rule, scores … } */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  reason: Record<string, unknown>;

  /** policy | key | admin */
  @Column({ name: 'actor_type', type: 'text' })
  actorType: string;

  /** The policy name (e.g. "fusion.rules") or the key id. */
  @Column({ name: 'actor_id', type: 'text', nullable: true })
  actorId: string | null;

  @Column({ name: 'run_id', type: 'uuid', nullable: true })
  runId: string | null;

  /** Per memory id: the lifecycle fields before the transition. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  before: Record<string, unknown>;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  after: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  at: Date;
}
