import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Fixed one-minute windows counted in PostgreSQL, so every replica sees the same count:
 * requests per API key (`key:<id>`) and inference tokens per tenant (`tokens:<id>`).
 */
@Entity('rate_limit_windows')
@Index('IDX_rate_limit_windows_start', ['windowStart'])
export class RateLimitWindowEntity {
  @PrimaryColumn({ type: 'text' })
  subject: string;

  @PrimaryColumn({ name: 'window_start', type: 'timestamptz' })
  windowStart: Date;

  @Column({ type: 'int', default: 0 })
  count: number;
}
