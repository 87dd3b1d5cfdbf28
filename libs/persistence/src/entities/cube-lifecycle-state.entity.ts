import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';

/** How far the scheduler's ticks have read a cube's change feed, and when it was last swept. */
@Entity('cube_lifecycle_state')
export class CubeLifecycleStateEntity {
  @PrimaryColumn({ name: 'cube_id', type: 'uuid' })
  cubeId: string;

  @ManyToOne(() => CubeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'cube_id' })
  cube?: CubeEntity;

  @Column({ name: 'processed_seq', type: 'bigint', default: 0 })
  processedSeq: string;

  @Column({ name: 'swept_at', type: 'timestamptz', nullable: true })
  sweptAt: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
