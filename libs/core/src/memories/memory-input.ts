// The checks and keys of a memory write's input, apart from the service that runs the write.
import { createHash } from 'node:crypto';
import { UpdateMemoryDto } from '../dtos/memory.dto';
import { EngramError } from '../errors/engram.error';
import { RequestContext } from '../services/request-context';

/** Clients that keep the session in metadata (`sessionId` / `session_id`) get session-aware ranking too. */
export function sessionIdFromMetadata(metadata: Record<string, unknown> | undefined): string | null {
  const value = metadata?.sessionId ?? metadata?.session_id;
  return typeof value === 'string' && value.length > 0 && value.length <= 512 ? value : null;
}

/**
 * The version an `If-Match` header asks for (ADR 0520): the memory's `version` as a number,
 * bare or as a quoted entity tag; `*` (any version) and no header ask for none.
 */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:([1-9][0-9]{0,9})|"([1-9][0-9]{0,9})")\s*$/.exec(header);
  const version = match ? Number(match[1] ?? match[2]) : NaN;
  if (!(version <= 2_147_483_647)) {
    throw EngramError.validation([{ field: 'If-Match', problems: ['If-Match must be the memory\'s version as returned in its "version" field (e.g. 3 or "3"), or *'] }]);
  }
  return version;
}

export function checkValidity(problems: { field: string; problems: string[] }[], field: string, from?: Date | null, to?: Date | null): void {
  if (from && to && from.getTime() >= to.getTime()) problems.push({ field, problems: ['validFrom must be before validTo'] });
}

/** What a PATCH can change (`reason` only explains a change). */
export const UPDATABLE_FIELDS = ['text', 'tags', 'metadata', 'validFrom', 'validTo', 'importance', 'pinned', 'expiresAt'] as const satisfies readonly (keyof UpdateMemoryDto)[];

/** Whose retry of which write an Idempotency-Key names: the caller, the route, the cube and the key. */
export function idempotencyScope(ctx: RequestContext, route: string, cubeId: string, idempotencyKey: string): string {
  return createHash('sha256').update(`${ctx.auth.actorId}\n${route}\n${cubeId}\n${idempotencyKey}`).digest('hex');
}

/** The claim a write with an Idempotency-Key makes (its scope and the hash of its body), or null without one. */
export function idempotencyClaim(ctx: RequestContext, route: string, cubeId: string, idempotencyKey: string | undefined, dto: object): { scope: string; requestHash: string; cubeId: string } | null {
  if (idempotencyKey === undefined) return null;
  if (!/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
    throw EngramError.validation([{ field: 'Idempotency-Key', problems: ['Idempotency-Key must be 1 to 255 visible ASCII characters'] }]);
  }
  return { scope: idempotencyScope(ctx, route, cubeId, idempotencyKey), requestHash: createHash('sha256').update(JSON.stringify(dto)).digest('hex'), cubeId };
}
