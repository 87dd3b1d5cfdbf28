import { Scope } from './permission';

/** Who is calling: the operator (admin token) or a tenant's API key. */
export type AuthContext =
  | { kind: 'admin'; actorId: 'admin' }
  | { kind: 'key'; actorId: string; keyId: string; tenantId: string; scopes: Scope[]; cubeIds: string[] | null; rateLimitPerMinute?: number | null };

export function actorOf(auth: AuthContext | null): { actorType: string; actorId: string | null } {
  if (auth === null) return { actorType: 'system', actorId: null };
  return { actorType: auth.kind === 'admin' ? 'admin' : 'key', actorId: auth.kind === 'admin' ? null : auth.keyId };
}
