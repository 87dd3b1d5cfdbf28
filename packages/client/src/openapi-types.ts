// Generated from engram's OpenAPI document by packages/client/scripts/openapi-to-ts.ts. Do not edit:
// run `UPDATE_CLIENT_TYPES=1 npx jest test/client-types` after changing a route or DTO.

export interface AddMemoriesDto {
  items: MemoryInputDto[];
}

export interface AddMessagesDto {
  messages: MessageInputDto[];
  sessionId?: string;
  metadata?: Record<string, unknown>;
  /** extract: also add the facts the operator's LLM finds in the turns (a job; the turns are stored first either way). Default: the cube policy's extraction.enabled */
  mode?: "raw" | "extract";
}

export interface AddMessagesResultDto {
  ids: string[];
  items: MemoryResponseDto[];
}

export interface AdminCubeDto {
  id: string;
  tenantId: string;
  name: string;
  createdAt: string;
  /** memories by state */
  counts: Record<string, number>;
}

export interface ApiKeyListDto {
  items: ApiKeyResponseDto[];
}

export interface ApiKeyResponseDto {
  id: string;
  name: string | null;
  prefix: string;
  scopes: Array<"cubes:write" | "memories:read" | "memories:write" | "cubes:export" | "memories:erase" | "inference:run" | "banks:write">;
  cubeIds: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  /** null: the instance default */
  rateLimitPerMinute: number | null;
  createdAt: string;
}

export interface AuditEventResponseDto {
  id: string;
  at: string;
  requestId: string | null;
  actorType: string;
  actorId: string | null;
  tenantId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  details: Record<string, unknown>;
}

export interface BankBlockCellDto {
  level: number;
  node: number;
  /** commits that wrote the block */
  writes: number;
  /** memories written into it */
  memories: number;
  /** holds a memory deleted or edited since */
  stale: boolean;
  locked: boolean;
  /** bank-file generation of its last write */
  generation: number;
  writtenAt: string;
}

export interface BankBlockMapDto {
  bankId: string;
  /** the bank-file generation read */
  generation: number;
  /** geometry and counts per level, coarse first */
  levels: BankLevelDto[];
  /** every block written at least once (the others are all zeros) */
  blocks: BankBlockCellDto[];
}

export interface BankBlockResponseDto {
  bankId: string;
  level: number;
  node: number;
  rank: number;
  /** false: the block was never written (all zeros, no effect) */
  written: boolean;
  locked: boolean;
  /** holds a memory that was deleted or edited since; rewrite it */
  stale: boolean;
  /** provenance: the memories written into the block */
  memoryIds: string[];
  generation: number | null;
  steps: number | null;
  finalLoss: number | null;
  writtenAt: string | null;
}

export interface BankJobResponseDto {
  bankId: string;
  jobId: string;
  state: "building" | "ready" | "failed";
}

export interface BankLevelDto {
  level: number;
  /** block rank at this level */
  rank: number;
  /** block slots (k^level) */
  nodes: number;
  /** nodes the tree uses */
  treeNodes: number;
  /** blocks written at least once */
  writtenBlocks: number;
  /** written blocks that hold a deleted or edited memory */
  staleBlocks: number;
  blockParameters: number;
}

export interface BankOccupancyDto {
  levels: BankLevelDto[];
  /** memories assigned to leaves */
  texts: number;
  /** memories recorded as deleted */
  deleted: number;
  fileBytes: number;
  parameters: number;
}

export interface BankReplayDto {
  /** 'anchor': text sampled from the model itself (generated once per bank, cached); 'memories': other memories of the cube, outside the trained cluster; 'none': facts only (locality suffers) */
  source?: "anchor" | "memories" | "none";
  /** replay sequences per training step */
  perStep?: number;
  /** weight of the replay loss (a KL pull toward the model without memory) relative to the facts */
  weight?: number;
  /** replay pool: sequences sampled from the model, or memories drawn from the cube */
  samples?: number;
}

export interface BankResponseDto {
  id: string;
  cubeId: string;
  /** registered model name */
  model: string;
  modelFingerprint: string;
  embedderFingerprint: string;
  levels: number;
  branching: number;
  blockSizes: number[];
  /** replay settings of the bank's writes (a write may override them; its progress reports what it used) */
  replay: BankReplayDto;
  state: "building" | "ready" | "failed";
  /** phase, done, total of the build or of the last write */
  progress: Record<string, unknown>;
  generation: number;
  jobId: string | null;
  error: string | null;
  /** only on a ready bank, in GET of one bank */
  occupancy?: BankOccupancyDto;
  createdAt: string;
}

export interface ChatCompletionRequestDto {
  /** name of a registered model */
  model: string;
  messages: ChatMessageDto[];
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  stream?: boolean;
  stream_options?: ChatStreamOptionsDto;
  /** only 1 is supported */
  n?: number;
  /** only 0 (no penalty) is supported */
  frequency_penalty?: number;
  /** only 0 (no penalty) is supported */
  presence_penalty?: number;
  /** only false is supported (choices carry logprobs: null) */
  logprobs?: boolean;
  user?: string;
  response_format?: ChatResponseFormatDto;
  engram?: ChatEngramDto;
}

export interface ChatEngramDto {
  /** the id of the cube whose memory is used (GET /v1/cubes?name= finds it by name); checked before anything else */
  cubeId: string;
  /** KV caches of the cube, placed as leading system messages in this order */
  kvCacheIds?: string[];
  /** with several kvCacheIds: the fraction of the re-placed caches' tokens recomputed (those whose KV deviates most at an early layer), so that each cache attends to the ones before it (CacheBlend); 1 recomputes them all (exactly a full prefill), 0 none */
  recompute?: number;
  /** memory text put as the leading system message; reuses a KV cache of the cube built from the same text */
  memoryText?: string;
  /** a ready parametric memory bank of the cube; absent: the bank of the cube's consolidation policy, if any; null or false: no bank. The best retrieved memory picks the path (its blocks are attached only when they hold it at its current value); with nothing retrieved the conversation is routed (one embedding) */
  bankId?: string | false | null;
  /** memories relevant to the last turns are searched in the cube and put in the prompt (default: on, topK 5, maxTokens 512); false turns it off */
  retrieve?: boolean | ChatRetrieveDto;
  /** use the cube's working memory (its policy's activation section) as the cached prompt prefix when no kvCacheIds or memoryText are given */
  workingMemory?: boolean;
}

