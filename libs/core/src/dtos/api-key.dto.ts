import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsEnum, IsInt, Max, Min } from 'class-validator';
import { ApiKeyRecord } from '@engram/persistence';
import { Scope } from '../auth/permission';
import { Optional, ValidateDate, ValidateName, ValidateUUID } from './validation';

export class CreateApiKeyDto {
  @ValidateName({ optional: true })
  name?: string;

  @ApiProperty({ enum: Scope, isArray: true })
  @IsArray()
  @ArrayMinSize(1)
  @IsEnum(Scope, { each: true, message: `each value in scopes must be one of: ${Object.values(Scope).join(', ')}` })
  scopes: Scope[];

  @ApiPropertyOptional({ type: [String], description: 'limit the key to these cubes; omitted: every cube of the tenant' })
  @Optional()
  @IsArray()
  @ArrayMaxSize(1000)
  @ValidateUUID({ each: true })
  cubeIds?: string[];

  @ValidateDate({ optional: true })
  expiresAt?: Date;

  @ApiPropertyOptional({ description: 'requests per minute for this key (429 with Retry-After above it); omitted: the instance default ENGRAM_RATE_LIMIT_PER_MINUTE' })
  @Optional()
  @IsInt({ message: 'rateLimitPerMinute must be an integer' })
  @Min(1)
  @Max(1_000_000)
  rateLimitPerMinute?: number;
}

export class ApiKeyResponseDto {
  @ApiProperty() id: string;
  @ApiProperty({ type: String, nullable: true }) name: string | null;
  @ApiProperty() prefix: string;
  @ApiProperty({ enum: Scope, isArray: true }) scopes: string[];
  @ApiProperty({ type: [String], nullable: true }) cubeIds: string[] | null;
  @ApiProperty({ type: String, nullable: true }) expiresAt: string | null;
  @ApiProperty({ type: String, nullable: true }) revokedAt: string | null;
  @ApiProperty({ type: String, nullable: true }) lastUsedAt: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'null: the instance default' }) rateLimitPerMinute: number | null;
  @ApiProperty() createdAt: string;
}

/** Returned once, at creation: the only time the secret is shown. */
export class CreatedApiKeyResponseDto extends ApiKeyResponseDto {
  @ApiProperty() key: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyResponseDto] }) items: ApiKeyResponseDto[];
}

export function mapApiKey(key: ApiKeyRecord): ApiKeyResponseDto {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: key.scopes,
    cubeIds: key.cubeIds,
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    rateLimitPerMinute: key.rateLimitPerMinute,
    createdAt: key.createdAt.toISOString(),
  };
}
