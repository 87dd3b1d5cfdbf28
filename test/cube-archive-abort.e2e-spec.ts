// A client that goes away during a cube export, over real HTTP: the server must release
// what the export held (database connections, spool files) and keep serving. The app runs
// in this jest worker, where an unhandled 'error' event from the archive streams (what
// ended the `serve` process) is an uncaught exception: jest then fails this suite with
// "Test suite failed to run … Premature close".
import { existsSync, readdirSync } from 'node:fs';
import { get, IncomingMessage } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { MemoryService, readCubeArchive, Scope } from '@engram/core';
import { HealthRepository } from '@engram/persistence';
import { createE2eHarness, E2eHarness } from '@engram/testing';

const MEMORIES = 4000;

/** Polls until `check` answers true, or fails with what it last saw. */
async function eventually<T>(read: () => T | Promise<T>, check: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('cube export: a client that disconnects mid-stream', () => {
  let h: E2eHarness;
  let key: string;
  let cubeId: string;
  let port: number;

  /** Starts an export and destroys the request once `abortWhen` says so; resolves with the bytes seen. */
  const abortedExport = (abortWhen: 'first-chunk' | 'before-headers') =>
    new Promise<number>((resolve, reject) => {
      let seen = 0;
      const req = get({ host: '127.0.0.1', port, path: `/v1/cubes/${cubeId}/export?include=vectors`, headers: { Authorization: `Bearer ${key}` } }, (res: IncomingMessage) => {
        if (res.statusCode !== 200) reject(new Error(`export answered ${res.statusCode}`));
        res.once('data', (chunk: Buffer) => {
          seen += chunk.length;
          req.destroy();
          resolve(seen);
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The socket reset that follows our own destroy() is expected.
        if (req.destroyed && abortWhen === 'first-chunk' && seen > 0) return;
        if (abortWhen === 'before-headers' && error.code === 'ECONNRESET') return resolve(0);
        reject(error);
      });
      // Leaves once the server has started spooling (its spool folder exists), before any byte was sent.
      if (abortWhen === 'before-headers') {
        void eventually(spoolFolders, (f) => f.length > 0, 'export spooling', 5_000).then(
          () => req.destroy(Object.assign(new Error('client gave up'), { code: 'ECONNRESET' })),
          reject,
        );
      }
    });

  const spoolFolders = () => {
    const dir = join(h.config.dataDir, 'tmp');
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('engram-archive-')) : [];
  };

  const expectReleased = async () => {
    const health = h.app.get(HealthRepository);
    await eventually(() => health.poolStats(), (p) => p.idle === p.total && p.waiting === 0, 'database pool idle');
    await eventually(spoolFolders, (f) => f.length === 0, 'spool folders removed');
    await new Promise((r) => setTimeout(r, 200)); // a late stream 'error' surfaces within this test
    const ok = await fetch(`http://127.0.0.1:${port}/health`);
    expect(ok.status).toBe(200);
  };

  beforeAll(async () => {
    h = await createE2eHarness();
    const owner = await h.factory.apiKey({ scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite, Scope.CubesExport] });
    key = owner.key;
    cubeId = (await h.factory.cube({ tenantId: owner.tenantId, settings: { embedder: { type: 'hash', dimension: 64 } } })).id;
    const memories = h.app.get(MemoryService);
    for (let i = 0; i < MEMORIES; i += 1000) {
      // Random words keep the archive from compressing to a few bytes, so it takes many chunks.
      const items = Array.from({ length: 1000 }, (_, j) => ({ text: `note ${i + j} ${Math.random().toString(36)} ${Math.random().toString(36)}`, metadata: { n: i + j } }));
      await memories.add(owner.ctx, cubeId, { items });
    }
    await h.app.listen(0, '127.0.0.1');
    port = (h.app.getHttpServer().address() as AddressInfo).port;
  }, 180_000);

  afterAll(() => h?.close());

  it('releases the pool and the spool files after the client leaves mid-stream, and keeps serving', async () => {
    const seen = await abortedExport('first-chunk');
    expect(seen).toBeGreaterThan(0);
    await expectReleased();
  });

  it('stops spooling an export whose client leaves before the archive starts', async () => {
    const exportsAudited = async () => Number((await h.app.get(DataSource).query(`SELECT count(*) AS n FROM audit_events WHERE action = 'cube.export' AND target_id = $1`, [cubeId]))[0].n);
    const before = await exportsAudited();
    await abortedExport('before-headers');
    await expectReleased();
    // The export stopped before it was ready, so it is not recorded as done.
    expect(await exportsAudited()).toBe(before);
  });

  it('still exports the whole cube afterwards', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/cubes/${cubeId}/export`, { headers: { Authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    const archive = Buffer.from(await res.arrayBuffer());
    const manifest = await readCubeArchive(Readable.from([archive]), 1 << 30, { manifest: async () => undefined, part: async (_part, stream) => {
        for await (const chunk of stream) void chunk;
      },
    });
    expect(manifest.counts.memories).toBe(MEMORIES);
  });
});
