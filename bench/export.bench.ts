// Memory use of cube export and import against cube size (issue 9: a 1M-memory cube must
// export in under 500 MB RSS). Seeds cubes of each size on a scratch PostgreSQL database
// (memories with versions and embeddings, through MemoryService), then exports each one
// with vectors, and imports the archive again, each in a fresh child process that reports
// its RSS after boot, its peak RSS while working (sampled every 20 ms) and the kernel's
// max RSS. Flat memory means the peak over boot does not grow with the cube.
//   npm run bench:export [-- --sizes 10000,100000] [--steps export,import]
// Uses ENGRAM_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { NestFactory } from '@nestjs/core';
import { EngramConfig, loadConfig } from '@engram/config';
import { ApiKeyService, CoreModule, CubeExportService, CubeImportService, CubeService, MemoryService, RequestContext, Scope, TenantService } from '@engram/core';
import { scratchDatabase } from './support/scratch-service';
import { textArg } from './support/args';
import { SyntheticCorpus } from './support/synthetic-corpus';

const ADMIN: RequestContext = { auth: { kind: 'admin', actorId: 'admin' }, requestId: 'bench' };
const BATCH = 1000;
const mb = (bytes: number) => bytes / 1048576;

function configFor(url: string, dataDir: string): EngramConfig {
  return { ...loadConfig({ DATABASE_URL: url, ENGRAM_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ENGRAM_RATE_LIMIT_PER_MINUTE: '0', ENGRAM_NEW_CUBE_EMBEDDER: 'hash' }), workerInProcess: false, migrateOnStart: false, adminToken: 'bench-admin-token-0123456789' };
}

/** Child: one export or one import, measured from inside. */
async function child(): Promise<void> {
  const [mode, url, dataDir, tenantId, keyId, target, file] = process.argv.slice(3);
  const app = await NestFactory.createApplicationContext(CoreModule.forRoot(configFor(url, dataDir)), { logger: false });
  const ctx: RequestContext = { auth: { kind: 'key', actorId: keyId, keyId, tenantId, scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite, Scope.CubesExport], cubeIds: null }, requestId: 'bench' };
  (global as { gc?: () => void }).gc?.();
  const boot = process.memoryUsage().rss;
  let peak = boot;
  // Live heap: after a forced collection every 500 ms, so garbage does not count.
  let livePeak = process.memoryUsage().heapUsed;
  let ticks = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
    if (++ticks % 25 === 0) {
      (global as { gc?: () => void }).gc?.();
      livePeak = Math.max(livePeak, process.memoryUsage().heapUsed);
    }
  }, 20);
  const liveBoot = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let result: Record<string, unknown>;
  if (mode === 'export') {
    const archive = await app.get(CubeExportService).export(ctx, target, { include: 'vectors' });
    await pipeline(archive.stream, createWriteStream(file));
    result = { bytes: statSync(file).size, memories: archive.manifest.counts.memories };
  } else {
    const imported = await app.get(CubeImportService).import(ctx, { name: target }, createReadStream(file), 'application/gzip', statSync(file).size);
    result = { ...imported.counts };
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  await app.close();
  process.stdout.write(`${JSON.stringify({ mode, ...result, seconds, bootRssMb: mb(boot), peakRssMb: mb(peak), maxRssMb: process.resourceUsage().maxRSS / 1024, liveHeapGrowthMb: mb(livePeak - liveBoot) })}\n`);
}

async function main(): Promise<void> {
  const sizes = textArg('sizes', '10000,100000').split(',').map(Number);
  /** `--steps export` skips the imports (a 1M-memory import takes long and is not the figure asked for). */
  const steps = new Set(textArg('steps', 'export,import').split(','));
  const db = await scratchDatabase();
  const app = await NestFactory.createApplicationContext(CoreModule.forRoot(configFor(db.url, db.dataDir)), { logger: false });
  const tenant = await app.get(TenantService).create(ADMIN, { name: 'bench' });
  const key = await app.get(ApiKeyService).create(ADMIN, tenant.id, { scopes: [Scope.CubesWrite, Scope.MemoriesRead, Scope.MemoriesWrite, Scope.CubesExport] });
  const ctx: RequestContext = { auth: { kind: 'key', actorId: key.id, keyId: key.id, tenantId: tenant.id, scopes: key.scopes as Scope[], cubeIds: null }, requestId: 'bench' };
  const corpus = new SyntheticCorpus(42);
  const cubes: { n: number; id: string }[] = [];
  for (const n of sizes) {
    const cube = await app.get(CubeService).create(ctx, { name: `bench-${n}` });
    for (let i = 0; i < n; i += BATCH) {
      const items = Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => {
        const m = corpus.memory(i + j);
        return { text: m.text, kind: 'fact' as const, tags: m.tags, metadata: m.metadata, source: { sessionId: m.sessionId }, observedAt: m.observedAt, importance: m.importance };
      });
      await app.get(MemoryService).add(ctx, cube.id, { items });
      process.stderr.write(`\rseed ${n}: ${i + items.length}/${n}`);
    }
    process.stderr.write('\n');
    cubes.push({ n, id: cube.id });
  }
  await app.close();

  const rows: Record<string, unknown>[] = [];
  const run = (args: string[]) =>
    JSON.parse(execFileSync(process.execPath, ['--expose-gc', __filename, '--child', ...args], { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').pop()!) as Record<string, number>;
  for (const cube of cubes) {
    const file = join(db.dataDir, `bench-${cube.n}.engram.tar.gz`);
    const exported = run(['export', db.url, db.dataDir, tenant.id, key.id, cube.id, file]);
    const imported = steps.has('import') ? run(['import', db.url, db.dataDir, tenant.id, key.id, `imported-${cube.n}`, file]) : null;
    rows.push({ n: cube.n, export: exported, import: imported });
  }

  console.log('\n## cube export / import memory (each in a fresh process; hash-256 embedder, vectors included)\n');
  console.log('| memories | step | archive MB | seconds | RSS after boot MB | peak RSS MB | peak − boot MB | kernel max RSS MB | live heap growth MB |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    for (const step of ['export', 'import'] as const) {
      const r = row[step] as Record<string, number> | null;
      if (!r) continue;
      const archiveMb = step === 'export' ? (r.bytes / 1048576).toFixed(1) : '';
      console.log(`| ${row.n} | ${step} | ${archiveMb} | ${r.seconds.toFixed(1)} | ${r.bootRssMb.toFixed(0)} | ${r.peakRssMb.toFixed(0)} | ${(r.peakRssMb - r.bootRssMb).toFixed(0)} | ${r.maxRssMb.toFixed(0)} | ${r.liveHeapGrowthMb.toFixed(1)} |`);
    }
  }
  const first = rows[0];
  const last = rows[rows.length - 1];
  const growth = (step: 'export' | 'import') => {
    const a = first[step] as Record<string, number> | null;
    const b = last[step] as Record<string, number> | null;
    if (!a || !b) return NaN;
    return (b.peakRssMb - b.bootRssMb) / Math.max(1, a.peakRssMb - a.bootRssMb);
  };
  console.log(`\nsize ratio ${(last.n as number) / (first.n as number)}×: export working-set ratio ${growth('export').toFixed(2)}×${steps.has('import') ? `, import ${growth('import').toFixed(2)}×` : ''} (1.0 = flat)`);
  console.log(JSON.stringify({ bench: 'export', rows, exportWorkingSetRatio: growth('export'), importWorkingSetRatio: growth('import') }));
  await db.drop();
}

if (process.argv[2] === '--child') {
  child().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
