import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * A partial lifecycle policy at one level: `instance`, `tenant:<id>` or `cube:<id>`. The
 * effective policy of a cube is the built-in defaults overlaid field by field with the
 * instance, tenant and cube levels.
 */
@Entity('lifecycle_policies')
export class LifecyclePolicyEntity {
  @PrimaryColumn({ type: 'text' })
  scope: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  policy: Record<string, unknown>;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
