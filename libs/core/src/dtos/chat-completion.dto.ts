// OpenAI-compatible chat completion request/response shapes (snake_case as in the
// OpenAI API), plus the optional `engram` block that puts a cube's memory in front.
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { plainToInstance, Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  Equals,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { MAX_TEXT_LENGTH } from './memory.dto';
import { lowerUuids, ValidateObject, ValidateUUID } from './validation';

/** `developer` is OpenAI's newer name for `system` (its SDKs send it for reasoning models); the prompt renders it as `system`. */
export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
export const MAX_CHAT_MESSAGES = 256;
export const MAX_CHAT_TOKENS = 4096;

/** OpenAI content parts: only text parts are understood; anything else stays invalid. */
function joinTextParts(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const texts = value.map((p: unknown) => (typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'text' ? (p as { text?: unknown }).text : undefined));
  return texts.every((t) => typeof t === 'string') ? texts.join('') : value;
}

export class ChatMessageDto {
  @ApiProperty({ enum: CHAT_ROLES }) @IsIn(CHAT_ROLES as unknown as string[], { message: `role must be one of: ${CHAT_ROLES.join(', ')}` }) role: string;

  @ApiProperty({ description: 'text, or an array of { type: "text", text } parts (joined)' })
  @Transform(({ value }) => joinTextParts(value))
  @IsString({ message: 'content must be a string or an array of text parts' })
  @MaxLength(MAX_TEXT_LENGTH, { message: `content must be at most ${MAX_TEXT_LENGTH} characters` })
  content: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(128) name?: string;

  /** OpenAI clients send it with every tool message (the call it answers); the prompt holds the content. */
  @ApiPropertyOptional({ description: 'the tool call a tool message answers (accepted; the prompt holds its content)' })
  @IsOptional()
  @IsString({ message: 'tool_call_id must be a string' })
  @MaxLength(128)
  tool_call_id?: string;
}

/** Fraction of re-placed KV-cache tokens recomputed by default (ADR 0204). */
export const DEFAULT_RECOMPUTE = 0.15;
export const DEFAULT_RETRIEVE_TOP_K = 5;
export const DEFAULT_RETRIEVE_MAX_TOKENS = 512;
export const MAX_RETRIEVE_TOP_K = 50;

/** How chat retrieves memories of the cube into the prompt (on by default with a cube). */
export class ChatRetrieveDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_RETRIEVE_TOP_K, default: DEFAULT_RETRIEVE_TOP_K, description: 'at most this many memories' })
  @IsOptional()
  @IsInt({ message: 'engram.retrieve.topK must be an integer' })
  @Min(1, { message: 'engram.retrieve.topK must be at least 1' })
  @Max(MAX_RETRIEVE_TOP_K, { message: `engram.retrieve.topK must be at most ${MAX_RETRIEVE_TOP_K}` })
  topK?: number;

  @ApiPropertyOptional({ minimum: 1, default: DEFAULT_RETRIEVE_MAX_TOKENS, description: "at most this many prompt tokens of memories (never more than the model's context leaves beside the conversation)" })
  @IsOptional()
  @IsInt({ message: 'engram.retrieve.maxTokens must be an integer' })
  @Min(1, { message: 'engram.retrieve.maxTokens must be at least 1' })
  maxTokens?: number;

  @ValidateObject({ optional: true, maxKeys: 20 })
  filters?: Record<string, unknown>;
}

/** `retrieve: false` stays false; `true` is the defaults; an object is a ChatRetrieveDto. */
function retrieveValue(value: unknown): unknown {
  if (value === true) return new ChatRetrieveDto();
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return plainToInstance(ChatRetrieveDto, value);
  return value;
}

@ApiExtraModels(ChatRetrieveDto)
export class ChatEngramDto {
  @ApiProperty({ description: 'the id of the cube whose memory is used (GET /v1/cubes?name= finds it by name); checked before anything else' })
  @Transform(({ value }) => lowerUuids(value))
  @IsUUID('all', { message: '$property must be a cube id (a UUID); GET /v1/cubes?name=<name> finds a cube by its name' })
  cubeId: string;