export interface ChatJsonSchemaDto {
  /** the schema's name: letters, digits, _ and - */
  name: string;
  description?: string;
  schema?: Record<string, unknown>;
  /** accepted; the answer always follows the schema */
  strict?: boolean;
}

export interface ChatMessageDto {
  role: "system" | "developer" | "user" | "assistant" | "tool";
  /** text, or an array of { type: "text", text } parts (joined) */
  content: string;
  name?: string;
  /** the tool call a tool message answers (accepted; the prompt holds its content) */
  tool_call_id?: string;
}

export interface ChatResponseFormatDto {
  type: "text" | "json_object" | "json_schema";
  json_schema?: ChatJsonSchemaDto;
}

export interface ChatRetrieveDto {
  /** at most this many memories */
  topK?: number;
  /** at most this many prompt tokens of memories (never more than the model's context leaves beside the conversation) */
  maxTokens?: number;
  filters?: Record<string, unknown>;
}

export interface ChatStreamOptionsDto {
  include_usage?: boolean;
}

export interface CreateApiKeyDto {
  name?: string;
  scopes: Array<"cubes:write" | "memories:read" | "memories:write" | "cubes:export" | "memories:erase" | "inference:run" | "banks:write">;
  /** limit the key to these cubes; omitted: every cube of the tenant */
  cubeIds?: string[];
  expiresAt?: string;
  /** requests per minute for this key (429 with Retry-After above it); omitted: the instance default ENGRAM_RATE_LIMIT_PER_MINUTE */
  rateLimitPerMinute?: number;
}

export interface CreateBankDto {
  /** name of a registered model (safetensors): the anchor the blocks belong to */
  model: string;
  /** tree depth p */
  levels?: number;
  /** branching k */
  branching?: number;
  /** block rank (extra FFN neurons per layer) per level, coarse first; default 16 at every level */
  blockSizes?: number[];
  /** embedder that clusters and routes, in the shapes of a cube's settings.embedder ("hash", { type: "openai", name } naming an operator endpoint, …; tenant URLs only where the operator allows them, ADR 0104); default: the cube's */
  embedder?: Record<string, unknown>;
  /** replay while writing (defaults: anchor samples, 8 per step, weight 20, 128 samples) */
  replay?: BankReplayDto;
}

export interface CreateCubeDto {
  name: string;
  description?: string | null;
  settings?: Record<string, unknown>;
  /** when a live cube of this name exists: "error" answers 409, "return" answers it (200, unchanged): an idempotent get-or-create */
  ifExists?: "error" | "return";
}

export interface CreateKvCacheDto {
  /** name of a registered model */
  model: string;
  memoryIds?: string[];
  text?: string;
}

export interface CreateTenantDto {
  name: string;
}

export interface CreatedApiKeyResponseDto {
  id: string;
  name: string | null;
  prefix: string;
  scopes: Array<"cubes:write" | "memories:read" | "memories:write" | "cubes:export" | "memories:erase" | "inference:run" | "banks:write">;
  cubeIds: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  /** null: the instance default */
  rateLimitPerMinute: number | null;
  createdAt: string;
  key: string;
}

export interface CubeImportCountsDto {
  memories: number;
  versions: number;
  lifecycleEvents: number;
  /** memories whose archived vectors were reused (same embedder fingerprint) */
  vectorsReused: number;
  /** memories embedded again by this cube’s embedder */
  reembedded: number;
  /** KV caches recomputed by a model with the archived fingerprint */
  kvCaches: number;
  /** parametric banks restored for a model with the archived fingerprint */
  banks: number;
}

export interface CubeImportResultDto {
  cube: CubeResponseDto;
  counts: CubeImportCountsDto;
  skipped: ImportSkipDto[];
}

export interface CubeMemoryCountsDto {
  /** memories that are not deleted */
  total: number;
  /** not-deleted memories per kind */
  byKind: Record<string, number>;
  /** memories per lifecycle state, deleted included */
  byState: Record<string, number>;
}

export interface CubeOverviewDto {
  cubeId: string;
  memories: OverviewMemoriesDto;
  heat: OverviewHeatDto;
  activation: OverviewActivationDto;
  banks: OverviewBankDto[];
  scheduler: OverviewSchedulerDto;
}

export interface CubePageDto {
  items: CubeResponseDto[];
  nextCursor: string | null;
}

