import { ConfigError, loadConfig, loadTracingConfig } from './config.loader';

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
    expect(loadConfig({})).toMatchObject({ inferenceProvider: 'cpu', kvRamBytes: 512 * 1024 ** 2, kvDiskBytes: 8 * 1024 ** 3, kvChunkTokens: 256 });
    const config = loadConfig({ ENGRAM_INFERENCE_PROVIDER: 'cuda', ENGRAM_KV_RAM: '64mb', ENGRAM_KV_DISK: '2gb', ENGRAM_KV_CHUNK_TOKENS: '128' });
    expect(config).toMatchObject({ inferenceProvider: 'cuda', kvRamBytes: 64 * 1024 ** 2, kvDiskBytes: 2 * 1024 ** 3, kvChunkTokens: 128 });
    expect(loadConfig({ ENGRAM_INFERENCE_PROVIDER: 'webgpu' }).inferenceProvider).toBe('webgpu');
    expect(loadConfig({}).inferenceAttention).toBe('auto');
    expect(loadConfig({}).metricsToken).toBeNull();
    expect(loadConfig({ ENGRAM_METRICS_TOKEN: 'scrape-0123456789abcdef' }).metricsToken).toBe('scrape-0123456789abcdef');
    expect(() => loadConfig({ ENGRAM_METRICS_TOKEN: 'short' })).toThrow(/ENGRAM_METRICS_TOKEN: must be at least 16 characters/);
    expect(loadConfig({ ENGRAM_INFERENCE_ATTENTION: 'standard' }).inferenceAttention).toBe('standard');
    expect(() => loadConfig({ ENGRAM_INFERENCE_ATTENTION: 'flash' })).toThrow(/ENGRAM_INFERENCE_ATTENTION/);
    expect(() => loadConfig({ ENGRAM_INFERENCE_PROVIDER: 'tpu', ENGRAM_KV_DISK: 'lots' })).toThrow(/ENGRAM_INFERENCE_PROVIDER[\s\S]*ENGRAM_KV_DISK/);
  });

  it('reads the operator LLM endpoint, or none, and names a half-set one', () => {
    expect(loadConfig({}).llm).toBeNull();
    expect(loadConfig({ ENGRAM_LLM_BASE_URL: 'http://127.0.0.1:8080/', ENGRAM_LLM_MODEL: 'tiny', ENGRAM_LLM_API_KEY: 'sk-x' }).llm).toEqual({
      baseUrl: 'http://127.0.0.1:8080',
      model: 'tiny',
      apiKey: 'sk-x',
      timeoutMs: 30_000,
      maxAttempts: 3,
      tenantDailyTokens: 1_000_000,
    });
    expect(() => loadConfig({ ENGRAM_LLM_BASE_URL: 'http://127.0.0.1:8080' })).toThrow(/ENGRAM_LLM_MODEL: required/);
    expect(() => loadConfig({ ENGRAM_LLM_BASE_URL: 'ftp://user:pw@host', ENGRAM_LLM_MODEL: 'm' })).toThrow(/ENGRAM_LLM_BASE_URL/);
    expect(() => loadConfig({ ENGRAM_LLM_MODEL: 'm' })).toThrow(/ENGRAM_LLM_MODEL: set ENGRAM_LLM_BASE_URL/);
  });

  it('sizes the embedded PostgreSQL from the machine unless told, and refuses a size it cannot use', () => {
    expect(loadConfig({}).embeddedPostgresSharedBuffers).toBeNull();
    expect(loadConfig({ ENGRAM_EMBEDDED_PG_SHARED_BUFFERS: '2gb' }).embeddedPostgresSharedBuffers).toBe(2 * 1024 ** 3);
    for (const bad of ['1mb', '0', 'half', '2tb']) {
      expect(() => loadConfig({ ENGRAM_EMBEDDED_PG_SHARED_BUFFERS: bad })).toThrow(/ENGRAM_EMBEDDED_PG_SHARED_BUFFERS/);
    }
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

describe('loadConfig: operator-named embedding endpoints (ENGRAM_EMBEDDERS)', () => {
  const local = { baseUrl: 'http://127.0.0.1:8000/v1', model: 'bge-small', dimension: 384 };

  it('has none and refuses tenant URLs by default', () => {
    expect(loadConfig({})).toMatchObject({ embedders: {}, allowTenantEmbedderUrls: false });
    expect(loadConfig({ ENGRAM_ALLOW_TENANT_EMBEDDER_URLS: 'true' }).allowTenantEmbedderUrls).toBe(true);
  });

  it('reads named endpoints; the deprecated ENGRAM_OPENAI_API_KEY is the key of entries that set none', () => {
    const config = loadConfig({
      ENGRAM_OPENAI_API_KEY: 'sk-legacy',
      ENGRAM_EMBEDDERS: JSON.stringify({ local: { ...local, apiKey: null }, openai: { baseUrl: 'https://api.openai.com', model: 'text-embedding-3-small', dimension: 1536 }, tei: { ...local, apiKey: 'sk-tei' } }),
    });
    expect(config.embedders).toEqual({
      local: { ...local, apiKey: null },
      openai: { baseUrl: 'https://api.openai.com', model: 'text-embedding-3-small', dimension: 1536, apiKey: 'sk-legacy' },
      tei: { ...local, apiKey: 'sk-tei' },
    });
  });

  it('lists every bad entry and field, and never quotes a key', () => {
    let problems = '';
    try {
      loadConfig({
        ENGRAM_EMBEDDERS: JSON.stringify({
          query: { ...local, baseUrl: 'http://x.example/?' },
          creds: { ...local, baseUrl: 'http://user:sk-in-url@x.example' },
          ftp: { ...local, baseUrl: 'ftp://x.example' },
          dim: { ...local, dimension: 4 },
          extra: { ...local, headers: {} },
          'bad name!': local,
          key: { ...local, apiKey: 42 },
        }),
      });
    } catch (e) {
      problems = (e as ConfigError).problems.join('\n');
    }
    expect(problems).toContain('ENGRAM_EMBEDDERS.query.baseUrl: must not contain a query or fragment');
    expect(problems).toContain('ENGRAM_EMBEDDERS.creds.baseUrl: must not contain credentials');
    expect(problems).toContain('ENGRAM_EMBEDDERS.ftp.baseUrl: expected an http(s) URL');
    expect(problems).toContain('ENGRAM_EMBEDDERS.dim.dimension');
    expect(problems).toContain('ENGRAM_EMBEDDERS.extra: unknown field(s) headers');
    expect(problems).toContain('ENGRAM_EMBEDDERS.bad name!: names are');
    expect(problems).toContain('ENGRAM_EMBEDDERS.key.apiKey');
    expect(problems).not.toContain('sk-in-url');
    expect(() => loadConfig({ ENGRAM_EMBEDDERS: '{not json' })).toThrow(/ENGRAM_EMBEDDERS: expected JSON/);
    expect(() => loadConfig({ ENGRAM_EMBEDDERS: '[]' })).toThrow(/ENGRAM_EMBEDDERS: expected a JSON object/);
  });
  it('wants an operator token of 32+ characters and says how to make one', () => {
    expect(() => loadConfig({ ENGRAM_ADMIN_TOKEN: 'a'.repeat(31) })).toThrow(/ENGRAM_ADMIN_TOKEN: must be at least 32 characters/);
    expect(loadConfig({ ENGRAM_ADMIN_TOKEN: 'a'.repeat(32) }).adminToken).toBe('a'.repeat(32));
  });
  it('bounds the KV disk tier by default, and lifts the bound only when asked', () => {
    expect(loadConfig({}).kvDiskBytes).toBe(8 * 1024 ** 3);
    expect(loadConfig({ ENGRAM_KV_DISK: '2gb' }).kvDiskBytes).toBe(2 * 1024 ** 3);
    expect(loadConfig({ ENGRAM_KV_DISK: '0' }).kvDiskBytes).toBeNull();
  });
  it('turns tracing on only when an OTLP endpoint is set, and names a bad one', () => {
    expect(loadConfig({}).tracing).toBeNull();
    expect(loadTracingConfig({})).toBeNull();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({ tracesUrl: 'http://collector:4318/v1/traces', serviceName: null });
    expect(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://t/x', OTEL_SERVICE_NAME: 'api' })).toEqual({ tracesUrl: 'https://t/x', serviceName: 'api' });
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL/);
    expect(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' })).toBeNull();
  });
});
