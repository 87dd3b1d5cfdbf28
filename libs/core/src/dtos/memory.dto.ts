import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { MemoryRecord, MemoryVersionRecord } from '@engram/persistence';
import { Optional, ValidateDate, ValidateObject } from './validation';
import { heatOf } from '../lifecycle/heat';

export const MEMORY_KINDS = ['fact', 'episode', 'preference', 'procedure', 'message'] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];
export const MEMORY_STATES = ['active', 'archived', 'expired', 'merged', 'superseded'] as const;
export const MAX_TEXT_LENGTH = 32_000;
export const MAX_BATCH = 1000;
export const MAX_TOP_K = 200;

export class MemorySourceDto {
  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(512) id?: string;
  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(64) type?: string;
  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(512) sessionId?: string;
  @ApiPropertyOptional({ type: [String] }) @Optional() @IsArray() @ArrayMaxSize(100) @IsString({ each: true }) @MaxLength(512, { each: true }) refs?: string[];
}

/** A structured fact: a newer one with the same subject and predicate supersedes the older. */
export class FactDto {
  @ApiProperty({ maxLength: 500 }) @IsString({ message: 'subject must be a string' }) @MaxLength(500) @Matches(/\S/, { message: 'subject must not be empty' }) subject: string;
  @ApiProperty({ maxLength: 500 }) @IsString({ message: 'predicate must be a string' }) @MaxLength(500) @Matches(/\S/, { message: 'predicate must not be empty' }) predicate: string;
  @ApiProperty({ maxLength: 4000 }) @IsString({ message: 'object must be a string' }) @MaxLength(4000) object: string;
}

export class MemoryInputDto {
  @ApiProperty({ maxLength: MAX_TEXT_LENGTH })
  @IsString()
  @MaxLength(MAX_TEXT_LENGTH, { message: `text must be at most ${MAX_TEXT_LENGTH} characters` })
  @Matches(/\S/, { message: 'text must not be empty or whitespace' })
  text: string;

  @ApiPropertyOptional({ enum: MEMORY_KINDS }) @Optional() @IsIn(MEMORY_KINDS as unknown as string[], { message: `kind must be one of: ${MEMORY_KINDS.join(', ')}` }) kind?: MemoryKind;
  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(64) role?: string;
  @ApiPropertyOptional({ type: [String] }) @Optional() @IsArray() @ArrayMaxSize(64) @IsString({ each: true }) @MaxLength(128, { each: true }) tags?: string[];
  @ValidateObject({ optional: true, maxKeys: 100 }) metadata?: Record<string, unknown>;
  @ApiPropertyOptional({ type: MemorySourceDto }) @Optional() @ValidateNested() @Type(() => MemorySourceDto) source?: MemorySourceDto;
  @ValidateDate({ optional: true }) observedAt?: Date;
  @ValidateDate({ optional: true }) validFrom?: Date;
  @ValidateDate({ optional: true }) validTo?: Date;
  @ApiPropertyOptional({ minimum: 0, maximum: 1 }) @Optional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1) importance?: number;
  @ApiPropertyOptional({ type: FactDto, description: '{ subject, predicate, object }; case and whitespace are folded for matching' })
  @Optional()
  @ValidateNested()
  @Type(() => FactDto)
  fact?: FactDto;
  @ApiPropertyOptional({ description: 'the scheduler never merges, supersedes, expires or archives a pinned memory' }) @Optional() @IsBoolean() pinned?: boolean;
  @ValidateDate({ optional: true }) expiresAt?: Date;
}

export class AddMemoriesDto {
  @ApiProperty({ type: [MemoryInputDto], minItems: 1, maxItems: MAX_BATCH })
  @IsArray()
  @ArrayMinSize(1, { message: 'items must hold at least 1 memory' })
  @ArrayMaxSize(MAX_BATCH, { message: `items must hold at most ${MAX_BATCH} memories` })
  @ValidateNested({ each: true, message: 'items must hold memories as objects such as { "text": "…" } (the SDK turns plain strings into them; the API does not)' })
  @Type(() => MemoryInputDto)
  items: MemoryInputDto[];
}

export class MessageInputDto {
  @ApiProperty() @IsString() @MaxLength(64) @Matches(/\S/, { message: 'role must not be empty' }) role: string;

