import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

const PING_TIMEOUT_MS = 2_000;

/**
 * The database as /health sees it. The ping runs on a connection of its own, outside the
 * pool, so a saturated pool (or a wedged unit of work holding it) never makes the health
 * check wait in line: it still answers, and reports the pool's state beside it.
 */
@Injectable()
export class HealthRepository implements BeforeApplicationShutdown {
  private client: Promise<Client> | null = null;
  private inFlight: Promise<number> | null = null;
  private closed = false;

  constructor(private readonly db: DataSource) {}

  /** Round trip to PostgreSQL in milliseconds; concurrent callers share one ping. */
  ping(): Promise<number> {
    this.inFlight ??= this.pingOnce().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  poolStats(): PoolStats {
    const pool = (this.db.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number; options?: { max?: number } } }).master;
    return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0, max: pool?.options?.max ?? 0 };
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    if (client) await client.then((c) => c.end()).catch(() => undefined);
  }

  private async pingOnce(): Promise<number> {
    if (this.closed) throw new Error('shutting down');
    const started = process.hrtime.bigint();
    try {
      const client = await this.connection();
      await client.query({ text: 'SELECT 1', query_timeout: PING_TIMEOUT_MS } as never);
      return Number(process.hrtime.bigint() - started) / 1e6;
    } catch (error) {
      const broken = this.client;
      this.client = null; // reconnect on the next ping (the server may have restarted)
      if (broken) void broken.then((c) => c.end()).catch(() => undefined);
      throw error;
    }
  }

  private connection(): Promise<Client> {
    if (!this.client) {
      const url = (this.db.options as { url?: string }).url;
      const client = new Client({ connectionString: url, application_name: 'engram-health', connectionTimeoutMillis: PING_TIMEOUT_MS, options: `-c statement_timeout=${PING_TIMEOUT_MS}` });
      client.on('error', () => (this.client = null));
      this.client = client.connect().then(() => client);
    }
    return this.client;
  }
}
