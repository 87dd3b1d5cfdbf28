import * as path from 'node:path';
import { EmbeddingEndpointConfig, EngramConfig, TracingConfig } from './engram-config';

/** Raised when one or more environment variables are invalid; lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Why an embedding endpoint's base URL is unusable, or null (the same rules as plaintext's openAiEmbeddingsUrl). */
function endpointUrlProblem(value: string): string | null {
  if (/[?#]/.test(value)) return 'must not contain a query or fragment (? or #)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'expected an http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'expected an http(s) URL';
  if (url.username || url.password) return 'must not contain credentials; put the key in apiKey';
  return null;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | null {
    return this.raw(name) ?? null;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      this.problems.push(`${name}: expected an integer between ${min} and ${max}, got "${value}"`);
      return fallback;
    }
    return parsed;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    this.problems.push(`${name}: expected true or false, got "${value}"`);
    return fallback;
  }

  size(name: string, fallback: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(value);
    if (!match) {
      this.problems.push(`${name}: expected a size such as 5mb or 1048576, got "${value}"`);
      return fallback;
    }
    return Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] ?? '').toLowerCase()]);
  }

  optionalSize(name: string): number | null {
    return this.raw(name) === undefined ? null : this.size(name, 0);
  }

  oneOf<T extends string>(name: string, options: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(options as readonly string[]).includes(value)) {
      this.problems.push(`${name}: expected one of ${options.join(', ')}, got "${value}"`);
      return fallback;
    }
    return value as T;
  }

  /**
   * `ENGRAM_EMBEDDERS`: JSON `{ "<name>": { "baseUrl", "model", "dimension", "apiKey"? } }`.
   * An entry without `apiKey` takes `fallbackKey` (the deprecated ENGRAM_OPENAI_API_KEY);
   * `"apiKey": null` sends none. Problems never quote a key.
   */
  embedders(name: string, fallbackKey: string | null): Record<string, EmbeddingEndpointConfig> {
    const value = this.raw(name);
    if (value === undefined) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      this.problems.push(`${name}: expected JSON such as {"openai":{"baseUrl":"https://api.openai.com","model":"text-embedding-3-small","dimension":1536}}`);
      return {};
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.problems.push(`${name}: expected a JSON object of endpoint name → { baseUrl, model, dimension, apiKey? }`);
      return {};
    }
    const out: Record<string, EmbeddingEndpointConfig> = {};
    for (const [endpoint, spec] of Object.entries(parsed as Record<string, unknown>)) {
      const problem = (field: string, text: string) => this.problems.push(`${name}.${endpoint}${field ? `.${field}` : ''}: ${text}`);
      const before = this.problems.length;
      if (!ENDPOINT_NAME.test(endpoint)) problem('', 'names are 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
      if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
        problem('', 'expected an object { baseUrl, model, dimension, apiKey? }');
        continue;
      }
      const entry = spec as Record<string, unknown>;
      const unknown = Object.keys(entry).filter((k) => !['baseUrl', 'model', 'dimension', 'apiKey'].includes(k));
      if (unknown.length) problem('', `unknown field(s) ${unknown.join(', ')}`);
      const urlProblem = typeof entry.baseUrl === 'string' ? endpointUrlProblem(entry.baseUrl) : 'expected an http(s) URL';
      if (urlProblem) problem('baseUrl', urlProblem);
      if (typeof entry.model !== 'string' || !entry.model.trim() || entry.model.length > 200) problem('model', 'expected the name of the embedding model');
      if (!Number.isInteger(entry.dimension) || (entry.dimension as number) < 8 || (entry.dimension as number) > 8192) problem('dimension', 'expected an integer between 8 and 8192');
      if (entry.apiKey !== undefined && entry.apiKey !== null && (typeof entry.apiKey !== 'string' || !entry.apiKey.trim())) problem('apiKey', 'expected a non-empty string or null');
      if (this.problems.length > before) continue;
      const apiKey = entry.apiKey === undefined ? fallbackKey : (entry.apiKey as string | null);
      out[endpoint] = { baseUrl: entry.baseUrl as string, model: entry.model as string, dimension: entry.dimension as number, apiKey };
    }
    return out;
  }

  url(name: string): string | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    try {
      const parsed = new URL(value);
      if (!['postgres:', 'postgresql:'].includes(parsed.protocol)) throw new Error('protocol');
    } catch {
      this.problems.push(`${name}: expected a postgres:// URL`);
      return null;
    }
    return value;
  }
}

