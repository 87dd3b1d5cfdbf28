import { Column, CreateDateColumn, Entity, Generated, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';

export type MemoryState = 'active' | 'deleted' | 'archived' | 'expired' | 'merged' | 'superseded';

/**
 * A plaintext memory. `changeSeq` comes from one PostgreSQL sequence and is bumped by
 * every write; writes to one cube are serialised by an advisory lock, so within a cube
 * the sequence follows commit order and index followers can read `changeSeq > last`.
 */
@Entity('memories')
@Index('IDX_memories_cube_change', ['cubeId', 'changeSeq'])
@Index('IDX_memories_cube_created', ['cubeId', 'createdAt', 'id'])
@Index('UQ_memories_label', ['label'], { unique: true })
@Index('IDX_memories_cube_label', ['cubeId', 'label'])
@Index('IDX_memories_cube_fact', ['cubeId', 'factKey'], { where: '"fact_key" IS NOT NULL' })
@Index('IDX_memories_cube_expires', ['cubeId', 'expiresAt'], { where: '"expires_at" IS NOT NULL' })
// Deferred embedding (ADR 0106): the boot sweep and each cube's catch-up read only the rows still waiting for a vector.
@Index('IDX_memories_pending_embedding', ['cubeId', 'changeSeq'], { where: `"embedding" IS NULL AND "state" <> 'deleted'` })
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

  /** The scheduler never touches a pinned memory (no fusion, supersession, expiry or archiving). */
  @Column({ type: 'boolean', default: false })
  pinned: boolean;

  /** An explicit time to live: the sweep expires the memory after it. */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  /** Set while `merged`: the survivor that absorbed it (the id keeps resolving). */
  @Column({ name: 'merged_into', type: 'uuid', nullable: true })
  mergedInto: string | null;

  /** Set while `superseded`: the newer fact that replaced it. */
  @Column({ name: 'superseded_by', type: 'uuid', nullable: true })
  supersededBy: string | null;

  /** A structured fact { subject, predicate, object } as given. */
  @Column({ name: 'fact_subject', type: 'text', nullable: true })
  factSubject: string | null;

  @Column({ name: 'fact_predicate', type: 'text', nullable: true })
  factPredicate: string | null;

  @Column({ name: 'fact_object', type: 'text', nullable: true })
  factObject: string | null;

  /** Normalised "subject\u0001predicate": facts with the same key supersede each other. */
  @Column({ name: 'fact_key', type: 'text', nullable: true })
  factKey: string | null;

  /** Last restore out of a lifecycle state: the scheduler does not undo a person's restore. */
  @Column({ name: 'restored_at', type: 'timestamptz', nullable: true })
  restoredAt: Date | null;

  /** When the system retired it (deleted, expired, merged); null while active. */
  @Column({ name: 'expired_at', type: 'timestamptz', nullable: true })
  expiredAt: Date | null;

  /** Erased for good: text, metadata and history contents are gone; the id still resolves. */
  @Column({ name: 'erased_at', type: 'timestamptz', nullable: true })
  erasedAt: Date | null;
}
