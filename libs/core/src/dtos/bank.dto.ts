// Parametric memory banks of a cube (ADR 0302): request and response shapes.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsInt, IsNumber, IsObject, IsOptional, IsString, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { DEFAULT_REPLAY, DEFAULT_WRITE_EPOCHS, REPLAY_LIMITS, REPLAY_SOURCES, type ReplaySettings, type ReplaySource } from '@engram/parametric';
import { BankBlockRecord, BankRecord, BankState } from '@engram/persistence';
import { Optional, ValidateUUID } from './validation';

export const MAX_BANK_LEVELS = 6;
export const MAX_BANK_BRANCHING = 64;
export const MAX_BLOCK_RANK = 1024;
export const MAX_BANK_WRITE_MEMORIES = 1000;
/** Upper bound on the slots of a bank (sum of k^l), so a request cannot ask for an absurd file. */
export const MAX_BANK_NODES = 1_200_000;

/**
 * What a write replays so its blocks leave unrelated text alone (ADR 0304). Omitted fields
 * take the bank's settings, and those the defaults (anchor samples, 8 per step, weight 20).
 */
export class BankReplayDto {
  @ApiPropertyOptional({
    enum: REPLAY_SOURCES,
    default: DEFAULT_REPLAY.source,
    description: "'anchor': text sampled from the model itself (generated once per bank, cached); 'memories': other memories of the cube, outside the trained cluster; 'none': facts only (locality suffers)",
  })
  @Optional()
  @IsIn(REPLAY_SOURCES as ReplaySource[], { message: `replay.source must be one of ${REPLAY_SOURCES.join(', ')}` })
  source?: ReplaySource;

  @ApiPropertyOptional({ minimum: REPLAY_LIMITS.perStep.min, maximum: REPLAY_LIMITS.perStep.max, default: DEFAULT_REPLAY.perStep, description: 'replay sequences per training step' })
  @Optional()
  @IsInt()
  @Min(REPLAY_LIMITS.perStep.min)
  @Max(REPLAY_LIMITS.perStep.max)
  perStep?: number;

  @ApiPropertyOptional({ minimum: REPLAY_LIMITS.weight.min, maximum: REPLAY_LIMITS.weight.max, default: DEFAULT_REPLAY.weight, description: 'weight of the replay loss (a KL pull toward the model without memory) relative to the facts' })
  @Optional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(REPLAY_LIMITS.weight.min)
  @Max(REPLAY_LIMITS.weight.max)
  weight?: number;

  @ApiPropertyOptional({ minimum: REPLAY_LIMITS.samples.min, maximum: REPLAY_LIMITS.samples.max, default: DEFAULT_REPLAY.samples, description: 'replay pool: sequences sampled from the model, or memories drawn from the cube' })
  @Optional()
  @IsInt()
  @Min(REPLAY_LIMITS.samples.min)
  @Max(REPLAY_LIMITS.samples.max)
  samples?: number;
}

/** Replay settings with every field filled: the request's, else `base`'s. */
export function resolveReplay(dto: BankReplayDto | undefined, base: Readonly<ReplaySettings> = DEFAULT_REPLAY): ReplaySettings {
  return { source: dto?.source ?? base.source, perStep: dto?.perStep ?? base.perStep, weight: dto?.weight ?? base.weight, samples: dto?.samples ?? base.samples };
}

function ValidateReplay(): PropertyDecorator {
  return (target, key) => {
    ApiPropertyOptional({ type: BankReplayDto, description: 'replay while writing (defaults: anchor samples, 8 per step, weight 20, 128 samples)' })(target, key);
    Optional()(target, key);
    IsObject({ message: 'replay must be a JSON object' })(target, key);
    ValidateNested()(target, key);
    Type(() => BankReplayDto)(target, key);
  };
}

