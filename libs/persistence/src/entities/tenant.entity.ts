import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity('tenants')
export class TenantEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Unique among live tenants: an offboarded tenant's name can be given again. */
  @Index('UQ_tenants_name_live', { unique: true, where: '"deleted_at" IS NULL' })
  @Column({ type: 'text' })
  name: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** Limits the operator set for this tenant, field by field over the instance defaults (ENGRAM_QUOTA_*). */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  quotas: Record<string, number>;

  /** Offboarded: keys revoked, cubes purged; the row stays as a tombstone for the audit log. */
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;
}
