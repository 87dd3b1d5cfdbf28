// Start-up time of `engram serve` with the embedded PostgreSQL: first boot (initdb +
// migrations + generated admin token) and warm boot on the same data directory, each
// measured from spawn to the first 200 on /health, then a Ctrl-C (SIGINT) shutdown time.
//   npm run bench:startup [-- --runs 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { arg } from './support/args';
import { summarize } from './support/synthetic-corpus';
import { freePort } from './support/crash-driver';

const CLI = path.resolve(__dirname, '../apps/cli/src/main.js');

/** Boots, waits for /health, stops with SIGINT; returns [ms to healthy, ms to exit]. */
async function boot(dataDir: string, pgPort: number): Promise<[number, number]> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), ENGRAM_DATA_DIR: dataDir, ENGRAM_EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (;;) {
    if (child.exitCode !== null) throw new Error('engram serve exited before it was healthy');
    if (performance.now() - started > 120_000) throw new Error('engram serve was not healthy within 120 s');
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const healthy = performance.now() - started;
  const stopping = performance.now();
  child.kill('SIGINT');
  await exited;
  return [healthy, performance.now() - stopping];
}

async function main(): Promise<void> {
  const runs = arg('runs', 3);
  const first: number[] = [];
  const warm: number[] = [];
  const stop: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'engram-startup-'));
    const pgPort = await freePort();
    try {
      const [cold, coldStop] = await boot(dataDir, pgPort);
      const [hot, hotStop] = await boot(dataDir, pgPort);
      first.push(cold);
      warm.push(hot);
      stop.push(coldStop, hotStop);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const f = summarize(first);
  const w = summarize(warm);
  const s = summarize(stop);
  console.log(`\nengram serve with embedded PostgreSQL, ${runs} runs (ms to the first healthy /health)`);
  console.log(`first boot (initdb + migrations)   p50 ${f.p50.toFixed(0)}   mean ${f.mean.toFixed(0)}`);
  console.log(`warm boot (existing data dir)      p50 ${w.p50.toFixed(0)}   mean ${w.mean.toFixed(0)}`);
  console.log(`Ctrl-C to exit (server + PostgreSQL) p50 ${s.p50.toFixed(0)}`);
  console.log(JSON.stringify({ bench: 'startup', runs, firstBootMs: Math.round(f.p50), warmBootMs: Math.round(w.p50), shutdownMs: Math.round(s.p50) }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
