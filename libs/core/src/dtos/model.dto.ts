import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { ModelRecord } from '@engram/persistence';
import { ValidateName } from './validation';

export class ImportModelDto {
  /** Served under this name (the `model` of chat completions); default: the directory's name. */
  @ValidateName({ optional: true, max: 128 })
  name?: string;

  @ApiProperty({ description: 'model directory on the server machine' })
  @IsString()
  @MinLength(1)
  @MaxLength(4096)
  @Matches(/\S/, { message: 'path must not be blank' })
  path: string;
}

export class ModelResponseDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() fingerprint: string;
  @ApiProperty() directory: string;
  @ApiProperty({ enum: ['safetensors', 'onnx'] }) format: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) config: Record<string, unknown>;
  @ApiProperty() createdAt: string;
}

export function mapModel(model: ModelRecord): ModelResponseDto {
  return {
    id: model.id,
    name: model.name,
    fingerprint: model.fingerprint,
    directory: model.directory,
    format: model.format,
    config: model.config,
    createdAt: model.createdAt.toISOString(),
  };
}
