import { ApiKeyEntity, AuditEventEntity, CubeEntity, JobEntity, TenantEntity } from '../entities';

/** Plain records handed out of repositories; entity classes never leave this library. */
export type TenantRecord = Readonly<Omit<TenantEntity, never>>;
export type ApiKeyRecord = Readonly<Omit<ApiKeyEntity, 'tenant'>>;
export type CubeRecord = Readonly<Omit<CubeEntity, 'tenant'>>;
export type AuditEventRecord = Readonly<AuditEventEntity>;
export type JobRecord = Readonly<JobEntity>;

/** A keyset page: `nextCursor` is opaque to callers and null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** Returns null for a cursor that was not made by encodeCursor with `arity` parts. */
export function decodeCursor(cursor: string, arity: number): (string | number)[] | null {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(parts) || parts.length !== arity) return null;
    if (!parts.every((p) => typeof p === 'string' || typeof p === 'number')) return null;
    return parts;
  } catch {
    return null;
  }
}

const BIGINT_MAX = 9223372036854775807n;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A cursor part that PostgreSQL will cast to a non-negative bigint (not merely digits: 20 nines overflow). */
export function isCursorBigint(part: string | number | undefined): boolean {
  const text = String(part);
  return /^\d{1,19}$/.test(text) && BigInt(text) <= BIGINT_MAX;
}

/** A cursor part that PostgreSQL will cast to uuid (not 36 dashes). */
export function isCursorUuid(part: string | number | undefined): boolean {
  return UUID.test(String(part));
}

/**
 * Keyset cursors on a timestamptz column carry it as microseconds since the epoch, the
 * precision PostgreSQL keeps: a JS Date keeps milliseconds, and a cursor rounded down to
 * them matches its own row again (the page after it starts with the same row, forever).
 * This is the SELECT expression whose text goes into the cursor.
 */
export function timestampMicrosSql(column: string): string {
  return `(extract(epoch from ${column}) * 1000000)::bigint::text`;
}

/**
 * The timestamptz of a microseconds cursor part (`param` is its placeholder), exact and in
 * range for every part isCursorBigint accepts. The interval is read from text, which
 * PostgreSQL (15+) parses as a 64-bit integer: `n * interval '1 microsecond'` is computed
 * in float8, so it rounds far dates and overflows near the bigint limit (a 500).
 */
export function timestampFromMicrosSql(param: string): string {
  return `('epoch'::timestamptz + (${param}::bigint::text || ' microseconds')::interval)`;
}

/** A `[micros, id]` cursor as encoded for (created_at, id) keysets; null for one this API did not make. */
export function decodeMicrosIdCursor(cursor: string): { micros: string; id: string } | null {
  const parts = decodeCursor(cursor, 2);
  if (parts === null || !isCursorBigint(parts[0]) || !isCursorUuid(parts[1])) return null;
  return { micros: String(parts[0]), id: String(parts[1]) };
}
