import { Command } from 'commander';
import * as path from 'node:path';
import { EngramConfig } from '@engram/config';
import { createDataSource, generateMigration, openDatabaseServer, pendingSchemaChanges, runMigrationsLocked } from '@engram/persistence';
import { operatorConfig } from './operator-database';

async function withDatabase<T>(config: EngramConfig, run: (ds: ReturnType<typeof createDataSource>, url: string) => Promise<T>): Promise<T> {
  const server = await openDatabaseServer(operatorConfig(config));
  const dataSource = createDataSource({ url: server.url, poolSize: 2 });
  try {
    await dataSource.initialize();
    return await run(dataSource, server.url);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await server.embedded?.stop();
  }
}

export function registerMigrateCommands(program: Command, config: () => EngramConfig): void {
  const migrate = program
    .command('migrate')
    .description('apply pending database migrations (safe to run from several replicas at once)')
    .action(async () => {
      const applied = await withDatabase(config(), (ds, url) => runMigrationsLocked(ds, url));
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    });

  migrate
    .command('generate <name>')
    .description('write migrations/<epoch>-<name>.ts from the difference between the entities and a migrated database')
    .option('--dir <dir>', 'migrations folder', 'migrations')
    .action(async (name: string, options: { dir: string }) => {
      const file = await withDatabase(config(), async (ds, url) => {
        await runMigrationsLocked(ds, url);
        return generateMigration(ds, name, path.resolve(options.dir));
      });
      process.stdout.write(file ? `wrote ${file}; review it, then commit it\n` : 'entities match the migrations: nothing to generate\n');
    });

  migrate
    .command('check')
    .description('fail when the entities would need a migration that does not exist (drift check)')
    .action(async () => {
      const pending = await withDatabase(config(), async (ds, url) => {
        await runMigrationsLocked(ds, url);
        return pendingSchemaChanges(ds);
      });
      if (pending.length) {
        process.stderr.write(`entities differ from migrations; run "engram migrate generate <Name>":\n${pending.join('\n')}\n`);
        process.exitCode = 1;
      } else process.stdout.write('no drift\n');
    });
}
