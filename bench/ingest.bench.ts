// Batch ingest through the service (issue 12): the rate and the milliseconds of each stage of
// a 1,000-memory batch (access check, quota, embedding before and inside the transaction, the
// transaction and the insert statements inside it, the audit row, the lifecycle tick), in a
// small cube and in a large one. The large cube is filled by SQL first (rows like the
// service's, with vectors and first versions), which takes minutes instead of the hour an
// ingest through the service would.
//   npm run build && node dist/bench/ingest.bench.js [--batches 20] [--fill 1000000] [--db NAME] [--embedder hash]
// With --db NAME the database is created on first use and kept, so a large cube is filled
// once and reused by later runs (drop it by hand: `DROP DATABASE "NAME"`); without it a
// scratch database is made and dropped. Latencies are noisy on a shared machine: compare
// figures of one run, and state the load average.
import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { EngramConfig, loadConfig } from '@engram/config';
import { ApiKeyService, CoreModule, CubeService, EmbedderRegistry, MemoryService, RequestContext, Scope, TenantService } from '@engram/core';
import { keptDatabase, scratchDatabase } from './support/scratch-service';
import { arg, textArg } from './support/args';
import { summarize, SyntheticCorpus } from './support/synthetic-corpus';

const BATCHES = arg('batches', 20);
const BATCH = arg('batch', 1000);
const FILL = arg('fill', 0);
const KEEP_DB = textArg('db', '');
const EMBEDDER = textArg('embedder', 'hash');
const ADMIN: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'bench' };
const round = (x: number) => Math.round(x * 100) / 100;

async function admin<T>(url: string, run: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await run(c);
  } finally {
    await c.end();
  }
}

/** A kept database (created and migrated on first use) or a scratch one. */
function database(): Promise<{ url: string; dataDir: string; drop(): Promise<void> }> {
  return KEEP_DB ? keptDatabase(KEEP_DB) : scratchDatabase();
}

/**
 * Brings the cube to `target` memories with SQL: texts of 8–40 pseudo-words, a vector of the
 * cube's dimension, tags, metadata, a session and a first version row each, in chunks of
 * 50,000 (one transaction each).
 */
async function fill(url: string, cubeId: string, target: number, fingerprint: string, dim: number): Promise<void> {
  await admin(url, async (c) => {
    let have = Number((await c.query(`SELECT count(*) AS n FROM memories WHERE cube_id = $1`, [cubeId])).rows[0].n);
    const t0 = performance.now();
    while (have < target) {
      const n = Math.min(50_000, target - have);
      await c.query(
        `WITH inserted AS (
           INSERT INTO memories (cube_id, change_seq, text, kind, tags, metadata, source, session_id, observed_at, importance, embedding, embedder_fingerprint)
           SELECT $1, nextval('engram_change_seq'),
                  (SELECT string_agg(substr(md5((g * 41 + w)::text), 1, 4 + (g + w) % 6), ' ') FROM generate_series(1, 8 + g % 33) w),
                  'fact', ARRAY['work', 'food'], jsonb_build_object('source', 'chat', 'priority', g % 3),
                  jsonb_build_object('sessionId', 's' || (g / 12)), 's' || (g / 12),
                  timestamptz '2025-01-01' + g * interval '31 seconds', (g % 100) / 100.0,
                  decode(repeat(md5(g::text), $4::int / 4), 'hex'), $5
             FROM generate_series($2::int, $3::int) g
           RETURNING id, text, tags, metadata, state
         )
         INSERT INTO memory_versions (memory_id, version, action, actor_type, new_values)
         SELECT id, 1, 'create', 'system', jsonb_build_object('text', text, 'tags', to_jsonb(tags), 'metadata', metadata, 'state', state) FROM inserted`,
        [cubeId, have + 1, have + n, dim, fingerprint],
      );
      have += n;
      process.stderr.write(`\rfill ${have}/${target} (${Math.round((performance.now() - t0) / 1000)} s)`);
    }
    process.stderr.write('\n');
    await c.query(`VACUUM ANALYZE memories`);
    await c.query(`VACUUM ANALYZE memory_versions`);
  });
}

type Stage = 'access' | 'quota' | 'embed' | 'embed_in_tx' | 'transaction' | 'insert' | 'audit' | 'tick';

/** Wraps an instance's method so that its time adds to the stage `stage()` names when it is called. */
function timed(target: object, method: string, stage: () => Stage, into: () => Record<Stage, number>, around?: (running: boolean) => void): void {
  const obj = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = obj[method].bind(target);
  obj[method] = async (...args: unknown[]) => {
    const t0 = performance.now();
    const name = stage();
    around?.(true);
    try {
      return await original(...args);
    } finally {
      around?.(false);
      into()[name] += performance.now() - t0;
    }
  };
}