/** The operator's LLM endpoint, or null when ENGRAM_LLM_BASE_URL is unset. */
function readLlm(read: EnvReader): EngramConfig['llm'] {
  const baseUrl = read.optionalString('ENGRAM_LLM_BASE_URL');
  const model = read.optionalString('ENGRAM_LLM_MODEL');
  const apiKey = read.optionalString('ENGRAM_LLM_API_KEY');
  const timeoutMs = read.int('ENGRAM_LLM_TIMEOUT_MS', 30_000, 100, 600_000);
  const maxAttempts = read.int('ENGRAM_LLM_MAX_ATTEMPTS', 3, 1, 10);
  const tenantDailyTokens = read.int('ENGRAM_LLM_TENANT_DAILY_TOKENS', 1_000_000, 0, 2_000_000_000);
  if (baseUrl === null) {
    if (model !== null) read.problems.push('ENGRAM_LLM_MODEL: set ENGRAM_LLM_BASE_URL too, or unset it');
    return null;
  }
  try {
    const url = new URL(baseUrl);
    if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password) throw new Error('url');
  } catch {
    read.problems.push('ENGRAM_LLM_BASE_URL: expected an http(s) URL without credentials');
    return null;
  }
  if (model === null) {
    read.problems.push('ENGRAM_LLM_MODEL: required with ENGRAM_LLM_BASE_URL');
    return null;
  }
  return { baseUrl: baseUrl.replace(/\/+$/, ''), model, apiKey, timeoutMs, maxAttempts, tenantDailyTokens };
}

/** Why an OTLP endpoint is unusable, or null. */
function otlpUrlProblem(value: string): string | null {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? null : 'expected an http(s) URL';
  } catch {
    return 'expected an http(s) URL';
  }
}

/**
 * OpenTelemetry tracing, by the OTel names: on when OTEL_EXPORTER_OTLP_ENDPOINT (the collector's
 * base URL) or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full traces URL) is set.
 */
function readTracing(read: EnvReader): TracingConfig | null {
  const base = read.optionalString('OTEL_EXPORTER_OTLP_ENDPOINT');
  const traces = read.optionalString('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const serviceName = read.optionalString('OTEL_SERVICE_NAME');
  for (const [name, value] of [['OTEL_EXPORTER_OTLP_ENDPOINT', base], ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces]] as const) {
    const problem = value === null ? null : otlpUrlProblem(value);
    if (problem) {
      read.problems.push(`${name}: ${problem}, e.g. http://localhost:4318`);
      return null;
    }
  }
  if (traces !== null) return { tracesUrl: traces, serviceName };
  if (base !== null) return { tracesUrl: `${base.replace(/\/+$/, '')}/v1/traces`, serviceName };
  return null;
}

/**
 * The tracing part of the configuration alone, read before anything else is loaded (the SDK
 * must patch http, express and pg before they are required). Null when off or invalid:
 * `loadConfig` then reports the problem with the others.
 */
export function loadTracingConfig(env: Env): TracingConfig | null {
  const read = new EnvReader(env);
  const tracing = readTracing(read);
  return read.problems.length > 0 ? null : tracing;
}

/** The smallest shared_buffers an operator may set (a floor against a unit left out: `2048` is bytes, not megabytes). */
const MIN_SHARED_BUFFERS = 16 * 1024 ** 2;

function embeddedSharedBuffers(read: EnvReader): number | null {
  const bytes = read.size('ENGRAM_EMBEDDED_PG_SHARED_BUFFERS', -1);
  if (bytes === -1) return null;
  if (bytes < MIN_SHARED_BUFFERS || bytes > 1024 ** 4) {
    read.problems.push('ENGRAM_EMBEDDED_PG_SHARED_BUFFERS: expected a size between 16mb and 1024gb (e.g. 2gb), or unset to size it from the memory of the machine');
    return null;
  }
  return bytes;
}

/**
 * Validates the environment into an EngramConfig. The only reader of `process.env`
 * in engram is the caller of this function (the CLI entry point).
 */
