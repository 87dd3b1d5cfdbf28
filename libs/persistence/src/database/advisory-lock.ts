import { Client } from 'pg';
import { DataSource } from 'typeorm';

export type LockAttempt<T> = { acquired: true; value: T } | { acquired: false };

/**
 * Runs `fn` holding a session-level advisory lock on a connection of its own, outside the
 * pool. Long work under a lock (a bank write trains for minutes) then neither sits "idle in
 * transaction" nor holds a pooled connection while its own statements need another one:
 * with more lock holders than pool connections, that shape waits forever. The lock goes
 * when the connection does, so a crashed holder never keeps it.
 */
export async function withAdvisoryLock<T>(db: DataSource, key: string, wait: boolean, fn: () => Promise<T>): Promise<LockAttempt<T>> {
  const url = (db.options as { url?: string }).url;
  if (!url) throw new Error('advisory locks need a DataSource configured by url');
  const client = new Client({ connectionString: url, application_name: 'engram-lock', options: '-c lock_timeout=0 -c statement_timeout=0' });
  client.on('error', () => undefined); // a broken lock connection fails the next query; no unhandled 'error' event
  await client.connect();
  try {
    if (wait) {
      await client.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [key]);
    } else {
      const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`, [key]);
      if (!rows[0]?.locked) return { acquired: false };
    }
    return { acquired: true, value: await fn() };
  } finally {
    await client.end().catch(() => undefined); // ending the session releases the lock
  }
}
