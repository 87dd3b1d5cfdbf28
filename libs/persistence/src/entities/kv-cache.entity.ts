import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { CubeEntity } from './cube.entity';
import { ModelEntity } from './model.entity';

const bigintAsNumber = { to: (v: number) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/**
 * A KV cache of a cube (activation memory). The KV blobs live in the KvCacheStore under
 * `<dataDir>/kv`; this row is what tenants list and what access and purge rules see.
 */
@Entity('kv_caches')
@Index('IDX_kv_caches_cube_created', ['cubeId', 'createdAt', 'id'])
@Index('UQ_kv_caches_cube_entry', ['cubeId', 'entryId'], { unique: true })
export class KvCacheEntity {
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

  @Column({ type: 'text' })
  fingerprint: string;

  /** Id of the manifest in the KvCacheStore. */
  @Column({ name: 'entry_id', type: 'text' })
  entryId: string;

  /** The memory text the cache holds; chat prompts are rendered from it, so answers never depend on a blob. */
  @Column({ type: 'text' })
  text: string;

  @Column({ name: 'token_count', type: 'int' })
  tokenCount: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  bytes: number;

  /** Provenance: the memories the text was joined from (empty for a cache of free text). */
  @Column({ name: 'source_memory_ids', type: 'uuid', array: true, default: () => "'{}'" })
  sourceMemoryIds: string[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