  @ApiProperty()
  @IsString()
  @MaxLength(MAX_TEXT_LENGTH, { message: `content must be at most ${MAX_TEXT_LENGTH} characters` })
  @Matches(/\S/, { message: 'content must not be empty or whitespace' })
  content: string;

  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(128) name?: string;
  @ValidateDate({ optional: true }) at?: Date;
}

export class AddMessagesDto {
  @ApiProperty({ type: [MessageInputDto] })
  @IsArray()
  @ArrayMinSize(1, { message: 'messages must hold at least 1 message' })
  @ArrayMaxSize(MAX_BATCH, { message: `messages must hold at most ${MAX_BATCH} messages` })
  @ValidateNested({ each: true })
  @Type(() => MessageInputDto)
  messages: MessageInputDto[];

  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(512) sessionId?: string;
  @ValidateObject({ optional: true, maxKeys: 100 }) metadata?: Record<string, unknown>;
  @ApiPropertyOptional({ enum: ['raw', 'extract'], description: 'extract: also add the facts the operator\'s LLM finds in the turns (a job; the turns are stored first either way). Default: the cube policy\'s extraction.enabled' })
  @Optional()
  @IsIn(['raw', 'extract'], { message: 'mode must be "raw" or "extract"' })
  mode?: 'raw' | 'extract';
}

/**
 * A partial change: a field left out stays as it is. null clears validFrom, validTo,
 * importance and expiresAt; on any other field it is refused (400 naming the field).
 */
export class UpdateMemoryDto {
  @ApiPropertyOptional()
  @Optional()
  @IsString()
  @MaxLength(MAX_TEXT_LENGTH, { message: `text must be at most ${MAX_TEXT_LENGTH} characters` })
  @Matches(/\S/, { message: 'text must not be empty or whitespace' })
  text?: string;

  @ApiPropertyOptional({ type: [String] }) @Optional() @IsArray() @ArrayMaxSize(64) @IsString({ each: true }) @MaxLength(128, { each: true }) tags?: string[];
  @ValidateObject({ optional: true, maxKeys: 100 }) metadata?: Record<string, unknown>;
  @ValidateDate({ optional: true, nullable: true }) validFrom?: Date | null;
  @ValidateDate({ optional: true, nullable: true }) validTo?: Date | null;
  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: 1, nullable: true }) @Optional({ nullable: true }) @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0) @Max(1) importance?: number | null;
  @ApiPropertyOptional({ description: 'why the memory changed; kept in its history' }) @Optional() @IsString() @MaxLength(1000) reason?: string;
  @ApiPropertyOptional() @Optional() @IsBoolean() pinned?: boolean;
  @ValidateDate({ optional: true, nullable: true }) expiresAt?: Date | null;
}

export const SEARCH_MODES = ['default', 'deep'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

export class SearchDto {
  @ApiProperty({ maxLength: MAX_TEXT_LENGTH })
  @IsString()
  @MaxLength(MAX_TEXT_LENGTH)
  @Matches(/\S/, { message: 'query must not be empty or whitespace' })
  query: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_TOP_K, default: 10 })
  @Optional()
  @IsInt({ message: 'topK must be an integer' })
  @Min(1)
  @Max(MAX_TOP_K, { message: `topK must not be greater than ${MAX_TOP_K}` })
  topK?: number;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'kind, role, tags ({ any } | { all } | string[]), metadata ({ key: value | { in: [...] } }), state, observedAfter, observedBefore, validAt, sessionId',
  })
  @ValidateObject({ optional: true, maxKeys: 20 })
  filters?: Record<string, unknown>;

  @ApiPropertyOptional({ description: "true: each result carries explain, how its score was made, with each signal's raw score (the raw cosine is the one to compare across queries of one cube)" }) @Optional() @IsBoolean() explain?: boolean;

  /** "Now" for time-aware ranking ("last week", "most recent"); defaults to the current time. */
  @ValidateDate({ optional: true }) referenceTime?: Date;

  @ApiPropertyOptional({
    enum: SEARCH_MODES,
    default: 'default',
    description: "'deep': multi-hop — retrieve, expand the query with terms, neighbouring turns and vectors of the top hits, retrieve again and fuse (about twice the latency)",
  })
  @Optional()
  @IsIn(SEARCH_MODES as unknown as string[], { message: `mode must be one of: ${SEARCH_MODES.join(', ')}` })
  mode?: SearchMode;
}

