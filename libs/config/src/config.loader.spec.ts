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

  it('reads the inference and KV cache settings', () => {
    expect(loadConfig({})).toMatchObject({ inferenceProvider: 'cpu', kvRamBytes: 512 * 1024 ** 2, kvDiskBytes: null, kvChunkTokens: 256 });
    const config = loadConfig({ ENGRAM_INFERENCE_PROVIDER: 'cuda', ENGRAM_KV_RAM: '64mb', ENGRAM_KV_DISK: '2gb', ENGRAM_KV_CHUNK_TOKENS: '128' });
    expect(config).toMatchObject({ inferenceProvider: 'cuda', kvRamBytes: 64 * 1024 ** 2, kvDiskBytes: 2 * 1024 ** 3, kvChunkTokens: 128 });
    expect(() => loadConfig({ ENGRAM_INFERENCE_PROVIDER: 'tpu', ENGRAM_KV_DISK: 'lots' })).toThrow(/ENGRAM_INFERENCE_PROVIDER[\s\S]*ENGRAM_KV_DISK/);
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
