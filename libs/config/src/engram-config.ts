/** One operator-named embedding endpoint (an `ENGRAM_EMBEDDERS` entry). */
export interface EmbeddingEndpointConfig {
  /** http(s) base URL without credentials, query or fragment; `/v1/embeddings` is appended. */
  baseUrl: string;
  model: string;
  dimension: number;
  /** Bearer key for this endpoint (the entry's `apiKey`, else the deprecated ENGRAM_OPENAI_API_KEY); null: none. */
  apiKey: string | null;
}

/** Limits per tenant; 0 means no limit. */
export interface TenantQuotas {
  cubes: number;
  /** Memories of live cubes that still hold text (deleted ones do not count). */
  memories: number;
  kvBytes: number;
  /** Bytes of the tenant's bank files (from each bank's geometry and model). */
  bankBytes: number;
  /** Bank jobs queued or running at once. */
  concurrentJobs: number;
  /** Prompt plus completion tokens of chat completions, per minute. */
  inferenceTokensPerMinute: number;
}

/** The typed configuration of an engram process. Built once at boot by `loadConfig`. */
export interface EngramConfig {
  /** HTTP listen port and host. */
  port: number;
  host: string;
  /** An external PostgreSQL; when absent an embedded PostgreSQL is started in `dataDir/pg`. */
  databaseUrl: string | null;
  dataDir: string;
  embeddedPostgresPort: number;
  /** shared_buffers of the embedded PostgreSQL in bytes; null: sized from the machine's memory (embedded-postgres.launcher.ts). */
  embeddedPostgresSharedBuffers: number | null;
  /** Operator token from the environment; when absent one is generated on first boot. */
  adminToken: string | null;
  /** Bearer token `/metrics` requires (a Prometheus scrape's `authorization`); null: /metrics is public. */
  metricsToken: string | null;
  /** Maximum accepted JSON body, in bytes. */
  bodyLimitBytes: number;
  /** Largest cube archive accepted by POST /v1/cubes/import (streamed, not parsed as JSON), in bytes. */
  importLimitBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  dbPoolSize: number;
  /** How long a request waits for a pooled connection before it answers 503. */
  dbAcquireTimeoutMs: number;
  /** Session limits on every engram connection (0: off), so a mistake fails loudly instead of hanging. */
  dbStatementTimeoutMs: number;
  dbLockTimeoutMs: number;
  dbIdleInTransactionTimeoutMs: number;
  /** The requests' hot reads as named prepared statements (ADR 0130); false behind a pooler in transaction mode. */
  dbPreparedStatements: boolean;
  /** Largest bank file a geometry may ask for (slots × rank × layers × hidden). */
  bankMaxBytes: number;
  /** Requests per minute per API key (0: no limit); a key may carry its own. */
  rateLimitPerMinute: number;
  /** Per-tenant limits (0: none); the operator overrides them per tenant. */
  quotas: TenantQuotas;
  /** How long a write's response is replayed for a retry with the same Idempotency-Key. */
  idempotencyTtlMs: number;
  /** Run migrations (under an advisory lock) at startup. */
  migrateOnStart: boolean;
  /** Run the job worker inside the server process (single-process installs). */
  workerInProcess: boolean;
  jobPollIntervalMs: number;
  jobLeaseMs: number;
  jobMaxAttempts: number;
  /** Folder of model directories that tenants may name (onnx embedders). */
  modelsDir: string;
  /**
   * Deprecated (ADR 0104): the bearer key of `embedders` entries that set no `apiKey`.
   * It is sent to no URL the operator did not name.
   */
  openaiApiKey: string | null;
  /**
   * OpenAI-compatible embedding endpoints named by the operator (`ENGRAM_EMBEDDERS`, JSON
   * `{ "<name>": { "baseUrl", "model", "dimension", "apiKey"? } }`); cubes choose one with
   * `{ "type": "openai", "name" }`. The only endpoints that ever receive a key.
   */
  embedders: Readonly<Record<string, EmbeddingEndpointConfig>>;
  /** Whether cubes may name their own embedding URL (`baseUrl`): never sent a key, public addresses only. Off by default. */
  allowTenantEmbedderUrls: boolean;
  /** How many cubes keep their search index in memory (least recently used are dropped). */
  indexCacheCubes: number;
  /** Estimated bytes the in-memory search indexes may hold together (least recently used are dropped past it; ADR 0112). */
  indexCacheBytes: number;
  /** Up to this many documents a cube's index keeps no HNSW graph and searches its int8 vectors exactly (ADR 0112); 0: always a graph. */
  indexGraphMinDocuments: number;
  /**
   * Execution provider of the inference runtime: `cpu`; `cuda` where its libraries are
   * installed; `webgpu` (bundled in onnxruntime-node's Linux binary) where a WebGPU adapter
   * is found (Vulkan loader + GPU driver).
   */
  inferenceProvider: 'cpu' | 'cuda' | 'webgpu';
  /** ONNX Runtime intra-op threads per session (0: its default). */
  inferenceThreads: number;
  /**
   * How compiled models run attention (ADR 0407): `auto` (one fused GroupQueryAttention node
   * per layer on the CPU and WebGPU, standard ops on CUDA), `fused` or `standard` (the
   * escape hatch where a provider's fused kernel misbehaves).
   */
  inferenceAttention: 'auto' | 'fused' | 'standard';
  /**
   * The embedder of a new cube that names none (ADR 0106): `use-lite` (semantic, embedded
   * after the commit) or `hash`. Written into the cube's settings, so changing it later
   * leaves existing cubes as they are; a cube without `settings.embedder` is a hash cube.
   */
  newCubeEmbedder: 'use-lite' | 'hash';
  /** KV caches (activation memory, blobs under `dataDir/kv`): RAM tier budget in bytes. */
  kvRamBytes: number;
  /** Disk tier budget in bytes; null: unbounded. */
  kvDiskBytes: number | null;
  /** Tokens per KV chunk (the unit of prefix reuse). */
  kvChunkTokens: number;
  /** How often the scheduler sweeps every cube for TTL and idleness. */
  lifecycleSweepIntervalMs: number;
  /**
   * The OpenAI-compatible chat endpoint of LLM-mode fusion and extraction
   * (`ENGRAM_LLM_BASE_URL`, `ENGRAM_LLM_MODEL`, `ENGRAM_LLM_API_KEY`): only the operator names
   * it, tenants cannot point it anywhere. Null: rules mode only, extraction off.
   */
  llm: LlmEndpointConfig | null;
  /** OpenTelemetry tracing (ADR 0505); null when OTEL_EXPORTER_OTLP_ENDPOINT is unset: off, nothing loaded. */
  tracing: TracingConfig | null;
}

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP JSON): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. */
  tracesUrl: string;
  /** OTEL_SERVICE_NAME; null: `engram` for the server, `engram-worker` for the worker. */
  serviceName: string | null;
}

export interface LlmEndpointConfig {
  /** Base URL; `/v1/chat/completions` is appended unless it already ends in `/v1`. */
  baseUrl: string;
  model: string;
  apiKey: string | null;
  timeoutMs: number;
  /** Attempts per call (timeouts, 5xx, unparsable answers). */
  maxAttempts: number;
  /** Tokens (prompt + completion, as the endpoint reports them) a tenant may use per day. */
  tenantDailyTokens: number;
}
