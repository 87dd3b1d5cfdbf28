import { ApiProperty } from '@nestjs/swagger';
import { CubeRecord } from '@engram/persistence';
import { ValidateName, ValidateObject, ValidateText } from './validation';

export class CreateCubeDto {
  @ValidateName()
  name: string;

  @ValidateText({ optional: true, nullable: true, max: 2000 })
  description?: string | null;

  @ValidateObject({ optional: true, maxKeys: 100 })
  settings?: Record<string, unknown>;
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
  @ApiProperty({ nullable: true }) description: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) settings: Record<string, unknown>;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class CubePageDto {
  @ApiProperty({ type: [CubeResponseDto] }) items: CubeResponseDto[];
  @ApiProperty({ nullable: true }) nextCursor: string | null;
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
