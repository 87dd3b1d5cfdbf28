import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { LifecycleEventRecord, LifecycleRunRecord, CubeStateCounts } from '@engram/persistence';
import { LifecyclePolicy, PartialLifecyclePolicy } from '../lifecycle/lifecycle-policy';
import { PlannedAction } from '../lifecycle/lifecycle.planner';
import { ExecutedAction } from '../lifecycle/lifecycle.engine';
import { Optional, ValidateUUID } from './validation';

export const LIFECYCLE_EVENT_ACTIONS = ['merge', 'supersede', 'expire', 'archive', 'restore', 'consolidate'] as const;

// The sections of a policy level, for the OpenAPI document only: the request keeps its
// fields `unknown` and parseLifecyclePolicy checks them (so every problem names its field).
const DAYS = 'a number of days above 0 and at most 36500';

export class LifecycleTtlPolicyDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'number', nullable: true }, description: `{ kind: days }: a memory of that kind expires this long after its creation or last restore (${DAYS}); null drops an inherited entry` })
  byKind?: Record<string, number | null>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'number', nullable: true }, description: `{ tag: days }: as byKind, for memories carrying the tag; null drops an inherited entry` })
  byTag?: Record<string, number | null>;
}

export class LifecycleFusionPolicyDto {
  @ApiPropertyOptional({ type: Boolean, description: 'merge duplicate memories after writes (default true)' }) enabled?: boolean;
  @ApiPropertyOptional({ enum: ['rules', 'llm'], description: 'rules (default); llm only when the operator configured ENGRAM_LLM_*' }) mode?: string;
  @ApiPropertyOptional({ type: Number, maximum: 1, description: 'rules mode: the word overlap (Jaccard) at which a text containing the other counts as its duplicate; above 0, at most 1 (default 0.8)' }) threshold?: number;
}

export class LifecycleInvalidationPolicyDto {
  @ApiPropertyOptional({ type: Boolean, description: 'a newer fact supersedes older ones with the same subject and predicate (default true)' }) enabled?: boolean;
  @ApiPropertyOptional({ type: [String], description: 'predicates that hold many values at once and never supersede (at most 100)' }) multiValued?: string[];
}

export class LifecycleExtractionPolicyDto {
  @ApiPropertyOptional({ type: Boolean, description: 'extract facts from every POST …/messages, as mode "extract" does (default false; needs the operator LLM)' }) enabled?: boolean;
}

export class LifecycleConsolidationThresholdsDto {
  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: 1, description: 'share of the written tokens the model must recall with the blocks attached (default 0.5)' }) minRecall?: number;
  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: 100, description: 'held-out perplexity may rise by at most this fraction (default 0.05 = +5%)' }) maxPerplexityIncrease?: number;
}

export class LifecycleConsolidationPolicyDto {
  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true, description: 'a bank of the cube to consolidate into; null: off (default)' }) bankId?: string | null;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 1_000_000, description: 'accesses (searches that returned it) a memory needs first (default 3)' }) minAccesses?: number;
  @ApiPropertyOptional({ type: Number, minimum: 0, maximum: 87_600, description: 'hours a memory must be unchanged first (default 24)' }) minAgeHours?: number;
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, description: 'memories written per run at most, hottest first (default 64)' }) maxPerRun?: number;
  @ApiPropertyOptional({ type: Number, minimum: -1, maximum: 1, description: 'cosine a conversation must reach for the bank to speak when chat routes it by text (default 0.3; -1: always)' }) minRouteSimilarity?: number;
  @ApiPropertyOptional({ type: () => LifecycleConsolidationThresholdsDto }) thresholds?: LifecycleConsolidationThresholdsDto;
}

export class LifecycleActivationPolicyDto {
  @ApiPropertyOptional({ type: String, nullable: true, description: 'registered model whose KV cache holds the working memory; null: none (default)' }) model?: string | null;
  @ApiPropertyOptional({ type: 'integer', minimum: 16, maximum: 32_768, description: 'prompt tokens of the working memory at most, within the model context (default 1024)' }) maxTokens?: number;
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 600_000, description: 'milliseconds a change waits before the rebuild, so a burst of writes costs one (default 2000)' }) debounceMs?: number;
}

/**
 * One level of lifecycle policy (PUT). Every field is optional and checked in depth by
 * parseLifecyclePolicy, which names the field of every problem (`fusion.threshold`).
 */
export class LifecyclePolicyDto {
  @ApiPropertyOptional({ type: () => LifecycleTtlPolicyDto, description: 'expiry by kind and by tag (none by default)' }) @IsOptional() @Allow() ttl?: unknown;
  @ApiPropertyOptional({ type: Number, nullable: true, description: `archive active memories unused (no read, no write, no restore) for this many days (${DAYS}); null: never (default)` }) @IsOptional() @Allow() archiveAfterIdleDays?: unknown;
  @ApiPropertyOptional({ type: () => LifecycleFusionPolicyDto, description: 'merging of duplicates' }) @IsOptional() @Allow() fusion?: unknown;
  @ApiPropertyOptional({ type: () => LifecycleInvalidationPolicyDto, description: 'supersession of facts by newer ones' }) @IsOptional() @Allow() invalidation?: unknown;
  @ApiPropertyOptional({ type: () => LifecycleExtractionPolicyDto, description: 'facts extracted from messages' }) @IsOptional() @Allow() extraction?: unknown;
  @ApiPropertyOptional({ type: () => LifecycleConsolidationPolicyDto, description: 'hot, stable memories written into a parametric bank (ADR 0403)' }) @IsOptional() @Allow() consolidation?: unknown;
  @ApiPropertyOptional({ type: () => LifecycleActivationPolicyDto, description: 'the working-memory KV cache (ADR 0402)' }) @IsOptional() @Allow() activation?: unknown;
}