export class DeleteMemoryQueryDto {
  @ApiPropertyOptional({
    description:
      'true: erase for good (scope memories:erase) — text, metadata, history contents, stored responses, KV caches and bank weights; the row stays as an erased tombstone (listed with ?state=deleted, its history kept without contents; GET answers 404 as for any deleted memory) and cannot be restored',
  })
  @Optional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'erase must be true or false' })
  erase?: boolean;
}

export class MemoryListQueryDto {
  @ApiPropertyOptional() @Optional() @Type(() => Number) @IsInt() @Min(1) @Max(500) limit?: number;
  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(1000) cursor?: string;
  @ApiPropertyOptional({ description: 'comma-separated kinds' }) @Optional() @IsString() @MaxLength(200) kind?: string;
  @ApiPropertyOptional({ description: 'comma-separated tags (any)' }) @Optional() @IsString() @MaxLength(2000) tags?: string;
  @ApiPropertyOptional({ description: 'comma-separated tags (all)' }) @Optional() @IsString() @MaxLength(2000) tagsAll?: string;
  @ApiPropertyOptional({ description: 'comma-separated states' }) @Optional() @IsString() @MaxLength(200) state?: string;
  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(512) sessionId?: string;
  @ApiPropertyOptional({ description: 'JSON object, as in search filters' }) @Optional() @IsString() @MaxLength(4000) metadata?: string;
  @ValidateDate({ optional: true }) observedAfter?: Date;
  @ValidateDate({ optional: true }) observedBefore?: Date;
  @ValidateDate({ optional: true }) validAt?: Date;
}

export class MemoryResponseDto {
  @ApiProperty() id: string;
  @ApiProperty() cubeId: string;
  @ApiProperty() text: string;
  @ApiProperty({ enum: MEMORY_KINDS }) kind: string;
  @ApiProperty({ type: String, nullable: true }) role: string | null;
  @ApiProperty({ type: [String] }) tags: string[];
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) source: Record<string, unknown>;
  @ApiProperty({ type: String, nullable: true }) observedAt: string | null;
  @ApiProperty({ type: String, nullable: true }) validFrom: string | null;
  @ApiProperty({ type: String, nullable: true }) validTo: string | null;
  @ApiProperty({ type: Number, nullable: true }) importance: number | null;
  @ApiProperty() state: string;
  @ApiProperty() version: number;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
  @ApiProperty({ type: String, nullable: true }) expiredAt: string | null;
  @ApiProperty({ description: 'how often search returned it' }) accessCount: number;
  @ApiProperty({ type: String, nullable: true }) lastAccessedAt: string | null;
  @ApiProperty() pinned: boolean;
  @ApiProperty({ type: String, nullable: true }) expiresAt: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'while merged: the memory that absorbed this one' }) mergedInto: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'while superseded: the newer fact' }) supersededBy: string | null;
  @ApiProperty({ type: FactDto, nullable: true }) fact: FactDto | null;
  @ApiProperty({ type: String, nullable: true, description: 'when it was erased for good (text, metadata and history contents are gone)' }) erasedAt: string | null;
  @ApiProperty({ description: '(1 + ln(1 + accessCount)) × ½^(days since last access / 7) × (0.5 + importance)' }) heat: number;
}

export class SearchResultDto {
  @ApiProperty() id: string;
  @ApiProperty() text: string;
  @ApiProperty() kind: string;
  @ApiProperty({ type: String, nullable: true }) role: string | null;
  @ApiProperty({
    description:
      'Where this hit ranks within this response, relative to this query: not a probability and not comparable across queries, cubes or modes, so not a relevance threshold. ' +
      "Default mode (ADR 0101): each signal is scaled over this query's candidates — BM25 divided by the best candidate's, cosine min–max scaled over a span of at least 0.2 — and summed with the embedder's dense weight (hash 0.3, sentence encoders 0.5); " +
      "a memory with a session takes half its score from its session's BM25 relative to the best session's; importance and time words in the query then scale it (at most ×1.6). " +
      'So the best match of each signal gets its full share however weak it is: a paraphrase sharing no word with the query and the best memory for an unrelated query can both score 0.5, the first hit is often about 1 and the last, in a small cube, often 0. ' +
      'mode "deep": the first pass\'s best three come first, scored above 1 (normally 4, 3 and 2), the others 0–1 (their score in each pass divided by that pass\'s best, the higher of the two). ' +
      'To judge relevance across queries, ask for explain: true and read its raw per-signal scores (dense.similarity, lexical.bm25).',
  })
  score: number;
  @ApiProperty({ type: [String] }) tags: string[];
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) source: Record<string, unknown>;
  @ApiProperty({ type: String, nullable: true }) observedAt: string | null;
  @ApiProperty({ type: String, nullable: true }) validFrom: string | null;
  @ApiProperty({ type: String, nullable: true }) validTo: string | null;
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'with explain: true — dense: { similarity: the raw cosine of the query and memory vectors (its scale depends on the embedder), rank } ({ similarity: null, rank: null, pending: true } while the memory\'s vector is still being embedded: it is then ranked by its other signals alone, ADR 0535), lexical: { bm25: the raw BM25 (× 0.5 for assistant turns; it grows with the number and rarity of the query words), rank }, ' +
      'rank: 1-based among what that signal proposed, null when it did not propose the memory; fusion: { method, document, context, combined } (the scaled scores), priors: { importance, recency, timeIntent }, timeIntent?; ' +
      'mode "deep" adds deep: { first, second, expansion } (the scaled score in each pass and the words added to the query) and explains the pass that found the memory first',
  })
  explain?: unknown;
}

