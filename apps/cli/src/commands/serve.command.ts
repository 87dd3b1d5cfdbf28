import { INestApplicationContext } from '@nestjs/common';
import { Command } from 'commander';
import { EngramConfig } from '@engram/config';
import { createApp } from '@engram/server';
import { createWorker } from '@engram/worker';
import { stopTracing } from '@engram/telemetry';

export function registerServeCommands(program: Command, config: () => EngramConfig): void {
  program
    .command('serve')
    .description('start the HTTP API (and, unless ENGRAM_WORKER_IN_PROCESS=false, the job worker)')
    .action(async () => {
      const started = Date.now();
      const cfg = config();
      const app = await createApp(cfg);
      stopOnSignal(app, 'server');
      await app.listen(cfg.port, cfg.host);
      const url = `http://${cfg.host}:${cfg.port}`;
      process.stdout.write(
        `engram listening on ${url} (docs ${url}/docs) — ready in ${Date.now() - started} ms` +
          `${cfg.databaseUrl ? '' : `, embedded PostgreSQL in ${cfg.dataDir}/pg`}\n`,
      );
    });

  program
    .command('worker')
    .description('run the job worker: lifecycle ticks and sweeps (fusion, expiry, archive), working-memory KV rebuilds, bank builds, writes and consolidation, purges')
    .action(async () => {
      const worker = await createWorker(config());
      // The job runner's poll timer does not hold the process open (an app that embeds the
      // worker exits when it is done), and while PostgreSQL is down the pool holds no socket
      // either: nothing else would keep `engram worker` alive through a database restart, and
      // it exited 0 the moment its last connection closed. It runs until it is signalled.
      const keepAlive = setInterval(() => undefined, 60 * 60 * 1000);
      stopOnSignal(worker, 'worker', () => clearInterval(keepAlive));
      process.stdout.write('engram worker started\n');
    });
}

/**
 * Ctrl-C / SIGTERM: stop taking work, close the app (pool, worker, embedded PostgreSQL)
 * and exit 0. A second signal while closing exits at once.
 */
function stopOnSignal(app: INestApplicationContext, what: string, onStop?: () => void): void {
  let closing = false;
  const stop = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    onStop?.();
    process.stdout.write(`engram ${what}: ${signal} received, shutting down\n`);
    app
      .close()
      .then(() => stopTracing()) // flush the spans not yet exported
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`engram ${what}: shutdown failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
