import { Command } from 'commander';
import { EngramConfig } from '@engram/config';
import { createApp } from '@engram/server';
import { createWorker } from '@engram/worker';

export function registerServeCommands(program: Command, config: () => EngramConfig): void {
  program
    .command('serve')
    .description('start the HTTP API (and, unless ENGRAM_WORKER_IN_PROCESS=false, the job worker)')
    .action(async () => {
      const started = Date.now();
      const cfg = config();
      const app = await createApp(cfg);
      await app.listen(cfg.port, cfg.host);
      const url = `http://${cfg.host}:${cfg.port}`;
      process.stdout.write(
        `engram listening on ${url} (docs ${url}/docs) — ready in ${Date.now() - started} ms` +
          `${cfg.databaseUrl ? '' : `, embedded PostgreSQL in ${cfg.dataDir}/pg`}\n`,
      );
    });

  program
    .command('worker')
    .description('run the job worker (purges, and later migrations between memory kinds)')
    .action(async () => {
      await createWorker(config());
      process.stdout.write('engram worker started\n');
    });
}
