import { Client } from 'pg';
import { ApiKeyCache } from '@engram/core';
import { DatabaseNotifications } from '@engram/persistence';
import { createE2eHarness, E2eHarness, TestKey } from '@engram/testing';

/**
 * Authentication reads API keys from an in-process cache (ADR 0126). Whatever changes a key,
 * in this process or any other, the next requests see it: this process's own revocations
 * at once, other writers' through the database's notification, and while notifications
 * cannot be received the cache is not trusted at all.
 */
describe('API key cache', () => {
  let h: E2eHarness;
  let cache: ApiKeyCache;
  let notifications: DatabaseNotifications;
  /** Another writer: its own connection to the database, as another server or an operator's psql would be. */
  let other: Client;

  const listCubes = (key: TestKey) => h.http.get('/v1/cubes').set('Authorization', `Bearer ${key.key}`);

  /** Waits (bounded) until the cache has taken in a change after `seen`: a notification is asynchronous. */
  async function changeAfter(seen: number): Promise<void> {
    for (let i = 0; i < 500 && cache.changesSeen === seen; i++) await new Promise((r) => setTimeout(r, 10));
    expect(cache.changesSeen).toBeGreaterThan(seen);
  }

  async function waitUntilListening(): Promise<void> {
    for (let i = 0; i < 1000 && !notifications.listening('engram_api_keys'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(notifications.listening('engram_api_keys')).toBe(true);
  }

  beforeAll(async () => {
    h = await createE2eHarness();
    cache = h.app.get(ApiKeyCache);
    notifications = h.app.get(DatabaseNotifications);
    other = new Client({ connectionString: h.db.url });
    await other.connect();
    await waitUntilListening();
  });

  afterAll(async () => {
    await other?.end();
    await h?.close();
  });

  it('serves a key from the cache and forgets it at once when this server revokes it', async () => {
    const key = await h.factory.apiKey();
    expect((await listCubes(key)).status).toBe(200);
    const size = cache.size;
    expect(size).toBeGreaterThan(0);
    expect((await listCubes(key)).status).toBe(200);
    const revoked = await h.http.delete(`/v1/admin/tenants/${key.tenantId}/keys/${key.id}`).set('Authorization', `Bearer ${h.adminToken}`);
    expect(revoked.status).toBe(204);
    expect((await listCubes(key)).status).toBe(401);
  });

  it('drops a key another writer revoked, deleted or let expire, once the notification arrives', async () => {
    for (const change of [
      (id: string) => `UPDATE api_keys SET revoked_at = now() WHERE id = '${id}'`,
      (id: string) => `DELETE FROM api_keys WHERE id = '${id}'`,
      (id: string) => `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = '${id}'`,
      (id: string) => `UPDATE api_keys SET scopes = '{}' WHERE id = '${id}'`,
    ]) {
      const key = await h.factory.apiKey();
      expect((await listCubes(key)).status).toBe(200); // now cached
      const seen = cache.changesSeen;
      await other.query(change(key.id));
      await changeAfter(seen);
      expect([401, 403]).toContain((await listCubes(key)).status);
    }
  });

  it('is not invalidated by the once-a-minute record of a key\'s use', async () => {
    const key = await h.factory.apiKey();
    expect((await listCubes(key)).status).toBe(200);
    const seen = cache.changesSeen;
    await other.query(`UPDATE api_keys SET last_used_at = now() WHERE id = $1`, [key.id]);
    // A notification that follows it on the same connection arrives after it would have.
    const marker = await h.factory.apiKey();
    await other.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [marker.id]);
    await changeAfter(seen);
    expect(cache.changesSeen).toBe(seen + 1);
  });

  it('is not trusted while the notification connection is down: a change made meanwhile is seen', async () => {
    const key = await h.factory.apiKey();
    expect((await listCubes(key)).status).toBe(200); // cached
    await other.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'engram-notifications' AND datname = current_database()`);
    for (let i = 0; i < 500 && notifications.listening('engram_api_keys'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(notifications.listening('engram_api_keys')).toBe(false);
    expect(cache.size).toBe(0);
    // Revoked while nobody listens: no notification reaches this server.
    await other.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [key.id]);
    expect((await listCubes(key)).status).toBe(401);
    // It listens again by itself, and caches again.
    await waitUntilListening();
    const fresh = await h.factory.apiKey();
    expect((await listCubes(fresh)).status).toBe(200);
    expect(cache.size).toBeGreaterThan(0);
  });
});