export class MemoryVersionDto {
  @ApiProperty() version: number;
  @ApiProperty() action: string;
  @ApiProperty() actorType: string;
  @ApiProperty({ type: String, nullable: true }) actorId: string | null;
  @ApiProperty({ type: String, nullable: true }) requestId: string | null;
  @ApiProperty({ type: 'object', nullable: true, additionalProperties: true }) oldValues: Record<string, unknown> | null;
  @ApiProperty({ type: 'object', nullable: true, additionalProperties: true }) newValues: Record<string, unknown> | null;
  @ApiProperty({ type: String, nullable: true }) reason: string | null;
  @ApiProperty() at: string;
}

export class MemoryListDto {
  @ApiProperty({ type: [MemoryResponseDto] }) items: MemoryResponseDto[];
}

export class MemoryPageDto {
  @ApiProperty({ type: [MemoryResponseDto] }) items: MemoryResponseDto[];
  @ApiProperty({ nullable: true, type: String, description: 'pass as cursor for the next page; null on the last' }) nextCursor: string | null;
}

export class AddMessagesResultDto {
  @ApiProperty({ type: [String] }) ids: string[];
  @ApiProperty({ type: [MemoryResponseDto] }) items: MemoryResponseDto[];
}

export class SearchResponseDto {
  @ApiProperty({ type: [SearchResultDto], description: 'best first' }) results: SearchResultDto[];
}

export class MemoryHistoryDto {
  @ApiProperty({ type: [MemoryVersionDto], description: 'oldest first' }) items: MemoryVersionDto[];
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** The memory as clients see it (source carries the session id it was filed under). */
export function mapMemory(m: MemoryRecord): MemoryResponseDto {
  return {
    id: m.id,
    cubeId: m.cubeId,
    text: m.text,
    kind: m.kind,
    role: m.role,
    tags: m.tags,
    metadata: m.metadata,
    source: m.source,
    observedAt: iso(m.observedAt),
    validFrom: iso(m.validFrom),
    validTo: iso(m.validTo),
    importance: m.importance,
    state: m.state,
    version: m.version,
    createdAt: m.createdAt.toISOString(),
    updatedAt: m.updatedAt.toISOString(),
    expiredAt: iso(m.expiredAt),
    accessCount: m.accessCount,
    lastAccessedAt: iso(m.lastAccessedAt),
    pinned: m.pinned,
    expiresAt: iso(m.expiresAt),
    mergedInto: m.mergedInto,
    supersededBy: m.supersededBy,
    fact: m.fact,
    erasedAt: iso(m.erasedAt),
    heat: heatOf(m, Date.now()),
  };
}

export function mapSearchResult(m: MemoryRecord, score: number, explain?: unknown): SearchResultDto {
  const result: SearchResultDto = {
    id: m.id,
    text: m.text,
    kind: m.kind,
    role: m.role,
    score,
    tags: m.tags,
    metadata: m.metadata,
    source: m.source,
    observedAt: iso(m.observedAt),
    validFrom: iso(m.validFrom),
    validTo: iso(m.validTo),
  };
  if (explain !== undefined) result.explain = explain;
  return result;
}

export function mapMemoryVersion(v: MemoryVersionRecord): MemoryVersionDto {
  return { ...v, at: v.at.toISOString() };
}
