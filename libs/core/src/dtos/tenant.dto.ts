import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { TenantRecord } from '@engram/persistence';
import { ValidateName } from './validation';

export class CreateTenantDto {
  @ValidateName()
  name: string;
}

export class TenantResponseDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() createdAt: string;
  @ApiProperty({ type: String, nullable: true, description: 'offboarded: keys revoked, cubes purged; kept as a tombstone for the audit log' }) deletedAt: string | null;
}

export class TenantOffboardedDto {
  @ApiProperty() tenantId: string;
  @ApiProperty() keysRevoked: number;
  @ApiProperty({ type: [String], description: 'cubes deleted now and purged by jobs' }) cubeIds: string[];
  @ApiProperty({ type: [String] }) purgeJobIds: string[];
}

const QUOTA_DOC = 'tenant limit (0: none); omitted: the instance default';

/** The operator's overrides of a tenant's limits; a field left out follows the instance default. */
export class TenantQuotasDto {
  @ApiPropertyOptional({ description: `live cubes — ${QUOTA_DOC}` }) @IsOptional() @IsInt() @Min(0) @Max(100_000_000) cubes?: number;
  @ApiPropertyOptional({ description: `memories that hold text — ${QUOTA_DOC}` }) @IsOptional() @IsInt() @Min(0) @Max(2_000_000_000) memories?: number;
  @ApiPropertyOptional({ description: `bytes of KV caches — ${QUOTA_DOC}` }) @IsOptional() @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) kvBytes?: number;
  @ApiPropertyOptional({ description: `bytes of bank files — ${QUOTA_DOC}` }) @IsOptional() @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) bankBytes?: number;
  @ApiPropertyOptional({ description: `bank jobs queued or running — ${QUOTA_DOC}` }) @IsOptional() @IsInt() @Min(0) @Max(10_000) concurrentJobs?: number;
  @ApiPropertyOptional({ description: `chat tokens (prompt + completion) per minute — ${QUOTA_DOC}` }) @IsOptional() @IsInt() @Min(0) @Max(1_000_000_000) inferenceTokensPerMinute?: number;
}

export class TenantQuotaFiguresDto {
  @ApiProperty() cubes: number;
  @ApiProperty() memories: number;
  @ApiProperty() kvBytes: number;
  @ApiProperty() bankBytes: number;
  @ApiProperty() concurrentJobs: number;
  @ApiProperty() inferenceTokensPerMinute: number;
}

export class TenantQuotaReportDto {
  @ApiProperty({ type: TenantQuotaFiguresDto, description: 'in force: defaults with the overrides' }) limits: TenantQuotaFiguresDto;
  @ApiProperty({ type: TenantQuotasDto }) overrides: TenantQuotasDto;
  @ApiProperty({ type: TenantQuotaFiguresDto, description: 'what the tenant uses now (tokens: this minute)' }) usage: TenantQuotaFiguresDto;
}

export class TenantListDto {
  @ApiProperty({ type: [TenantResponseDto] }) items: TenantResponseDto[];
}

export function mapTenant(tenant: TenantRecord): TenantResponseDto {
  return { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt.toISOString(), deletedAt: tenant.deletedAt?.toISOString() ?? null };
}
