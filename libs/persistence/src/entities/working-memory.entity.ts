import { Column, Entity, JoinColumn, ManyToOne, OneToOne, PrimaryColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';
import { ModelEntity } from './model.entity';

const bigintAsNumber = { to: (v: number) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/**
 * A cube's working memory (ADR 0402): its pinned and hottest memories rendered as one
 * system message and kept as a KV cache of the policy's model. One row per cube; a rebuild
 * swaps `entry_id` in one UPDATE, so a crash leaves the old or the new cache, never a mix.
 */
@Entity('working_memories')
export class WorkingMemoryEntity {
  @PrimaryColumn({ name: 'cube_id', type: 'uuid' })
  cubeId: string;

  @OneToOne(() => CubeEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'cube_id' })
  cube?: CubeEntity;

  @Column({ name: 'model_id', type: 'uuid' })
  modelId: string;

  @ManyToOne(() => ModelEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'model_id' })
  model?: ModelEntity;

  @Column({ type: 'text' })
  fingerprint: string;

  /** Manifest id in the KvCacheStore. */
  @Column({ name: 'entry_id', type: 'text' })
  entryId: string;

  /** The rendered memory text (chat prompts are rendered from it). */
  @Column({ type: 'text' })
  text: string;

  @Column({ name: 'token_count', type: 'int' })
  tokenCount: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  bytes: number;

  /** The memories in it, in the order rendered. */
  @Column({ name: 'source_memory_ids', type: 'uuid', array: true, default: () => "'{}'" })
  sourceMemoryIds: string[];

  /** Bumped by every rebuild that changed the cache. */
  @Column({ type: 'int', default: 1 })
  generation: number;

  /** Set when a source was edited or deleted: chat stops using it until the rebuild. */
  @Column({ name: 'stale_since', type: 'timestamptz', nullable: true })
  staleSince: Date | null;

  @Column({ name: 'built_at', type: 'timestamptz' })
  builtAt: Date;

  @Column({ name: 'build_ms', type: 'int', default: 0 })
  buildMs: number;

  /** Tokens of the last rebuild whose KV came from the previous cache, and tokens it prefilled. */
  @Column({ name: 'reused_tokens', type: 'int', default: 0 })
  reusedTokens: number;

  @Column({ name: 'prefilled_tokens', type: 'int', default: 0 })
  prefilledTokens: number;

  /** Last chat that used it (touched at most once a minute): cold caches move down the tiers. */
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;
}
