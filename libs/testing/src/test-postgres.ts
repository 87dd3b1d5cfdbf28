import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * Tests run on a real PostgreSQL (the machine's, 127.0.0.1:5432, trust auth, unless
 * ENGRAM_TEST_PG_URL says otherwise). The global setup migrates a template database
 * once; each spec file clones it into a database of its own.
 */
export const TEST_PG_ADMIN_URL = process.env.ENGRAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_DATABASE_PREFIX = 'engram_t_';

/** Names carry their creation time so a run can sweep what crashed runs left, and leave concurrent runs alone. */
export function stampedName(kind: 'tpl' | 'db'): string {
  return `${TEST_DATABASE_PREFIX}${kind}_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
}

export function stampOf(name: string): number | null {
  const match = /_(\d{10})_[0-9a-f]+$/.exec(name);
  return match ? Number(match[1]) * 1000 : null;
}

/** The template of this jest run (set by the global setup, inherited by the workers). */
export function templateDatabase(): string {
  const name = process.env.ENGRAM_TEST_TEMPLATE;
  if (!name) throw new Error('ENGRAM_TEST_TEMPLATE is not set: run the tests through jest (its global setup makes the template)');
  return name;
}

export function databaseUrl(database: string): string {
  const url = new URL(TEST_PG_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdminClient<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_PG_ADMIN_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one spec file, cloned from the template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = stampedName('db');
  const template = templateDatabase();
  await withAdminClient(async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        return;
      } catch (error) {
        // Two spec files cloning at the same instant: PostgreSQL refuses the second; try again.
        if (attempt >= 20 || !/being accessed by other users/.test(String(error))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
      }
    }
  });
  return {
    name,
    url: databaseUrl(name),
    drop: () => withAdminClient(async (client) => void (await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))),
  };
}
