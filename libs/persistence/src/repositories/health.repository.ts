import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

@Injectable()
export class HealthRepository {
  constructor(private readonly db: DataSource) {}

  /** Round trip to PostgreSQL; returns its latency in milliseconds. */
  async ping(): Promise<number> {
    const started = process.hrtime.bigint();
    await this.db.query('SELECT 1');
    return Number(process.hrtime.bigint() - started) / 1e6;
  }

  poolStats(): PoolStats {
    const pool = (this.db.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }).master;
    return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0 };
  }
}