export class CreateBankDto {
  @ApiProperty({ description: 'name of a registered model (safetensors): the anchor the blocks belong to' })
  @IsString()
  @MaxLength(128)
  model: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_BANK_LEVELS, default: 4, description: 'tree depth p' })
  @Optional()
  @IsInt()
  @Min(1)
  @Max(MAX_BANK_LEVELS)
  levels?: number;

  @ApiPropertyOptional({ minimum: 2, maximum: MAX_BANK_BRANCHING, default: 16, description: 'branching k' })
  @Optional()
  @IsInt()
  @Min(2)
  @Max(MAX_BANK_BRANCHING)
  branching?: number;

  @ApiPropertyOptional({ type: [Number], description: 'block rank (extra FFN neurons per layer) per level, coarse first; default 16 at every level' })
  @Optional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BANK_LEVELS)
  @IsInt({ each: true })
  @Min(0, { each: true })
  @Max(MAX_BLOCK_RANK, { each: true })
  blockSizes?: number[];

  @ApiPropertyOptional({
    description: 'embedder that clusters and routes, in the shapes of a cube\'s settings.embedder ("hash", { type: "openai", name } naming an operator endpoint, …; tenant URLs only where the operator allows them, ADR 0104); default: the cube\'s',
  })
  @IsOptional()
  embedder?: unknown;

  /** The bank's replay settings: what its writes use unless a write says otherwise. */
  @ValidateReplay()
  replay?: BankReplayDto;
}

export class WriteBankDto {
  @ApiPropertyOptional({ type: [String], maxItems: MAX_BANK_WRITE_MEMORIES, description: 'active memories of the cube to write into their blocks' })
  @ValidateUUID({ optional: true, each: true })
  @IsArray()
  @ArrayMinSize(1, { message: 'memoryIds must hold at least 1 memory id' })
  @ArrayMaxSize(MAX_BANK_WRITE_MEMORIES)
  memoryIds?: string[];

  @ApiPropertyOptional({ description: 'first retrain the stale blocks (a memory in them was deleted or edited) without those memories' })
  @Optional()
  @IsBoolean()
  rewriteStale?: boolean;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: DEFAULT_WRITE_EPOCHS, description: 'passes over the texts of the trained clusters' })
  @Optional()
  @IsInt()
  @Min(1)
  @Max(200)
  epochs?: number;

  /** For this write only; omitted fields take the bank's settings. */
  @ValidateReplay()
  replay?: BankReplayDto;
}

export class BankLevelDto {
  @ApiProperty() level: number;
  @ApiProperty({ description: 'block rank at this level' }) rank: number;
  @ApiProperty({ description: 'block slots (k^level)' }) nodes: number;
  @ApiProperty({ description: 'nodes the tree uses' }) treeNodes: number;
  @ApiProperty({ description: 'blocks written at least once' }) writtenBlocks: number;
  @ApiProperty({ description: 'written blocks that hold a deleted or edited memory' }) staleBlocks: number;
  @ApiProperty() blockParameters: number;
}

export class BankOccupancyDto {
  @ApiProperty({ type: [BankLevelDto] }) levels: BankLevelDto[];
  @ApiProperty({ description: 'memories assigned to leaves' }) texts: number;
  @ApiProperty({ description: 'memories recorded as deleted' }) deleted: number;
  @ApiProperty() fileBytes: number;
  @ApiProperty() parameters: number;
}

export class BankResponseDto {
  @ApiProperty() id: string;
  @ApiProperty() cubeId: string;
  @ApiProperty({ description: 'registered model name' }) model: string;
  @ApiProperty() modelFingerprint: string;
  @ApiProperty() embedderFingerprint: string;
  @ApiProperty() levels: number;
  @ApiProperty() branching: number;
  @ApiProperty({ type: [Number] }) blockSizes: number[];
  @ApiProperty({ type: BankReplayDto, description: 'replay settings of the bank\'s writes (a write may override them; its progress reports what it used)' }) replay: ReplaySettings;
  @ApiProperty({ enum: ['building', 'ready', 'failed'] }) state: BankState;
  @ApiProperty({ description: 'phase, done, total of the build or of the last write' }) progress: Record<string, unknown>;
  @ApiProperty() generation: number;
  @ApiProperty({ type: String, nullable: true }) jobId: string | null;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
  @ApiPropertyOptional({ type: BankOccupancyDto, description: 'only on a ready bank, in GET of one bank' }) occupancy?: BankOccupancyDto;
  @ApiProperty() createdAt: string;
}

