import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';

const bigintAsNumber = { to: (v: number) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/**
 * A cube's working memory that was not built because it would have taken the tenant past
 * its KV bytes quota (ADR 0004, 0402). One row per cube, deleted by the next build that fits
 * or when the working memory is dropped; while it exists chat reports `over_quota` and prefills.
 */
@Entity('working_memory_refusals')
export class WorkingMemoryRefusalEntity {
  @PrimaryColumn({ name: 'cube_id', type: 'uuid' })
  cubeId: string;

  @OneToOne(() => CubeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'cube_id' })
  cube?: CubeEntity;

  /** Bytes of KV the refused build needed. */
  @Column({ name: 'needed_bytes', type: 'bigint', transformer: bigintAsNumber })
  neededBytes: number;

  /** The tenant's KV bytes without this cube's working memory, when it was refused. */
  @Column({ name: 'used_bytes', type: 'bigint', transformer: bigintAsNumber })
  usedBytes: number;

  @Column({ name: 'limit_bytes', type: 'bigint', transformer: bigintAsNumber })
  limitBytes: number;

  @Column({ name: 'refused_at', type: 'timestamptz' })
  refusedAt: Date;
}
