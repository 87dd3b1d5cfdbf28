import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsString, Matches, MaxLength } from 'class-validator';
import { KvCacheRecord } from '@engram/persistence';
import { MAX_TEXT_LENGTH } from './memory.dto';
import { Optional, ValidateUUID } from './validation';

export const MAX_KV_SOURCE_MEMORIES = 256;

export class CreateKvCacheDto {
  @ApiProperty({ description: 'name of a registered model' })
  @IsString()
  @MaxLength(128)
  model: string;

  /** Active memories of the cube whose texts (joined in this order) the cache holds. */
  @ApiPropertyOptional({ type: [String], maxItems: MAX_KV_SOURCE_MEMORIES })
  @ValidateUUID({ optional: true, each: true })
  @IsArray()
  @ArrayMinSize(1, { message: 'memoryIds must hold at least 1 memory id' })
  @ArrayMaxSize(MAX_KV_SOURCE_MEMORIES)
  memoryIds?: string[];

  @ApiPropertyOptional({ maxLength: MAX_TEXT_LENGTH })
  @Optional()
  @IsString()
  @MaxLength(MAX_TEXT_LENGTH, { message: `text must be at most ${MAX_TEXT_LENGTH} characters` })
  @Matches(/\S/, { message: 'text must not be empty or whitespace' })
  text?: string;
}

export type KvCacheTier = 'ram' | 'disk' | 'object' | 'missing';

export class KvCacheResponseDto {
  @ApiProperty() id: string;
  @ApiProperty() cubeId: string;
  @ApiProperty({ description: 'registered model name' }) model: string;
  @ApiProperty() modelFingerprint: string;
  @ApiProperty() tokens: number;
  @ApiProperty() bytes: number;
  @ApiProperty({ enum: ['ram', 'disk', 'object', 'missing'], description: 'fastest tier holding every chunk; missing: recomputed on use' }) tier: KvCacheTier;
  @ApiProperty({ type: [String] }) sourceMemoryIds: string[];
  @ApiProperty() createdAt: string;
}

export class KvTierHitsDto {
  @ApiProperty({ example: 41 }) ram: number;
  @ApiProperty({ example: 6 }) disk: number;
  @ApiProperty({ example: 0 }) object: number;
}

/** How often chat found the cube's cached KV in a tier (ADR 0506): counted per chunk, in this server process. */
export class KvCacheHitRatesDto {
  @ApiProperty({ type: KvTierHitsDto, description: 'chunks of the cube\'s caches found in each tier' }) hits: KvTierHitsDto;
  @ApiProperty({ description: 'chunks that were in no tier and were prefilled again', example: 3 }) misses: number;
  @ApiProperty({ description: 'hits + misses', example: 50 }) lookups: number;
  @ApiProperty({ type: Number, nullable: true, description: 'hits / lookups; null before the first lookup', example: 0.94 }) hitRate: number | null;
  @ApiProperty({ description: 'when this server process started counting', example: '2026-11-29T09:00:00.000Z' }) since: string;
}

export class KvCacheListDto {
  @ApiProperty({ type: [KvCacheResponseDto] }) items: KvCacheResponseDto[];
  @ApiProperty({ type: KvCacheHitRatesDto }) hitRates: KvCacheHitRatesDto;
}

export function mapKvHitRates(counts: { hits: { ram: number; disk: number; object: number }; misses: number; since: Date }): KvCacheHitRatesDto {
  const hits = counts.hits.ram + counts.hits.disk + counts.hits.object;
  const lookups = hits + counts.misses;
  return {
    hits: { ...counts.hits },
    misses: counts.misses,
    lookups,
    hitRate: lookups ? hits / lookups : null,
    since: counts.since.toISOString(),
  };
}

export function mapKvCache(cache: KvCacheRecord, model: string, tier: KvCacheTier): KvCacheResponseDto {
  return {
    id: cache.id,
    cubeId: cache.cubeId,
    model,
    modelFingerprint: cache.fingerprint,
    tokens: cache.tokenCount,
    bytes: cache.bytes,
    tier,
    sourceMemoryIds: cache.sourceMemoryIds,
    createdAt: cache.createdAt.toISOString(),
  };
}
