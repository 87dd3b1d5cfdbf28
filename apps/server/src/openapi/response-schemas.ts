// Response schemas of the routes whose handlers answer plain objects rather than a DTO class
// (streams, status-dependent bodies, admin summaries). Keyed by operationId; each entry
// replaces the operation's responses with these (ADR 0507).
import type { ReferenceObject, SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

export type Schema = SchemaObject | ReferenceObject;
export interface ResponseSpec {
  description: string;
  /** Media type → schema; absent: no body. */
  content?: Record<string, Schema>;
}

const ref = (name: string): ReferenceObject => ({ $ref: `#/components/schemas/${name}` });
const str = (extra: SchemaObject = {}): SchemaObject => ({ type: 'string', ...extra });
const int = (extra: SchemaObject = {}): SchemaObject => ({ type: 'integer', ...extra });
const num = (extra: SchemaObject = {}): SchemaObject => ({ type: 'number', ...extra });
const obj = (properties: Record<string, Schema>, extra: SchemaObject = {}): SchemaObject => ({ type: 'object', properties, required: Object.keys(properties), ...extra });
const page = (item: Schema): SchemaObject => obj({ items: { type: 'array', items: item }, nextCursor: str({ nullable: true }) });
const json = (schema: Schema) => ({ 'application/json': schema });

const job = obj({
  id: str({ format: 'uuid' }),
  name: str({ description: 'job type, e.g. lifecycle.run, bank.write' }),
  state: str({ enum: ['queued', 'running', 'completed', 'failed', 'cancelled'], description: 'failed: its attempts ran out (retry runs it again); cancelled: an operator stopped it before it committed' }),
  tenantId: str({ nullable: true }),
  attempts: int(),
  maxAttempts: int(),
  lastError: str({ nullable: true }),
  runAfter: str({ format: 'date-time' }),
  finishedAt: str({ nullable: true, format: 'date-time' }),
});
const pauseState = obj({ global: { type: 'boolean' }, tenants: { type: 'array', items: str({ format: 'uuid' }) } });
const lifecycleRun: Record<string, ResponseSpec> = {
  200: { description: 'dryRun: the actions the policies would take; nothing changed', content: json(obj({ actions: { type: 'array', items: ref('LifecycleActionDto') } })) },
  202: { description: 'queued: poll GET /v1/cubes/{cubeId}/lifecycle/runs/{runId}', content: json(obj({ runId: str({ format: 'uuid' }) })) },
};
const usage = obj({
  prompt_tokens: int(),
  completion_tokens: int(),
  total_tokens: int(),
  prompt_tokens_details: obj({ cached_tokens: int() }),
});
const chatCompletion = obj({
  id: str(),
  object: str({ enum: ['chat.completion'] }),
  created: int({ description: 'Unix seconds' }),
  model: str(),
  choices: {
    type: 'array',
    items: obj({
      index: int(),
      message: obj({ role: str({ enum: ['assistant'] }), content: str() }),
      finish_reason: str({ enum: ['stop', 'length'] }),
      logprobs: { type: 'object', nullable: true, description: 'always null' },
    }),
  },
  usage,
  engram: { type: 'object', additionalProperties: true, description: 'what engram added: cube, memories retrieved, KV caches reused (cachedTokens, tiers), bank path' },
});

export const RESPONSE_SCHEMAS: Record<string, Record<string, ResponseSpec>> = {
  SystemController_getHealth: {
    200: {
      description: 'PostgreSQL answers; "degraded" when requests wait for a pooled connection (503 when PostgreSQL does not answer)',
      content: json(obj({
        status: str({ enum: ['ok', 'degraded'] }),
        database: obj({ ok: { type: 'boolean' }, latencyMs: num() }),
        pool: obj({ total: int(), idle: int(), waiting: int(), max: int() }),
      })),
    },
  },
  AdminController_listAudit: { 200: { description: 'audit events, newest first', content: json(page(ref('AuditEventResponseDto'))) } },
  CubeController_delete: { 202: { description: 'soft-deleted; the purge job removes it for good', content: json(obj({ purgeJobId: str({ format: 'uuid' }) })) } },
  CubeArchiveController_export: {
    200: { description: 'the cube archive (tar.gz, manifest.json first), streamed; needs the scope cubes:export', content: { 'application/gzip': str({ format: 'binary' }) } },
  },
  ModelAdminController_list: { 200: { description: 'registered models', content: json(obj({ items: { type: 'array', items: ref('ModelResponseDto') } })) } },
  BankController_list: { 200: { description: "the cube's banks with state and progress (occupancy: GET one bank)", content: json(obj({ items: { type: 'array', items: ref('BankResponseDto') } })) } },
  ChatController_complete: {
    200: {
      description: 'an OpenAI chat.completion; with stream: true, text/event-stream of chat.completion.chunk events, then [DONE]',
      content: { 'application/json': chatCompletion, 'text/event-stream': str({ description: 'data: {chat.completion.chunk}\\n\\n … data: [DONE]\\n\\n' }) },
    },
  },
  LifecycleController_run: lifecycleRun,
  AdminLifecycleController_runCube: lifecycleRun,
  AdminLifecycleController_listCubes: { 200: { description: 'every cube of every tenant (or of tenantId) with memory counts by state', content: json(page(ref('AdminCubeDto'))) } },
  AdminLifecycleController_scheduler: {
    200: {
      description: 'the job queue by type and state, recent failures, lifecycle lag and actions of the last hour',
      content: json(obj({
        paused: pauseState,
        jobs: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'integer' } }, description: 'job type → state → count' },
        queueLag: { type: 'array', items: obj({ name: str(), oldestWaitingMs: num() }), description: 'per job type, how long its oldest due job has waited' },
        failures: { type: 'array', items: job },
        lifecycleFailures: { type: 'array', items: job },
        lag: obj({ p50Ms: num({ nullable: true }), p99Ms: num({ nullable: true }), thisProcess: obj({ p50Ms: num({ nullable: true }), p99Ms: num({ nullable: true }) }) }),
        actionsLastHour: { type: 'array', items: obj({ policy: str(), action: str(), count: int() }), description: 'lifecycle actions applied in the last hour, by policy' },
        llm: obj({ configured: { type: 'boolean' } }),
        migration: obj(
          {
            jobs: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'integer' } }, description: 'migration job type (activation.refresh, activation.sweep, bank.consolidate) → state → count' },
            failures: { type: 'array', items: job },
            workingMemory: {
              type: 'object',
              additionalProperties: true,
              description: 'working-memory KV caches of all cubes: caches, stale, overQuota (cubes whose rebuild the KV bytes quota refused), tokens, bytes, builds and reused/prefilled tokens in the last hour, and this process’s counters (ADR 0402)',
            },
          },
          { description: 'memory moving between kinds: plaintext → working-memory KV caches, → bank blocks' },
        ),
      })),
    },
  },
  AdminLifecycleController_pause: { 200: { description: 'the pause switch after the change', content: json(pauseState) } },
  AdminLifecycleController_resume: { 200: { description: 'the pause switch after the change', content: json(pauseState) } },
  AdminLifecycleController_retryJob: { 200: { description: 'the failed or cancelled job, queued again', content: json(job) } },
  AdminLifecycleController_cancelJob: {
    200: { description: 'the job, cancelled: state cancelled, lastError "cancelled by the operator"; a running one stopped before committing its result', content: json(job) },
    202: { description: 'the job is still running with the cancel requested (lastError "cancelled by the operator"): its worker stops it at its next checkpoint, or completes it if it committed first', content: json(job) },
  },
};