export class LifecyclePolicyResponseDto {
  @ApiProperty({ type: () => LifecyclePolicyDto, description: 'the effective policy: defaults ← instance ← tenant ← cube, field by field (every field present)' }) effective: LifecyclePolicy;
  @ApiProperty({ type: () => LifecyclePolicyDto, description: "this level's own fields: what its last PUT sent (a PUT replaces the whole level)" }) overrides: PartialLifecyclePolicy;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { $ref: getSchemaPath(LifecyclePolicyDto) }, description: 'the levels it inherits from, by level (instance)' }) inherited?: Record<string, PartialLifecyclePolicy>;
}

export class RunLifecycleDto {
  @ApiPropertyOptional({ description: 'plan only: answer the actions, change nothing' }) @Optional() @IsBoolean() dryRun?: boolean;
}

export class LifecycleEventsQueryDto {
  @ApiPropertyOptional() @Optional() @Type(() => Number) @IsInt() @Min(1) @Max(500) limit?: number;
  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(1000) cursor?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'only the events that name this memory' }) @ValidateUUID({ optional: true }) memoryId?: string;
  @ApiPropertyOptional({ enum: LIFECYCLE_EVENT_ACTIONS })
  @Optional()
  @IsIn(LIFECYCLE_EVENT_ACTIONS as unknown as string[], { message: `action must be one of: ${LIFECYCLE_EVENT_ACTIONS.join(', ')}` })
  action?: string;
}

export class AdminCubesQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: "only this tenant's cubes" }) @ValidateUUID({ optional: true }) tenantId?: string;
  @ApiPropertyOptional() @Optional() @Type(() => Number) @IsInt() @Min(1) @Max(500) limit?: number;
  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(1000) cursor?: string;
}

export class SchedulerPauseDto {
  @ApiPropertyOptional({ description: 'pause or resume one tenant only; absent: the whole instance' }) @ValidateUUID({ optional: true }) tenantId?: string;
}

export class LifecycleActionDto {
  @ApiProperty({ enum: ['merge', 'supersede', 'expire', 'archive'] }) type: string;
  @ApiProperty({ type: [String] }) memoryIds: string[];
  @ApiPropertyOptional() targetId?: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) reason: Record<string, unknown>;
  @ApiPropertyOptional({ enum: ['applied', 'skipped'] }) status?: string;
  @ApiPropertyOptional() why?: string;
}

export class LifecycleRunResponseDto {
  @ApiProperty() runId: string;
  @ApiProperty({ enum: ['queued', 'running', 'done', 'failed'] }) status: string;
  @ApiProperty({ type: [LifecycleActionDto] }) actions: LifecycleActionDto[];
  @ApiPropertyOptional() error?: string;
  @ApiProperty() createdAt: string;
  @ApiProperty({ type: String, nullable: true }) finishedAt: string | null;
}

export class LifecycleEventDto {
  @ApiProperty() id: string;
  @ApiProperty() action: string;
  @ApiProperty({ type: [String] }) memoryIds: string[];
  @ApiProperty({ type: 'object', additionalProperties: true }) reason: Record<string, unknown>;
  @ApiProperty({ description: 'policy | key | admin' }) actorType: string;
  @ApiProperty({ type: String, nullable: true, description: 'the policy name or the key id' }) actorId: string | null;
  @ApiProperty({ type: String, nullable: true }) runId: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) before: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) after: Record<string, unknown>;
  @ApiProperty() at: string;
}

export class LifecycleEventPageDto {
  @ApiProperty({ type: [LifecycleEventDto] }) items: LifecycleEventDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class AdminCubeDto {
  @ApiProperty() id: string;
  @ApiProperty() tenantId: string;
  @ApiProperty() name: string;
  @ApiProperty() createdAt: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, description: 'memories by state' }) counts: Record<string, number>;
}

export function mapPlannedAction(a: PlannedAction | ExecutedAction): LifecycleActionDto {
  const out: LifecycleActionDto = { type: a.type, memoryIds: a.memoryIds, reason: a.reason };
  if (a.targetId) out.targetId = a.targetId;
  if ('status' in a) {
    out.status = a.status;
    if (a.why) out.why = a.why;
  }
  return out;
}

export function mapLifecycleRun(r: LifecycleRunRecord): LifecycleRunResponseDto {
  return {
    runId: r.id,
    status: r.status,
    actions: r.actions as unknown as LifecycleActionDto[],
    ...(r.error ? { error: r.error } : {}),
    createdAt: r.createdAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

export function mapLifecycleEvent(e: LifecycleEventRecord): LifecycleEventDto {
  return { id: e.id, action: e.action, memoryIds: e.memoryIds, reason: e.reason, actorType: e.actorType, actorId: e.actorId, runId: e.runId, before: e.before, after: e.after, at: e.at.toISOString() };
}

export function mapAdminCube(c: CubeStateCounts): AdminCubeDto {
  return { id: c.id, tenantId: c.tenantId, name: c.name, createdAt: c.createdAt.toISOString(), counts: c.counts };
}
