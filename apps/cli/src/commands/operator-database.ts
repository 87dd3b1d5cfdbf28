import { EngramConfig } from '@engram/config';
import { runningEmbeddedPostgres } from '@engram/persistence';

/**
 * The configuration an operator command (admin, model, migrate) runs with. Without
 * DATABASE_URL the database is the embedded PostgreSQL of ENGRAM_DATA_DIR: when an engram
 * (`engram serve`) already runs it, the command connects to that cluster, as it would to an
 * external one, instead of refusing; when none runs, the command starts it for its own
 * duration as before. A second postmaster on one data directory is still never started.
 */
export function operatorConfig(config: EngramConfig): EngramConfig {
  if (config.databaseUrl) return config;
  const running = runningEmbeddedPostgres(config.dataDir);
  return running ? { ...config, databaseUrl: running.url } : config;
}
