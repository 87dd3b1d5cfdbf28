import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { CubeRecord } from '@engram/persistence';
import { Optional, PageQueryDto, ValidateName, ValidateObject, ValidateText } from './validation';

export const CUBE_IF_EXISTS = ['error', 'return'] as const;

export class CreateCubeDto {
  @ValidateName()
  name: string;

  @ValidateText({ optional: true, nullable: true, max: 2000 })
  description?: string | null;

  @ValidateObject({ optional: true, maxKeys: 100 })
  settings?: Record<string, unknown>;

  @ApiPropertyOptional({
    enum: CUBE_IF_EXISTS,
    default: 'error',
    description: 'when a live cube of this name exists: "error" answers 409, "return" answers it (200, unchanged): an idempotent get-or-create',
  })
  @Optional()
  @IsIn(CUBE_IF_EXISTS as unknown as string[], { message: `ifExists must be one of: ${CUBE_IF_EXISTS.join(', ')}` })
  ifExists?: (typeof CUBE_IF_EXISTS)[number];
}

export class CubeListQueryDto extends PageQueryDto {
  @ValidateName({ optional: true })
  @ApiPropertyOptional({ description: 'only the live cube with exactly this name (0 or 1 items)' })
  name?: string;
}

export class UpdateCubeDto {
  @ValidateName({ optional: true })
  name?: string;

  @ValidateText({ optional: true, nullable: true, max: 2000 })
  description?: string | null;

  @ValidateObject({ optional: true, maxKeys: 100 })
  settings?: Record<string, unknown>;
}

export class CubeResponseDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) settings: Record<string, unknown>;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class CubePageDto {
  @ApiProperty({ type: [CubeResponseDto] }) items: CubeResponseDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class CubeMemoryCountsDto {
  @ApiProperty({ description: 'memories that are not deleted' }) total: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, description: 'not-deleted memories per kind', example: { fact: 12, message: 40 } }) byKind: Record<string, number>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, description: 'memories per lifecycle state, deleted included', example: { active: 50, archived: 2 } }) byState: Record<string, number>;
}

export class CubeStatsDto {
  @ApiProperty({ type: CubeResponseDto }) cube: CubeResponseDto;
  @ApiProperty({ type: CubeMemoryCountsDto }) memories: CubeMemoryCountsDto;
}

export function mapCubeStats(cube: CubeRecord, counts: { kind: string; state: string; count: number }[]): CubeStatsDto {
  const memories: CubeMemoryCountsDto = { total: 0, byKind: {}, byState: {} };
  for (const { kind, state, count } of counts) {
    memories.byState[state] = (memories.byState[state] ?? 0) + count;
    if (state === 'deleted') continue;
    memories.total += count;
    memories.byKind[kind] = (memories.byKind[kind] ?? 0) + count;
  }
  return { cube: mapCube(cube), memories };
}

export function mapCube(cube: CubeRecord): CubeResponseDto {
  return {
    id: cube.id,
    name: cube.name,
    description: cube.description,
    settings: cube.settings,
    createdAt: cube.createdAt.toISOString(),
    updatedAt: cube.updatedAt.toISOString(),
  };
}
