// PostgreSQL restarts under a serving engram: requests answer 503 (with Retry-After) while
// it is down, health says unavailable, nothing hangs, and everything works again once it is
// back — without restarting engram. A private PostgreSQL cluster (the machine's own server
// binaries, run as the postgres user) so the shared test server is never touched.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '@engram/server';
import { Factory, freePort, testConfig } from '@engram/testing';
import supertest from 'supertest';
import { Client } from 'pg';

const CLI = process.env.ENGRAM_TEST_CLI ?? path.resolve(__dirname, '../dist/apps/cli/src/main.js');

/** A throwaway PostgreSQL cluster with trust auth on 127.0.0.1:`port`. */
class PrivateCluster {
  private readonly bin: string;
  constructor(
    private readonly dir: string,
    readonly port: number,
  ) {
    const versions = fs.readdirSync('/usr/lib/postgresql').sort();
    this.bin = path.join('/usr/lib/postgresql', versions[versions.length - 1], 'bin');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  init(): void {
    fs.chmodSync(path.dirname(this.dir), 0o755);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.asPostgres('chown', ['postgres:postgres', this.dir], true);
    this.asPostgres(path.join(this.bin, 'initdb'), ['-D', this.dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  }

  start(): void {
    this.asPostgres(path.join(this.bin, 'pg_ctl'), ['-D', this.dir, '-w', '-l', path.join(this.dir, 'server.log'), '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, 'start']);
  }

  stop(): void {
    this.asPostgres(path.join(this.bin, 'pg_ctl'), ['-D', this.dir, '-w', '-m', 'fast', 'stop']);
  }

  private asPostgres(command: string, args: string[], root = false): void {
    const isRoot = process.getuid?.() === 0;
    if (root || !isRoot) execFileSync(command, args, { stdio: 'pipe' });
    else execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe' });
  }
}

describe('a database restart while serving', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-pg-restart-'));
  let pg: PrivateCluster;
  let app: NestExpressApplication;
  let http: ReturnType<typeof supertest>;
  let key: string;
  let cubeId: string;
  const auth = () => ({ Authorization: `Bearer ${key}` });

  beforeAll(async () => {
    pg = new PrivateCluster(path.join(dataDir, 'cluster'), await freePort());
    pg.init();
    pg.start();
    const config = testConfig(pg.url, { migrateOnStart: true, dbPoolSize: 4, dbAcquireTimeoutMs: 1_000 });
    app = await createApp(config, { quiet: true, runWorker: false });
    await app.init();
    http = supertest(app.getHttpServer());
    const factory = new Factory(app);
    const owner = await factory.apiKey();
    key = owner.key;
    cubeId = (await factory.cube({ tenantId: owner.tenantId })).id;
    await http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'Written before the outage' }] }).expect(201);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    try {
      pg?.stop();
    } catch {
      // already stopped
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 during the outage and recovers by itself when PostgreSQL is back', async () => {
    pg.stop();

    const started = Date.now();
    const write = await http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'Written during the outage' }] });
    expect(write.status).toBe(503);
    expect(write.headers['retry-after']).toBe('1');
    expect(write.body.error).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/database/) });
    const search = await http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'outage' });
    expect(search.status).toBe(503);
    const health = await http.get('/health');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'unavailable', database: { ok: false } });
    expect(JSON.stringify(health.body)).not.toMatch(/ECONNREFUSED|connect/); // the driver's words stay in the log
    expect(Date.now() - started).toBeLessThan(30_000); // answered, not hung

    pg.start();
    let healthy = false;
    for (let i = 0; i < 50 && !healthy; i++) {
      healthy = (await http.get('/health')).status === 200;
      if (!healthy) await new Promise((r) => setTimeout(r, 200));
    }
    expect(healthy).toBe(true);
    await http.post(`/v1/cubes/${cubeId}/memories`).set(auth()).send({ items: [{ text: 'Written after the outage' }] }).expect(201);
    const found = await http.post(`/v1/cubes/${cubeId}/search`).set(auth()).send({ query: 'written outage' }).expect(200);
    const texts = found.body.results.map((r: { text: string }) => r.text).sort();
    expect(texts).toEqual(['Written after the outage', 'Written before the outage']); // nothing from the refused write
  }, 120_000);
});

// `engram worker` beside the server: its poll timer does not hold the process open, and while
// PostgreSQL is down neither does the pool, so the worker used to exit (code 0, no word in the
// log) at the first restart of the database and never came back.
describe('a database restart under a separate worker', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engram-pg-restart-worker-'));
  let pg: PrivateCluster;

  beforeAll(async () => {
    pg = new PrivateCluster(path.join(dataDir, 'cluster'), await freePort());
    pg.init();
    pg.start();
  }, 120_000);
  afterAll(() => {
    try {
      pg?.stop();
    } catch {
      // already stopped
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps running through the outage and runs jobs again once PostgreSQL is back', async () => {
    expect(fs.existsSync(CLI)).toBe(true); // built by `npm test` (npm run build) before jest
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: pg.url, ENGRAM_DATA_DIR: path.join(dataDir, 'worker'), ENGRAM_JOB_POLL_MS: '200', LOG_LEVEL: 'warn' };
    const worker = spawn(process.execPath, [CLI, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    worker.stdout.on('data', (d: Buffer) => (output += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 300 && !output.includes('engram worker started'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(output).toContain('engram worker started');

      pg.stop();
      await new Promise((r) => setTimeout(r, 3_000)); // several polls fail meanwhile
      expect({ exitCode: worker.exitCode, output }).toEqual({ exitCode: null, output });
      pg.start();

      // A job queued after the outage is claimed and run by the same worker.
      const db = new Client({ connectionString: pg.url });
      await db.connect();
      try {
        const { rows } = await db.query<{ id: string }>(`INSERT INTO jobs (name, payload) VALUES ('maintenance', '{}') RETURNING id`);
        let state = 'queued';
        for (let i = 0; i < 100 && state !== 'completed'; i++) {
          await new Promise((r) => setTimeout(r, 100));
          state = (await db.query<{ state: string }>(`SELECT state FROM jobs WHERE id = $1`, [rows[0].id])).rows[0].state;
        }
        expect(state).toBe('completed');
      } finally {
        await db.end();
      }
      expect(worker.exitCode).toBeNull();
    } finally {
      worker.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
