import { createHash } from 'node:crypto';
import type { Pool, QueryConfig } from 'pg';
import { DataSource, EntityManager } from 'typeorm';

/**
 * Runs SQL and returns its rows. TypeORM answers UPDATE and DELETE with
 * `[rows, affectedCount]` and everything else with `rows`; this evens that out.
 */
export async function queryRows<T>(db: DataSource | EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  const result: unknown = await db.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}

/** Data sources whose connections keep named prepared statements (ENGRAM_DB_PREPARED_STATEMENTS, ADR 0130). */
const PREPARED = new WeakMap<DataSource, boolean>();

export function usePreparedStatements(dataSource: DataSource, on: boolean): void {
  PREPARED.set(dataSource, on);
}

const NAMES = new Map<string, string>();

/** One name per statement text (a name used with two texts is an error in the driver). */
function statementName(sql: string): string {
  let name = NAMES.get(sql);
  if (name === undefined) {
    name = `engram_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    NAMES.set(sql, name);
  }
  return name;
}

/**
 * queryRows() for a read every request runs, with a fixed text (ADR 0130): a named prepared
 * statement, parsed and planned once per connection instead of on every call (the search's
 * two reads spent ~0.5 ms of their ~1.2 in parse and plan). Plain queryRows() where the
 * data source was not opened with prepared statements (a pooler in transaction mode), and
 * inside a transaction.
 */
export async function queryPrepared<T>(db: DataSource | EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  const source = db instanceof DataSource ? db : db.connection;
  const runner = db instanceof DataSource ? undefined : db.queryRunner;
  // Inside a transaction (a write path): unnamed, as a stale statement there could not be retried.
  if (PREPARED.get(source) !== true || runner !== undefined) return queryRows<T>(db, sql, params);
  const config: QueryConfig = { name: statementName(sql), text: sql, values: params };
  const pool = (source.driver as unknown as { master: Pool & { options: { max?: number } } }).master;
  // A migration that changed a column the statement returns fails it on every connection that
  // prepared it before: each such connection (and its statements) is dropped, and the query
  // runs again on another, at worst a new one.
  for (let attempt = 0; ; attempt++) {
    const client = await pool.connect();
    try {
      const rows = (await client.query(config)).rows as T[];
      client.release();
      return rows;
    } catch (error) {
      const stale = isStalePlan(error);
      // A statement the server refused leaves its connection usable; a broken connection is dropped.
      client.release(stale || !isServerError(error) ? (error as Error) : undefined);
      if (!stale || attempt > (pool.options.max ?? 10)) throw error;
    }
  }
}

/** An error the server sent (it has a severity), not a broken socket. */
function isServerError(error: unknown): boolean {
  return typeof (error as { severity?: unknown } | null)?.severity === 'string';
}

function isStalePlan(error: unknown): boolean {
  return (error as { code?: unknown }).code === '0A000' && /cached plan must not change result type/.test((error as Error).message);
}
