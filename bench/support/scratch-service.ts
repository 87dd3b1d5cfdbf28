// Starts engram on a scratch PostgreSQL database for a bench, over real HTTP, and
// removes everything afterwards.
import 'reflect-metadata';
import { NestExpressApplication } from '@nestjs/platform-express';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { EngramConfig, loadConfig } from '@engram/config';
import { createDataSource, startEmbeddedPostgres } from '@engram/persistence';
import { createApp } from '@engram/server';
import { freePort } from './crash-driver';

const ADMIN_URL = process.env.ENGRAM_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

async function withAdmin<T>(run: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await run(c);
  } finally {
    await c.end();
  }
}

/** A fresh, migrated database and data directory; `drop()` removes both. */
export async function scratchDatabase(): Promise<{ url: string; dataDir: string; drop(): Promise<void> }> {
  const dbName = `engram_bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${dbName}"`));
  const migrator = createDataSource({ url: url.toString(), poolSize: 1 });
  await migrator.initialize();
  await migrator.runMigrations();
  await migrator.destroy();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'engram-bench-'));
  return {
    url: url.toString(),
    dataDir,
    drop: async () => {
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The product's own embedded PostgreSQL, as `engram serve` starts it without DATABASE_URL
 * (shared_buffers sized from this machine's memory, ADR 0133), on a free port in a fresh
 * directory, migrated; `drop()` stops it and removes the directory. For benches that measure
 * what a user of the default set-up gets rather than the shared server's configuration.
 */
export async function embeddedDatabase(log: (line: string) => void = () => undefined): Promise<{ url: string; dataDir: string; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'engram-bench-embedded-'));
  const port = await freePort();
  const server = await startEmbeddedPostgres({ dataDir, port });
  log(`embedded PostgreSQL on port ${port}, shared_buffers ${server.sharedBuffersMb} MB (${dataDir})`);
  const migrator = createDataSource({ url: server.url, poolSize: 1 });
  await migrator.initialize();
  await migrator.runMigrations();
  await migrator.destroy();
  return {
    url: server.url,
    dataDir,
    drop: async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A database kept across runs (created and migrated on first use; migrations run again, so a
 * kept one follows the schema) with its data directory `<tmpdir>/engram-bench-<name>`, so a
 * long set-up is paid once. `drop()` keeps both; remove them by hand
 * (`DROP DATABASE "<name>"`, `rm -r <dataDir>`).
 */
export async function keptDatabase(name: string): Promise<{ url: string; dataDir: string; created: boolean; drop(): Promise<void> }> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`--db ${name}: a database name is lower-case letters, digits and _`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const created = await withAdmin(async (c) => {
    if ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1) return false;
    await c.query(`CREATE DATABASE "${name}"`);
    return true;
  });
  const migrator = createDataSource({ url: url.toString(), poolSize: 1 });
  await migrator.initialize();
  await migrator.runMigrations();
  await migrator.destroy();
  const dataDir = path.join(tmpdir(), `engram-bench-${name}`);
  mkdirSync(dataDir, { recursive: true });
  return { url: url.toString(), dataDir, created, drop: async () => undefined };
}

export interface ScratchService {
  config: EngramConfig;
  base: string;
  /** A tenant API key with every scope. */
  key: string;
  call<T>(method: string, route: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

export async function startScratchService(): Promise<ScratchService> {
  const db = await scratchDatabase();
  const config: EngramConfig = {
    ...loadConfig({ DATABASE_URL: db.url, ENGRAM_DATA_DIR: db.dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0', ENGRAM_BODY_LIMIT: '64mb', ENGRAM_NEW_CUBE_EMBEDDER: process.env.ENGRAM_NEW_CUBE_EMBEDDER ?? 'hash' }),
    workerInProcess: false,
    adminToken: ADMIN_TOKEN,
  };
  const app: NestExpressApplication = await createApp(config, { quiet: true, runWorker: false, announceAdminToken: () => undefined });
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const request = async <T>(token: string, method: string, route: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${route} answered ${res.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const tenant = await request<{ id: string }>(ADMIN_TOKEN, 'POST', '/v1/admin/tenants', { name: 'bench' });
  const created = await request<{ key: string }>(ADMIN_TOKEN, 'POST', `/v1/admin/tenants/${tenant.id}/keys`, {
    scopes: ['cubes:write', 'memories:read', 'memories:write'],
  });
  return {
    config,
    base,
    key: created.key,
    call: (method, route, body) => request(created.key, method, route, body),
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}
