import { EngramApiError, EngramClient } from '../../../packages/client/src/index.js';

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
  } catch (error) {
    // Only "not the admin token" (401, or 404 for a key) means "try it as a key": a server
    // that cannot answer (503: no database) must say so, not "use an API key" to the operator.
    if (!(error instanceof EngramApiError) || (error.status !== 401 && error.status !== 404)) throw error;
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
  sessionStorage.removeItem('engram.metricsToken'); // the metrics page's token (views/operator.ts) goes with the session
}