async function main(): Promise<void> {
  const db = await database();
  const config: EngramConfig = {
    ...loadConfig({ DATABASE_URL: db.url, ENGRAM_DATA_DIR: db.dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0', ENGRAM_NEW_CUBE_EMBEDDER: EMBEDDER }),
    workerInProcess: false,
  };
  let app: INestApplicationContext | null = null;
  const figures: Record<string, number | string> = { batch: BATCH, batches: BATCHES, fill: FILL, embedder: EMBEDDER };
  try {
    app = await NestFactory.createApplicationContext(CoreModule.forRoot(config), { logger: false });
    const found = await admin(db.url, async (c) => (await c.query(`SELECT id, tenant_id FROM cubes WHERE name = 'ingest-big' LIMIT 1`)).rows[0] as { id: string; tenant_id: string } | undefined);
    const tenantId = found?.tenant_id ?? (await app.get(TenantService).create(ADMIN, { name: 'bench' })).id;
    const key = await app.get(ApiKeyService).create(ADMIN, tenantId, { scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite] });
    const ctx: RequestContext = { auth: { kind: 'key', actorId: key.id, keyId: key.id, tenantId, scopes: key.scopes as Scope[], cubeIds: null }, requestId: 'bench' };
    const cubeId = found?.id ?? (await app.get(CubeService).create(ctx, { name: 'ingest-big' })).id;
    const embedder = app.get(EmbedderRegistry).forSettings((await app.get(CubeService).get(ctx, cubeId)).settings);
    if (FILL > 0) await fill(db.url, cubeId, FILL, embedder.fingerprint, embedder.dimension);
    const size = await admin(db.url, async (c) => Number((await c.query(`SELECT count(*) AS n FROM memories WHERE cube_id = $1`, [cubeId])).rows[0].n));
    figures.cube_size_before = size;

    const service = app.get(MemoryService);
    const zero = (): Record<Stage, number> => ({ access: 0, quota: 0, embed: 0, embed_in_tx: 0, transaction: 0, insert: 0, audit: 0, tick: 0 });
    let current = zero();
    const into = () => current;
    // The service's own collaborators (private fields), timed where they are called.
    const inner = service as unknown as Record<string, object>;
    // Embedding inside the transaction (a pipelining embedder, ADR 0118) overlaps the inserts:
    // it is reported apart, and the stages inside the transaction then add up to more than it.
    let inTx = false;
    timed(inner.access, 'requireCube', () => 'access', into);
    timed(inner.quotas, 'requireMemorySlots', () => 'quota', into);
    timed(inner.embedders, 'embed', () => (inTx ? 'embed_in_tx' : 'embed'), into);
    timed(inner.memories, 'idempotent', () => 'transaction', into, (running) => (inTx = running));
    timed(inner.memories, 'insertMany', () => 'insert', into);
    timed(inner.audit, 'record', () => 'audit', into);
    timed(inner.trigger, 'cubeWritten', () => 'tick', into);

    const corpus = new SyntheticCorpus(11);
    const batches: { total: number; stages: Record<Stage, number> }[] = [];
    await service.add(ctx, cubeId, { items: [{ text: 'warm up' }] });
    const load0 = loadavg()[0];
    const t0 = performance.now();
    for (let b = 0; b < BATCHES; b++) {
      const items = Array.from({ length: BATCH }, (_, i) => {
        const m = corpus.memory(b * BATCH + i);
        return { text: m.text, kind: 'fact' as const, tags: m.tags, metadata: m.metadata, source: { sessionId: m.sessionId }, observedAt: m.observedAt, importance: m.importance };
      });
      current = zero();
      const s = performance.now();
      await service.add(ctx, cubeId, { items });
      batches.push({ total: performance.now() - s, stages: current });
    }
    const seconds = (performance.now() - t0) / 1000;
    figures.ingest_per_s = round((BATCHES * BATCH) / seconds);
    figures.batch_p50_ms = round(summarize(batches.map((b) => b.total)).p50);
    const stages = Object.keys(zero()) as Stage[];
    for (const stage of stages) figures[`${stage}_p50_ms`] = round(summarize(batches.map((b) => b.stages[stage])).p50);
    // What no timed stage covers: building rows, mapping the response (BEGIN/COMMIT are inside `transaction`).
    figures.other_p50_ms = round(summarize(batches.map((b) => b.total - b.stages.access - b.stages.quota - b.stages.embed - b.stages.transaction - b.stages.tick)).p50);
    figures.load_avg_1m_start = round(load0);
    figures.load_avg_1m_end = round(loadavg()[0]);
  } finally {
    await app?.close();
    await db.drop();
  }
  console.log(`\n| figure | value |\n|---|---|`);
  for (const [k, v] of Object.entries(figures)) console.log(`| ${k} | ${v} |`);
  console.log('\n' + JSON.stringify({ bench: 'ingest', ...figures }));
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
