import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches, MaxLength } from 'class-validator';
import { CubeResponseDto } from './cube.dto';
import { Optional, ValidateName } from './validation';

/** Optional parts an export may add to the memories (comma-separated). */
export const EXPORT_INCLUDES = ['vectors', 'kv', 'banks'] as const;
export type ExportInclude = (typeof EXPORT_INCLUDES)[number];

export class CubeExportQueryDto {
  @Optional()
  @ApiPropertyOptional({ type: String, description: `comma-separated optional parts: ${EXPORT_INCLUDES.join(', ')}`, example: 'vectors,kv,banks' })
  @IsString()
  @MaxLength(200)
  @Matches(/^[a-z,]*$/, { message: '$property must be a comma-separated list such as vectors' })
  include?: string;
}

export class CubeImportQueryDto {
  /** The new cube's name; the archive's cube name when absent. */
  @ValidateName({ optional: true })
  name?: string;
}

export class ImportSkipDto {
  @ApiProperty() part: string;
  @ApiProperty() reason: string;
}

export class CubeImportCountsDto {
  @ApiProperty() memories: number;
  @ApiProperty() versions: number;
  @ApiProperty() lifecycleEvents: number;
  @ApiProperty({ description: 'memories whose archived vectors were reused (same embedder fingerprint)' }) vectorsReused: number;
  @ApiProperty({ description: 'memories embedded again by this cube’s embedder' }) reembedded: number;
  @ApiProperty({ description: 'KV caches recomputed by a model with the archived fingerprint' }) kvCaches: number;
  @ApiProperty({ description: 'parametric banks restored for a model with the archived fingerprint' }) banks: number;
}

export class CubeImportResultDto {
  @ApiProperty({ type: CubeResponseDto }) cube: CubeResponseDto;
  @ApiProperty({ type: CubeImportCountsDto }) counts: CubeImportCountsDto;
  @ApiProperty({ type: [ImportSkipDto] }) skipped: ImportSkipDto[];
}
