import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';
import { ModelEntity } from './model.entity';

export type BankState = 'building' | 'ready' | 'failed';

/** Mirrors @engram/parametric's ReplaySettings (persistence does not depend on parametric). */
export interface BankReplaySettings {
  source: 'anchor' | 'memories' | 'none';
  perStep: number;
  weight: number;
  samples: number;
}

/**
 * A parametric memory bank of a cube (ADR 0302). The blocks and the tree live in the bank
 * directory under `<dataDir>/cubes/<cubeId>/banks/<id>`, block provenance in `bank_blocks`
 * (ADR 0305); this row is what tenants list and what access, jobs and purge see.
 */
@Entity('banks')
@Index('IDX_banks_cube_created', ['cubeId', 'createdAt', 'id'])
export class BankEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'cube_id', type: 'uuid' })
  cubeId: string;

  @ManyToOne(() => CubeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'cube_id' })
  cube?: CubeEntity;

  @Column({ name: 'model_id', type: 'uuid' })
  modelId: string;

  @ManyToOne(() => ModelEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'model_id' })
  model?: ModelEntity;

  /** The anchor model's fingerprint: the blocks only mean something for this model. */
  @Column({ name: 'model_fingerprint', type: 'text' })
  modelFingerprint: string;

  /** The embedder settings the tree was built with; routing must use the same embedder. */
  @Column({ type: 'jsonb' })
  embedder: Record<string, unknown>;

  @Column({ name: 'embedder_fingerprint', type: 'text' })
  embedderFingerprint: string;

  @Column({ type: 'int' })
  levels: number;

  @Column({ type: 'int' })
  branching: number;

  /** Block rank (extra FFN neurons per layer) at each level, coarse first. */
  @Column({ type: 'int', array: true })
  ranks: number[];

  /** Replay settings of the bank's writes `{ source, perStep, weight, samples }` (ADR 0304), resolved at creation. */
  @Column({ type: 'jsonb' })
  replay: BankReplaySettings;

  @Column({ type: 'text', default: 'building' })
  state: BankState;

  /** Build or write progress: { phase, done, total, … }. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  progress: Record<string, unknown>;

  /** The bank file's generation whose block provenance the rows hold (0 before the first build); the file may be ahead after a crash (ADR 0305). */
  @Column({ type: 'int', default: 0 })
  generation: number;

  /** Absolute path of the bank directory. */
  @Column({ type: 'text' })
  directory: string;

  /** The job that builds (or last wrote) the bank. */
  @Column({ name: 'job_id', type: 'uuid', nullable: true })
  jobId: string | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
