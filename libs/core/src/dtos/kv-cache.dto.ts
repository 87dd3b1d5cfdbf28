import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { KvCacheRecord } from '@engram/persistence';
import { MAX_TEXT_LENGTH } from './memory.dto';
import { ValidateUUID } from './validation';

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
  @IsOptional()
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
