// A pooled connection whose socket breaks in the middle of a request's query (a network
// failure, a PostgreSQL crash or a failover): the request answers 503 and the process keeps
// serving. pg-pool takes its own 'error' listener off a connection while it is checked out,
// and the hot reads that run as prepared statements (ADR 0130) add none, so a broken socket
// there emitted 'error' with no listener, which ends a Node process: the server died on
// PostgreSQL restarts under load. The break is a TCP proxy between engram and PostgreSQL
// that resets every connection it carries.
import * as net from 'node:net';
import { Client } from 'pg';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '@engram/server';
import { createTestDatabase, Factory, testConfig, TestDatabase } from '@engram/testing';
import supertest from 'supertest';

/** Forwards 127.0.0.1:<port> to the test PostgreSQL; `reset()` breaks every connection it carries. */
class BreakableProxy {
  private readonly sockets = new Set<net.Socket>();
  private server!: net.Server;
  port = 0;
  constructor(private readonly target: URL) {}

  async start(): Promise<void> {
    this.server = net.createServer((inbound) => {
      const outbound = net.connect(Number(this.target.port || 5432), this.target.hostname);
      for (const [a, b] of [[inbound, outbound], [outbound, inbound]] as const) {
        this.sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          this.sockets.delete(a);
          b.destroy();
        });
        a.pipe(b);
      }
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Every carried connection ends with a TCP reset, as when the peer's host goes away. */
  reset(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  async stop(): Promise<void> {
    this.reset();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('a connection lost during a prepared read', () => {
  let db: TestDatabase;
  let proxy: BreakableProxy;
  let app: NestExpressApplication;
  let http: ReturnType<typeof supertest>;
  let key: string;
  let cubeId: string;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  beforeAll(async () => {
    db = await createTestDatabase();
    const direct = new URL(db.url);
    proxy = new BreakableProxy(direct);
    await proxy.start();
    const proxied = new URL(db.url);
    proxied.port = String(proxy.port);
    app = await createApp(testConfig(proxied.toString(), { migrateOnStart: false, dbPreparedStatements: true, dbPoolSize: 4, dbAcquireTimeoutMs: 2_000 }), { quiet: true, runWorker: false });
    await app.init();
    http = supertest(app.getHttpServer());
    const factory = new Factory(app);
    const owner = await factory.apiKey();
    key = owner.key;
    cubeId = (await factory.cube({ tenantId: owner.tenantId, settings: { embedder: 'hash' } })).id;
    await http.post(`/v1/cubes/${cubeId}/memories`).set({ Authorization: `Bearer ${key}` }).send({ items: [{ text: 'Dana keeps bees' }] }).expect(201);
    process.on('uncaughtException', onUncaught);
  }, 60_000);
  afterAll(async () => {
    process.removeListener('uncaughtException', onUncaught);
    await app?.close();
    await proxy?.stop();
    await db?.drop();
  });

  it('answers 503 and keeps serving when the socket breaks mid-query', async () => {
    // The search's first read (the cube and its change sequence, a prepared statement) waits on a lock...
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE cubes IN ACCESS EXCLUSIVE MODE');
      const search = http.post(`/v1/cubes/${cubeId}/search`).set({ Authorization: `Bearer ${key}` }).send({ query: 'bees' }).then((r) => r);
      let waiting = 0;
      for (let i = 0; i < 200 && waiting === 0; i++) {
        await new Promise((r) => setTimeout(r, 25));
        const { rows } = await locker.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%change_seq%'`,
        );
        waiting = rows[0].n;
      }
      expect(waiting).toBe(1);
      // ...and the network between engram and PostgreSQL breaks under it.
      proxy.reset();
      const res = await search;
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('unavailable');
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(uncaught).toEqual([]);
    // The process still serves, from fresh connections.
    const again = await http.post(`/v1/cubes/${cubeId}/search`).set({ Authorization: `Bearer ${key}` }).send({ query: 'bees' });
    expect(again.status).toBe(200);
    expect(again.body.results.map((r: { text: string }) => r.text)).toEqual(['Dana keeps bees']);
  });
});
