import { Column, CreateDateColumn, Entity, Generated, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';

export type MemoryState = 'active' | 'deleted' | 'archived' | 'expired' | 'merged';

/**
 * A plaintext memory. `changeSeq` comes from one PostgreSQL sequence and is bumped by
 * every write; writes to one cube are serialised by an advisory lock, so within a cube
 * the sequence follows commit order and index followers can read `changeSeq > last`.
 */
@Entity('memories')
@Index('IDX_memories_cube_change', ['cubeId', 'changeSeq'])
@Index('IDX_memories_cube_created', ['cubeId', 'createdAt', 'id'])
@Index('UQ_memories_label', ['label'], { unique: true })
export class MemoryEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'cube_id', type: 'uuid' })
  cubeId: string;

  @ManyToOne(() => CubeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'cube_id' })
  cube?: CubeEntity;

  /** Small integer identity of the memory inside vector and lexical indexes. */
  @Column({ type: 'bigint' })
  @Generated('increment')
  label: string;

  @Column({ name: 'change_seq', type: 'bigint' })
  changeSeq: string;

  @Column({ type: 'text' })
  text: string;

  @Column({ type: 'text', default: 'fact' })
  kind: string;

  @Column({ type: 'text', nullable: true })
  role: string | null;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  tags: string[];

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata: Record<string, unknown>;

  /** Provenance: { id?, type?, sessionId?, refs? }. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  source: Record<string, unknown>;

  @Column({ name: 'session_id', type: 'text', nullable: true })
  sessionId: string | null;

  @Column({ name: 'observed_at', type: 'timestamptz', nullable: true })
  observedAt: Date | null;

  @Column({ name: 'valid_from', type: 'timestamptz', nullable: true })
  validFrom: Date | null;

  @Column({ name: 'valid_to', type: 'timestamptz', nullable: true })
  validTo: Date | null;

  @Column({ type: 'real', nullable: true })
  importance: number | null;

  @Column({ type: 'text', default: 'active' })
  state: MemoryState;

  @Column({ type: 'int', default: 1 })
  version: number;

  @Column({ name: 'access_count', type: 'int', default: 0 })
  accessCount: number;

  @Column({ name: 'last_accessed_at', type: 'timestamptz', nullable: true })
  lastAccessedAt: Date | null;

  /** float32 little-endian; derived from text by the cube's embedder. */
  @Column({ type: 'bytea', nullable: true })
  embedding: Buffer | null;

  @Column({ name: 'embedder_fingerprint', type: 'text', nullable: true })
  embedderFingerprint: string | null;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  /** When the system retired it (deleted, expired, merged); null while active. */
  @Column({ name: 'expired_at', type: 'timestamptz', nullable: true })
  expiredAt: Date | null;
}