  @ApiPropertyOptional({ type: [String], description: 'KV caches of the cube, placed as leading system messages in this order' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1, { message: 'kvCacheIds must hold at least 1 id' })
  @ArrayMaxSize(8)
  @ValidateUUID({ each: true })
  kvCacheIds?: string[];

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 1,
    default: DEFAULT_RECOMPUTE,
    description:
      'with several kvCacheIds: the fraction of the re-placed caches\' tokens recomputed (those whose KV deviates most at an early layer), ' +
      'so that each cache attends to the ones before it (CacheBlend); 1 recomputes them all (exactly a full prefill), 0 none',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'engram.recompute must be a number' })
  @Min(0, { message: 'engram.recompute must be between 0 and 1' })
  @Max(1, { message: 'engram.recompute must be between 0 and 1' })
  recompute?: number;

  @ApiPropertyOptional({ description: 'memory text put as the leading system message; reuses a KV cache of the cube built from the same text' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TEXT_LENGTH, { message: `memoryText must be at most ${MAX_TEXT_LENGTH} characters` })
  @Matches(/\S/, { message: 'memoryText must not be empty or whitespace' })
  memoryText?: string;

  @ApiPropertyOptional({
    oneOf: [{ type: 'string', format: 'uuid' }, { type: 'boolean', enum: [false] }],
    nullable: true,
    description:
      'a ready parametric memory bank of the cube; absent: the bank of the cube\'s consolidation policy, if any; null or false: no bank. ' +
      'The best retrieved memory picks the path (its blocks are attached only when they hold it at its current value); with nothing retrieved the conversation is routed (one embedding)',
  })
  @IsOptional()
  @Transform(({ value }) => lowerUuids(value))
  @ValidateIf((_, value) => value !== false)
  @IsUUID('4', { message: 'engram.bankId must be a UUID, null or false' })
  bankId?: string | null | false;

  @ApiPropertyOptional({
    oneOf: [{ type: 'boolean' }, { $ref: getSchemaPath(ChatRetrieveDto) }],
    description: 'memories relevant to the last turns are searched in the cube and put in the prompt (default: on, topK 5, maxTokens 512); false turns it off',
  })
  @IsOptional()
  @Transform(({ value }) => retrieveValue(value))
  @ValidateIf((_, value) => value !== false)
  @IsObject({ message: 'engram.retrieve must be false, true or { topK?, maxTokens?, filters? }' })
  @ValidateNested()
  retrieve?: ChatRetrieveDto | false;

  @ApiPropertyOptional({ default: true, description: "use the cube's working memory (its policy's activation section) as the cached prompt prefix when no kvCacheIds or memoryText are given" })
  @IsOptional()
  @IsBoolean({ message: 'engram.workingMemory must be a boolean' })
  workingMemory?: boolean;
}

export class ChatStreamOptionsDto {
  @ApiPropertyOptional() @IsOptional() @IsBoolean() include_usage?: boolean;
}

export const RESPONSE_FORMATS = ['text', 'json_object', 'json_schema'] as const;

export class ChatJsonSchemaDto {
  @ApiProperty({ description: 'the schema\'s name: letters, digits, _ and -' })
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'response_format.json_schema.name must be 1-64 letters, digits, _ or -' })
  name: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1000) description?: string;

  /** A JSON schema: type, enum, const, properties, required, additionalProperties, items, min/maxItems, min/maxLength, anyOf. */
  @ValidateObject({ optional: true, maxKeys: 50 }) schema?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'accepted; the answer always follows the schema' }) @IsOptional() @IsBoolean() strict?: boolean;
}

/**
 * Structured output, as in OpenAI's API: `json_object` (any JSON object) or `json_schema`.
 * Decoding is constrained token by token, so the answer is a document of the schema.
 */
