import { EngramError } from './engram.error';
import { ErrorCode } from './error-code';

/** Seconds a client should wait before retrying a request the database could not serve now. */
export const DATABASE_RETRY_AFTER_S = 1;

// SQLSTATEs that mean "not now", not "never": the same request can succeed on a retry.
const TRANSIENT_SQLSTATES: Record<string, string> = {
  '55P03': 'a lock was held longer than ENGRAM_DB_LOCK_TIMEOUT_MS (another write to the same data)',
  '57014': 'a database statement ran longer than ENGRAM_DB_STATEMENT_TIMEOUT_MS',
  '25P03': 'a transaction stayed idle longer than ENGRAM_DB_IDLE_TX_TIMEOUT_MS',
  '40001': 'a concurrent write conflicted with this one',
  '40P01': 'a concurrent write deadlocked with this one',
  '53300': 'the database has no free connection slots',
  '57P01': 'the database is shutting down',
  '57P02': 'the database is restarting',
  '57P03': 'the database is starting',
};

const CONNECTION_MESSAGES: [RegExp, string][] = [
  [/timeout exceeded when trying to connect/i, 'no database connection became free within ENGRAM_DB_ACQUIRE_TIMEOUT_MS'],
  [/Connection terminated|ECONNREFUSED|ECONNRESET|EPIPE|Client has encountered a connection error|Driver not Connected|the database system is/i, 'the database is unreachable'],
];

/** A write that referenced a row another transaction deleted (foreign_key_violation). */
export function isForeignKeyViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && sqlState(error) === '23503';
}

function sqlState(error: object): string | undefined {
  const own = (error as { code?: unknown }).code;
  if (typeof own === 'string') return own;
  const driver = (error as { driverError?: { code?: unknown } }).driverError?.code;
  return typeof driver === 'string' ? driver : undefined;
}

/**
 * Database failures that a retry can cure (pool exhausted, lock or statement timeout,
 * connection lost, server restarting) as a 503 `unavailable` with a retry hint; anything
 * else unchanged. The raw driver message never reaches the client.
 */
export function asDatabaseUnavailable(error: unknown): EngramError | null {
  // Not `instanceof Error`: socket errors can come from another realm (the driver's), and would slip through as 500s.
  if (typeof error !== 'object' || error === null || typeof (error as Error).message !== 'string') return null;
  const state = sqlState(error);
  let reason: string | undefined;
  if (state && TRANSIENT_SQLSTATES[state]) reason = TRANSIENT_SQLSTATES[state];
  else if (state?.startsWith('08')) reason = 'the database connection failed';
  else reason = CONNECTION_MESSAGES.find(([pattern]) => pattern.test((error as Error).message))?.[1];
  if (!reason) return null;
  return new EngramError(ErrorCode.Unavailable, `the database cannot serve this request now: ${reason}; retry shortly`, { retryAfterSeconds: DATABASE_RETRY_AFTER_S });
}
