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