export class ChatResponseFormatDto {
  @ApiProperty({ enum: RESPONSE_FORMATS })
  @IsIn(RESPONSE_FORMATS as unknown as string[], { message: `response_format.type must be one of: ${RESPONSE_FORMATS.join(', ')}` })
  type: (typeof RESPONSE_FORMATS)[number];

  @ApiPropertyOptional({ type: ChatJsonSchemaDto })
  @ValidateIf((o: ChatResponseFormatDto) => o.type === 'json_schema' || o.json_schema !== undefined)
  @ValidateNested()
  @Type(() => ChatJsonSchemaDto)
  json_schema?: ChatJsonSchemaDto;
}

export class ChatCompletionRequestDto {
  @ApiProperty({ description: 'name of a registered model' }) @IsString() @MaxLength(128) model: string;

  @ApiProperty({ type: [ChatMessageDto] })
  @IsArray()
  @ArrayMinSize(1, { message: 'messages must hold at least 1 message' })
  @ArrayMaxSize(MAX_CHAT_MESSAGES)
  @ValidateNested({ each: true })
  @Type(() => ChatMessageDto)
  messages: ChatMessageDto[];

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_CHAT_TOKENS }) @IsOptional() @IsInt() @Min(1) @Max(MAX_CHAT_TOKENS) max_tokens?: number;
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_CHAT_TOKENS }) @IsOptional() @IsInt() @Min(1) @Max(MAX_CHAT_TOKENS) max_completion_tokens?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 2 }) @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(2) temperature?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 1 }) @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0.000001) @Max(1) top_p?: number;
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(0) @Max(2 ** 32 - 1) seed?: number;

  @ApiPropertyOptional({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }] })
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' ? [value] : value))
  @IsArray({ message: 'stop must be a string or an array of strings' })
  @ArrayMaxSize(4)
  @IsString({ each: true })
  @MaxLength(256, { each: true })
  stop?: string[];

  @ApiPropertyOptional() @IsOptional() @IsBoolean() stream?: boolean;
  @ApiPropertyOptional({ type: ChatStreamOptionsDto }) @IsOptional() @ValidateNested() @Type(() => ChatStreamOptionsDto) stream_options?: ChatStreamOptionsDto;
  @ApiPropertyOptional({ description: 'only 1 is supported' }) @IsOptional() @Equals(1, { message: 'n must be 1' }) n?: number;
  // OpenAI clients (LangChain, LiteLLM, …) send the neutral values of what engram does not do: accepted, anything else is a 400.
  @ApiPropertyOptional({ description: 'only 0 (no penalty) is supported' }) @IsOptional() @Equals(0, { message: 'frequency_penalty is not supported: only 0 (no penalty)' }) frequency_penalty?: number;
  @ApiPropertyOptional({ description: 'only 0 (no penalty) is supported' }) @IsOptional() @Equals(0, { message: 'presence_penalty is not supported: only 0 (no penalty)' }) presence_penalty?: number;
  @ApiPropertyOptional({ description: 'only false is supported (choices carry logprobs: null)' }) @IsOptional() @Equals(false, { message: 'logprobs is not supported: only false' }) logprobs?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(256) user?: string;

  @ApiPropertyOptional({ type: ChatResponseFormatDto }) @IsOptional() @ValidateNested() @Type(() => ChatResponseFormatDto) response_format?: ChatResponseFormatDto;

  @ApiPropertyOptional({ type: ChatEngramDto }) @IsOptional() @ValidateNested() @Type(() => ChatEngramDto) engram?: ChatEngramDto;
}

export type ChatFinishReason = 'stop' | 'length';