export class BankBlockResponseDto {
  @ApiProperty() bankId: string;
  @ApiProperty() level: number;
  @ApiProperty() node: number;
  @ApiProperty() rank: number;
  @ApiProperty({ description: 'false: the block was never written (all zeros, no effect)' }) written: boolean;
  @ApiProperty() locked: boolean;
  @ApiProperty({ description: 'holds a memory that was deleted or edited since; rewrite it' }) stale: boolean;
  @ApiProperty({ type: [String], description: 'provenance: the memories written into the block' }) memoryIds: string[];
  @ApiProperty({ type: Number, nullable: true }) generation: number | null;
  @ApiProperty({ type: Number, nullable: true }) steps: number | null;
  @ApiProperty({ type: Number, nullable: true }) finalLoss: number | null;
  @ApiProperty({ type: String, nullable: true }) writtenAt: string | null;
}

/** One written block in the bank's heat map (GET …/banks/{bankId}/blocks). */
export class BankBlockCellDto {
  @ApiProperty({ example: 2 }) level: number;
  @ApiProperty({ example: 5 }) node: number;
  @ApiProperty({ description: 'commits that wrote the block', example: 3 }) writes: number;
  @ApiProperty({ description: 'memories written into it', example: 12 }) memories: number;
  @ApiProperty({ description: 'holds a memory deleted or edited since', example: false }) stale: boolean;
  @ApiProperty({ example: false }) locked: boolean;
  @ApiProperty({ description: 'bank-file generation of its last write', example: 7 }) generation: number;
  @ApiProperty({ example: '2026-11-29T10:15:00.000Z' }) writtenAt: string;
}

export class BankBlockMapDto {
  @ApiProperty({ example: '6f1c2a9e-4b1d-4c55-9a77-2d8f0e3b9c41' }) bankId: string;
  @ApiProperty({ description: 'the bank-file generation read', example: 7 }) generation: number;
  @ApiProperty({ type: [BankLevelDto], description: 'geometry and counts per level, coarse first' }) levels: BankLevelDto[];
  @ApiProperty({ type: [BankBlockCellDto], description: 'every block written at least once (the others are all zeros)' }) blocks: BankBlockCellDto[];
}

export function mapBankBlockCell(record: BankBlockRecord): BankBlockCellDto {
  return {
    level: record.level,
    node: record.node,
    writes: record.writes,
    memories: record.memoryIds.length,
    stale: record.stale,
    locked: record.locked,
    generation: record.generation,
    writtenAt: record.writtenAt.toISOString(),
  };
}

export class BankJobResponseDto {
  @ApiProperty() bankId: string;
  @ApiProperty() jobId: string;
  @ApiProperty({ enum: ['building', 'ready', 'failed'] }) state: BankState;
}

/** A block's provenance record (null: never written) as the API shows it. */
export function mapBankBlock(bankId: string, level: number, node: number, rank: number, record: BankBlockRecord | null): BankBlockResponseDto {
  return {
    bankId,
    level,
    node,
    rank,
    written: record !== null,
    locked: record?.locked ?? false,
    stale: record?.stale ?? false,
    memoryIds: record?.memoryIds ?? [],
    generation: record?.generation ?? null,
    steps: record?.steps ?? null,
    finalLoss: record?.finalLoss ?? null,
    writtenAt: record?.writtenAt.toISOString() ?? null,
  };
}

export function mapBank(bank: BankRecord, model: string, occupancy?: BankOccupancyDto): BankResponseDto {
  return {
    id: bank.id,
    cubeId: bank.cubeId,
    model,
    modelFingerprint: bank.modelFingerprint,
    embedderFingerprint: bank.embedderFingerprint,
    levels: bank.levels,
    branching: bank.branching,
    blockSizes: bank.ranks,
    replay: bank.replay,
    state: bank.state,
    progress: bank.progress,
    generation: bank.generation,
    jobId: bank.jobId,
    error: bank.error,
    ...(occupancy ? { occupancy } : {}),
    createdAt: bank.createdAt.toISOString(),
  };
}
