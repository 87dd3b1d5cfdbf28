import { ConfigError, loadConfig } from './config.loader';

describe('loadConfig', () => {
  it('applies offline defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBeNull();
    expect(config.bodyLimitBytes).toBe(5 * 1024 * 1024);
    expect(config.workerInProcess).toBe(true);
  });

  it('parses sizes, booleans and URLs', () => {
    const config = loadConfig({
      PORT: '9000',
      ENGRAM_BODY_LIMIT: '64kb',
      ENGRAM_WORKER_IN_PROCESS: 'false',
      DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
    });
    expect(config).toMatchObject({ port: 9000, bodyLimitBytes: 65536, workerInProcess: false, databaseUrl: 'postgres://u@127.0.0.1:5432/db' });
  });

  it('lists every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x', ENGRAM_ADMIN_TOKEN: 'short' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'ENGRAM_ADMIN_TOKEN']) expect(problems).toContain(name);
  });
});