export interface ChatUsageDto {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

/** What engram adds to an OpenAI response: how much of the prompt came from cached KV, and from where. */
export interface ChatEngramInfoDto {
  cubeId: string | null;
  cachedTokens: number;
  tiers: string[];
  kvCacheIds: string[];
  /** Every memory whose text is in the prompt: the working memory's, then the retrieved ones. */
  memoryIds: string[];
  /** Retrieval into the prompt (absent when off): the memories used, best first, and their prompt tokens. */
  retrieval?: { memoryIds: string[]; tokens: number };
  /** The cube's working-memory KV cache (absent when the request does not use it). */
  workingMemory?: ChatWorkingMemoryInfoDto;
  /**
   * Only with several kvCacheIds: the caches placed in the prompt after the first, re-rotated
   * to their positions, and how their tokens were treated (ADR 0204).
   */
  blend?: ChatBlendInfoDto;
  /**
   * The bank the chat used or considered (absent when none: no `engram.bankId`, no consolidation
   * policy bank, or `bankId: null`/`false`): where it came from (`request` or `policy`), whether a
   * block was attached and why not (`not-consolidated`: the best retrieved memory is in no block;
   * `stale`: its blocks are stale or older than a retrieved memory; `no-match`: routed by text,
   * the conversation is further from the bank than the policy's `minRouteSimilarity`;
   * `not-ready`, `other-model`, `gone`: the policy's bank cannot serve), how it was routed
   * (`memory`: the best retrieved memory's path; `text`: the conversation's, when nothing was
   * retrieved, with its cosine to the leaf in `similarity`), its generation, the
   * path (node per level), the attached rank, the levels left out because their block is stale,
   * and every level left out with why (ADR 0403).
   */
  bank?: {
    id: string;
    source: 'request' | 'policy';
    used: boolean;
    reason: 'not-consolidated' | 'stale' | 'no-match' | 'not-ready' | 'other-model' | 'gone' | null;
    routedBy: 'memory' | 'text' | null;
    memoryId: string | null;
    similarity: number | null;
    generation: number;
    path: number[];
    rank: number;
    staleLevels: number[];
    leftOut: Array<{ level: number; why: 'unwritten' | 'not-holding' | 'stale' | 'memory-newer' }>;
  };
  timings: { prefillMs: number; timeToFirstTokenMs: number; decodeTokensPerSecond: number };
}

export interface ChatBlendInfoDto {
  recompute: number;
  /** The caches found in the prompt, in order (a cache the template rendered differently is prefilled). */
  kvCacheIds: string[];
  /** Tokens of the first cache reused as an exact prefix. */
  exactTokens: number;
  /** Tokens of the later caches whose re-rotated KV was reused, and those recomputed. */
  reusedTokens: number;
  recomputedTokens: number;
  /** Prompt tokens no cache covered (prefilled). */
  prefilledTokens: number;
}

/**
 * state: ready (used), stale (a source changed; not used until rebuilt), building (not built
 * yet), off (built for another model), skipped (no room for it beside this conversation) or
 * over_quota (not built: it would take the tenant past its KV bytes quota). hit: its KV was reused from the store.
 */
export interface ChatWorkingMemoryInfoDto {
  cacheId: string | null;
  state: 'ready' | 'stale' | 'building' | 'off' | 'skipped' | 'over_quota';
  hit: boolean;
  tier: string | null;
  memoryIds: string[];
  tokens: number;
  /** Rebuilds of this cube's working memory so far (1: the first build). */
  generation: number | null;
  /** Prompt tokens whose KV came from cache, and prompt tokens prefilled in this request. */
  reusedTokens: number;
  prefilledTokens: number;
}

export interface ChatCompletionResponseDto {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: number; message: { role: 'assistant'; content: string }; finish_reason: ChatFinishReason; logprobs: null }[];
  usage: ChatUsageDto;
  engram: ChatEngramInfoDto;
}

export interface ChatCompletionChunkDto {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: number; delta: { role?: 'assistant'; content?: string }; finish_reason: ChatFinishReason | null; logprobs: null }[];
  /** With stream_options.include_usage, as OpenAI: null on every chunk but one more chunk before [DONE], whose choices are empty. */
  usage?: ChatUsageDto | null;
  engram?: ChatEngramInfoDto;
}