export interface CubeResponseDto {
  id: string;
  name: string;
  description: string | null;
  settings: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface CubeStatsDto {
  cube: CubeResponseDto;
  memories: CubeMemoryCountsDto;
}

export interface FactDto {
  subject: string;
  predicate: string;
  object: string;
}

export interface HeatBucketDto {
  min: number;
  /** exclusive; null: no upper bound */
  max: number | null;
  count: number;
}

export interface ImportModelDto {
  name?: string;
  /** model directory on the server machine */
  path: string;
}

export interface ImportSkipDto {
  part: string;
  reason: string;
}

export interface KvCacheHitRatesDto {
  /** chunks of the cube's caches found in each tier */
  hits: KvTierHitsDto;
  /** chunks that were in no tier and were prefilled again */
  misses: number;
  /** hits + misses */
  lookups: number;
  /** hits / lookups; null before the first lookup */
  hitRate: number | null;
  /** when this server process started counting */
  since: string;
}

export interface KvCacheListDto {
  items: KvCacheResponseDto[];
  hitRates: KvCacheHitRatesDto;
}

export interface KvCacheResponseDto {
  id: string;
  cubeId: string;
  /** registered model name */
  model: string;
  modelFingerprint: string;
  tokens: number;
  bytes: number;
  /** fastest tier holding every chunk; missing: recomputed on use */
  tier: "ram" | "disk" | "object" | "missing";
  sourceMemoryIds: string[];
  createdAt: string;
}

export interface KvTierHitsDto {
  ram: number;
  disk: number;
  object: number;
}

export interface LifecycleActionDto {
  type: "merge" | "supersede" | "expire" | "archive";
  memoryIds: string[];
  targetId?: string;
  reason: Record<string, unknown>;
  status?: "applied" | "skipped";
  why?: string;
}

export interface LifecycleActivationPolicyDto {
  /** registered model whose KV cache holds the working memory; null: none (default) */
  model?: string | null;
  /** prompt tokens of the working memory at most, within the model context (default 1024) */
  maxTokens?: number;
  /** milliseconds a change waits before the rebuild, so a burst of writes costs one (default 2000) */
  debounceMs?: number;
}

export interface LifecycleConsolidationPolicyDto {
  /** a bank of the cube to consolidate into; null: off (default) */
  bankId?: string | null;
  /** accesses (searches that returned it) a memory needs first (default 3) */
  minAccesses?: number;
  /** hours a memory must be unchanged first (default 24) */
  minAgeHours?: number;
  /** memories written per run at most, hottest first (default 64) */
  maxPerRun?: number;
  /** cosine a conversation must reach for the bank to speak when chat routes it by text (default 0.3; -1: always) */
  minRouteSimilarity?: number;
  thresholds?: LifecycleConsolidationThresholdsDto;
}

export interface LifecycleConsolidationThresholdsDto {
  /** share of the written tokens the model must recall with the blocks attached (default 0.5) */
  minRecall?: number;
  /** held-out perplexity may rise by at most this fraction (default 0.05 = +5%) */
  maxPerplexityIncrease?: number;
}

export interface LifecycleEventDto {
  id: string;
  action: string;
  memoryIds: string[];
  reason: Record<string, unknown>;
  /** policy | key | admin */
  actorType: string;
  /** the policy name or the key id */
  actorId: string | null;
  runId: string | null;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  at: string;
}

export interface LifecycleEventPageDto {
  items: LifecycleEventDto[];
  nextCursor: string | null;
}

export interface LifecycleExtractionPolicyDto {
  /** extract facts from every POST …/messages, as mode "extract" does (default false; needs the operator LLM) */
  enabled?: boolean;
}

export interface LifecycleFusionPolicyDto {
  /** merge duplicate memories after writes (default true) */
  enabled?: boolean;
  /** rules (default); llm only when the operator configured ENGRAM_LLM_* */
  mode?: "rules" | "llm";
  /** rules mode: the word overlap (Jaccard) at which a text containing the other counts as its duplicate; above 0, at most 1 (default 0.8) */
  threshold?: number;
}

export interface LifecycleInvalidationPolicyDto {
  /** a newer fact supersedes older ones with the same subject and predicate (default true) */
  enabled?: boolean;
  /** predicates that hold many values at once and never supersede (at most 100) */
  multiValued?: string[];
}

export interface LifecyclePolicyDto {
  /** expiry by kind and by tag (none by default) */
  ttl?: LifecycleTtlPolicyDto;
  /** archive active memories unused (no read, no write, no restore) for this many days (a number of days above 0 and at most 36500); null: never (default) */
  archiveAfterIdleDays?: number | null;
  /** merging of duplicates */
  fusion?: LifecycleFusionPolicyDto;
  /** supersession of facts by newer ones */
  invalidation?: LifecycleInvalidationPolicyDto;
  /** facts extracted from messages */
  extraction?: LifecycleExtractionPolicyDto;
  /** hot, stable memories written into a parametric bank (ADR 0403) */
  consolidation?: LifecycleConsolidationPolicyDto;
  /** the working-memory KV cache (ADR 0402) */
  activation?: LifecycleActivationPolicyDto;
}

export interface LifecyclePolicyResponseDto {
  /** the effective policy: defaults ← instance ← tenant ← cube, field by field (every field present) */
  effective: LifecyclePolicyDto;
  /** this level's own fields: what its last PUT sent (a PUT replaces the whole level) */
  overrides: LifecyclePolicyDto;
  /** the levels it inherits from, by level (instance) */
  inherited?: Record<string, LifecyclePolicyDto>;
}

export interface LifecycleRunResponseDto {
  runId: string;
  status: "queued" | "running" | "done" | "failed";
  actions: LifecycleActionDto[];
  error?: string;
  createdAt: string;
  finishedAt: string | null;
}

export interface LifecycleTtlPolicyDto {
  /** { kind: days }: a memory of that kind expires this long after its creation or last restore (a number of days above 0 and at most 36500); null drops an inherited entry */
  byKind?: Record<string, number | null>;
  /** { tag: days }: as byKind, for memories carrying the tag; null drops an inherited entry */
  byTag?: Record<string, number | null>;
}

export interface MemoryHistoryDto {
  /** oldest first */
  items: MemoryVersionDto[];
}

export interface MemoryInputDto {
  text: string;
  kind?: "fact" | "episode" | "preference" | "procedure" | "message";
  role?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  source?: MemorySourceDto;
  observedAt?: string;
  validFrom?: string;
  validTo?: string;
  importance?: number;
  /** { subject, predicate, object }; case and whitespace are folded for matching */
  fact?: FactDto;
  /** the scheduler never merges, supersedes, expires or archives a pinned memory */
  pinned?: boolean;
  expiresAt?: string;
}

export interface MemoryListDto {
  items: MemoryResponseDto[];
}

export interface MemoryPageDto {
  items: MemoryResponseDto[];
  /** pass as cursor for the next page; null on the last */
  nextCursor: string | null;
}

export interface MemoryResponseDto {
  id: string;
  cubeId: string;
  text: string;
  kind: "fact" | "episode" | "preference" | "procedure" | "message";
  role: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
  source: Record<string, unknown>;
  observedAt: string | null;
  validFrom: string | null;
  validTo: string | null;
  importance: number | null;
  state: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  expiredAt: string | null;
  /** how often search returned it */
  accessCount: number;
  lastAccessedAt: string | null;
  pinned: boolean;
  expiresAt: string | null;
  /** while merged: the memory that absorbed this one */
  mergedInto: string | null;
  /** while superseded: the newer fact */
  supersededBy: string | null;
  fact: FactDto | null;
  /** when it was erased for good (text, metadata and history contents are gone) */
  erasedAt: string | null;
  /** (1 + ln(1 + accessCount)) × ½^(days since last access / 7) × (0.5 + importance) */
  heat: number;
}

export interface MemorySourceDto {
  id?: string;
  type?: string;
  sessionId?: string;
  refs?: string[];
}

export interface MemoryVersionDto {
  version: number;
  action: string;
  actorType: string;
  actorId: string | null;
  requestId: string | null;
  oldValues: Record<string, unknown> | null;
  newValues: Record<string, unknown> | null;
  reason: string | null;
  at: string;
}

export interface MessageInputDto {
  role: string;
  content: string;
  name?: string;
  at?: string;
}

export interface ModelResponseDto {
  id: string;
  name: string;
  fingerprint: string;
  directory: string;
  format: "safetensors" | "onnx";
  config?: Record<string, unknown>;
  createdAt: string;
}

export interface OverviewActivationDto {
  /** bytes of the cube’s KV caches (working memory included) by the fastest tier holding all of a cache */
  bytesByTier: Record<string, number>;
  /** KV caches built by clients */
  kvCaches: number;
  workingMemory: WorkingMemoryStatusDto;
}

export interface OverviewBankDto {
  id: string;
  state: string;
  generation: number;
  levels: OverviewBankLevelDto[];
  /** written blocks / blocks of levels with a rank */
  occupancy: number;
  /** stale blocks / written blocks (chat does not use stale blocks) */
  staleness: number;
}

export interface OverviewBankLevelDto {
  level: number;
  blocks: number;
  written: number;
  stale: number;
}

export interface OverviewHeatDto {
  /** heat = (1 + ln(1 + accesses)) × ½^(days since last access / 7) × (0.5 + importance); a fresh, unread memory has 1 */
  formula: string;
  buckets: HeatBucketDto[];
}

export interface OverviewJobDto {
  id: string;
  name: string;
  state: string;
  attempts: number;
  lastError: string | null;
  runAfter: string;
}

export interface OverviewMemoriesDto {
  total: number;
  byState: Record<string, number>;
  /** active memories by kind */
  activeByKind: Record<string, number>;
  /** pinned active memories */
  pinned: number;
  /** bytes of memory text (UTF-8), all states */
  textBytes: number;
}

export interface OverviewRunDto {
  id: string;
  status: string;
  actions: number;
  createdAt: string;
  finishedAt: string | null;
  error?: string | null;
}

export interface OverviewSchedulerDto {
  /** changes of the cube not yet seen by a lifecycle tick */
  pendingChanges: number;
  lastLifecycleEventAt: string | null;
  lastSweepAt: string | null;
  /** last lifecycle runs, newest first */
  lastRuns: OverviewRunDto[];
  /** jobs of this cube queued, running or failed */
  openJobs: OverviewJobDto[];
}

export interface RunLifecycleDto {
  /** plan only: answer the actions, change nothing */
  dryRun?: boolean;
}

export interface SchedulerPauseDto {
  /** pause or resume one tenant only; absent: the whole instance */
  tenantId?: string;
}

export interface SearchDto {
  query: string;
  topK?: number;
  /** kind, role, tags ({ any } | { all } | string[]), metadata ({ key: value | { in: [...] } }), state, observedAfter, observedBefore, validAt, sessionId */
  filters?: Record<string, unknown>;
  /** true: each result carries explain, how its score was made, with each signal's raw score (the raw cosine is the one to compare across queries of one cube) */
  explain?: boolean;
  referenceTime?: string;
  /** 'deep': multi-hop — retrieve, expand the query with terms, neighbouring turns and vectors of the top hits, retrieve again and fuse (about twice the latency) */
  mode?: "default" | "deep";
}

export interface SearchResponseDto {
  /** best first */
  results: SearchResultDto[];
}

export interface SearchResultDto {
  id: string;
  text: string;
  kind: string;
  role: string | null;
  /** Where this hit ranks within this response, relative to this query: not a probability and not comparable across queries, cubes or modes, so not a relevance threshold. Default mode (ADR 0101): each signal is scaled over this query's candidates — BM25 divided by the best candidate's, cosine min–max scaled over a span of at least 0.2 — and summed with the embedder's dense weight (hash 0.3, sentence encoders 0.5); a memory with a session takes half its score from its session's BM25 relative to the best session's; importance and time words in the query then scale it (at most ×1.6). So the best match of each signal gets its full share however weak it is: a paraphrase sharing no word with the query and the best memory for an unrelated query can both score 0.5, the first hit is often about 1 and the last, in a small cube, often 0. mode "deep": the first pass's best three come first, scored above 1 (normally 4, 3 and 2), the others 0–1 (their score in each pass divided by that pass's best, the higher of the two). To judge relevance across queries, ask for explain: true and read its raw per-signal scores (dense.similarity, lexical.bm25). */
  score: number;
  tags: string[];
  metadata: Record<string, unknown>;
  source: Record<string, unknown>;
  observedAt: string | null;
  validFrom: string | null;
  validTo: string | null;
  /** with explain: true — dense: { similarity: the raw cosine of the query and memory vectors (its scale depends on the embedder), rank } ({ similarity: null, rank: null, pending: true } while the memory's vector is still being embedded: it is then ranked by its other signals alone, ADR 0535), lexical: { bm25: the raw BM25 (× 0.5 for assistant turns; it grows with the number and rarity of the query words), rank }, rank: 1-based among what that signal proposed, null when it did not propose the memory; fusion: { method, document, context, combined } (the scaled scores), priors: { importance, recency, timeIntent }, timeIntent?; mode "deep" adds deep: { first, second, expansion } (the scaled score in each pass and the words added to the query) and explains the pass that found the memory first */
  explain?: Record<string, unknown>;
}

export interface TenantListDto {
  items: TenantResponseDto[];
}

export interface TenantOffboardedDto {
  tenantId: string;
  keysRevoked: number;
  /** cubes deleted now and purged by jobs */
  cubeIds: string[];
  purgeJobIds: string[];
}

export interface TenantQuotaFiguresDto {
  cubes: number;
  memories: number;
  kvBytes: number;
  bankBytes: number;
  concurrentJobs: number;
  inferenceTokensPerMinute: number;
}

export interface TenantQuotaReportDto {
  /** in force: defaults with the overrides */
  limits: TenantQuotaFiguresDto;
  overrides: TenantQuotasDto;
  /** what the tenant uses now (tokens: this minute) */
  usage: TenantQuotaFiguresDto;
}

export interface TenantQuotasDto {
  /** live cubes — tenant limit (0: none); omitted: the instance default */
  cubes?: number;
  /** memories that hold text — tenant limit (0: none); omitted: the instance default */
  memories?: number;
  /** bytes of KV caches — tenant limit (0: none); omitted: the instance default */
  kvBytes?: number;
  /** bytes of bank files — tenant limit (0: none); omitted: the instance default */
  bankBytes?: number;
  /** bank jobs queued or running — tenant limit (0: none); omitted: the instance default */
  concurrentJobs?: number;
  /** chat tokens (prompt + completion) per minute — tenant limit (0: none); omitted: the instance default */
  inferenceTokensPerMinute?: number;
}

export interface TenantResponseDto {
  id: string;
  name: string;
  createdAt: string;
  /** offboarded: keys revoked, cubes purged; kept as a tombstone for the audit log */
  deletedAt: string | null;
}

export interface UpdateCubeDto {
  name?: string;
  description?: string | null;
  settings?: Record<string, unknown>;
}

export interface UpdateMemoryDto {
  text?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  validFrom?: string | null;
  validTo?: string | null;
  importance?: number | null;
  /** why the memory changed; kept in its history */
  reason?: string;
  pinned?: boolean;
  expiresAt?: string | null;
}

export interface WorkingMemoryStatusDto {
  /** off: the policy names no model; building: wanted, not built yet; over_quota: not built, it would take the tenant past its KV bytes quota (see overQuota) */
  state: "ready" | "stale" | "building" | "off" | "over_quota";
  model: string | null;
  /** the store manifest of the current generation */
  cacheId: string | null;
  tier: "ram" | "disk" | "object" | "missing" | null;
  generation: number;
  memories: number;
  tokens: number;
  /** policy maxTokens */
  maxTokens: number;
  bytes: number;
  builtAt?: string | null;
  lastUsedAt?: string | null;
  /** a source changed at this time; chat skips it until the rebuild */
  staleSince?: string | null;
  /** the last rebuild: tokens reused from the previous generation, tokens prefilled, milliseconds; null before the first */
  lastBuild?: {
    reusedTokens: number;
    prefilledTokens: number;
    ms: number;
  } | null;
  /** set while the last rebuild is refused by the tenant’s KV bytes quota: KV bytes it needed, KV bytes the tenant used beside it, the kvBytes quota, since when */
  overQuota?: {
    neededBytes: number;
    usedBytes: number;
    limitBytes: number;
    since: string;
  } | null;
}

export interface WriteBankDto {
  /** active memories of the cube to write into their blocks */
  memoryIds?: string[];
  /** first retrain the stale blocks (a memory in them was deleted or edited) without those memories */
  rewriteStale?: boolean;
  /** passes over the texts of the trained clusters */
  epochs?: number;
  /** replay while writing (defaults: anchor samples, 8 per step, weight 20, 128 samples) */
  replay?: BankReplayDto;
}

/** Every operation of the API: method, path template, parameters, body and success response. */
export interface Operations {
  SystemController_getHealth: {
    method: "GET";
    path: "/health";
    pathParams: never;
    query: never;
    body: never;
    status: 200;
    response: {
      status: "ok" | "degraded";
      database: {
        ok: boolean;
        latencyMs: number;
      };
      pool: {
        total: number;
        idle: number;
        waiting: number;
        max: number;
      };
    };
  };
  AdminController_listAudit: {
    method: "GET";
    path: "/v1/admin/audit";
    pathParams: never;
    query: { action?: string; actorId?: string; cursor?: string; limit?: number; since?: string; tenantId?: string; until?: string };
    body: never;
    status: 200;
    response: {
      items: AuditEventResponseDto[];
      nextCursor: string | null;
    };
  };
  AdminLifecycleController_listCubes: {
    method: "GET";
    path: "/v1/admin/cubes";
    pathParams: never;
    query: { cursor?: string; limit?: number; tenantId?: string };
    body: never;
    status: 200;
    response: {
      items: AdminCubeDto[];
      nextCursor: string | null;
    };
  };
  AdminLifecycleController_runCube: {
    method: "POST";
    path: "/v1/admin/cubes/{cubeId}/lifecycle/run";
    pathParams: { cubeId: string };
    query: never;
    body: RunLifecycleDto;
    status: 200;
    response: {
      actions: LifecycleActionDto[];
    };
  };
  AdminLifecycleController_getCubeRun: {
    method: "GET";
    path: "/v1/admin/cubes/{cubeId}/lifecycle/runs/{runId}";
    pathParams: { cubeId: string; runId: string };
    query: never;
    body: never;
    status: 200;
    response: LifecycleRunResponseDto;
  };
  AdminLifecycleController_cancelJob: {
    method: "POST";
    path: "/v1/admin/jobs/{jobId}/cancel";
    pathParams: { jobId: string };
    query: never;
    body: never;
    status: 200;
    response: {
      id: string;
      /** job type, e.g. lifecycle.run, bank.write */
      name: string;
      /** failed: its attempts ran out (retry runs it again); cancelled: an operator stopped it before it committed */
      state: "queued" | "running" | "completed" | "failed" | "cancelled";
      tenantId: string | null;
      attempts: number;
      maxAttempts: number;
      lastError: string | null;
      runAfter: string;
      finishedAt: string | null;
    };
  };
  AdminLifecycleController_retryJob: {
    method: "POST";
    path: "/v1/admin/jobs/{jobId}/retry";
    pathParams: { jobId: string };
    query: never;
    body: never;
    status: 200;
    response: {
      id: string;
      /** job type, e.g. lifecycle.run, bank.write */
      name: string;
      /** failed: its attempts ran out (retry runs it again); cancelled: an operator stopped it before it committed */
      state: "queued" | "running" | "completed" | "failed" | "cancelled";
      tenantId: string | null;
      attempts: number;
      maxAttempts: number;
      lastError: string | null;
      runAfter: string;
      finishedAt: string | null;
    };
  };
  AdminLifecycleController_getDefaults: {
    method: "GET";
    path: "/v1/admin/lifecycle-defaults";
    pathParams: never;
    query: never;
    body: never;
    status: 200;
    response: LifecyclePolicyResponseDto;
  };
  AdminLifecycleController_putDefaults: {
    method: "PUT";
    path: "/v1/admin/lifecycle-defaults";
    pathParams: never;
    query: never;
    body: LifecyclePolicyDto;
    status: 200;
    response: LifecyclePolicyResponseDto;
  };
  ModelAdminController_list: {
    method: "GET";
    path: "/v1/admin/models";
    pathParams: never;
    query: never;
    body: never;
    status: 200;
    response: {
      items: ModelResponseDto[];
    };
  };
  ModelAdminController_import: {
    method: "POST";
    path: "/v1/admin/models";
    pathParams: never;
    query: never;
    body: ImportModelDto;
    status: 201;
    response: ModelResponseDto;
  };
  AdminLifecycleController_scheduler: {
    method: "GET";
    path: "/v1/admin/scheduler";
    pathParams: never;
    query: never;
    body: never;
    status: 200;
    response: {
      paused: {
        global: boolean;
        tenants: string[];
      };
      /** job type → state → count */
      jobs: Record<string, Record<string, number>>;
      /** per job type, how long its oldest due job has waited */
      queueLag: Array<{
        name: string;
        oldestWaitingMs: number;
      }>;
      failures: Array<{
        id: string;
        /** job type, e.g. lifecycle.run, bank.write */
        name: string;
        /** failed: its attempts ran out (retry runs it again); cancelled: an operator stopped it before it committed */
        state: "queued" | "running" | "completed" | "failed" | "cancelled";
        tenantId: string | null;
        attempts: number;
        maxAttempts: number;
        lastError: string | null;
        runAfter: string;
        finishedAt: string | null;
      }>;
      lifecycleFailures: Array<{
        id: string;
        /** job type, e.g. lifecycle.run, bank.write */
        name: string;
        /** failed: its attempts ran out (retry runs it again); cancelled: an operator stopped it before it committed */
        state: "queued" | "running" | "completed" | "failed" | "cancelled";
        tenantId: string | null;
        attempts: number;
        maxAttempts: number;
        lastError: string | null;
        runAfter: string;
        finishedAt: string | null;
      }>;
      lag: {
        p50Ms: number | null;
        p99Ms: number | null;
        thisProcess: {
          p50Ms: number | null;
          p99Ms: number | null;
        };
      };
      /** lifecycle actions applied in the last hour, by policy */
      actionsLastHour: Array<{
        policy: string;
        action: string;
        count: number;
      }>;
      llm: {
        configured: boolean;
      };
      /** memory moving between kinds: plaintext → working-memory KV caches, → bank blocks */
      migration: {
        /** migration job type (activation.refresh, activation.sweep, bank.consolidate) → state → count */
        jobs: Record<string, Record<string, number>>;
        failures: Array<{
          id: string;
          /** job type, e.g. lifecycle.run, bank.write */
          name: string;
          /** failed: its attempts ran out (retry runs it again); cancelled: an operator stopped it before it committed */
          state: "queued" | "running" | "completed" | "failed" | "cancelled";
          tenantId: string | null;
          attempts: number;
          maxAttempts: number;
          lastError: string | null;
          runAfter: string;
          finishedAt: string | null;
        }>;
        /** working-memory KV caches of all cubes: caches, stale, overQuota (cubes whose rebuild the KV bytes quota refused), tokens, bytes, builds and reused/prefilled tokens in the last hour, and this process’s counters (ADR 0402) */
        workingMemory: Record<string, unknown>;
      };
    };
  };
  AdminLifecycleController_pause: {
    method: "POST";
    path: "/v1/admin/scheduler/pause";
    pathParams: never;
    query: never;
    body: SchedulerPauseDto;
    status: 200;
    response: {
      global: boolean;
      tenants: string[];
    };
  };
  AdminLifecycleController_resume: {
    method: "POST";
    path: "/v1/admin/scheduler/resume";
    pathParams: never;
    query: never;
    body: SchedulerPauseDto;
    status: 200;
    response: {
      global: boolean;
      tenants: string[];
    };
  };
  AdminController_listTenants: {
    method: "GET";
    path: "/v1/admin/tenants";
    pathParams: never;
    query: never;
    body: never;
    status: 200;
    response: TenantListDto;
  };
  AdminController_createTenant: {
    method: "POST";
    path: "/v1/admin/tenants";
    pathParams: never;
    query: never;
    body: CreateTenantDto;
    status: 201;
    response: TenantResponseDto;
  };
  AdminController_offboardTenant: {
    method: "DELETE";
    path: "/v1/admin/tenants/{tenantId}";
    pathParams: { tenantId: string };
    query: never;
    body: never;
    status: 200;
    response: TenantOffboardedDto;
  };
  AdminController_listKeys: {
    method: "GET";
    path: "/v1/admin/tenants/{tenantId}/keys";
    pathParams: { tenantId: string };
    query: never;
    body: never;
    status: 200;
    response: ApiKeyListDto;
  };
  AdminController_createKey: {
    method: "POST";
    path: "/v1/admin/tenants/{tenantId}/keys";
    pathParams: { tenantId: string };
    query: never;
    body: CreateApiKeyDto;
    status: 201;
    response: CreatedApiKeyResponseDto;
  };
  AdminController_revokeKey: {
    method: "DELETE";
    path: "/v1/admin/tenants/{tenantId}/keys/{keyId}";
    pathParams: { keyId: string; tenantId: string };
    query: never;
    body: never;
    status: 204;
    response: unknown;
  };
  AdminLifecycleController_getTenantDefaults: {
    method: "GET";
    path: "/v1/admin/tenants/{tenantId}/lifecycle-defaults";
    pathParams: { tenantId: string };
    query: never;
    body: never;
    status: 200;
    response: LifecyclePolicyResponseDto;
  };
  AdminLifecycleController_putTenantDefaults: {
    method: "PUT";
    path: "/v1/admin/tenants/{tenantId}/lifecycle-defaults";
    pathParams: { tenantId: string };
    query: never;
    body: LifecyclePolicyDto;
    status: 200;
    response: LifecyclePolicyResponseDto;
  };
  AdminController_getQuotas: {
    method: "GET";
    path: "/v1/admin/tenants/{tenantId}/quotas";
    pathParams: { tenantId: string };
    query: never;
    body: never;
    status: 200;
    response: TenantQuotaReportDto;
  };
  AdminController_setQuotas: {
    method: "PUT";
    path: "/v1/admin/tenants/{tenantId}/quotas";
    pathParams: { tenantId: string };
    query: never;
    body: TenantQuotasDto;
    status: 200;
    response: TenantQuotaReportDto;
  };
  ChatController_complete: {
    method: "POST";
    path: "/v1/chat/completions";
    pathParams: never;
    query: never;
    body: ChatCompletionRequestDto;
    status: 200;
    response: {
      id: string;
      object: "chat.completion";
      /** Unix seconds */
      created: number;
      model: string;
      choices: Array<{
        index: number;
        message: {
          role: "assistant";
          content: string;
        };
        finish_reason: "stop" | "length";
        /** always null */
        logprobs: Record<string, unknown> | null;
      }>;
      usage: {
        prompt_tokens: number;
        completion_tokens: number;
        total_tokens: number;
        prompt_tokens_details: {
          cached_tokens: number;
        };
      };
      /** what engram added: cube, memories retrieved, KV caches reused (cachedTokens, tiers), bank path */
      engram: Record<string, unknown>;
    };
  };
  CubeController_list: {
    method: "GET";
    path: "/v1/cubes";
    pathParams: never;
    query: { cursor?: string; limit?: number; name?: string };
    body: never;
    status: 200;
    response: CubePageDto;
  };
  CubeController_create: {
    method: "POST";
    path: "/v1/cubes";
    pathParams: never;
    query: never;
    body: CreateCubeDto;
    status: 200;
    response: CubeResponseDto;
  };
  CubeArchiveController_import: {
    method: "POST";
    path: "/v1/cubes/import";
    pathParams: never;
    query: { name?: string };
    body: never;
    status: 201;
    response: CubeImportResultDto;
  };
  CubeController_delete: {
    method: "DELETE";
    path: "/v1/cubes/{cubeId}";
    pathParams: { cubeId: string };
    query: never;
    body: never;
    status: 202;
    response: {
      purgeJobId: string;
    };
  };
  CubeController_get: {
    method: "GET";
    path: "/v1/cubes/{cubeId}";
    pathParams: { cubeId: string };
    query: never;
    body: never;
    status: 200;
    response: CubeResponseDto;
  };
  CubeController_update: {
    method: "PATCH";
    path: "/v1/cubes/{cubeId}";
    pathParams: { cubeId: string };
    query: never;
    body: UpdateCubeDto;
    status: 200;
    response: CubeResponseDto;
  };
  BankController_list: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/banks";
    pathParams: { cubeId: string };
    query: never;
    body: never;
    status: 200;
    response: {
      items: BankResponseDto[];
    };
  };
  BankController_create: {
    method: "POST";
    path: "/v1/cubes/{cubeId}/banks";
    pathParams: { cubeId: string };
    query: never;
    body: CreateBankDto;
    status: 202;
    response: BankJobResponseDto;
  };
  BankController_delete: {
    method: "DELETE";
    path: "/v1/cubes/{cubeId}/banks/{bankId}";
    pathParams: { bankId: string; cubeId: string };
    query: never;
    body: never;
    status: 204;
    response: unknown;
  };
  BankController_get: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/banks/{bankId}";
    pathParams: { bankId: string; cubeId: string };
    query: never;
    body: never;
    status: 200;
    response: BankResponseDto;
  };
  BankController_blockMap: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/banks/{bankId}/blocks";
    pathParams: { bankId: string; cubeId: string };
    query: never;
    body: never;
    status: 200;
    response: BankBlockMapDto;
  };
  BankController_block: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/banks/{bankId}/blocks/{level}/{node}";
    pathParams: { bankId: string; cubeId: string; level: number; node: number };
    query: never;
    body: never;
    status: 200;
    response: BankBlockResponseDto;
  };
  BankController_write: {
    method: "POST";
    path: "/v1/cubes/{cubeId}/banks/{bankId}/write";
    pathParams: { bankId: string; cubeId: string };
    query: never;
    body: WriteBankDto;
    status: 202;
    response: BankJobResponseDto;
  };
  CubeArchiveController_export: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/export";
    pathParams: { cubeId: string };
    query: { include?: string };
    body: never;
    status: 200;
    response: unknown;
  };
  KvCacheController_list: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/kv-caches";
    pathParams: { cubeId: string };
    query: never;
    body: never;
    status: 200;
    response: KvCacheListDto;
  };
  KvCacheController_create: {
    method: "POST";
    path: "/v1/cubes/{cubeId}/kv-caches";
    pathParams: { cubeId: string };
    query: never;
    body: CreateKvCacheDto;
    status: 201;
    response: KvCacheResponseDto;
  };
  KvCacheController_delete: {
    method: "DELETE";
    path: "/v1/cubes/{cubeId}/kv-caches/{cacheId}";
    pathParams: { cacheId: string; cubeId: string };
    query: never;
    body: never;
    status: 204;
    response: unknown;
  };
  LifecycleController_getPolicy: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/lifecycle";
    pathParams: { cubeId: string };
    query: never;
    body: never;
    status: 200;
    response: LifecyclePolicyResponseDto;
  };
  LifecycleController_putPolicy: {
    method: "PUT";
    path: "/v1/cubes/{cubeId}/lifecycle";
    pathParams: { cubeId: string };
    query: never;
    body: LifecyclePolicyDto;
    status: 200;
    response: LifecyclePolicyResponseDto;
  };
  LifecycleController_events: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/lifecycle/events";
    pathParams: { cubeId: string };
    query: { action?: "merge" | "supersede" | "expire" | "archive" | "restore" | "consolidate"; cursor?: string; limit?: number; memoryId?: string };
    body: never;
    status: 200;
    response: LifecycleEventPageDto;
  };
  LifecycleController_run: {
    method: "POST";
    path: "/v1/cubes/{cubeId}/lifecycle/run";
    pathParams: { cubeId: string };
    query: never;
    body: RunLifecycleDto;
    status: 200;
    response: {
      actions: LifecycleActionDto[];
    };
  };
  LifecycleController_getRun: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/lifecycle/runs/{runId}";
    pathParams: { cubeId: string; runId: string };
    query: never;
    body: never;
    status: 200;
    response: LifecycleRunResponseDto;
  };
  MemoryController_list: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/memories";
    pathParams: { cubeId: string };
    query: { cursor?: string; kind?: string; limit?: number; metadata?: string; observedAfter?: string; observedBefore?: string; sessionId?: string; state?: string; tags?: string; tagsAll?: string; validAt?: string };
    body: never;
    status: 200;
    response: MemoryPageDto;
  };
  MemoryController_add: {
    method: "POST";
    path: "/v1/cubes/{cubeId}/memories";
    pathParams: { cubeId: string };
    query: never;
    body: AddMemoriesDto;
    status: 201;
    response: MemoryListDto;
  };
  MemoryController_delete: {
    method: "DELETE";
    path: "/v1/cubes/{cubeId}/memories/{memoryId}";
    pathParams: { cubeId: string; memoryId: string };
    query: { erase?: boolean };
    body: never;
    status: 204;
    response: unknown;
  };
  MemoryController_get: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/memories/{memoryId}";
    pathParams: { cubeId: string; memoryId: string };
    query: never;
    body: never;
    status: 200;
    response: MemoryResponseDto;
  };
  MemoryController_update: {
    method: "PATCH";
    path: "/v1/cubes/{cubeId}/memories/{memoryId}";
    pathParams: { cubeId: string; memoryId: string };
    query: never;
    body: UpdateMemoryDto;
    status: 200;
    response: MemoryResponseDto;
  };
  MemoryController_history: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/memories/{memoryId}/history";
    pathParams: { cubeId: string; memoryId: string };
    query: never;
    body: never;
    status: 200;
    response: MemoryHistoryDto;
  };
  MemoryController_restore: {
    method: "POST";
    path: "/v1/cubes/{cubeId}/memories/{memoryId}/restore";
    pathParams: { cubeId: string; memoryId: string };
    query: never;
    body: never;
    status: 200;
    response: MemoryResponseDto;
  };
  MemoryController_addMessages: {
    method: "POST";
    path: "/v1/cubes/{cubeId}/messages";
    pathParams: { cubeId: string };
    query: never;
    body: AddMessagesDto;
    status: 201;
    response: AddMessagesResultDto;
  };
  CubeController_overview: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/overview";
    pathParams: { cubeId: string };
    query: never;
    body: never;
    status: 200;
    response: CubeOverviewDto;
  };
  MemoryController_search: {
    method: "POST";
    path: "/v1/cubes/{cubeId}/search";
    pathParams: { cubeId: string };
    query: never;
    body: SearchDto;
    status: 200;
    response: SearchResponseDto;
  };
  CubeController_stats: {
    method: "GET";
    path: "/v1/cubes/{cubeId}/stats";
    pathParams: { cubeId: string };
    query: never;
    body: never;
    status: 200;
    response: CubeStatsDto;
  };
}

export type OperationId = keyof Operations;