export function loadConfig(env: Env): EngramConfig {
  const read = new EnvReader(env);
  const adminToken = read.optionalString('ENGRAM_ADMIN_TOKEN');
  if (adminToken !== null && adminToken.length < 32) {
    read.problems.push('ENGRAM_ADMIN_TOKEN: must be at least 32 characters (e.g. `openssl rand -hex 24`), or unset to have one generated');
  }
  const metricsToken = read.optionalString('ENGRAM_METRICS_TOKEN');
  if (metricsToken !== null && metricsToken.length < 16) read.problems.push('ENGRAM_METRICS_TOKEN: must be at least 16 characters (e.g. `openssl rand -hex 16`), or unset for a public /metrics');
  const openaiApiKey = read.optionalString('ENGRAM_OPENAI_API_KEY');
  const config: EngramConfig = {
    port: read.int('PORT', 8080, 0, 65535),
    host: read.string('HOST', '127.0.0.1'),
    databaseUrl: read.url('DATABASE_URL'),
    dataDir: path.resolve(read.string('ENGRAM_DATA_DIR', './data')),
    embeddedPostgresPort: read.int('ENGRAM_EMBEDDED_PG_PORT', 54329, 1, 65535),
    embeddedPostgresSharedBuffers: embeddedSharedBuffers(read),
    adminToken,
    metricsToken,
    bodyLimitBytes: read.size('ENGRAM_BODY_LIMIT', 5 * 1024 * 1024),
    importLimitBytes: read.size('ENGRAM_IMPORT_LIMIT', 2 * 1024 * 1024 * 1024),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    dbPoolSize: read.int('ENGRAM_DB_POOL_SIZE', 10, 1, 500),
    dbAcquireTimeoutMs: read.int('ENGRAM_DB_ACQUIRE_TIMEOUT_MS', 5_000, 1, 600_000),
    dbStatementTimeoutMs: read.int('ENGRAM_DB_STATEMENT_TIMEOUT_MS', 120_000, 0, 86_400_000),
    dbLockTimeoutMs: read.int('ENGRAM_DB_LOCK_TIMEOUT_MS', 10_000, 0, 86_400_000),
    dbIdleInTransactionTimeoutMs: read.int('ENGRAM_DB_IDLE_TX_TIMEOUT_MS', 60_000, 0, 86_400_000),
    dbPreparedStatements: read.bool('ENGRAM_DB_PREPARED_STATEMENTS', true),
    bankMaxBytes: read.size('ENGRAM_BANK_MAX_BYTES', 16 * 1024 ** 3),
    rateLimitPerMinute: read.int('ENGRAM_RATE_LIMIT_PER_MINUTE', 1_200, 0, 10_000_000),
    quotas: {
      cubes: read.int('ENGRAM_QUOTA_CUBES', 10_000, 0, 100_000_000),
      memories: read.int('ENGRAM_QUOTA_MEMORIES', 10_000_000, 0, 2_000_000_000),
      kvBytes: read.size('ENGRAM_QUOTA_KV_BYTES', 4 * 1024 ** 3),
      bankBytes: read.size('ENGRAM_QUOTA_BANK_BYTES', 32 * 1024 ** 3),
      concurrentJobs: read.int('ENGRAM_QUOTA_CONCURRENT_JOBS', 8, 0, 10_000),
      inferenceTokensPerMinute: read.int('ENGRAM_QUOTA_INFERENCE_TOKENS_PER_MINUTE', 200_000, 0, 1_000_000_000),
    },
    idempotencyTtlMs: read.int('ENGRAM_IDEMPOTENCY_TTL_HOURS', 24, 1, 24 * 365) * 3_600_000,
    migrateOnStart: read.bool('ENGRAM_MIGRATE_ON_START', true),
    workerInProcess: read.bool('ENGRAM_WORKER_IN_PROCESS', true),
    jobPollIntervalMs: read.int('ENGRAM_JOB_POLL_MS', 1000, 10, 600_000),
    jobLeaseMs: read.int('ENGRAM_JOB_LEASE_MS', 60_000, 100, 86_400_000),
    jobMaxAttempts: read.int('ENGRAM_JOB_MAX_ATTEMPTS', 5, 1, 100),
    openaiApiKey,
    embedders: read.embedders('ENGRAM_EMBEDDERS', openaiApiKey),
    allowTenantEmbedderUrls: read.bool('ENGRAM_ALLOW_TENANT_EMBEDDER_URLS', false),
    modelsDir: path.resolve(read.string('ENGRAM_MODELS_DIR', path.join(read.string('ENGRAM_DATA_DIR', './data'), 'models'))),
    indexCacheCubes: read.int('ENGRAM_INDEX_CACHE_CUBES', 256, 1, 100_000),
    indexCacheBytes: read.size('ENGRAM_INDEX_CACHE', 1024 ** 3),
    indexGraphMinDocuments: read.int('ENGRAM_INDEX_GRAPH_MIN_DOCS', 2048, 0, 10_000_000),
    inferenceProvider: read.oneOf('ENGRAM_INFERENCE_PROVIDER', ['cpu', 'cuda', 'webgpu'] as const, 'cpu'),
    inferenceThreads: read.int('ENGRAM_INFERENCE_THREADS', 0, 0, 1024),
    inferenceAttention: read.oneOf('ENGRAM_INFERENCE_ATTENTION', ['auto', 'fused', 'standard'] as const, 'auto'),
    newCubeEmbedder: read.oneOf('ENGRAM_NEW_CUBE_EMBEDDER', ['use-lite', 'hash'] as const, 'use-lite'),
    kvRamBytes: read.size('ENGRAM_KV_RAM', 512 * 1024 ** 2),
    // Bounded by default: caches are recomputable, a full disk is not. `0` lifts the bound.
    kvDiskBytes: ((bytes) => (bytes === 0 ? null : bytes))(read.size('ENGRAM_KV_DISK', 8 * 1024 ** 3)),
    kvChunkTokens: read.int('ENGRAM_KV_CHUNK_TOKENS', 256, 1, 65_536),
    lifecycleSweepIntervalMs: read.int('ENGRAM_LIFECYCLE_SWEEP_MS', 600_000, 1000, 86_400_000),
    llm: readLlm(read),
    tracing: readTracing(read),
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}
