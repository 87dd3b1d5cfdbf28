import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** Process-wide settings kept in the database (e.g. the admin token's hash). */
@Entity('system_settings')
export class SystemSettingEntity {
  @PrimaryColumn({ type: 'text' })
  key: string;

  @Column({ type: 'jsonb' })
  value: unknown;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
