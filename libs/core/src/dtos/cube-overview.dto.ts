// GET /v1/cubes/{id}/overview: one cube's memory across the three kinds, for its operator.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class OverviewMemoriesDto {
  @ApiProperty({ example: 1204 }) total: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, example: { active: 1100, merged: 60, superseded: 30, deleted: 14 } }) byState: Record<string, number>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, description: 'active memories by kind', example: { fact: 800, message: 300 } }) activeByKind: Record<string, number>;
  @ApiProperty({ description: 'pinned active memories', example: 3 }) pinned: number;
  @ApiProperty({ description: 'bytes of memory text (UTF-8), all states', example: 96_000 }) textBytes: number;
}

export class HeatBucketDto {
  @ApiProperty({ example: 0.5 }) min: number;
  @ApiProperty({ nullable: true, type: Number, description: 'exclusive; null: no upper bound', example: 1 }) max: number | null;
  @ApiProperty({ example: 420 }) count: number;
}

export class OverviewHeatDto {
  @ApiProperty({ description: 'heat = (1 + ln(1 + accesses)) × ½^(days since last access / 7) × (0.5 + importance); a fresh, unread memory has 1', example: '…' }) formula: string;
  @ApiProperty({ type: [HeatBucketDto] }) buckets: HeatBucketDto[];
}

/** Set while the last rebuild of the cube's working memory is refused by the tenant's KV bytes quota. */
export interface WorkingMemoryOverQuotaDto {
  neededBytes: number;
  usedBytes: number;
  limitBytes: number;
  since: string;
}

export class WorkingMemoryStatusDto {
  @ApiProperty({
    enum: ['ready', 'stale', 'building', 'off', 'over_quota'],
    description: 'off: the policy names no model; building: wanted, not built yet; over_quota: not built, it would take the tenant past its KV bytes quota (see overQuota)',
    example: 'ready',
  })
  state: string;
  @ApiProperty({ nullable: true, type: String, example: 'tiny' }) model: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'the store manifest of the current generation', example: '3f2a…' }) cacheId: string | null;
  @ApiProperty({ nullable: true, type: String, enum: ['ram', 'disk', 'object', 'missing'], example: 'ram' }) tier: string | null;
  @ApiProperty({ example: 3 }) generation: number;
  @ApiProperty({ example: 18 }) memories: number;
  @ApiProperty({ example: 1011 }) tokens: number;
  @ApiProperty({ description: 'policy maxTokens', example: 1024 }) maxTokens: number;
  @ApiProperty({ example: 1_035_264 }) bytes: number;
  @ApiPropertyOptional({ nullable: true, type: String }) builtAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) lastUsedAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'a source changed at this time; chat skips it until the rebuild' }) staleSince: string | null;
  @ApiProperty({
    type: 'object',
    nullable: true,
    description: 'the last rebuild: tokens reused from the previous generation, tokens prefilled, milliseconds; null before the first',
    properties: { reusedTokens: { type: 'integer' }, prefilledTokens: { type: 'integer' }, ms: { type: 'number' } },
    required: ['reusedTokens', 'prefilledTokens', 'ms'],
    example: { reusedTokens: 768, prefilledTokens: 243, ms: 180 },
  })
  lastBuild: { reusedTokens: number; prefilledTokens: number; ms: number } | null;
  @ApiProperty({
    type: 'object',
    nullable: true,
    description: 'set while the last rebuild is refused by the tenant’s KV bytes quota: KV bytes it needed, KV bytes the tenant used beside it, the kvBytes quota, since when',
    properties: { neededBytes: { type: 'integer' }, usedBytes: { type: 'integer' }, limitBytes: { type: 'integer' }, since: { type: 'string' } },
    required: ['neededBytes', 'usedBytes', 'limitBytes', 'since'],
    example: null,
  })
  overQuota: WorkingMemoryOverQuotaDto | null;
}

export class OverviewActivationDto {
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, description: 'bytes of the cube’s KV caches (working memory included) by the fastest tier holding all of a cache', example: { ram: 1_035_264, disk: 0, object: 0, missing: 0 } })
  bytesByTier: Record<string, number>;
  @ApiProperty({ description: 'KV caches built by clients', example: 2 }) kvCaches: number;
  @ApiProperty({ type: WorkingMemoryStatusDto }) workingMemory: WorkingMemoryStatusDto;
}

export class OverviewBankLevelDto {
  @ApiProperty({ example: 1 }) level: number;
  @ApiProperty({ example: 16 }) blocks: number;
  @ApiProperty({ example: 12 }) written: number;
  @ApiProperty({ example: 1 }) stale: number;
}

export class OverviewBankDto {
  @ApiProperty() id: string;
  @ApiProperty({ example: 'ready' }) state: string;
  @ApiProperty({ example: 2 }) generation: number;
  @ApiProperty({ type: [OverviewBankLevelDto] }) levels: OverviewBankLevelDto[];
  @ApiProperty({ description: 'written blocks / blocks of levels with a rank', example: 0.42 }) occupancy: number;
  @ApiProperty({ description: 'stale blocks / written blocks (chat does not use stale blocks)', example: 0.05 }) staleness: number;
}

export class OverviewRunDto {
  @ApiProperty() id: string;
  @ApiProperty({ example: 'done' }) status: string;
  @ApiProperty({ example: 4 }) actions: number;
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true, type: String }) finishedAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) error: string | null;
}

export class OverviewJobDto {
  @ApiProperty() id: string;
  @ApiProperty({ example: 'activation.refresh' }) name: string;
  @ApiProperty({ example: 'queued' }) state: string;
  @ApiProperty({ example: 1 }) attempts: number;
  @ApiProperty({ nullable: true, type: String }) lastError: string | null;
  @ApiProperty() runAfter: string;
}

export class OverviewSchedulerDto {
  @ApiProperty({ description: 'changes of the cube not yet seen by a lifecycle tick', example: 0 }) pendingChanges: number;
  @ApiProperty({ nullable: true, type: String }) lastLifecycleEventAt: string | null;
  @ApiProperty({ nullable: true, type: String }) lastSweepAt: string | null;
  @ApiProperty({ type: [OverviewRunDto], description: 'last lifecycle runs, newest first' }) lastRuns: OverviewRunDto[];
  @ApiProperty({ type: [OverviewJobDto], description: 'jobs of this cube queued, running or failed' }) openJobs: OverviewJobDto[];
}

export class CubeOverviewDto {
  @ApiProperty() cubeId: string;
  @ApiProperty({ type: OverviewMemoriesDto }) memories: OverviewMemoriesDto;
  @ApiProperty({ type: OverviewHeatDto }) heat: OverviewHeatDto;
  @ApiProperty({ type: OverviewActivationDto }) activation: OverviewActivationDto;
  @ApiProperty({ type: [OverviewBankDto] }) banks: OverviewBankDto[];
  @ApiProperty({ type: OverviewSchedulerDto }) scheduler: OverviewSchedulerDto;
}
