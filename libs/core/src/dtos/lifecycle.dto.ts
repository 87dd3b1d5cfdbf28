import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { LifecycleEventRecord, LifecycleRunRecord, CubeStateCounts } from '@engram/persistence';
import { LifecyclePolicy, PartialLifecyclePolicy } from '../lifecycle/lifecycle-policy';
import { PlannedAction } from '../lifecycle/lifecycle.planner';
import { ExecutedAction } from '../lifecycle/lifecycle.engine';
import { Optional, ValidateUUID } from './validation';

export const LIFECYCLE_EVENT_ACTIONS = ['merge', 'supersede', 'expire', 'archive', 'restore', 'consolidate'] as const;

/**
 * One level of lifecycle policy (PUT). Every field is optional and checked in depth by
 * parseLifecyclePolicy, which names the field of every problem (`fusion.threshold`).
 */
export class LifecyclePolicyDto {
  @ApiPropertyOptional({ description: '{ byKind: { kind: days | null }, byTag: { tag: days | null } }; null drops an inherited entry' }) @IsOptional() @Allow() ttl?: unknown;
  @ApiPropertyOptional({ nullable: true, description: 'archive active memories unused (no read, no write) for this many days; null: never' }) @IsOptional() @Allow() archiveAfterIdleDays?: unknown;
  @ApiPropertyOptional({ description: '{ enabled, mode: "rules" | "llm", threshold (0, 1] }' }) @IsOptional() @Allow() fusion?: unknown;
  @ApiPropertyOptional({ description: '{ enabled, multiValued: [predicates] }' }) @IsOptional() @Allow() invalidation?: unknown;
  @ApiPropertyOptional({ description: '{ enabled }' }) @IsOptional() @Allow() extraction?: unknown;
  @ApiPropertyOptional({ description: '{ bankId (a bank of the cube; null: off), minAccesses, minAgeHours, maxPerRun, minRouteSimilarity (cosine a conversation must reach for the bank to speak when chat routes it by text; default 0.3), thresholds: { minRecall 0–1, maxPerplexityIncrease } }' }) @IsOptional() @Allow() consolidation?: unknown;
  @ApiPropertyOptional({ description: '{ model: registered model name | null, maxTokens (16–32768, ≤ the model context), debounceMs }: the working-memory KV cache (ADR 0402)' }) @IsOptional() @Allow() activation?: unknown;
}

export class LifecyclePolicyResponseDto {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'the effective policy: defaults ← instance ← tenant ← cube, field by field' }) effective: LifecyclePolicy;
  @ApiProperty({ type: 'object', additionalProperties: true, description: "this level's own fields" }) overrides: PartialLifecyclePolicy;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'the levels it inherits from' }) inherited?: Record<string, PartialLifecyclePolicy>;
}

export class RunLifecycleDto {
  @ApiPropertyOptional({ description: 'plan only: answer the actions, change nothing' }) @Optional() @IsBoolean() dryRun?: boolean;
}

export class LifecycleEventsQueryDto {
  @ApiPropertyOptional() @Optional() @Type(() => Number) @IsInt() @Min(1) @Max(500) limit?: number;
  @ApiPropertyOptional() @Optional() @IsString() @MaxLength(1000) cursor?: string;
  @ValidateUUID({ optional: true }) memoryId?: string;
  @ApiPropertyOptional({ enum: LIFECYCLE_EVENT_ACTIONS })
  @Optional()
  @IsIn(LIFECYCLE_EVENT_ACTIONS as unknown as string[], { message: `action must be one of: ${LIFECYCLE_EVENT_ACTIONS.join(', ')}` })
  action?: string;
}

export class AdminCubesQueryDto {
  @ValidateUUID({ optional: true }) tenantId?: string;
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
