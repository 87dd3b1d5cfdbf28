import { EngramClient } from '../../../packages/client/src/index.js';

/** Who is signed in: the operator (admin token) or a tenant (API key). Kept for this tab only. */
export interface Session {
  kind: 'admin' | 'key';
  token: string;
  client: EngramClient;
}

const STORE = 'engram.session';
let current: Session | null = null;

const clientFor = (token: string) => new EngramClient({ url: location.origin, apiKey: token, maxRetries: 2 });

export function session(): Session | null {
  if (current) return current;
  const saved = sessionStorage.getItem(STORE);
  if (!saved) return null;
  const { kind, token } = JSON.parse(saved) as { kind: Session['kind']; token: string };
  current = { kind, token, client: clientFor(token) };
  return current;
}

/** Finds out what the token is: the admin token lists tenants; a key lists its cubes. */
export async function signIn(token: string): Promise<Session> {
  const client = clientFor(token);
  let kind: Session['kind'];
  try {
    await client.admin.listTenants();
    kind = 'admin';
  } catch {
    await client.cubes.list({ limit: 1 });
    kind = 'key';
  }
  current = { kind, token, client };
  sessionStorage.setItem(STORE, JSON.stringify({ kind, token }));
  return current;
}

export function signOut(): void {
  current = null;
  sessionStorage.removeItem(STORE);
}
